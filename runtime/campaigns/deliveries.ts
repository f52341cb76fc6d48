/**
 * Delivery statuses of campaign messages. A run's messages are not tracked one by one in memory
 * (a 100,000-message run would hold 100,000 rows for a day): each sweep reads the run's file for
 * the messages sent and not yet final, asks the providers in requests of 100, and appends the
 * final statuses. Sweeps run every ten minutes while the run sends, then 1 minute after it ends
 * and again after 10 minutes, 1, 6 and 24 hours.
 */
import type { Logger } from 'pino';
import type { Clock, DeliveryStatus } from '../ports.ts';
import type { SmsChain } from '../sms/chain.ts';
import type { RunBook } from './runBook.ts';
import { FINAL_DELIVERY, SWEEP_WHILE_RUNNING_MS, SWEEPS_AFTER_MS, type DeliverySweep } from './types.ts';

export class DeliverySweeps {
  private sweeping = false;
  /** Runs known to have a sweep row (a message of theirs left): no read before each message. */
  private readonly noted = new Set<string>();

  constructor(
    private readonly deps: {
      book: RunBook;
      chain: SmsChain;
      clock: Clock;
      logger: Logger;
      timeoutMs: number;
      /** Whether delivery statuses are asked for at all (`sms.statusPollSeconds` > 0). */
      enabled: boolean;
      isLive: (runId: string) => Promise<boolean>;
      /** Run `task` holding `key` across the processes sharing the rows, or skip it when held. */
      exclusive: (key: string, task: () => Promise<void>) => Promise<unknown>;
    },
  ) {}

  private get rows() {
    return this.deps.book.rows;
  }

  private now() {
    return this.deps.clock.now();
  }

  /** A message of the run left: its statuses will be asked for while the run sends. */
  async noteSent(runId: string) {
    if (!this.deps.enabled || this.noted.has(runId)) return;
    this.noted.add(runId);
    const known = (await this.rows.sweeps()).some((s) => s.runId === runId);
    if (!known) await this.rows.putSweep({ runId, checks: 0, nextAt: this.now() + SWEEP_WHILE_RUNNING_MS });
  }

  /** The run ended: its sweeps go on the after-run schedule. */
  async runEnded(runId: string) {
    this.noted.delete(runId);
    const sweep = (await this.rows.sweeps()).find((s) => s.runId === runId);
    if (sweep) await this.rows.putSweep({ ...sweep, checks: 0, nextAt: this.now() + SWEEPS_AFTER_MS[0]! });
  }

  /** Ask about the runs whose sweep is due; returns the statuses read. */
  async sweep(): Promise<number> {
    if (this.sweeping) return 0;
    this.sweeping = true;
    let read = 0;
    try {
      for (const listed of await this.rows.sweeps()) {
        if (listed.nextAt > this.now()) continue;
        // One process sweeps a run at a time: a status is counted once however many share the rows.
        await this.deps.exclusive(`campaign-sweep:${listed.runId}`, async () => {
          const sweep = (await this.rows.sweeps()).find((s) => s.runId === listed.runId);
          if (sweep && sweep.nextAt <= this.now()) read += await this.sweepRun(sweep);
        });
      }
    } finally {
      this.sweeping = false;
    }
    return read;
  }

  /** One run's sweep: ask, write the final statuses, and set the next sweep or end them. */
  private async sweepRun(sweep: DeliverySweep): Promise<number> {
    const pending = await this.undelivered(sweep.runId);
    const read = await this.askStatuses(sweep.runId, pending);
    const live = await this.deps.isLive(sweep.runId);
    const checks = live ? 0 : sweep.checks + 1;
    const wait = live ? SWEEP_WHILE_RUNNING_MS : SWEEPS_AFTER_MS[checks];
    await this.deps.book.commit(sweep.runId);
    if (wait === undefined || (!live && pending.size === 0)) await this.rows.dropSweep(sweep.runId);
    else await this.rows.putSweep({ ...sweep, checks, nextAt: this.now() + wait });
    return read;
  }

  /** A run's messages sent and not yet final: phone → `provider messageId`. */
  private async undelivered(runId: string): Promise<Map<string, string>> {
    const pending = new Map<string, string>();
    await this.rows.scanLines(runId, (r) => {
      if (r.status === 'sent' && r.provider && r.messageId && !r.messageId.startsWith('dry-'))
        pending.set(r.phone, `${r.provider} ${r.messageId}`);
      else if (FINAL_DELIVERY.has(r.status as DeliveryStatus)) pending.delete(r.phone);
    });
    return pending;
  }

  /**
   * Ask each provider about its pending messages, 100 to a request, writing the final statuses
   * as they come (committed every 2,000): a 100,000-message run never has all its answers in
   * memory at once.
   */
  private async askStatuses(runId: string, pending: Map<string, string>): Promise<number> {
    const providers = new Set<string>();
    for (const ref of pending.values()) providers.add(ref.slice(0, ref.indexOf(' ')));
    let read = 0;
    let asked = 0;
    for (const provider of providers) {
      const sender = this.deps.chain.sender(provider);
      const status = sender?.status?.bind(sender);
      if (!status) continue;
      const ask = async (part: Array<{ messageId: string; to: string }>) => {
        const statuses = await status(part, AbortSignal.timeout(this.deps.timeoutMs)).catch((err: Error) => {
          this.deps.logger.warn({ provider, run: runId, err: err.message }, 'delivery status query failed');
          return new Map<string, DeliveryStatus>();
        });
        for (const m of part) {
          const s = statuses.get(m.messageId);
          if (!s) continue;
          read += 1;
          if (FINAL_DELIVERY.has(s)) {
            this.deps.book.delivered(runId, m.to, s);
            pending.delete(m.to);
          }
        }
        if (++asked % 20 === 0) await this.deps.book.commit(runId);
      };
      const prefix = `${provider} `;
      let part: Array<{ messageId: string; to: string }> = [];
      for (const [phone, ref] of pending) {
        if (!ref.startsWith(prefix)) continue;
        part.push({ messageId: ref.slice(prefix.length), to: phone });
        if (part.length === 100) {
          await ask(part);
          part = [];
        }
      }
      if (part.length) await ask(part);
    }
    return read;
  }
}
