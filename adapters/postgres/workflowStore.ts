/**
 * The PostgreSQL engine's workflow store: live workflows are rows of `workflows`, closed ones
 * rows of `archive`, shared by every instance on the database.
 *
 * - A write is compare-and-set on `version` (`UPDATE … WHERE version = $expected`); a start is
 *   an insert that a second start of the same id cannot repeat.
 * - Closing deletes the live row and appends the closed record to the archive in one
 *   transaction.
 * - Due deadlines are claimed with `FOR UPDATE SKIP LOCKED` for a short lease: instances polling
 *   together each take different rows, and a row whose claimer stopped is taken again once the
 *   lease runs out. Firing is itself a compare-and-set write, so a deadline fires once whatever
 *   the timing.
 * - Serialization by key: in this process, a queue per key; across instances, a PostgreSQL
 *   advisory lock on a hash of the key, held on a connection of the lock pool for the task's
 *   length (released by the server if the instance dies).
 */
import { createHash } from 'node:crypto';
import type { ArchiveKey, WorkflowStore } from '../../runtime/workflows/store.ts';
import type { StoredWorkflow, WorkflowRecord } from '../../runtime/workflows/types.ts';
import { archiveDay } from '../../runtime/workflows/archiveDay.ts';
import { KeyedQueue } from '../../runtime/keyedQueue.ts';
import type { Database } from './database.ts';

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

/** Append a closed record to the archive, and its day to the kind's days. */
async function append(q: Pick<Database, 'query'> | { query: Database['query'] }, closed: WorkflowRecord) {
  const day = archiveDay(closed);
  await q.query(
    `INSERT INTO archive (kind, day, id, phone, card, terminal, record) VALUES ($1, $2, $3, $4, $5, $6, $7::jsonb)`,
    [closed.kind, day, closed.id, closed.phone, closed.card, closed.terminal, JSON.stringify(closed)],
  );
  await q.query('INSERT INTO archive_days (kind, day) VALUES ($1, $2) ON CONFLICT DO NOTHING', [
    closed.kind,
    day,
  ]);
}

/** How long a pending effect is left to the process that wrote it before others take it up. */
const ORPHAN_GRACE_MS = 5_000;

export class PostgresWorkflowStore implements WorkflowStore {
  /** Other instances write deadlines too: look at the due index at least every second. */
  readonly pollMs = 1_000;
  private readonly queues = new KeyedQueue();

  constructor(private readonly db: Database) {}

  async get(id: string): Promise<StoredWorkflow | undefined> {
    const { rows } = await this.db.query<Row>('SELECT record, version FROM workflows WHERE id = $1', [id]);
    return rows[0] ? toStored(rows[0]) : undefined;
  }

  async put(next: StoredWorkflow, expected: number | null): Promise<boolean> {
    const values = [next.id, next.version, next.due, next.phone, JSON.stringify(next)];
    if (expected === null) {
      const { rowCount } = await this.db.query(
        `INSERT INTO workflows (id, kind, version, due, phone, record)
         VALUES ($1, $6, $2, $3, $4, $5::jsonb) ON CONFLICT (id) DO NOTHING`,
        [...values, next.kind],
      );
      return rowCount === 1;
    }
    const { rowCount } = await this.db.query(
      `UPDATE workflows SET version = $2, due = $3, phone = $4, record = $5::jsonb, claimed_until = NULL
       WHERE id = $1 AND version = $6`,
      [...values, expected],
    );
    return rowCount === 1;
  }

  async close(closed: WorkflowRecord, expected: number | null): Promise<boolean> {
    return this.db.tx(async (client) => {
      const current = await client.query<{ version: number }>(
        'SELECT version FROM workflows WHERE id = $1 FOR UPDATE',
        [closed.id],
      );
      const row = current.rows[0];
      if (row && row.version !== expected) return false;
      if (row) {
        await client.query('DELETE FROM workflows WHERE id = $1', [closed.id]);
        await client.query('DELETE FROM effect_leases WHERE workflow = $1', [closed.id]);
      }
      await append(client, closed);
      return true;
    });
  }

