/** The PostgreSQL engine's tracked messages: rows, due ones claimed with SKIP LOCKED for a lease. */
import type { DeliveryStatus } from '../../runtime/ports.ts';
import { deliveryKey, settled, type DeliveryRows, type Tracked } from '../../runtime/sms/delivery.ts';
import type { Database } from './database.ts';
import { lookups } from './batch.ts';

export class PostgresDeliveryRows implements DeliveryRows {
  constructor(private readonly db: Database) {}

  async put(t: Tracked): Promise<void> {
    await this.db.query(
      `INSERT INTO deliveries (key, phone, status, settled, next_at, created_at, record)
       VALUES ($1, $2, $3, $4, $5, $6, $7::jsonb)
       ON CONFLICT (key) DO UPDATE SET status = EXCLUDED.status, settled = EXCLUDED.settled,
         next_at = EXCLUDED.next_at, record = EXCLUDED.record, claimed_until = NULL`,
      [
        deliveryKey(t.provider, t.messageId),
        t.to,
        t.status,
        settled(t),
        t.nextAt,
        t.createdAt,
        JSON.stringify(t),
      ],
    );
  }

  async statuses(keys: readonly string[]): Promise<Map<string, DeliveryStatus>> {
    const found = await Promise.all(keys.map((key) => this.byKey.add(key)));
    return new Map(found.flat().map((r) => [r.key, r.status]));
  }

  /** Statuses read at once (closing windows join theirs): one statement. */
  private readonly byKey = lookups<{ key: string; status: DeliveryStatus }>(
    () => this.db,
    'SELECT key, status FROM deliveries WHERE key = ANY($1::text[])',
    (r) => r.key,
  );

  async due(now: number, leaseMs: number): Promise<Tracked[]> {
    const { rows } = await this.db.query<{ record: Tracked }>(
      `UPDATE deliveries d SET claimed_until = $2
       FROM (SELECT key FROM deliveries
             WHERE NOT settled AND next_at <= $1 AND (claimed_until IS NULL OR claimed_until <= $1)
             ORDER BY next_at LIMIT 1000 FOR UPDATE SKIP LOCKED) due
       WHERE d.key = due.key
       RETURNING d.record`,
      [now, now + leaseMs],
    );
    return rows.map((r) => r.record);
  }

  async prune(before: number): Promise<number> {
    const { rowCount } = await this.db.query('DELETE FROM deliveries WHERE settled AND created_at < $1', [
      before,
    ]);
    return rowCount ?? 0;
  }

  async forgetPhone(phone: string): Promise<number> {
    const { rowCount } = await this.db.query('DELETE FROM deliveries WHERE phone = $1', [phone]);
    return rowCount ?? 0;
  }

  async flush(): Promise<void> {
    // Each change is committed before it resolves.
  }
}
