/**
 * A guest's erasure (152-FZ art. 14 and 21: the subject may demand their data be destroyed). One
 * call removes the person's data from everything the service keeps, and writes the erasure down
 * without the phone:
 *
 * - their open PIN windows are cancelled;
 * - their cards lose the holder (name, birthday, phone) and are blocked or returned to their
 *   range (`cards.onErasure`);
 * - their sessions, card issues and refused attempts are anonymised as retention does (phone →
 *   keyed hash, names removed), so reports keep their counts;
 * - campaign recipient lists and plans carry the keyed hash instead of the phone;
 * - the consent ledger keeps the minimum proof that consent existed (times, sources, who, text
 *   versions) under the keyed hash, and consent to news ends;
 * - rate-limit counters and delivery tracking of the phone, and the console outbox's copies, go;
 * - the store is compacted, so no journal or earlier table snapshot keeps the phone on disk.
 */
import type { Logger } from 'pino';
import type { CardDirectory, Clock, RecordStore, SmsSender } from '../ports.ts';
import type { Config } from '../config.ts';
import type { ConsentLedger } from '../consents.ts';
import type { RateLimits } from '../limits.ts';
import type { WorkflowHost } from '../workflows/host.ts';
import type { Recipient } from '../campaigns/types.ts';
import { newId } from '../ids.ts';
import { anonymise, anonymousPhone } from './retention.ts';

export interface ErasureReport {
  id: string;
  at: string;
  /** The keyed hash the phone's records now carry. */
  subject: string;
  cards: string[];
  cancelled: number;
  records: number;
  recipients: number;
  consent: boolean;
}

export class Erasure {
  constructor(
    private readonly deps: {
      host: WorkflowHost;
      directory: CardDirectory;
      consents: ConsentLedger;
      limits: RateLimits;
      deliveries: { forgetPhone(phone: string): Promise<number> };
      store: RecordStore;
      senders: SmsSender[];
      config: Readonly<Config>;
      clock: Clock;
      secret: Buffer;
      logger: Logger;
    },
  ) {}

  async erase(phone: string, by: string): Promise<ErasureReport> {
    const { host, directory, consents, limits, deliveries, store, senders, config, clock } = this.deps;
    const now = clock.now();
    const at = new Date(now).toISOString();
    const subject = anonymousPhone(this.deps.secret, phone);
    let cancelled = 0;
    for (const live of await host.liveOfPhone(phone)) {
      const done = await host
        .send(live.id, (t) => ({ type: 'CANCEL', now: t, by, reason: 'erasure' }))
        .catch(() => undefined);
      if (done && !done.live) cancelled += 1;
    }
    const cards: string[] = [];
    for (const card of await directory.byPhone(phone)) {
      await directory.eraseHolder(card.number, config.cards.onErasure, at);
      cards.push(card.number);
    }
    const records = await host.rewriteClosedOf(phone, (r) => anonymise(r, () => subject));
    let recipients = 0;
    for (const runId of store.archiveDays('recipients')) {
      const c = await store.rewriteArchive<Recipient>('recipients', runId, (r) =>
        r.phone === phone ? { ...r, phone: subject } : r,
      );
      recipients += c.changed;
      const plan = await store.getBlob(`plan-${runId}.csv`);
      if (plan?.includes(`${phone},`))
        await store.putBlob(
          `plan-${runId}.csv`,
          plan
            .split('\n')
            .map((line) => (line.startsWith(`${phone},`) ? subject + line.slice(phone.length) : line))
            .join('\n'),
        );
    }
    const consent = await consents.erase(phone, subject, { at, by });
    await limits.forgetPhone(phone);
    await deliveries.forgetPhone(phone);
    for (const sender of senders) await sender.erase?.(phone);
    const report: ErasureReport = {
      id: newId('era', now),
      at,
      subject,
      cards,
      cancelled,
      records,
      recipients,
      consent,
    };
    await consents.logErasure({ ...report, by });
    await consents.flush();
    await store.flush();
    await store.compact();
    this.deps.logger.info(
      { erasure: report.id, cards: cards.length, records, recipients, by },
      "a guest's data erased",
    );
    return report;
  }
}
