/**
 * The PostgreSQL engine's workflow store: live workflows are rows of `workflows`, closed ones
 * rows of `archive`, shared by every instance on the database.
 *
 * - A write is compare-and-set on `version` (`UPDATE … WHERE version = $expected`); a start is
 *   an insert that a second start of the same id cannot repeat.
 * - Closing deletes the live row and appends the closed record to the archive in one
 *   statement.
 * - Pending effects are run by the instance named in the row (`lease_owner`, until
 *   `lease_until`): the write that starts an effect names its writer, so starting one costs no
 *   statement of its own; another instance takes the effects up once the lease has run out.
 * - Each request's work is a few single statements, every one of them a prepared statement:
 *   on a database a round trip is the unit of cost.
 * - Due deadlines are claimed with `FOR UPDATE SKIP LOCKED` for a short lease: instances polling
 *   together each take different rows, and a row whose claimer stopped is taken again once the
 *   lease runs out. Firing is itself a compare-and-set write, so a deadline fires once whatever
 *   the timing.
 * - Serialization by key: in this process, a queue per key; across instances, a PostgreSQL
 *   advisory lock on a hash of the key, held on a connection of the lock pool for the task's
 *   length (released by the server if the instance dies).
 */
import { createHash } from 'node:crypto';
import type { ArchiveKey, EffectLease, WorkflowStore } from '../../runtime/workflows/store.ts';
import type { StoredWorkflow, WorkflowRecord } from '../../runtime/workflows/types.ts';
import { archiveDay } from '../../runtime/workflows/archiveDay.ts';
import { KeyedQueue } from '../../runtime/keyedQueue.ts';
import type { PoolClient } from 'pg';
import type { Database } from './database.ts';
import { Batcher, lookups } from './batch.ts';

/** How long an instance holds a due row it claimed before another may take it. */
const CLAIM_MS = 5_000;
/** Rows claimed at a time. */
const CLAIM_BATCH = 500;
/** Rows read at a time when every live workflow is walked. */
const PAGE = 1_000;

type Row = { record: StoredWorkflow; version: number };

/** A 64-bit advisory-lock key for a string key (SHA-1's first 8 bytes, signed). */
export function lockKey(key: string): string {
  return createHash('sha1').update(key).digest().readBigInt64BE(0).toString();
}

const toStored = (row: Row): StoredWorkflow => ({ ...row.record, version: row.version });

/** The archive's column of each field a search may name. */
const COLUMN: Record<ArchiveKey['field'], string> = { phone: 'phone', card: 'card', terminal: 'terminal' };

/**
 * The statement that appends a closed record to the archive, and its day to the kind's days:
 * parameters kind, day, id, phone, card, terminal, record.
 */
const APPEND = `WITH day AS (INSERT INTO archive_days (kind, day) VALUES ($1, $2) ON CONFLICT DO NOTHING)
  INSERT INTO archive (kind, day, id, phone, card, terminal, record)
  VALUES ($1, $2, $3, $4, $5, $6, $7::jsonb)`;

/** A closed record as the archive's columns take it, and the live version it closes (`close`). */
const closeRow = (closed: WorkflowRecord, expected: number | null): CloseRow => ({
  id: closed.id,
  expected,
  kind: closed.kind,
  day: archiveDay(closed),
  phone: closed.phone,
  card: closed.card,
  terminal: closed.terminal,
  record: closed,
});

/** The parameters of `APPEND` for a closed record. */
function appendValues(closed: WorkflowRecord) {
  const r = closeRow(closed, null);
  return [r.kind, r.day, r.id, r.phone, r.card, r.terminal, JSON.stringify(r.record)];
}

/** The columns of a batch of workflow writes, as `jsonb_to_recordset` reads them. */
const PUT_COLUMNS = `id text, kind text, version integer, due bigint, phone text, record jsonb,
  lease_owner text, lease_until bigint, expected integer`;

/**
 * A batch names each workflow once: a statement changes a row once, and which of two changes of
 * one row it made could not be told apart. One that does not is sent one change at a time.
 */
function distinct(rows: ReadonlyArray<{ id: string }>) {
  if (new Set(rows.map((r) => r.id)).size < rows.length) throw new Error('one workflow twice in a batch');
}

interface PutRow {
  id: string;
  kind: string;
  version: number;
  due: number | null;
  phone: string | null;
  record: StoredWorkflow;
  lease_owner: string | null;
  lease_until: number | null;
  expected: number | null;
}

