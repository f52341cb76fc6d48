/**
 * The provider chain: providers in the configured order, each call under a hard deadline;
 * transient failures are retried with backoff, then the next provider is tried; an account
 * failure goes straight to the next provider; a permanent failure (this phone cannot get it)
 * stops. A provider that keeps failing is skipped for a cool-off period (and still tried last
 * when every other provider failed). Every try is returned as an attempt for the record.
 *
 * A message sent at most once (`atMostOnce`: campaign news) is never tried again after a
 * failure that may have sent it (no answer before the deadline, a cut connection): not at a
 * provider that does not deduplicate, and not at the next provider. Its attempt says
 * `mayHaveSent`, and the caller reports it as unknown. A PIN is tried again (a guest waits at
 * the till), and its receipt says `duplicatePossible`.
 */
import type { Logger } from 'pino';
import { AppError } from '../../machines/errors.ts';
import type { SmsAttempt } from '../../machines/otp.ts';
import type { Clock, SmsMessage, SmsReceipt, SmsSender } from '../ports.ts';
import { failureKind, mayHaveSent } from './failure.ts';
import { maskPhone } from '../phone.ts';
import type { Metrics } from '../metrics.ts';

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

export interface SendOptions {
  /** Never try again after a failure that may have sent the message (see above). */
  atMostOnce?: boolean;
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
    options: SendOptions = {},
  ): Promise<Array<{ receipt: SmsReceipt | null; attempts: SmsAttempt[] }>> {
    const out = messages.map(() => ({ receipt: null as SmsReceipt | null, attempts: [] as SmsAttempt[] }));
    let pending = messages.map((_, i) => i);
    const backoff = this.opts.backoffMs ?? [300, 1000];
    /** Messages that may have left: never tried again when sent at most once. */
    const settled = (i: number) => options.atMostOnce && out[i]!.attempts.some((a) => a.mayHaveSent);
    for (const sender of only ?? this.order()) {
      if (pending.length === 0) break;
      if (!sender.sendMany) {
        await Promise.all(
          pending.map(async (i) => {
            try {
              const r = await this.send(messages[i]!, 1, [sender], options);
              out[i] = { receipt: r.receipt, attempts: [...out[i]!.attempts, ...r.attempts] };
            } catch (err) {
              out[i]!.attempts.push(...((err as { attempts?: SmsAttempt[] }).attempts ?? []));
            }
          }),
        );
        pending = pending.filter((i) => !out[i]!.receipt && !settled(i));
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
          for (const i of pending)
            out[i]!.attempts.push(this.failedAttempt(sender.name, at, messages[i]!, err));
          this.opts.metrics?.smsFailed(sender.name, kind);
          this.opts.logger.warn(
            {
              provider: sender.name,
              kind,
              providerCode: this.codeOf(err),
              messages: group.length,
              ...(mayHaveSent(err) ? { mayHaveSent: true } : {}),
            },
            'sms batch failed',
          );
          if (kind !== 'permanent') this.record(sender.name, false);
          // A provider that deduplicates takes the same request again; nobody else may.
          if (mayHaveSent(err) && options.atMostOnce && !sender.idempotent) pending = [];
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
          const kind = failureKind(result);
          out[i]!.attempts.push(this.failedAttempt(sender.name, at, messages[i]!, result));
          this.opts.metrics?.smsFailed(sender.name, kind);
          // Another provider may take this number, unless this one may have sent it.
          if (kind !== 'permanent' && !settled(i)) next.push(i);
        });
        if (accepted.length) this.opts.metrics?.smsSentMany(accepted, purposes);
        pending = next;
        break;
      }
      // What may have left at a provider that deduplicates goes to no other provider.
      pending = pending.filter((i) => !settled(i));
    }
    return out;
  }

  private codeOf(err: unknown): string {
    const e = err as AppError;
    return String(e.extra?.providerCode ?? e.code ?? 'ERROR');
  }

  /** A failed try as the record shows it: the provider's code, the kind, whether it may have sent. */
  private failedAttempt(
    provider: string,
    at: string,
    message: SmsMessage,
    err: unknown,
    sendNo = 1,
  ): SmsAttempt {
    return {
      sendNo,
      at,
      provider,
      outcome: 'failed',
      messageId: null,
      segments: message.segments,
      cost: null,
      status: 'failed',
      error: {
        code: this.codeOf(err),
        text: `${failureKind(err)}: ${(err as Error).message}`,
        kind: failureKind(err),
      },
      ...(mayHaveSent(err) ? { mayHaveSent: true } : {}),
    };
  }

  /** Send through the chain; resolves with the receipt and every attempt, or throws SMS_FAILED with them. */
  async send(
    message: SmsMessage,
    sendNo: number,
    only?: SmsSender[],
    options: SendOptions = {},
  ): Promise<{ receipt: SmsReceipt; attempts: SmsAttempt[] }> {
    const attempts: SmsAttempt[] = [];
    const backoff = this.opts.backoffMs ?? [300, 1000];
    /** Providers a failed try may have reached all the same. */
    const mayHaveIt = new Set<SmsSender>();
    let stop = false;
    /** A try that may have sent it: no failover to another provider. */
    let onlyHere = false;
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
            // Twice if another provider may have it too, or this one, which does not deduplicate.
            ...([...mayHaveIt].some((s) => s !== sender || !s.idempotent) ? { duplicatePossible: true } : {}),
          };
          attempts.push(attempt);
          this.record(sender.name, true);
          this.opts.metrics?.smsSent(receipt, message.purpose);
          return { receipt, attempts };
        } catch (err) {
          const kind = failureKind(err);
          const uncertain = mayHaveSent(err);
          if (uncertain) mayHaveIt.add(sender);
          attempts.push(this.failedAttempt(sender.name, at, message, err, sendNo));
          this.opts.metrics?.smsFailed(sender.name, kind);
          this.opts.logger.warn(
            {
              provider: sender.name,
              kind,
              providerCode: this.codeOf(err),
              phone: maskPhone(message.to),
              templateId: message.templateId,
              ...(uncertain ? { mayHaveSent: true } : {}),
            },
            'sms attempt failed',
          );
          if (kind !== 'permanent') this.record(sender.name, false);
          if (kind === 'permanent') stop = true;
          if (options.atMostOnce && uncertain) {
            // Sent at most once: only the same provider, where it deduplicates, may take it again.
            onlyHere = true;
            if (!sender.idempotent) stop = true;
          }
          if (kind !== 'transient') break;
        }
      }
      if (stop || onlyHere) break;
    }
    throw Object.assign(new AppError('SMS_FAILED', { attempts: attempts.length }), { attempts });
  }
}
