/**
 * The PostgreSQL engine's limit counters, exact across instances: a check and its count are one
 * statement, a server function of the schema (`smspds_limit_hit`, `smspds_limit_add_day`, in
 * migration 0013) that locks each counter's row in key order, so two instances spending the
 * last segments of a budget, or the last hit of a window, at once cannot both get them. Checks
 * made at once go as one call, taken in turn: every till's start changes the service's day
 * budget, so one statement per start would queue them all on that row. The
 * rules are the ones `countHit` and `dayRoom` state for the embedded engine; the limit-rows
 * contract suite holds both engines to them.
 */
import type { LimitRows } from '../../runtime/limits.ts';
import type { Database } from './database.ts';
import { Batcher, lookups } from './batch.ts';

const ONE_AT_A_TIME = { inFlight: 1 };
type HitRequest = { keys: string[]; limits: number[]; at: number; window: number };
type AddRequest = { key: string; day: string; want: number; cap: number; whole: boolean };

export class PostgresLimitRows implements LimitRows {
  constructor(private readonly db: Database) {}

  hit(rules: ReadonlyArray<{ key: string; limit: number }>, now: number, windowMs: number) {
    if (!rules.length) return Promise.resolve(null);
    return this.hits.add({
      keys: rules.map((r) => r.key),
      limits: rules.map((r) => r.limit),
      at: now,
      window: windowMs,
    });
  }

  /** Hits made at once: one call of the server function, one commit. */
  private readonly hits = new Batcher<HitRequest, { index: number; leaves: number } | null>(async (reqs) => {
    const { rows } = await this.db.query<{ n: number; refused: number; leaves: number }>(
      'SELECT n, refused, leaves FROM smspds_limit_hit($1::jsonb)',
      [JSON.stringify(reqs)],
    );
    this.db.churned('limit_windows', reqs.length);
    const refused = new Map(rows.map((r) => [r.n, { index: r.refused, leaves: r.leaves }]));
    return reqs.map((_, n) => refused.get(n) ?? null);
    // One batch at a time: they lock the same few rows, a second would only wait for the first.
  }, ONE_AT_A_TIME);

  async dayCount(key: string): Promise<number> {
    return (await this.days.add(key))[0]?.count ?? 0;
  }

  /** Day counters read at once (every start reads the service's): one statement. */
  private readonly days = lookups<{ key: string; count: number }>(
    () => this.db,
    'SELECT key, count FROM limit_days WHERE key = ANY($1::text[])',
    (r) => r.key,
  );

  async addDay(key: string, day: string, want: number, cap: number, whole = false): Promise<number> {
    if (want <= 0) return 0;
    return this.adds.add({ key, day, want, cap, whole });
  }

  /** Day counter changes made at once: one call of the server function, one commit. */
  private readonly adds = new Batcher<AddRequest, number>(async (reqs) => {
    const { rows } = await this.db.query<{ n: number; added: number }>(
      'SELECT n, added FROM smspds_limit_add_day($1::jsonb)',
      [JSON.stringify(reqs)],
    );
    this.db.churned('limit_days', reqs.length);
    const added = new Map(rows.map((r) => [r.n, r.added]));
    return reqs.map((_, n) => added.get(n) ?? 0);
  }, ONE_AT_A_TIME);

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
