/**
 * The PostgreSQL engine's consent rows. A change of one phone's record is a transaction under an
 * advisory lock on the phone (a record that does not exist yet has no row to lock), so two
 * instances appending to one phone's history keep both entries. Durable when it resolves.
 */
import type { ConsentRecord } from '../../runtime/ports.ts';
import {
  newsStatusOf,
  type ConsentRows,
  type ErasureEntry,
  type NewsStatus,
} from '../../runtime/consents.ts';
import type { Database } from './database.ts';
import { lockKey } from './workflowStore.ts';

type Query = { query: Database['query'] };

export const writeConsent = (q: Query, record: ConsentRecord, key = record.phone) =>
  q.query(
    `INSERT INTO consents (phone, news, record) VALUES ($1, $2, $3::jsonb)
     ON CONFLICT (phone) DO UPDATE SET news = EXCLUDED.news, record = EXCLUDED.record`,
    [key, newsStatusOf(record), JSON.stringify(record)],
  );

const lock = (q: Query, phone: string) =>
  q.query('SELECT pg_advisory_xact_lock($1::bigint)', [lockKey(`consent:${phone}`)]);

export class PostgresConsentRows implements ConsentRows {
  constructor(private readonly db: Database) {}

  async get(phone: string): Promise<ConsentRecord | undefined> {
    const { rows } = await this.db.query<{ record: ConsentRecord }>(
      'SELECT record FROM consents WHERE phone = $1',
      [phone],
    );
    return rows[0]?.record;
  }

  async news(phones: readonly string[]): Promise<Map<string, NewsStatus>> {
    const found = new Map<string, NewsStatus>(phones.map((p) => [p, 'none']));
    if (!phones.length) return found;
    const { rows } = await this.db.query<{ phone: string; news: NewsStatus }>(
      'SELECT phone, news FROM consents WHERE phone = ANY($1::text[])',
      [[...new Set(phones)]],
    );
    for (const r of rows) found.set(r.phone, r.news);
    return found;
  }

  update(
    phone: string,
    change: (current: ConsentRecord | undefined) => ConsentRecord | null,
  ): Promise<ConsentRecord | undefined> {
    return this.db.tx(async (q) => {
      await lock(q, phone);
      const { rows } = await q.query<{ record: ConsentRecord }>(
        'SELECT record FROM consents WHERE phone = $1',
        [phone],
      );
      const current = rows[0]?.record;
      const next = change(current);
      if (!next) return current;
      await writeConsent(q, next, phone);
      return next;
    });
  }

  move(from: string, to: string, change: (current: ConsentRecord) => ConsentRecord): Promise<boolean> {
    return this.db.tx(async (q) => {
      for (const key of [from, to].sort()) await lock(q, key);
      const { rows } = await q.query<{ record: ConsentRecord }>(
        'DELETE FROM consents WHERE phone = $1 RETURNING record',
        [from],
      );
      if (!rows[0]) return false;
      await writeConsent(q, change(rows[0].record), to);
      return true;
    });
  }

  async logErasure(entry: ErasureEntry): Promise<void> {
    await this.db.query(
      'INSERT INTO erasures (id, at, record) VALUES ($1, $2, $3::jsonb) ON CONFLICT DO NOTHING',
      [entry.id, entry.at, JSON.stringify(entry)],
    );
  }

  async erasure(id: string): Promise<ErasureEntry | undefined> {
    const { rows } = await this.db.query<{ record: ErasureEntry }>(
      'SELECT record FROM erasures WHERE id = $1',
      [id],
    );
    return rows[0]?.record;
  }

  async flush(): Promise<void> {
    // Each change is committed before it resolves.
  }
}
