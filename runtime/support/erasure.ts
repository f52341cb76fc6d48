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
import type { CardDirectory, Clock, SmsSender } from '../ports.ts';
import type { CampaignRows } from '../campaigns/rows.ts';
import type { Config } from '../config.ts';
import type { ConsentLedger } from '../consents.ts';
import type { RateLimits } from '../limits.ts';
import type { WorkflowHost } from '../workflows/host.ts';
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
      /** Campaign runs' outcome lines and plans. */
      campaigns: Pick<CampaignRows, 'erasePhone'>;
      /**
       * Make every change durable and leave no earlier copy of a changed value in the engine's
       * files (the embedded store compacts its journals; PostgreSQL vacuums the tables).
       */
      purge(): Promise<void>;
      senders: SmsSender[];
      config: Readonly<Config>;
      clock: Clock;
      secret: Buffer;
      logger: Logger;
    },
  ) {}

  async erase(phone: string, by: string): Promise<ErasureReport> {
    const { host, directory, consents, limits, deliveries, campaigns, senders, config, clock } = this.deps;
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
    const recipients = await campaigns.erasePhone(phone, subject);
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
    await this.deps.purge();
    this.deps.logger.info(
      { erasure: report.id, cards: cards.length, records, recipients, by },
      "a guest's data erased",
    );
    return report;
  }
}