interface CloseRow {
  id: string;
  expected: number | null;
  kind: string;
  day: string;
  phone: string | null;
  card: string | null;
  terminal: string | null;
  record: WorkflowRecord;
}

/** How long a pending effect is left to the process that wrote it before others take it up. */
const ORPHAN_GRACE_MS = 5_000;

export class PostgresWorkflowStore implements WorkflowStore {
  /** Other instances write deadlines too: look at the due index at least every second. */
  readonly pollMs = 1_000;
  private readonly queues = new KeyedQueue();

  constructor(private readonly db: Database) {}

  async get(id: string): Promise<StoredWorkflow | undefined> {
    return this.reads.add(id);
  }

  /** Reads of single workflows made at once: one statement. */
  private readonly reads = new Batcher<string, StoredWorkflow | undefined>(async (ids) => {
    const { rows } = await this.db.query<Row & { id: string }>(
      'SELECT id, record, version FROM workflows WHERE id = ANY($1::text[])',
      [ids],
    );
    const found = new Map(rows.map((r) => [r.id, toStored(r)]));
    return ids.map((id) => found.get(id));
  });

  put(next: StoredWorkflow, expected: number | null, lease?: EffectLease): Promise<boolean> {
    const row = {
      id: next.id,
      kind: next.kind,
      version: next.version,
      due: next.due,
      phone: next.phone,
      record: next,
      lease_owner: lease?.owner ?? null,
      lease_until: lease?.until ?? null,
      expected,
    };
    return expected === null ? this.inserts.add(row) : this.updates.add(row);
  }

  /** Starts made at once: one insert; a start of an id that exists is not made. */
  private readonly inserts = new Batcher<PutRow, boolean>(async (rows) => {
    distinct(rows);
    const { rows: made } = await this.db.query<{ id: string }>(
      `INSERT INTO workflows (id, kind, version, due, phone, record, lease_owner, lease_until)
       SELECT id, kind, version, due, phone, record, lease_owner, lease_until
       FROM jsonb_to_recordset($1::jsonb) AS v(${PUT_COLUMNS})
       ON CONFLICT (id) DO NOTHING RETURNING id`,
      [JSON.stringify(rows)],
    );
    this.db.churned('workflows', made.length);
    const ids = new Set(made.map((r) => r.id));
    return rows.map((r) => ids.has(r.id));
  });

  /**
   * Writes made at once: one compare-and-set update, each row written only at the version its
   * writer read. Rows are taken in id order, so two instances' batches never wait on each other
   * in a circle.
   */
  private readonly updates = new Batcher<PutRow, boolean>(async (rows) => {
    distinct(rows);
    const { rows: written } = await this.db.query<{ id: string }>(
      `WITH v AS (SELECT * FROM jsonb_to_recordset($1::jsonb) AS v(${PUT_COLUMNS})),
            mine AS (SELECT id FROM workflows WHERE id = ANY($2::text[]) ORDER BY id FOR UPDATE)
       UPDATE workflows w SET version = v.version, due = v.due, phone = v.phone, record = v.record,
         claimed_until = NULL, lease_owner = coalesce(v.lease_owner, w.lease_owner),
         lease_until = coalesce(v.lease_until, w.lease_until)
       FROM v WHERE w.id = ANY($2::text[]) AND w.id = v.id AND w.version = v.expected
         AND w.id IN (SELECT id FROM mine)
       RETURNING w.id`,
      // The ids again as an array: the rows are found by the primary key, not by a scan.
      [JSON.stringify(rows), rows.map((r) => r.id)],
    );
    this.db.churned('workflows', written.length);
    const ids = new Set(written.map((r) => r.id));
    return rows.map((r) => ids.has(r.id));
  });

  /**
   * The live row is deleted if at version `expected`, and the closed record appended — also
   * when there is no live row (a record closed before it was ever written live); nothing
   * happens when the row is at another version, or was closed meanwhile. Closes made at once
   * are one statement.
   */
  close(closed: WorkflowRecord, expected: number | null): Promise<boolean> {
    return this.closes.add(closeRow(closed, expected));
  }

