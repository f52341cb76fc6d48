/**
 * The configured SMS providers, built in the order of `sms.providers`; and their balances,
 * checked against `sms.balanceWarning` for the banner and /healthz.
 */
import type { Config } from './config.ts';
import type { CallSender, SmsSender } from './ports.ts';
import { ConsoleSmsSender } from '../adapters/sms/console.ts';
import { SmscSender } from '../adapters/sms/smsc.ts';
import { SmsruSender } from '../adapters/sms/smsru.ts';
import { KazinfotehSender } from '../adapters/sms/kazinfoteh.ts';

export function buildSenders(
  config: Readonly<Config>,
  dataDir: string,
  write?: (line: string) => void,
): SmsSender[] {
  const { sms } = config;
  return sms.providers.map((name) => {
    switch (name) {
      case 'console':
        return new ConsoleSmsSender(dataDir, write);
      case 'smsc':
        return new SmscSender({ ...sms.smsc!, url: sms.smsc!.url, sender: sms.sender, dryRun: sms.dryRun });
      case 'smsru':
        return new SmsruSender({
          apiId: sms.smsru!.apiId!,
          url: sms.smsru!.url,
          sender: sms.sender,
          dryRun: sms.dryRun,
        });
      case 'kazinfoteh': {
        const k = sms.kazinfoteh!;
        const url =
          k.url ?? (k.api === 'legacy' ? 'http://kazinfoteh.org:9507' : 'https://so.kazinfoteh.org');
        return new KazinfotehSender({
          login: k.login!,
          password: k.password!,
          api: k.api,
          url,
          statusUrl: k.statusUrl,
          sender: sms.sender,
          dryRun: sms.dryRun,
        });
      }
    }
  });
}

/** The code-by-call provider (sms.ru), when `otp.call` is on. */
export function buildCaller(config: Readonly<Config>): CallSender | undefined {
  if (!config.otp.call || !config.sms.smsru?.apiId) return undefined;
  return new SmsruSender({
    apiId: config.sms.smsru.apiId,
    url: config.sms.smsru.url,
    sender: config.sms.sender,
    dryRun: config.sms.dryRun,
  });
}

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
