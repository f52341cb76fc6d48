/**
 * A connection to the PostgreSQL engine: a pool for queries and transactions, and a small pool
 * of its own for advisory locks, which hold a connection for as long as a lock is held (a lock
 * waiting there never takes a connection the holder's queries need).
 *
 * `bigint` columns (times in ms, counters) come back as numbers: every value this service keeps
 * in one is below 2^53.
 */
import pg from 'pg';

const INT8 = 20;
const types = {
  getTypeParser: ((oid: number, format?: 'text' | 'binary') =>
    oid === INT8
      ? (v: string) => Number(v)
      : pg.types.getTypeParser(oid, format)) as typeof pg.types.getTypeParser,
};

export interface DatabaseOptions {
  /** Connections for queries (default 20). */
  max?: number;
  /** Connections for advisory locks held at the same time (default 32). */
  maxLocks?: number;
  /** Named in `pg_stat_activity`. */
  applicationName?: string;
}

export class Database {
  readonly pool: pg.Pool;
  readonly locks: pg.Pool;
  private closed = false;

  constructor(
    readonly url: string,
    opts: DatabaseOptions = {},
  ) {
    const base = {
      connectionString: url,
      types,
      application_name: opts.applicationName ?? 'sms-pds',
      connectionTimeoutMillis: 10_000,
    };
    this.pool = new pg.Pool({ ...base, max: opts.max ?? 20 });
    this.locks = new pg.Pool({ ...base, max: opts.maxLocks ?? 32 });
    // An idle connection the server dropped is an event, not a crash: the pool replaces it.
    this.pool.on('error', () => undefined);
    this.locks.on('error', () => undefined);
  }

  query<R extends pg.QueryResultRow = pg.QueryResultRow>(text: string, values?: unknown[]) {
    return this.pool.query<R>(text, values);
  }

  /** Run `work` in one transaction: committed when it resolves, rolled back when it throws. */
  async tx<T>(work: (client: pg.PoolClient) => Promise<T>): Promise<T> {
    const client = await this.pool.connect();
    try {
      await client.query('BEGIN');
      const value = await work(client);
      await client.query('COMMIT');
      return value;
    } catch (err) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw err;
    } finally {
      client.release();
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await Promise.all([this.pool.end(), this.locks.end()]);
  }
}

/** A database URL with its password hidden, for logs and the banner. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return 'postgres://…';
  }
}