  async claimEffect(id: string, seq: number, owner: string, now: number, until: number): Promise<boolean> {
    const { rowCount } = await this.db.query(
      `INSERT INTO effect_leases (workflow, seq, owner, until)
       SELECT $1, $2, $3, $5 WHERE EXISTS (SELECT 1 FROM workflows WHERE id = $1)
       ON CONFLICT (workflow, seq) DO UPDATE SET owner = EXCLUDED.owner, until = EXCLUDED.until
       WHERE effect_leases.owner = EXCLUDED.owner OR effect_leases.until <= $4`,
      [id, seq, owner, now, until],
    );
    return rowCount === 1;
  }

  async releaseEffect(id: string, seq: number, owner: string): Promise<void> {
    await this.db.query('DELETE FROM effect_leases WHERE workflow = $1 AND seq = $2 AND owner = $3', [
      id,
      seq,
      owner,
    ]);
  }

  async orphanedEffects(now: number): Promise<StoredWorkflow[]> {
    // An effect written a moment ago is its writer's to claim (it does at once): only one left
    // unclaimed past ORPHAN_GRACE_MS, or whose lease ran out, is taken up elsewhere.
    const { rows } = await this.db.query<Row>(
      `SELECT w.record, w.version FROM workflows w
       WHERE jsonb_array_length(w.record->'effects') > 0
         AND w.record->>'updatedAt' < $2
         AND EXISTS (SELECT 1 FROM jsonb_array_elements(w.record->'effects') e
                     WHERE NOT EXISTS (SELECT 1 FROM effect_leases l
                                       WHERE l.workflow = w.id AND l.seq = (e->>'seq')::int AND l.until > $1))
       LIMIT 500`,
      [now, new Date(now - ORPHAN_GRACE_MS).toISOString()],
    );
    return rows.map(toStored);
  }

  async archive(closed: WorkflowRecord): Promise<void> {
    await this.db.tx((q) => append(q, closed));
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
    const { rows } = await this.db.query<Row>(
      'SELECT record, version FROM workflows WHERE phone = $1 ORDER BY id',
      [phone],
    );
    return rows.map(toStored);
  }

  async count(): Promise<number> {
    const { rows } = await this.db.query<{ n: number }>('SELECT count(*)::bigint AS n FROM workflows');
    return rows[0]!.n;
  }

  serialize<T>(key: string, task: () => Promise<T>, scope: 'all' | 'process' = 'all'): Promise<T> {
    if (scope === 'process') return this.queues.run(key, task);
    return this.queues.run(key, async () => (await this.locked(key, true, task))!.value);
  }

  async exclusive<T>(key: string, task: () => Promise<T>): Promise<{ value: T } | undefined> {
    if (this.queues.busy(key)) return undefined;
    return this.queues.run(key, () => this.locked(key, false, task));
  }

  /**
   * `task` holding the key's advisory lock on a connection of the lock pool: waiting for it, or
   * (`wait` false) answering undefined at once when another session holds it.
   */
  private async locked<T>(
    key: string,
    wait: boolean,
    task: () => Promise<T>,
  ): Promise<{ value: T } | undefined> {
    const client = await this.db.lockClient();
    try {
      if (wait) await client.query('SELECT pg_advisory_lock($1::bigint)', [lockKey(key)]);
      else {
        const { rows } = await client.query<{ ok: boolean }>(
          'SELECT pg_try_advisory_lock($1::bigint) AS ok',
          [lockKey(key)],
        );
        if (!rows[0]!.ok) return undefined;
      }
      try {
        return { value: await task() };
      } finally {
        await client.query('SELECT pg_advisory_unlock($1::bigint)', [lockKey(key)]);
      }
    } finally {
      client.release();
    }
  }
}
