/**
 * A connection to the PostgreSQL engine: a pool for queries and transactions, and a small pool
 * of its own for advisory locks, which hold a connection for as long as a lock is held (a lock
 * waiting there never takes a connection the holder's queries need).
 *
 * `bigint` columns (times in ms, counters) come back as numbers: every value this service keeps
 * in one is below 2^53.
 */
import { createHash } from 'node:crypto';
import pg from 'pg';

const INT8 = 20;
/** Rows changed in a queue-like table between two vacuums of it (`Database.churned`). */
const VACUUM_EVERY = 1_000;
const types = {
  getTypeParser: ((oid: number, format?: 'text' | 'binary') =>
    oid === INT8
      ? (v: string) => Number(v)
      : pg.types.getTypeParser(oid, format)) as typeof pg.types.getTypeParser,
};

export interface DatabaseOptions {
  /** Connections for queries (default 8). */
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
    this.pool = new pg.Pool({ ...base, max: opts.max ?? 8 });
    this.locks = new pg.Pool({ ...base, max: opts.maxLocks ?? 32 });
    this.pool.on('connect', prepared);
    this.locks.on('connect', prepared);
    // An idle connection the server dropped is an event, not a crash: the pool replaces it.
    this.pool.on('error', () => undefined);
    this.locks.on('error', () => undefined);
  }

  /**
   * Whether the last query reached the server: false from a query the server could not take
   * (down, unreachable, out of connections) until one succeeds again. `/healthz` answers by it.
   */
  healthy = true;

  async query<R extends pg.QueryResultRow = pg.QueryResultRow>(text: string, values?: unknown[]) {
    try {
      const result = await this.pool.query<R>(text, values);
      this.healthy = true;
      return result;
    } catch (err) {
      throw this.failed(err);
    }
  }

  /** A connection of the lock pool (an advisory lock holds it); unreachable as in `query`. */
  async lockClient(): Promise<pg.PoolClient> {
    try {
      return await this.locks.connect();
    } catch (err) {
      throw this.failed(err);
    }
  }

  /** Rows changed in each queue-like table since it was last vacuumed (`churned`). */
  private readonly churn = new Map<string, number>();
  private readonly vacuuming = new Map<string, Promise<unknown>>();

  /**
   * `rows` rows of `table` were written or deleted. Live workflows, the SMS ledger and the limit
   * windows are small tables whose every row is rewritten within minutes: between two passes of
   * autovacuum (a minute apart at the server's defaults) each would grow to thousands of pages
   * of dead rows that every read then scans. Every `VACUUM_EVERY` rows changed here the table is
   * vacuumed in the background (skipped while another instance vacuums it), which keeps it a few
   * pages long.
   */
  churned(table: 'workflows' | 'sms_ledger' | 'limit_windows' | 'limit_days', rows: number) {
    const n = (this.churn.get(table) ?? 0) + rows;
    if (n < VACUUM_EVERY || this.vacuuming.has(table) || this.closed) {
      this.churn.set(table, n);
      return;
    }
    this.churn.set(table, 0);
    this.vacuuming.set(
      table,
      this.pool
        .query(`VACUUM (SKIP_LOCKED) ${table}`)
        .catch(() => undefined)
        .finally(() => this.vacuuming.delete(table)),
    );
  }

  /** Connections kept by `keptClient`, released at `close`. */
  private readonly kept = new Set<pg.PoolClient>();

  /**
   * A connection of the lock pool kept for a session's locks until `close`, or until `dropKept`
   * lets it go (it failed: the server released its locks with it).
   */
  async keptClient(): Promise<pg.PoolClient> {
    const client = await this.lockClient();
    client.on('error', () => undefined);
    this.kept.add(client);
    return client;
  }

  dropKept(client: pg.PoolClient, err?: Error) {
    if (this.kept.delete(client)) client.release(err ?? true);
  }

  /** Run `work` in one transaction: committed when it resolves, rolled back when it throws. */
  async tx<T>(work: (client: pg.PoolClient) => Promise<T>): Promise<T> {
    let client: pg.PoolClient;
    try {
      client = await this.pool.connect();
    } catch (err) {
      throw this.failed(err);
    }
    try {
      await client.query('BEGIN');
      const value = await work(client);
      await client.query('COMMIT');
      this.healthy = true;
      return value;
    } catch (err) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw this.failed(err);
    } finally {
      client.release();
    }
  }

  /**
   * An error of a server that cannot be reached becomes the catalog's STORE_UNAVAILABLE (a 503
   * the till can retry, not a 500), text it cannot keep VALIDATION_FAILED; any other error stays
   * as it is.
   */
  private failed(err: unknown): unknown {
    const code = (err as { code?: unknown })?.code;
    if (code === '22021' || code === '22P05')
      // Text PostgreSQL cannot keep (a NUL character) came with a request: that request's fault.
      return Object.assign(new Error(`text the database cannot keep: ${(err as Error).message}`), {
        code: 'VALIDATION_FAILED',
        cause: err,
      });
    if (!unreachable(err)) return err;
    this.healthy = false;
    return Object.assign(new Error(`PostgreSQL cannot be reached: ${(err as Error).message}`), {
      code: 'STORE_UNAVAILABLE',
      cause: err,
    });
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await Promise.all(this.vacuuming.values());
    for (const client of this.kept) client.release(true);
    this.kept.clear();
    await Promise.all([this.pool.end(), this.locks.end()]);
  }
}

/**
 * Every query with parameters becomes a named prepared statement on its connection: parsed and
 * planned once per connection, not at every call (the service sends the same few dozen
 * statements all day). A statement without parameters (a migration file, VACUUM, BEGIN) is sent
 * as it is.
 */
function prepared(client: pg.PoolClient) {
  const send = client.query.bind(client) as (...args: unknown[]) => unknown;
  const names = new Map<string, string>();
  client.query = ((text: unknown, values?: unknown, callback?: unknown) => {
    if (typeof text !== 'string' || !Array.isArray(values) || values.length === 0)
      return send(text, values, callback);
    let name = names.get(text);
    if (!name) names.set(text, (name = `s${createHash('sha1').update(text).digest('hex').slice(0, 16)}`));
    return callback ? send({ name, text, values }, callback) : send({ name, text, values });
  }) as typeof client.query;
}

/** Connection failures, a server shutting down or out of connections (SQLSTATE 08, 53, 57P). */
function unreachable(err: unknown): boolean {
  const code = String((err as { code?: unknown })?.code ?? '');
  if (/^(08|53|57P0)/.test(code)) return true;
  if (['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'ENOTFOUND', 'EHOSTUNREACH', 'EPIPE'].includes(code))
    return true;
  return /Connection terminated|timeout exceeded when trying to connect/i.test((err as Error)?.message ?? '');
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
