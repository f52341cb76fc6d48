/** The PostgreSQL engine's SMS ledger: one row per send, durable when a write resolves. */
import type { LedgerEntry, SmsLedgerRows } from '../../runtime/sms/pinSender.ts';
import type { Database } from './database.ts';

export class PostgresSmsLedger implements SmsLedgerRows {
  constructor(private readonly db: Database) {}

  async get(key: string): Promise<LedgerEntry | undefined> {
    const { rows } = await this.db.query<{ record: LedgerEntry }>(
      'SELECT record FROM sms_ledger WHERE key = $1',
      [key],
    );
    return rows[0]?.record;
  }

  async put(entry: LedgerEntry): Promise<void> {
    await this.db.query(
      `INSERT INTO sms_ledger (key, workflow, state, record) VALUES ($1, $2, $3, $4::jsonb)
       ON CONFLICT (key) DO UPDATE SET state = EXCLUDED.state, record = EXCLUDED.record`,
      [entry.key, entry.key.slice(0, entry.key.lastIndexOf(':')), entry.state, JSON.stringify(entry)],
    );
  }

  async forget(workflowId: string): Promise<void> {
    await this.db.query('DELETE FROM sms_ledger WHERE workflow = $1', [workflowId]);
  }
}
