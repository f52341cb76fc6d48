/**
 * Delivery status: after a provider accepts a message, ask it how delivery went, with bounded
 * effort (a schedule of checks that thins out over a day), until a final state. Statuses are
 * kept by the store engine (`DeliveryRows`); answers join them into the SMS attempts they belong
 * to, and a final status is written into a closed workflow's archived record. Where several
 * instances share the rows, each poll claims the messages it asks about for a short lease, so a
 * provider is asked once per check.
 */
import type { Logger } from 'pino';
import type { SmsAttempt } from '../../machines/otp.ts';
import type { Clock, DeliveryStatus, SmsSender } from '../ports.ts';
import type { Metrics } from '../metrics.ts';

export interface Tracked {
  provider: string;
  messageId: string;
  to: string;
  workflowId: string;
  status: DeliveryStatus;
  checks: number;
  nextAt: number;
  createdAt: number;
}

export const FINAL = new Set<DeliveryStatus>(['delivered', 'undelivered', 'expired']);
/** Seconds after acceptance at which to ask; then the status stays as last known. */
export const SCHEDULE = [10, 30, 60, 120, 300, 600, 1800, 3600, 3 * 3600, 6 * 3600, 24 * 3600];
const KEEP_MS = 7 * 24 * 3600_000;

export const deliveryTables = ['deliveries'];

/** A tracked message's key: its provider and the provider's id for it. */
export const deliveryKey = (provider: string, messageId: string) => `${provider}:${messageId}`;

/** Whether a tracked message needs no more checks: final, or its schedule is over. */
export const settled = (t: Tracked) => FINAL.has(t.status) || t.checks >= SCHEDULE.length;

/** Where tracked messages live: the embedded store's table, or PostgreSQL's rows. */
export interface DeliveryRows {
  put(t: Tracked): Promise<void>;
  /** The statuses of the messages asked (by `deliveryKey`) that are tracked. */
  statuses(keys: readonly string[]): Promise<Map<string, DeliveryStatus>>;
  /** Messages whose next check is due by `now` and not settled, claimed for `leaseMs`. */
  due(now: number, leaseMs: number): Promise<Tracked[]>;
  /** Drop settled messages accepted before `before`; how many. */
  prune(before: number): Promise<number>;
  /** Drop every message to a phone (a guest's erasure); how many. */
  forgetPhone(phone: string): Promise<number>;
  /** Resolves when every change made before is durable. */
  flush(): Promise<void>;
}

/** How long a poll holds the messages it asks about. */
const CLAIM_MS = 60_000;

export class DeliveryTracker {
  private timer: NodeJS.Timeout | null = null;
  private polling = false;
  /** Off when status polling is off: nothing would ever read what is tracked. */
  enabled = true;

  constructor(
    private readonly opts: {
      rows: DeliveryRows;
      senders: SmsSender[];
      clock: Clock;
      logger: Logger;
      metrics?: Metrics;
      timeoutMs: number;
      /** Called with the final status of a message of a workflow. */
      onFinal?: (workflowId: string, to: string, status: DeliveryStatus) => void;
    },
  ) {}

  /** Follow an accepted attempt, when its provider can tell delivery status. */
  async track(workflowId: string, to: string, attempt: SmsAttempt): Promise<void> {
    if (!this.enabled || !this.followed(attempt)) return;
    const now = this.opts.clock.now();
    await this.opts.rows.put({
      provider: attempt.provider,
      messageId: attempt.messageId!,
      to,
      workflowId,
      status: attempt.status as DeliveryStatus,
      checks: 0,
      nextAt: now + SCHEDULE[0]! * 1000,
      createdAt: now,
    });
  }

  /** Stop following the messages to a phone (a guest's erasure). */
  forgetPhone(phone: string): Promise<number> {
    return this.opts.rows.forgetPhone(phone);
  }

  /**
   * Whether an accepted attempt's delivery is followed: its provider can tell statuses, and the
   * one it had at acceptance was not final.
   */
  private followed(attempt: SmsAttempt): boolean {
    if (attempt.outcome !== 'accepted' || !attempt.messageId || attempt.messageId.startsWith('dry-'))
      return false;
    const sender = this.opts.senders.find((s) => s.name === attempt.provider);
    return Boolean(sender?.status) && !FINAL.has(attempt.status as DeliveryStatus);
  }

  /** Attempts with their latest known delivery status (read only for those followed). */
  async join(attempts: SmsAttempt[]): Promise<SmsAttempt[]> {
    const keys = attempts.flatMap((a) =>
      a.messageId && this.followed(a) ? [deliveryKey(a.provider, a.messageId)] : [],
    );
    if (!keys.length) return attempts;
    const statuses = await this.opts.rows.statuses(keys);
    return attempts.map((a) => {
      const status = a.messageId ? statuses.get(deliveryKey(a.provider, a.messageId)) : undefined;
      return status && status !== a.status ? { ...a, status } : a;
    });
  }

  /** Ask every provider about its due messages once; returns how many statuses were read. */
  async pollOnce(): Promise<number> {
    if (this.polling) return 0;
    this.polling = true;
    try {
      const { rows } = this.opts;
      const now = this.opts.clock.now();
      await rows.prune(now - KEEP_MS);
      const due = new Map<string, Tracked[]>();
      for (const t of await rows.due(now, CLAIM_MS)) due.set(t.provider, [...(due.get(t.provider) ?? []), t]);
      let read = 0;
      for (const [provider, list] of due) {
        const sender = this.opts.senders.find((s) => s.name === provider);
        if (!sender?.status) continue;
        let statuses: Map<string, DeliveryStatus>;
        try {
          statuses = await sender.status(
            list.map((t) => ({ messageId: t.messageId, to: t.to })),
            AbortSignal.timeout(this.opts.timeoutMs),
          );
        } catch (err) {
          this.opts.logger.warn({ provider, err: (err as Error).message }, 'delivery status query failed');
          statuses = new Map();
        }
        for (const t of list) {
          const status = statuses.get(t.messageId) ?? t.status;
          const checks = t.checks + 1;
          await rows.put({ ...t, status, checks, nextAt: t.createdAt + (SCHEDULE[checks] ?? 0) * 1000 });
          read += statuses.has(t.messageId) ? 1 : 0;
          if (FINAL.has(status)) {
            this.opts.metrics?.delivered(provider, status);
            this.opts.onFinal?.(t.workflowId, t.to, status);
          }
        }
      }
      await rows.flush();
      return read;
    } finally {
      this.polling = false;
    }
  }

  start(everyMs: number) {
    if (everyMs <= 0 || this.timer) return;
    this.timer = setInterval(
      () => void this.pollOnce().catch((err) => this.opts.logger.error({ err }, 'delivery poll failed')),
      everyMs,
    );
    this.timer.unref();
  }

  stop() {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }
}
