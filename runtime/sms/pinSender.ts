/**
 * Sending a PIN: the one effect every PIN window invokes. Keyed `workflowId:sendNo` in an SMS
 * ledger, so the re-run of an invocation after a restart never sends an SMS that is already
 * recorded as sent: it hands back the recorded hash instead. A send caught mid-flight by a crash
 * is sent again with the same PIN (derived from the workflow id and send number) and marked
 * `duplicatePossible`: if the first one reached the guest, its code still works.
 */
import type { Logger } from 'pino';
import { AppError } from '../../machines/errors.ts';
import type { PinSent, SmsAttempt } from '../../machines/otp.ts';
import type { CallSender, Clock } from '../ports.ts';
import type { SmsChain } from './chain.ts';
import type { PinVault } from '../pin/vault.ts';
import { countSegments } from './segments.ts';
import { maskPhone } from '../phone.ts';

export interface LedgerEntry {
  key: string;
  state: 'sending' | 'sent' | 'failed';
  pinHash: string | null;
  sentAt: number | null;
  attempts: SmsAttempt[];
}

/**
 * Where the ledger lives: the embedded store's table, or PostgreSQL's rows. Keys are
 * `workflowId:sendNo`.
 */
export interface SmsLedgerRows {
  get(key: string): Promise<LedgerEntry | undefined>;
  /** Write an entry; with `durable`, resolves once it is on disk. */
  put(entry: LedgerEntry, durable?: boolean): Promise<void>;
  /** Drop the entries of a workflow that ended (its sends `0..sends`): they guard re-runs only. */
  forget(workflowId: string, sends: number): Promise<void>;
}

export interface PinRequest {
  id: string;
  phone: string;
  sendNo: number;
  purpose: string;
}

export interface PinSenderOptions {
  ledger: SmsLedgerRows;
  chain: SmsChain;
  /** The code-by-call provider, when the venue offers `channel: "call"`. */
  caller?: CallSender;
  vault: PinVault;
  clock: Clock;
  logger: Logger;
  pinLength: number;
  /** Renders the message for a PIN; each purpose has its template. */
  render(purpose: string, pin: string): { text: string; templateId: string };
  /** Called before each new SMS with its billed segments; throws to refuse it (the day's budget). */
  beforeSend?: (segments: number) => Promise<void>;
  /** Told of every accepted attempt (delivery tracking). */
  onAccepted?: (workflowId: string, to: string, attempt: SmsAttempt) => void;
  /** Hard deadline of a code-by-call request. */
  timeoutMs?: number;
}

export const smsLedgerTables = ['smsLedger'];

export function createPinSender(opts: PinSenderOptions) {
  const { ledger } = opts;

  /** A PIN by phone call: the provider chooses the code; we keep only its keyed hash. */
  async function viaCall(req: PinRequest, key: string): Promise<{ pinHash: string; attempts: SmsAttempt[] }> {
    const at = new Date(opts.clock.now()).toISOString();
    if (!opts.caller) throw new AppError('CHANNEL_DISABLED', { channel: 'call' });
    try {
      const { code, receipt } = await opts.caller.call(
        req.phone,
        AbortSignal.timeout(opts.timeoutMs ?? 15_000),
      );
      const attempt: SmsAttempt = {
        sendNo: req.sendNo,
        at,
        provider: receipt.provider,
        outcome: 'accepted',
        messageId: receipt.messageId,
        segments: 0,
        cost: receipt.cost,
        status: receipt.status,
      };
      return { pinHash: opts.vault.hash(req.id, code), attempts: [attempt] };
    } catch (err) {
      const e = err as AppError;
      const attempt: SmsAttempt = {
        sendNo: req.sendNo,
        at,
        provider: `${opts.caller.name}-call`,
        outcome: 'failed',
        messageId: null,
        segments: 0,
        cost: null,
        status: 'failed',
        error: { code: String(e.extra?.providerCode ?? e.code), text: e.message },
      };
      await ledger.put({ key, state: 'failed', pinHash: null, sentAt: null, attempts: [attempt] });
      throw Object.assign(new AppError('SMS_FAILED'), { attempts: [attempt] });
    }
  }

  async function send(req: PinRequest): Promise<PinSent> {
    const key = `${req.id}:${req.sendNo}`;
    const prior = await ledger.get(key);
    if (prior?.state === 'sent' && prior.pinHash && prior.sentAt !== null) {
      return { pinHash: prior.pinHash, sentAt: prior.sentAt, attempts: [] };
    }
    const duplicatePossible = prior?.state === 'sending';
    const call = req.purpose === 'call';
    const pin = call ? '' : opts.vault.derive(req.id, req.sendNo, opts.pinLength);
    const { text, templateId } = call ? { text: '', templateId: '' } : opts.render(req.purpose, pin);
    const segments = call ? 1 : countSegments(text).segments;
    // A re-run after a crash spent its budget the first time.
    if (!duplicatePossible) await opts.beforeSend?.(segments);
    // The intent is on disk before anything can leave.
    await ledger.put({ key, state: 'sending', pinHash: null, sentAt: null, attempts: [] }, true);
    let pinHash: string;
    let attempts: SmsAttempt[];
    if (call) {
      ({ pinHash, attempts } = await viaCall(req, key));
    } else {
      pinHash = opts.vault.hash(req.id, pin);
      const message = {
        to: req.phone,
        text,
        purpose: 'otp' as const,
        idempotencyKey: key,
        templateId,
        segments,
      };
      try {
        ({ attempts } = await opts.chain.send(message, req.sendNo));
      } catch (err) {
        const failed = (err as { attempts?: SmsAttempt[] }).attempts ?? [];
        await ledger.put({ key, state: 'failed', pinHash: null, sentAt: null, attempts: failed });
        throw err;
      }
    }
    if (duplicatePossible)
      attempts = attempts.map((a) => (a.outcome === 'accepted' ? { ...a, duplicatePossible } : a));
    const sentAt = opts.clock.now();
    await ledger.put({ key, state: 'sent', pinHash, sentAt, attempts });
    const accepted = attempts.find((a) => a.outcome === 'accepted')!;
    opts.onAccepted?.(req.id, req.phone, accepted);
    opts.logger.info(
      {
        workflow: req.id,
        phone: maskPhone(req.phone),
        provider: accepted.provider,
        purpose: req.purpose,
        segments: accepted.segments,
      },
      'pin sent',
    );
    return { pinHash, sentAt, attempts };
  }

  /** Drop the ledger entries of a closed workflow: its record now carries the attempts. */
  function forget(id: string, sends: number): Promise<void> {
    return ledger.forget(id, sends);
  }

  return { send, forget };
}

export type PinSender = ReturnType<typeof createPinSender>;
