/**
 * The provider chain: providers in the configured order, each call under a hard deadline;
 * transient failures are retried with backoff, then the next provider is tried; an account
 * failure goes straight to the next provider; a permanent failure (this phone cannot get it)
 * stops. A provider that keeps failing is skipped for a cool-off period (and still tried last
 * when every other provider failed). Every try is returned as an attempt for the record.
 */
import type { Logger } from 'pino';
import { AppError } from '../machines/errors.ts';
import type { SmsAttempt } from '../machines/otp.ts';
import type { Clock, SmsMessage, SmsReceipt, SmsSender } from './ports.ts';
import { failureKind } from './smsFailure.ts';
import { maskPhone } from './phone.ts';
import type { Metrics } from './metrics.ts';

export interface ChainOptions {
  senders: SmsSender[];
  clock: Clock;
  logger: Logger;
  metrics?: Metrics;
  timeoutMs: number;
  retries: number;
  failuresBeforeCoolOff: number;
  coolOffMs: number;
  /** Waits between tries at one provider (the last value repeats). */
  backoffMs?: number[];
  sleep?: (ms: number) => Promise<void>;
}

interface Health {
  failures: number;
  skipUntil: number;
}

export class SmsChain {
  private readonly health = new Map<string, Health>();
  private readonly sleep: (ms: number) => Promise<void>;

  constructor(private readonly opts: ChainOptions) {
    this.sleep = opts.sleep ?? ((ms) => new Promise((r) => setTimeout(r, ms)));
  }

  get senders(): SmsSender[] {
    return this.opts.senders;
  }

  sender(name: string): SmsSender | undefined {
    return this.opts.senders.find((s) => s.name === name);
  }

  /** Providers to try, in order: healthy ones first, those cooling off after them. */
  private order(): SmsSender[] {
    const now = this.opts.clock.now();
    const cooling = (s: SmsSender) => (this.health.get(s.name)?.skipUntil ?? 0) > now;
    return [...this.opts.senders.filter((s) => !cooling(s)), ...this.opts.senders.filter(cooling)];
  }

  private record(name: string, ok: boolean) {
    const h = this.health.get(name) ?? { failures: 0, skipUntil: 0 };
    if (ok) {
      h.failures = 0;
      h.skipUntil = 0;
    } else if (++h.failures >= this.opts.failuresBeforeCoolOff) {
      h.skipUntil = this.opts.clock.now() + this.opts.coolOffMs;
      this.opts.logger.warn(
        { provider: name, failures: h.failures, coolOffMs: this.opts.coolOffMs },
        'sms provider cooling off',
      );
    }
    this.health.set(name, h);
  }

  /** Whether the first provider to be tried takes several messages per request. */
  batches(only?: SmsSender[]): number {
    const first = (only ?? this.order())[0];
    return first?.sendMany ? (first.maxBatch ?? 1) : 1;
  }

  /**
   * Several messages, in multi-recipient requests where the provider has them. A request that
   * fails as a whole is retried (transient) or failed over (transient, account) like a single
   * message; a number refused inside a request is final when permanent, or goes to the next
   * provider otherwise. One outcome per message, in order, each with its attempts.
   */
  async sendMany(
    messages: SmsMessage[],
    only?: SmsSender[],
  ): Promise<Array<{ receipt: SmsReceipt | null; attempts: SmsAttempt[] }>> {
    const out = messages.map(() => ({ receipt: null as SmsReceipt | null, attempts: [] as SmsAttempt[] }));
    let pending = messages.map((_, i) => i);
    const backoff = this.opts.backoffMs ?? [300, 1000];
    for (const sender of only ?? this.order()) {
      if (pending.length === 0) break;
      if (!sender.sendMany) {
        await Promise.all(
          pending.map(async (i) => {
            try {
              const r = await this.send(messages[i]!, 1, [sender]);
              out[i] = { receipt: r.receipt, attempts: [...out[i]!.attempts, ...r.attempts] };
            } catch (err) {
              out[i]!.attempts.push(...((err as { attempts?: SmsAttempt[] }).attempts ?? []));
            }
          }),
        );
        pending = pending.filter((i) => !out[i]!.receipt);
        continue;
      }
      for (let tryNo = 0; tryNo <= this.opts.retries && pending.length; tryNo++) {
        if (tryNo > 0) await this.sleep(backoff[Math.min(tryNo - 1, backoff.length - 1)]!);
        const at = new Date(this.opts.clock.now()).toISOString();
        const group = pending.map((i) => messages[i]!);
        let results: Array<SmsReceipt | Error>;
        try {
          results = await sender.sendMany(group, AbortSignal.timeout(this.opts.timeoutMs));
          this.record(sender.name, true);
        } catch (err) {
          const kind = failureKind(err);
          const e = err as AppError;
          const code = String(e.extra?.providerCode ?? e.code ?? 'ERROR');
          for (const i of pending)
            out[i]!.attempts.push(
              this.failedAttempt(sender.name, at, messages[i]!, code, `${kind}: ${e.message}`),
            );
          this.opts.metrics?.smsFailed(sender.name, kind);
          this.opts.logger.warn(
            { provider: sender.name, kind, providerCode: code, messages: group.length },
            'sms batch failed',
          );
          if (kind !== 'permanent') this.record(sender.name, false);
          if (kind === 'transient') continue;
          break;
        }
        const next: number[] = [];
        const accepted: SmsReceipt[] = [];
        const purposes: string[] = [];
        results.forEach((result, j) => {
          const i = pending[j]!;
          if (!(result instanceof Error)) {
            out[i]!.receipt = result;
            out[i]!.attempts.push({
              sendNo: 1,
              at,
              provider: result.provider,
              outcome: 'accepted',
              messageId: result.messageId,
              segments: result.segments,
              cost: result.cost,
              status: result.status,
            });
            accepted.push(result);
            purposes.push(messages[i]!.purpose);
            return;
          }
          const e = result as AppError;
          const kind = failureKind(e);
          out[i]!.attempts.push(
            this.failedAttempt(
              sender.name,
              at,
              messages[i]!,
              String(e.extra?.providerCode ?? e.code),
              `${kind}: ${e.message}`,
            ),
          );
          this.opts.metrics?.smsFailed(sender.name, kind);
          if (kind !== 'permanent') next.push(i); // another provider may take this number
        });
        if (accepted.length) this.opts.metrics?.smsSentMany(accepted, purposes);
        pending = next;
        break;
      }
    }
    return out;
  }

