/**
 * The consent ledger: every change of a phone's marketing consent, and each consent to the
 * processing of personal data (with the version of the text agreed to), with its time, source
 * and who recorded it. Russian law (38-FZ art. 18) puts the burden of proof on the sender, so
 * entries are only ever appended.
 */
import type { ConsentEntry, ConsentRecord, RecordStore, Table } from './ports.ts';

/** `erasures`: each erasure of a guest (who, when, a keyed hash of the phone, what was changed). */
export const consentTables = ['consents', 'erasures'];

export class ConsentLedger {
  private readonly table: Table<ConsentRecord>;
  constructor(private readonly store: RecordStore) {
    this.table = store.table<ConsentRecord>('consents');
  }

  get(phone: string): ConsentRecord | undefined {
    return this.table.get(phone);
  }

  /**
   * Append an entry. With `ref` (e.g. the activation id) the call is idempotent: an entry with
   * the same ref is not written twice when an effect is re-run after a restart.
   */
  record(phone: string, entry: ConsentEntry & { ref?: string }): ConsentRecord {
    const current = this.table.get(phone);
    if (entry.ref && current?.history.some((h) => (h as { ref?: string }).ref === entry.ref)) return current;
    const pd =
      entry.pd && entry.pdTextVersion
        ? { at: entry.at, textVersion: entry.pdTextVersion }
        : (current?.pd ?? null);
    const next: ConsentRecord = {
      phone,
      marketing: entry.marketing,
      pd,
      updatedAt: entry.at,
      history: [...(current?.history ?? []), entry],
    };
    this.table.put(phone, next);
    return next;
  }

  /**
   * A guest's erasure: the record leaves the phone's key for `subject` (a keyed hash of it), with
   * what proves consent existed — times, sources, who recorded it, the text versions — and an
   * entry for the erasure itself; consent to news ends.
   */
  erase(phone: string, subject: string, entry: { at: string; by: string }): boolean {
    const current = this.table.get(phone);
    if (!current) return false;
    this.table.delete(phone);
    this.table.put(subject, {
      phone: subject,
      marketing: false,
      pd: current.pd ?? null,
      updatedAt: entry.at,
      history: [...current.history, { at: entry.at, marketing: false, source: 'erasure', by: entry.by }],
    });
    return true;
  }

  async flush() {
    await this.store.flush();
  }
}
