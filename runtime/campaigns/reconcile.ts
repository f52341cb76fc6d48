/**
 * Recipients left in `sending` by a crash: the positions of a run's batch in flight with no
 * outcome line. A provider that finds a message by our key (`SmsSender.statusByKey`) is asked;
 * anything else is `unknown` and reported, never sent again.
 *
 * A batch ends by clearing its in-flight row, so a row found when a batch begins was left by a
 * batch that stopped — in this process, or in another sharing the store (its lease ran out and
 * the run's next batch came here). It is settled then, whichever process finds it.
 */
import type { Logger } from 'pino';
import type { SmsChain } from '../sms/chain.ts';
import { maskPhone } from '../phone.ts';
import type { RunBook } from './runBook.ts';

export class Reconciler {
  constructor(
    private readonly deps: {
      book: RunBook;
      chain: SmsChain;
      logger: Logger;
      timeoutMs: number;
    },
  ) {}

  /** Settle a run's recipients caught in `sending` by a batch that stopped. */
  async settle(runId: string): Promise<void> {
    const { book, chain, logger } = this.deps;
    if (!(await book.rows.inFlight(runId))) return;
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
    book.setInFlight(runId, null);
    await book.commit(runId);
  }
}