  private failedAttempt(
    provider: string,
    at: string,
    message: SmsMessage,
    code: string,
    text: string,
  ): SmsAttempt {
    return {
      sendNo: 1,
      at,
      provider,
      outcome: 'failed',
      messageId: null,
      segments: message.segments,
      cost: null,
      status: 'failed',
      error: { code, text },
    };
  }

  /** Send through the chain; resolves with the receipt and every attempt, or throws SMS_FAILED with them. */
  async send(
    message: SmsMessage,
    sendNo: number,
    only?: SmsSender[],
  ): Promise<{ receipt: SmsReceipt; attempts: SmsAttempt[] }> {
    const attempts: SmsAttempt[] = [];
    const backoff = this.opts.backoffMs ?? [300, 1000];
    let mayHaveSent = false;
    let stop = false;
    for (const sender of only ?? this.order()) {
      for (let tryNo = 0; tryNo <= this.opts.retries && !stop; tryNo++) {
        if (tryNo > 0) await this.sleep(backoff[Math.min(tryNo - 1, backoff.length - 1)]!);
        const at = new Date(this.opts.clock.now()).toISOString();
        try {
          const receipt = await sender.send(message, AbortSignal.timeout(this.opts.timeoutMs));
          const attempt: SmsAttempt = {
            sendNo,
            at,
            provider: receipt.provider,
            outcome: 'accepted',
            messageId: receipt.messageId,
            segments: receipt.segments,
            cost: receipt.cost,
            status: receipt.status,
            ...(mayHaveSent ? { duplicatePossible: true } : {}),
          };
          attempts.push(attempt);
          this.record(sender.name, true);
          this.opts.metrics?.smsSent(receipt, message.purpose);
          return { receipt, attempts };
        } catch (err) {
          const kind = failureKind(err);
          const e = err as AppError;
          const code = String(e.extra?.providerCode ?? e.code ?? 'ERROR');
          // A timeout at a provider that does not deduplicate may still have sent the message.
          if (code === 'TIMEOUT' && !sender.idempotent) mayHaveSent = true;
          attempts.push({
            sendNo,
            at,
            provider: sender.name,
            outcome: 'failed',
            messageId: null,
            segments: message.segments,
            cost: null,
            status: 'failed',
            error: { code, text: `${kind}: ${e.message}` },
          });
          this.opts.metrics?.smsFailed(sender.name, kind);
          this.opts.logger.warn(
            {
              provider: sender.name,
              kind,
              providerCode: code,
              phone: maskPhone(message.to),
              templateId: message.templateId,
            },
            'sms attempt failed',
          );
          if (kind !== 'permanent') this.record(sender.name, false);
          if (kind === 'permanent') stop = true;
          if (kind !== 'transient') break;
        }
      }
      if (stop) break;
    }
    throw Object.assign(new AppError('SMS_FAILED', { attempts: attempts.length }), { attempts });
  }
}
