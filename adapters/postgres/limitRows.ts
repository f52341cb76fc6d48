/**
 * The PostgreSQL engine's limit counters, exact across instances: a check and its count are one
 * transaction holding an advisory lock on each counter's key (transaction-scoped, taken in key
 * order), so two instances spending the last segments of a budget, or the last hit of a window,
 * at once cannot both get them.
 */
import { countHit, dayRoom, type LimitRows } from '../../runtime/limits.ts';
import type { Database } from './database.ts';
import { lockKey } from './workflowStore.ts';

export class PostgresLimitRows implements LimitRows {
  constructor(private readonly db: Database) {}

  hit(rules: ReadonlyArray<{ key: string; limit: number }>, now: number, windowMs: number) {
    if (!rules.length) return Promise.resolve(null);
    return this.db.tx(async (q) => {
      for (const key of [...new Set(rules.map((r) => r.key))].sort())
        await q.query('SELECT pg_advisory_xact_lock($1::bigint)', [lockKey(`limit:${key}`)]);
      const { rows } = await q.query<{ key: string; hits: string[] }>(
        'SELECT key, hits FROM limit_windows WHERE key = ANY($1::text[])',
        [rules.map((r) => r.key)],
      );
      const stored = new Map(rows.map((r) => [r.key, r.hits.map(Number)]));
      const decided = countHit(rules, (key) => stored.get(key), now, windowMs);
      if ('refused' in decided) return decided.refused;
      for (const { key, hits } of decided.write) {
        await q.query(
          `INSERT INTO limit_windows (key, hits, last) VALUES ($1, $2::bigint[], $3)
           ON CONFLICT (key) DO UPDATE SET hits = EXCLUDED.hits, last = EXCLUDED.last`,
          [key, hits, now],
        );
      }
      return null;
    });
  }

  async dayCount(key: string): Promise<number> {
    const { rows } = await this.db.query<{ count: number }>('SELECT count FROM limit_days WHERE key = $1', [
      key,
    ]);
    return rows[0]?.count ?? 0;
  }

  async addDay(key: string, day: string, want: number, cap: number, whole = false): Promise<number> {
    if (want <= 0) return 0;
    return this.db.tx(async (q) => {
      await q.query('SELECT pg_advisory_xact_lock($1::bigint)', [lockKey(`limit:${key}`)]);
      const { rows } = await q.query<{ count: number }>('SELECT count FROM limit_days WHERE key = $1', [key]);
      const added = dayRoom(rows[0]?.count ?? 0, want, cap, whole);
      if (added > 0)
        await q.query(
          `INSERT INTO limit_days (key, day, count) VALUES ($1, $2, $3)
           ON CONFLICT (key) DO UPDATE SET count = limit_days.count + $3`,
          [key, day, added],
        );
      return added;
    });
  }

  async subtractDay(key: string, n: number): Promise<void> {
    await this.db.query('UPDATE limit_days SET count = greatest(0, count - $2) WHERE key = $1', [key, n]);
  }

  async forget(text: string): Promise<number> {
    const pattern = `%${text.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
    const a = await this.db.query('DELETE FROM limit_windows WHERE key LIKE $1', [pattern]);
    const b = await this.db.query('DELETE FROM limit_days WHERE key LIKE $1', [pattern]);
    return (a.rowCount ?? 0) + (b.rowCount ?? 0);
  }

  async sweep(before: number, oldestDay: string): Promise<number> {
    const a = await this.db.query('DELETE FROM limit_windows WHERE last <= $1', [before]);
    const b = await this.db.query('DELETE FROM limit_days WHERE day < $1', [oldestDay]);
    return (a.rowCount ?? 0) + (b.rowCount ?? 0);
  }
}
