/**
 * Group commit for the PostgreSQL engine: calls of one kind made while earlier ones are on their
 * way to the server go together as one statement (many rows in, many rows out), the way the
 * embedded engine's journal writes many changes with one flush.
 *
 * On a database a round trip — the statement's own work, its commit, two processes woken — costs
 * far more than a row, so a busy service sends a few statements carrying many requests' rows
 * rather than one statement each. An idle one sends each call at once, alone (no waiting for a
 * batch to fill): a batch is only what queued while `inFlight` earlier batches of the kind ran.
 *
 * A batch that fails is tried again one call at a time, so a call the server refuses (text it
 * cannot keep, say) fails alone and the others in its batch go through.
 */
export interface BatchOptions {
  /** Batches of the kind on their way at once (default 2). */
  inFlight?: number;
  /** Calls in one batch at most (default 200). */
  max?: number;
}

export class Batcher<I, R> {
  private queue: Array<{ item: I; resolve: (r: R) => void; reject: (e: unknown) => void }> = [];
  private running = 0;
  private scheduled = false;
  private readonly inFlight: number;
  private readonly max: number;

  /** `run` answers one result per item, in order. */
  constructor(
    private readonly run: (items: I[]) => Promise<R[]>,
    opts: BatchOptions = {},
  ) {
    this.inFlight = opts.inFlight ?? 2;
    this.max = opts.max ?? 200;
  }

  add(item: I): Promise<R> {
    return new Promise<R>((resolve, reject) => {
      this.queue.push({ item, resolve, reject });
      // Calls made in the same turn of the event loop leave together.
      if (!this.scheduled) {
        this.scheduled = true;
        queueMicrotask(() => {
          this.scheduled = false;
          this.pump();
        });
      }
    });
  }

  private pump() {
    while (this.running < this.inFlight && this.queue.length) {
      const batch = this.queue.splice(0, this.max);
      this.running += 1;
      void this.send(batch).finally(() => {
        this.running -= 1;
        this.pump();
      });
    }
  }

  private async send(batch: typeof this.queue) {
    try {
      const results = await this.run(batch.map((b) => b.item));
      batch.forEach((b, i) => b.resolve(results[i]!));
    } catch (err) {
      if (batch.length === 1) return batch[0]!.reject(err);
      // One call's fault, or a deadlock with another instance's batch: each on its own.
      await Promise.all(
        batch.map((b) =>
          this.run([b.item]).then(
            (r) => b.resolve(r[0]!),
            (e: unknown) => b.reject(e),
          ),
        ),
      );
    }
  }
}

/**
 * Lookups by key made at once, as one statement on `db()`: `sql` takes the distinct keys as `$1`
 * (a text array) and answers rows that `keyOf` names the key of; each call gets its key's rows.
 */
export function lookups<Row extends Record<string, unknown>>(
  db: () => {
    query<R extends Record<string, unknown>>(text: string, values: unknown[]): Promise<{ rows: R[] }>;
  },
  sql: string,
  keyOf: (row: Row) => string,
  opts?: BatchOptions,
): Batcher<string, Row[]> {
  return new Batcher<string, Row[]>(async (keys) => {
    const { rows } = await db().query<Row>(sql, [[...new Set(keys)]]);
    const byKey = new Map<string, Row[]>();
    for (const row of rows) {
      const key = keyOf(row);
      const list = byKey.get(key);
      if (list) list.push(row);
      else byKey.set(key, [row]);
    }
    return keys.map((key) => byKey.get(key) ?? []);
  }, opts);
}
