/**
 * Delivery status: after a provider accepts a message, ask it how delivery went, with bounded
 * effort (a schedule of checks that thins out over a day), until a final state. Statuses are
 * kept in the store; answers join them into the SMS attempts they belong to, and a final status
 * is written into a closed workflow's archived record.
 */
import type { Logger } from 'pino';
import type { SmsAttempt } from '../../machines/otp.ts';
import type { Clock, DeliveryStatus, RecordStore, SmsSender, Table } from '../ports.ts';
import type { Metrics } from '../metrics.ts';

interface Tracked {
  provider: string;
  messageId: string;
  to: string;
  workflowId: string;
  status: DeliveryStatus;
  checks: number;
  nextAt: number;
  createdAt: number;
}

const FINAL = new Set<DeliveryStatus>(['delivered', 'undelivered', 'expired']);
/** Seconds after acceptance at which to ask; then the status stays as last known. */
const SCHEDULE = [10, 30, 60, 120, 300, 600, 1800, 3600, 3 * 3600, 6 * 3600, 24 * 3600];
const KEEP_MS = 7 * 24 * 3600_000;

export const deliveryTables = ['deliveries'];

export class DeliveryTracker {
  private readonly table: Table<Tracked>;
  private timer: NodeJS.Timeout | null = null;
  private polling = false;
  /** Off when status polling is off: nothing would ever read what is tracked. */
  enabled = true;

  constructor(
    private readonly opts: {
      store: RecordStore;
      senders: SmsSender[];
      clock: Clock;
      logger: Logger;
      metrics?: Metrics;
      timeoutMs: number;
      /** Called with the final status of a message of a workflow. */
      onFinal?: (workflowId: string, to: string, status: DeliveryStatus) => void;
    },
  ) {
    this.table = opts.store.table<Tracked>('deliveries');
  }

  private key(provider: string, messageId: string) {
    return `${provider}:${messageId}`;
  }

  /** Follow an accepted attempt, when its provider can tell delivery status. */
  track(workflowId: string, to: string, attempt: SmsAttempt) {
    if (!this.enabled) return;
    if (attempt.outcome !== 'accepted' || !attempt.messageId || attempt.messageId.startsWith('dry-')) return;
    const sender = this.opts.senders.find((s) => s.name === attempt.provider);
    if (!sender?.status || FINAL.has(attempt.status as DeliveryStatus)) return;
    const now = this.opts.clock.now();
    this.table.put(this.key(attempt.provider, attempt.messageId), {
      provider: attempt.provider,
      messageId: attempt.messageId,
      to,
      workflowId,
      status: attempt.status as DeliveryStatus,
      checks: 0,
      nextAt: now + SCHEDULE[0]! * 1000,
      createdAt: now,
    });
  }

  /** Stop following the messages to a phone (a guest's erasure). */
  forgetPhone(phone: string): number {
    let n = 0;
    for (const [key, t] of [...this.table.entries()])
      if (t.to === phone) {
        this.table.delete(key);
        n += 1;
      }
    return n;
  }

  statusOf(provider: string, messageId: string | null): DeliveryStatus | undefined {
    return messageId ? this.table.get(this.key(provider, messageId))?.status : undefined;
  }

  /** Attempts with their latest known delivery status. */
  join(attempts: SmsAttempt[]): SmsAttempt[] {
    return attempts.map((a) => {
      const status = this.statusOf(a.provider, a.messageId);
      return status && status !== a.status ? { ...a, status } : a;
    });
  }

  /** Ask every provider about its due messages once; returns how many statuses were read. */
  async pollOnce(): Promise<number> {
    if (this.polling) return 0;
    this.polling = true;
    try {
      const now = this.opts.clock.now();
      const due = new Map<string, Tracked[]>();
      for (const [key, t] of [...this.table.entries()]) {
        if (FINAL.has(t.status) || t.checks >= SCHEDULE.length) {
          if (now - t.createdAt > KEEP_MS) this.table.delete(key);
          continue;
        }
        if (t.nextAt <= now) due.set(t.provider, [...(due.get(t.provider) ?? []), t]);
      }
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
          const next: Tracked = {
            ...t,
            status,
            checks,
            nextAt: t.createdAt + (SCHEDULE[checks] ?? Infinity) * 1000,
          };
          this.table.put(this.key(t.provider, t.messageId), next);
          read += statuses.has(t.messageId) ? 1 : 0;
          if (FINAL.has(status)) {
            this.opts.metrics?.delivered(provider, status);
            this.opts.onFinal?.(t.workflowId, t.to, status);
          }
        }
      }
      await this.opts.store.flush();
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
