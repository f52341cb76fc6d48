/**
 * The PostgreSQL engine's SMS ledger: one row per send, durable when a write resolves. Reads,
 * writes and forgets made at once each go as one statement (`Batcher`).
 */
import type { LedgerEntry, SmsLedgerRows } from '../../runtime/sms/pinSender.ts';
import type { Database } from './database.ts';
import { Batcher, lookups } from './batch.ts';

const workflowOf = (key: string) => key.slice(0, key.lastIndexOf(':'));

export class PostgresSmsLedger implements SmsLedgerRows {
  constructor(private readonly db: Database) {}

  private readonly reads = lookups<{ key: string; record: LedgerEntry }>(
    () => this.db,
    'SELECT key, record FROM sms_ledger WHERE key = ANY($1::text[])',
    (r) => r.key,
  );

  /** Writes of one key never share a batch (an upsert touches a row once a statement). */
  private readonly writes = new Batcher<LedgerEntry, void>(async (entries) => {
    const rows = entries.map((e) => ({ key: e.key, workflow: workflowOf(e.key), state: e.state, record: e }));
    if (new Set(rows.map((r) => r.key)).size < rows.length) throw new Error('one key twice in a batch');
    await this.db.query(
      `INSERT INTO sms_ledger (key, workflow, state, record)
       SELECT key, workflow, state, record
       FROM jsonb_to_recordset($1::jsonb) AS v(key text, workflow text, state text, record jsonb)
       ON CONFLICT (key) DO UPDATE SET state = EXCLUDED.state, record = EXCLUDED.record`,
      [JSON.stringify(rows)],
    );
    this.db.churned('sms_ledger', rows.length);
    return entries.map(() => undefined);
  });

  private readonly forgets = new Batcher<string, void>(async (ids) => {
    const { rowCount } = await this.db.query('DELETE FROM sms_ledger WHERE workflow = ANY($1::text[])', [
      ids,
    ]);
    this.db.churned('sms_ledger', rowCount ?? 0);
    return ids.map(() => undefined);
  });

  async get(key: string): Promise<LedgerEntry | undefined> {
    return (await this.reads.add(key))[0]?.record;
  }

  put(entry: LedgerEntry): Promise<void> {
    return this.writes.add(entry);
  }

  forget(workflowId: string): Promise<void> {
    return this.forgets.add(workflowId);
  }
}
