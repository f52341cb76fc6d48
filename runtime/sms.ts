/**
 * Sending a PIN: the one effect every PIN window invokes. Keyed `workflowId:sendNo` in an SMS
 * ledger, so the re-run of an invocation after a restart never sends an SMS that is already
 * recorded as sent: it hands back the recorded hash instead. A send caught mid-flight by a crash
 * is sent again with a new PIN and marked `duplicatePossible`.
 */
import type { Logger } from 'pino';
import { AppError } from '../machines/errors.ts';
import type { PinSent, SmsAttempt } from '../machines/otp.ts';
import type { Clock, RecordStore, SmsSender, Table } from './ports.ts';
import type { PinVault } from './pin.ts';
import { countSegments } from './segments.ts';
import { maskPhone } from './phone.ts';

interface LedgerEntry {
  key: string;
  state: 'sending' | 'sent' | 'failed';
  pinHash: string | null;
  sentAt: number | null;
  attempts: SmsAttempt[];
}

export interface PinRequest {
  id: string;
  phone: string;
  sendNo: number;
  purpose: string;
}

export interface PinSenderOptions {
  store: RecordStore;
  senders: SmsSender[];
  vault: PinVault;
  clock: Clock;
  logger: Logger;
  pinLength: number;
  /** Renders the message for a PIN; each purpose has its template. */
  render(purpose: string, pin: string): { text: string; templateId: string };
  /** Called before each new SMS; throws to refuse it (the daily SMS budget). */
  beforeSend?: () => void;
  /** Hard deadline for one provider call. */
  timeoutMs?: number;
}

export const smsLedgerTables = ['smsLedger'];

export function createPinSender(opts: PinSenderOptions) {
  const ledger: Table<LedgerEntry> = opts.store.table<LedgerEntry>('smsLedger');
  const iso = () => new Date(opts.clock.now()).toISOString();

  async function send(req: PinRequest): Promise<PinSent> {
    const key = `${req.id}:${req.sendNo}`;
    const prior = ledger.get(key);
    if (prior?.state === 'sent' && prior.pinHash && prior.sentAt !== null) {
      return { pinHash: prior.pinHash, sentAt: prior.sentAt, attempts: [] };
    }
    const duplicatePossible = prior?.state === 'sending';
    opts.beforeSend?.();
    const pin = opts.vault.generate(opts.pinLength);
    const pinHash = opts.vault.hash(req.id, pin);
    ledger.put(key, { key, state: 'sending', pinHash: null, sentAt: null, attempts: [] });
    await opts.store.flush(); // the intent is on disk before the SMS can leave
    const { text, templateId } = opts.render(req.purpose, pin);
    const segments = countSegments(text).segments;
    const attempts: SmsAttempt[] = [];
    for (const sender of opts.senders) {
      const at = iso();
      try {
        const receipt = await sender.send(
          { to: req.phone, text, purpose: 'otp', idempotencyKey: key, templateId, segments },
          AbortSignal.timeout(opts.timeoutMs ?? 15_000),
        );
        attempts.push({
          sendNo: req.sendNo,
          at,
          provider: receipt.provider,
          outcome: 'accepted',
          messageId: receipt.messageId,
          segments: receipt.segments,
          cost: receipt.cost,
          status: receipt.status,
          ...(duplicatePossible ? { duplicatePossible } : {}),
        });
        const sentAt = opts.clock.now();
        ledger.put(key, { key, state: 'sent', pinHash, sentAt, attempts });
        opts.logger.info(
          { workflow: req.id, phone: maskPhone(req.phone), provider: receipt.provider, templateId, segments },
          'pin sent',
        );
        return { pinHash, sentAt, attempts };
      } catch (err) {
        const e = err as { code?: string; message?: string; extra?: { providerCode?: unknown } };
        attempts.push({
          sendNo: req.sendNo,
          at,
          provider: sender.name,
          outcome: 'failed',
          messageId: null,
          segments,
          cost: null,
          status: 'failed',
          error: { code: String(e.extra?.providerCode ?? e.code ?? 'ERROR'), text: String(e.message ?? err) },
        });
        opts.logger.warn(
          { workflow: req.id, phone: maskPhone(req.phone), provider: sender.name, templateId },
          'sms failed',
        );
      }
    }
    ledger.put(key, { key, state: 'failed', pinHash: null, sentAt: null, attempts });
    throw Object.assign(new AppError('SMS_FAILED'), { attempts });
  }

  /** Drop the ledger entries of a closed workflow: its record now carries the attempts. */
  function forget(id: string, sends: number) {
    for (let n = 1; n <= sends + 1; n++) ledger.delete(`${id}:${n}`);
  }

  return { send, forget };
}

export type PinSender = ReturnType<typeof createPinSender>;
