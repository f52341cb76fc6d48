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
    if (!existsSync(this.path)) {
      return this.legacyPath ? new DurableJsonFile<TableSnapshot>(this.legacyPath).read() : null;
    }
    const lines = createInterface({ input: createReadStream(this.path, 'utf8'), crlfDelay: Infinity });
    let snapshot: TableSnapshot | null = null;
    for await (const line of lines) {
      if (!line) continue;
      if (!snapshot) snapshot = { seq: (JSON.parse(line) as { seq: number }).seq, rows: [] };
      else snapshot.rows.push(JSON.parse(line) as [string, unknown]);
    }
    return snapshot;
  }

  async write(data: TableSnapshot): Promise<void> {
    const tmp = `${this.path}.tmp`;
    const fh = await open(tmp, 'w', 0o600);
    try {
      await fh.write(JSON.stringify({ seq: data.seq }) + '\n');
      for (let i = 0; i < data.rows.length; i += CHUNK_ROWS) {
        let chunk = '';
        for (const row of data.rows.slice(i, i + CHUNK_ROWS)) chunk += JSON.stringify(row) + '\n';
        await fh.write(chunk);
      }
      await fh.sync();
    } finally {
      await fh.close();
    }
    await rename(tmp, this.path);
    await syncDir(dirname(this.path));
    if (this.legacyPath && existsSync(this.legacyPath)) rmSync(this.legacyPath);
  }
}
