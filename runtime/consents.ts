/**
 * The consent ledger: every change of a phone's marketing consent, and each consent to the
 * processing of personal data (with the version of the text agreed to), with its time, source
 * and who recorded it. Russian law (38-FZ art. 18) puts the burden of proof on the sender, so
 * entries are only ever appended.
 *
 * The records live in an engine's rows (`ConsentRows`): the embedded store's table, or
 * PostgreSQL's. A change of one phone's record is atomic however many instances share them.
 */
import type { ConsentEntry, ConsentRecord } from './ports.ts';

/** `erasures`: each erasure of a guest (who, when, a keyed hash of the phone, what was changed). */
export const consentTables = ['consents', 'erasures'];

/** Whether a phone may get news: consent given, taken back, or never given. */
export type NewsStatus = 'yes' | 'optedOut' | 'none';

export const newsStatusOf = (record: ConsentRecord | undefined): NewsStatus =>
  !record ? 'none' : record.marketing ? 'yes' : record.history.some((h) => h.marketing) ? 'optedOut' : 'none';

/** Where the ledger keeps its records. */
export interface ConsentRows {
  get(phone: string): Promise<ConsentRecord | undefined>;
  /** The news status of each phone asked, in one read (a campaign asks a page of phones at a time). */
  news(phones: readonly string[]): Promise<Map<string, NewsStatus>>;
  /**
   * Change one phone's record, one change at a time per phone: `change` gets the stored record
   * and answers the next one, or null to leave it. Answers the record as it is after.
   */
  update(
    phone: string,
    change: (current: ConsentRecord | undefined) => ConsentRecord | null,
  ): Promise<ConsentRecord | undefined>;
  /** Move a record under another key, changed by `change`, as one change; false when there was none. */
  move(from: string, to: string, change: (current: ConsentRecord) => ConsentRecord): Promise<boolean>;
  /** Keep the record of an erasure (who, when, the keyed hash, what changed; never the phone). */
  logErasure(entry: ErasureEntry): Promise<void>;
  erasure(id: string): Promise<ErasureEntry | undefined>;
  /** Resolves when every change made before is durable. */
  flush(): Promise<void>;
}

/** An erasure as the ledger keeps it. */
export interface ErasureEntry {
  id: string;
  at: string;
  by: string;
  /** The keyed hash the guest's records now carry. */
  subject: string;
  [field: string]: unknown;
}

export class ConsentLedger {
  constructor(private readonly rows: ConsentRows) {}

  get(phone: string): Promise<ConsentRecord | undefined> {
    return this.rows.get(phone);
  }

  news(phones: readonly string[]): Promise<Map<string, NewsStatus>> {
    return this.rows.news(phones);
  }

  /**
   * Append an entry. With `ref` (e.g. the activation id) the call is idempotent: an entry with
   * the same ref is not written twice when an effect is re-run after a restart.
   */
  async record(phone: string, entry: ConsentEntry & { ref?: string }): Promise<ConsentRecord> {
    const after = await this.rows.update(phone, (current) => {
      if (entry.ref && current?.history.some((h) => (h as { ref?: string }).ref === entry.ref)) return null;
      const pd =
        entry.pd && entry.pdTextVersion
          ? { at: entry.at, textVersion: entry.pdTextVersion }
          : (current?.pd ?? null);
      return {
        phone,
        marketing: entry.marketing,
        pd,
        updatedAt: entry.at,
        history: [...(current?.history ?? []), entry],
      };
    });
    return after!;
  }

  /**
   * A guest's erasure: the record leaves the phone's key for `subject` (a keyed hash of it), with
   * what proves consent existed — times, sources, who recorded it, the text versions — and an
   * entry for the erasure itself; consent to news ends.
   */
  erase(phone: string, subject: string, entry: { at: string; by: string }): Promise<boolean> {
    return this.rows.move(phone, subject, (current) => ({
      phone: subject,
      marketing: false,
      pd: current.pd ?? null,
      updatedAt: entry.at,
      history: [...current.history, { at: entry.at, marketing: false, source: 'erasure', by: entry.by }],
    }));
  }

  /** Keep the record of an erasure: the proof it was done, without the phone. */
  logErasure(entry: ErasureEntry): Promise<void> {
    return this.rows.logErasure(entry);
  }

  erasure(id: string): Promise<ErasureEntry | undefined> {
    return this.rows.erasure(id);
  }

  flush(): Promise<void> {
    return this.rows.flush();
  }
}
