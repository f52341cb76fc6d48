/**
 * A lowdb adapter for a table snapshot, `{ seq, rows }`, kept as JSON Lines: a header line, then
 * one `[key, value]` line per row. Read and written a line at a time, so a table of 100,000
 * cards never becomes one 60 MB string (the memory a whole-file JSON costs at start and at each
 * compaction, kept by the process long after). Written like `DurableJsonFile`: a temporary file,
 * fsync, rename, fsync of the folder. An empty or missing file reads as "no data"; a snapshot
 * from before this format (`name.json`) is read once and replaced at the next compaction.
 */
import { createReadStream, existsSync, rmSync } from 'node:fs';
import { open, rename } from 'node:fs/promises';
import { dirname } from 'node:path';
import { createInterface } from 'node:readline';
import type { Adapter } from 'lowdb';
import { DurableJsonFile, syncDir } from './durableJsonFile.ts';

export interface TableSnapshot {
  seq: number;
  rows: [string, unknown][];
}

/** Rows per write: big enough for few system calls, small enough to stay a small string. */
const CHUNK_ROWS = 1000;

export class DurableJsonLinesFile implements Adapter<TableSnapshot> {
  constructor(
    private readonly path: string,
    /** The whole-JSON snapshot this one replaces, read when no lines file exists yet. */
    private readonly legacyPath?: string,
  ) {}

  async read(): Promise<TableSnapshot | null> {
    const rows: [string, unknown][] = [];
    const seq = await this.readRows((key, value) => rows.push([key, value]));
    return seq === null ? null : { seq, rows };
  }

  /**
   * Stream the rows to `onRow`, a line at a time (no array of the whole table); the snapshot's
   * seq, or null when there is none.
   */
  async readRows(onRow: (key: string, value: unknown) => void): Promise<number | null> {
    if (!existsSync(this.path)) {
      if (!this.legacyPath) return null;
      const legacy = await new DurableJsonFile<TableSnapshot>(this.legacyPath).read();
      if (!legacy) return null;
      for (const [key, value] of legacy.rows) onRow(key, value);
      return legacy.seq;
    }
    const lines = createInterface({ input: createReadStream(this.path, 'utf8'), crlfDelay: Infinity });
    let seq: number | null = null;
    for await (const line of lines) {
      if (!line) continue;
      if (seq === null) seq = (JSON.parse(line) as { seq: number }).seq;
      else {
        const [key, value] = JSON.parse(line) as [string, unknown];
        onRow(key, value);
      }
    }
    return seq;
  }

  async write(data: TableSnapshot): Promise<void> {
    await this.writeRows(data.seq, data.rows);
  }

  /** Write a snapshot from any iterable of rows (a table's entries, without copying them). */
  async writeRows(seq: number, rows: Iterable<[string, unknown]>): Promise<void> {
    const tmp = `${this.path}.tmp`;
    const fh = await open(tmp, 'w', 0o600);
    try {
      await fh.write(JSON.stringify({ seq }) + '\n');
      let chunk = '';
      let n = 0;
      for (const row of rows) {
        chunk += JSON.stringify(row) + '\n';
        if (++n % CHUNK_ROWS === 0) {
          await fh.write(chunk);
          chunk = '';
        }
      }
      if (chunk) await fh.write(chunk);
      await fh.sync();
    } finally {
      await fh.close();
    }
    await rename(tmp, this.path);
    await syncDir(dirname(this.path));
    if (this.legacyPath && existsSync(this.legacyPath)) rmSync(this.legacyPath);
  }
}
