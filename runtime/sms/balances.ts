/** The providers' balances, checked against `sms.balanceWarning` for the banner and /healthz. */
import type { SmsSender } from '../ports.ts';

export interface BalanceReport {
  provider: string;
  balance: string | null;
  low: boolean;
  error?: string;
}

/** Each provider's balance (those that can tell), flagged when under the warning threshold. */
export async function checkBalances(
  senders: SmsSender[],
  threshold: number | null,
  timeoutMs: number,
): Promise<BalanceReport[]> {
  return Promise.all(
    senders
      .filter((s) => s.balance)
      .map(async (s) => {
        try {
          const balance = await s.balance!(AbortSignal.timeout(timeoutMs));
          return { provider: s.name, balance, low: threshold !== null && Number(balance) < threshold };
        } catch (err) {
          return { provider: s.name, balance: null, low: false, error: (err as Error).message };
        }
      }),
  );
}
