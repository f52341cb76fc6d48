/**
 * Recipients left in `sending` by a crash: the positions of a run's batch in flight with no
 * outcome line. A provider that finds a message by our key (`SmsSender.statusByKey`) is asked;
 * anything else is `unknown` and reported, never sent again.
 */
import type { Logger } from 'pino';
import type { RecordStore } from '../ports.ts';
import type { SmsChain } from '../sms/chain.ts';
import { maskPhone } from '../phone.ts';
import type { RunBook } from './runBook.ts';

export class Reconciler {
  /** Runs looked at by this process: only a restart can leave recipients in `sending`. */
  private readonly done = new Set<string>();

  constructor(
    private readonly deps: {
      store: RecordStore;
      book: RunBook;
      chain: SmsChain;
      logger: Logger;
      timeoutMs: number;
    },
  ) {}

  /** Settle a run's recipients caught in `sending`, once per run per process. */
  async settle(runId: string): Promise<void> {
    if (this.done.has(runId)) return;
    this.done.add(runId);
    const { book, chain, logger } = this.deps;
    if (!book.batches.get(runId)) return;
    const stuck = await book.unsettled(runId);
    // Providers that can find a message by our key (smsc.ru) are asked, in the chain's order.
    const finders = chain.senders.flatMap((s) =>
      s.statusByKey ? [{ name: s.name, find: s.statusByKey.bind(s) }] : [],
    );
    for (const r of stuck) {
      const key = `${runId}:${r.phone}`;
      let found: { provider: string; messageId: string } | undefined;
      for (const sender of finders) {
        const answer = await sender
          .find(key, r.phone, AbortSignal.timeout(this.deps.timeoutMs))
          .catch(() => undefined);
        if (answer && answer.status !== 'unknown') {
          found = { provider: sender.name, messageId: answer.messageId };
          break;
        }
      }
      if (found) {
        book.move(r, 'sent', { ...found, reason: 'reconciled after restart' });
        continue;
      }
      book.move(r, 'unknown', { reason: 'interrupted while sending; not resent' });
      logger.warn(
        { run: runId, phone: maskPhone(r.phone) },
        'campaign recipient outcome unknown after restart',
      );
    }
    book.batches.delete(runId);
    await this.deps.store.flush();
  }

  /** The run ended: forget it. */
  forget(runId: string) {
    this.done.delete(runId);
  }
}
