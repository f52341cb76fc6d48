/** The embedded engine's SMS ledger: a table of the journaled store, durable after a flush. */
import type { RecordStore, Table } from '../../runtime/ports.ts';
import type { LedgerEntry, SmsLedgerRows } from '../../runtime/sms/pinSender.ts';

export class EmbeddedSmsLedger implements SmsLedgerRows {
  private readonly table: Table<LedgerEntry>;

  constructor(private readonly store: RecordStore) {
    this.table = store.table<LedgerEntry>('smsLedger');
  }

  async get(key: string): Promise<LedgerEntry | undefined> {
    return this.table.get(key);
  }

  async put(entry: LedgerEntry, durable = false): Promise<void> {
    this.table.put(entry.key, entry);
    if (durable) await this.store.flush();
  }

  async forget(workflowId: string, sends: number): Promise<void> {
    for (let n = 0; n <= sends + 1; n++) this.table.delete(`${workflowId}:${n}`);
  }
}