  private readonly closes = new Batcher<CloseRow, boolean>(async (rows) => {
    distinct(rows);
    const { rows: done } = await this.db.query<{ id: string }>(
      `WITH v AS (SELECT * FROM jsonb_to_recordset($1::jsonb) AS v(
                    id text, expected integer, kind text, day text, phone text, card text,
                    terminal text, record jsonb, n integer)),
            gone AS (DELETE FROM workflows w USING v
                     WHERE w.id = ANY($2::text[]) AND w.id = v.id AND w.version = v.expected
                     RETURNING w.id),
            ok AS (SELECT v.* FROM v
                   WHERE v.id IN (SELECT id FROM gone)
                      OR v.id NOT IN (SELECT id FROM workflows WHERE id = ANY($2::text[]))),
            day AS (INSERT INTO archive_days (kind, day) SELECT DISTINCT kind, day FROM ok
                    ON CONFLICT DO NOTHING)
       INSERT INTO archive (kind, day, id, phone, card, terminal, record)
       SELECT kind, day, id, phone, card, terminal, record FROM ok ORDER BY n
       RETURNING id`,
      [JSON.stringify(rows.map((r, n) => ({ ...r, n }))), rows.map((r) => r.id)],
    );
    this.db.churned('workflows', done.length);
    const ids = new Set(done.map((r) => r.id));
    return rows.map((r) => ids.has(r.id));
  });

  async claimEffects(id: string, owner: string, now: number, until: number): Promise<boolean> {
    const { rowCount } = await this.db.query(
      `UPDATE workflows SET lease_owner = $2, lease_until = $4
       WHERE id = $1 AND (lease_owner = $2 OR lease_until IS NULL OR lease_until <= $3)`,
      [id, owner, now, until],
    );
    return rowCount === 1;
  }

  async orphanedEffects(now: number): Promise<StoredWorkflow[]> {
    // Effects whose runner's lease ran out; or never leased (a row written by a move into the
    // database), once left a moment to whoever wrote them.
    const { rows } = await this.db.query<Row>(
      `SELECT record, version FROM workflows
       WHERE jsonb_array_length(record->'effects') > 0
         AND (lease_until <= $1 OR (lease_until IS NULL AND record->>'updatedAt' < $2))
       LIMIT 500`,
      [now, new Date(now - ORPHAN_GRACE_MS).toISOString()],
    );
    return rows.map(toStored);
  }

  async archive(closed: WorkflowRecord): Promise<void> {
    await this.db.query(APPEND, appendValues(closed));
  }

  async findArchived(kind: string, day: string, id: string): Promise<WorkflowRecord | undefined> {
    const { rows } = await this.db.query<{ record: WorkflowRecord }>(
      'SELECT record FROM archive WHERE id = $1 AND kind = $2 AND day = $3 ORDER BY seq DESC LIMIT 1',
      [id, kind, day],
    );
    return rows[0]?.record;
  }

  async archiveDays(kind: string): Promise<string[]> {
    const { rows } = await this.db.query<{ day: string }>('SELECT day FROM archive_days WHERE kind = $1', [
      kind,
    ]);
    return rows.map((r) => r.day);
  }

  async scanArchive(kind: string, day: string, visit: (r: WorkflowRecord) => void, only?: ArchiveKey) {
    const { rows } = await this.db.query<{ record: WorkflowRecord }>(
      `SELECT record FROM archive WHERE kind = $1 AND day = $2 ${only ? `AND ${COLUMN[only.field]} = $3` : ''} ORDER BY seq`,
      only ? [kind, day, only.value] : [kind, day],
    );
    for (const { record } of rows) visit(record);
  }

  rewriteArchive(
    kind: string,
    day: string,
    change: (r: WorkflowRecord) => WorkflowRecord,
    { only, dryRun = false }: { only?: ArchiveKey; dryRun?: boolean } = {},
  ): Promise<number> {
    return this.db.tx(async (q) => {
      const { rows } = await q.query<{ seq: number; record: WorkflowRecord }>(
        `SELECT seq, record FROM archive WHERE kind = $1 AND day = $2 ${only ? `AND ${COLUMN[only.field]} = $3` : ''}
         ORDER BY seq FOR UPDATE`,
        only ? [kind, day, only.value] : [kind, day],
      );
      let changed = 0;
      for (const { seq, record } of rows) {
        const next = change(record);
        if (JSON.stringify(next) === JSON.stringify(record)) continue;
        changed += 1;
        if (dryRun) continue;
        await q.query(
          'UPDATE archive SET id = $2, phone = $3, card = $4, terminal = $5, record = $6::jsonb WHERE seq = $1',
          [seq, next.id, next.phone, next.card, next.terminal, JSON.stringify(next)],
        );
      }
      return changed;
    });
  }

