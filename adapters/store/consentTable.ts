/**
 * The embedded engine's consent rows: a table of the journaled store. One process owns the
 * folder and each change happens before its first `await`, so a change of one phone's record
 * is atomic as it stands; it is durable after `flush()`.
 */
import type { ConsentRecord, RecordStore, Table } from '../../runtime/ports.ts';
import {
  newsStatusOf,
  type ConsentRows,
  type ErasureEntry,
  type NewsStatus,
} from '../../runtime/consents.ts';

export class EmbeddedConsentRows implements ConsentRows {
  private readonly table: Table<ConsentRecord>;

  constructor(private readonly store: RecordStore) {
    this.table = store.table<ConsentRecord>('consents');
  }

  async get(phone: string): Promise<ConsentRecord | undefined> {
    return this.table.get(phone);
  }

  async news(phones: readonly string[]): Promise<Map<string, NewsStatus>> {
    return new Map(phones.map((p) => [p, newsStatusOf(this.table.get(p))]));
  }

  async update(
    phone: string,
    change: (current: ConsentRecord | undefined) => ConsentRecord | null,
  ): Promise<ConsentRecord | undefined> {
    const current = this.table.get(phone);
    const next = change(current);
    if (!next) return current;
    this.table.put(phone, next);
    return next;
  }

  async move(from: string, to: string, change: (current: ConsentRecord) => ConsentRecord): Promise<boolean> {
    const current = this.table.get(from);
    if (!current) return false;
    this.table.delete(from);
    this.table.put(to, change(current));
    return true;
  }

  async logErasure(entry: ErasureEntry): Promise<void> {
    this.store.table<ErasureEntry>('erasures').put(entry.id, entry);
  }

  async erasure(id: string): Promise<ErasureEntry | undefined> {
    return this.store.table<ErasureEntry>('erasures').get(id);
  }

  flush(): Promise<void> {
    return this.store.flush();
  }
}