  async due(now: number): Promise<StoredWorkflow[]> {
    const { rows } = await this.db.query<Row>(
      `UPDATE workflows w SET claimed_until = $2
       FROM (SELECT id FROM workflows
             WHERE due <= $1 AND (claimed_until IS NULL OR claimed_until <= $1)
             ORDER BY due LIMIT ${CLAIM_BATCH}
             FOR UPDATE SKIP LOCKED) d
       WHERE w.id = d.id
       RETURNING w.record, w.version`,
      [now, now + CLAIM_MS],
    );
    return rows.map(toStored);
  }

  async nextDue(): Promise<number | null> {
    // A row another instance claimed is due again when its lease ends.
    const { rows } = await this.db.query<{ at: number | null }>(
      `SELECT min(greatest(due, coalesce(claimed_until, 0)))::bigint AS at FROM workflows WHERE due IS NOT NULL`,
    );
    return rows[0]?.at ?? null;
  }

  async *live(): AsyncIterable<StoredWorkflow> {
    let after = '';
    for (;;) {
      const { rows } = await this.db.query<Row & { id: string }>(
        `SELECT id, record, version FROM workflows WHERE id > $1 ORDER BY id LIMIT ${PAGE}`,
        [after],
      );
      for (const row of rows) yield toStored(row);
      if (rows.length < PAGE) return;
      after = rows[rows.length - 1]!.id;
    }
  }

  async liveOfPhone(phone: string): Promise<StoredWorkflow[]> {
    return (await this.ofPhone.add(phone)).map(toStored);
  }

  private readonly ofPhone = lookups<Row & { phone: string }>(
    () => this.db,
    'SELECT phone, record, version FROM workflows WHERE phone = ANY($1::text[]) ORDER BY id',
    (r) => r.phone,
  );

  async count(): Promise<number> {
    const { rows } = await this.db.query<{ n: number }>('SELECT count(*)::bigint AS n FROM workflows');
    return rows[0]!.n;
  }

  serialize<T>(key: string, task: () => Promise<T>, scope: 'all' | 'process' = 'all'): Promise<T> {
    if (scope === 'process') return this.queues.run(key, task);
    return this.queues.run(key, () => this.locked(key, task));
  }

  async exclusive<T>(key: string, task: () => Promise<T>): Promise<{ value: T } | undefined> {
    if (this.queues.busy(key)) return undefined;
    return this.queues.run(key, async () => {
      const lock = lockKey(key);
      if (!(await this.tries.add(lock))) return undefined;
      try {
        return { value: await task() };
      } finally {
        await this.untries.add(lock).catch(() => undefined); // a lost session took its locks along
      }
    });
  }

  /**
   * The session holding this process's `exclusive` locks: one connection of the lock pool for
   * them all, so the tries and releases made at once are one statement each. A key is tried here
   * only while no task of this process holds it (the queue above), so the session's holding a
   * lock means exactly one task of this process does.
   */
  private trySession: Promise<PoolClient> | null = null;

  private async onTrySession<R extends Record<string, unknown>>(text: string, keys: string[]) {
    this.trySession ??= this.db.keptClient();
    const session = this.trySession;
    const client = await session.catch((err: unknown) => {
      if (this.trySession === session) this.trySession = null;
      throw err;
    });
    try {
      return (await client.query<R>(text, [keys])).rows;
    } catch (err) {
      // The session is gone (and its locks with it): the next call opens another.
      if (this.trySession === session) this.trySession = null;
      this.db.dropKept(client, err as Error);
      throw err;
    }
  }

  private readonly tries = new Batcher<string, boolean>(
    async (keys) => {
      const rows = await this.onTrySession<{ ok: boolean }>(
        'SELECT pg_try_advisory_lock(k) AS ok FROM unnest($1::bigint[]) WITH ORDINALITY AS u(k, n) ORDER BY n',
        keys,
      );
      return rows.map((r) => r.ok);
    },
    { inFlight: 1 },
  );

  private readonly untries = new Batcher<string, void>(
    async (keys) => {
      await this.onTrySession(
        'SELECT pg_advisory_unlock(k) FROM unnest($1::bigint[]) WITH ORDINALITY AS u(k, n) ORDER BY n',
        keys,
      );
      return keys.map(() => undefined);
    },
    { inFlight: 1 },
  );

  /** `task` holding the key's advisory lock, waited for on a connection of the lock pool. */
  private async locked<T>(key: string, task: () => Promise<T>): Promise<T> {
    const client = await this.db.lockClient();
    try {
      await client.query('SELECT pg_advisory_lock($1::bigint)', [lockKey(key)]);
      try {
        return await task();
      } finally {
        await client.query('SELECT pg_advisory_unlock($1::bigint)', [lockKey(key)]);
      }
    } finally {
      client.release();
    }
  }
}
