/**
 * A lowdb adapter for a table snapshot, `{ seq, rows }`, kept as JSON Lines: a header line, then
 * one `[key, value]` line per row. Read and written a line at a time, so a table of 100,000
 * cards never becomes one 60 MB string (the memory a whole-file JSON costs at start and at each
 * compaction, kept by the process long after). Written like `DurableJsonFile`: a temporary file,
 * fsync, rename, fsync of the folder. An empty or missing file reads as "no data"; a snapshot
 * from before this format (`name.json`) is read once and replaced at the next compaction.
 */
import { createReadStream, existsSync, rmSync, statSync } from 'node:fs';
import { open, rename } from 'node:fs/promises';
import { dirname } from 'node:path';
import { createInterface } from 'node:readline';
import type { Adapter } from 'lowdb';
import { DurableJsonFile, syncDir } from './durableJsonFile.ts';

export interface TableSnapshot {
  seq: number;
  rows: [string, unknown][];
}

/** Bytes per write: few system calls, one small buffer. */
const CHUNK_BYTES = 1 << 20;

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
    await this.writeWith(seq, async (add) => {
      for (const row of rows) {
        const written = add(JSON.stringify(row));
        if (written) await written;
      }
    });
  }

  /**
   * Write a snapshot from lines already serialised (`["key",value]`), computed while they are
   * written. `confirm`, asked once every line is written and synced, may still say no: the old
   * snapshot then stays, the new one is removed, and the answer is false.
   */
  async writeLines(
    seq: number,
    lines: AsyncIterable<string>,
    confirm: () => boolean = () => true,
  ): Promise<boolean> {
    return this.writeWith(
      seq,
      async (add) => {
        for await (const line of lines) await add(line);
      },
      confirm,
    );
  }

  /** Read the rows as `readRows` does, the values left as JSON text (keys are parsed). */
  async readRawRows(onRow: (key: string, value: string) => void): Promise<number | null> {
    if (!existsSync(this.path)) return this.readRows((key, value) => onRow(key, JSON.stringify(value)));
    const lines = createInterface({ input: createReadStream(this.path, 'utf8'), crlfDelay: Infinity });
    let seq: number | null = null;
    for await (const line of lines) {
      if (!line) continue;
      if (seq === null) {
        seq = (JSON.parse(line) as { seq: number }).seq;
        continue;
      }
      // `["key",value]`: the key ends at the first quote that no backslash escapes.
      let end = 2;
      while (line[end] !== '"') end += line[end] === '\\' ? 2 : 1;
      onRow(JSON.parse(line.slice(1, end + 1)) as string, line.slice(end + 2, -1));
    }
    return seq;
  }

  /**
   * The write itself: a temporary file, fsync, rename, fsync of the folder. `produce` adds lines;
   * `add` answers a promise only when the buffer is written, so the rest cost no await.
   */
  private async writeWith(
    seq: number,
    produce: (add: (line: string) => Promise<unknown> | undefined) => Promise<void>,
    confirm: () => boolean = () => true,
  ): Promise<boolean> {
    const tmp = `${this.path}.tmp`;
    const fh = await open(tmp, 'w', 0o600);
    let done = false;
    try {
      // Lines are encoded straight into one buffer, written when full: no string of many rows
      // is ever built (each would be flattened, encoded and collected again).
      const buffer = Buffer.allocUnsafe(CHUNK_BYTES);
      let used = buffer.write(JSON.stringify({ seq }) + '\n');
      const flushBuffer = async () => {
        for (let at = 0; at < used;) at += (await fh.write(buffer, at, used - at)).bytesWritten;
        used = 0;
      };
      await produce((line) => {
        // A line may take three bytes a character (Cyrillic takes two) and one for the newline.
        if (used + line.length * 3 + 1 > CHUNK_BYTES) {
          if (line.length * 3 + 1 > CHUNK_BYTES) return flushBuffer().then(() => fh.write(line + '\n'));
          return flushBuffer().then(() => {
            used += buffer.write(line, used);
            buffer[used++] = 0x0a;
          });
        }
        used += buffer.write(line, used);
        buffer[used++] = 0x0a;
        return undefined;
      });
      await flushBuffer();
      await fh.sync();
      done = confirm();
    } finally {
      await fh.close();
      if (!done) rmSync(tmp, { force: true });
    }
    if (!done) return false;
    await rename(tmp, this.path);
    await syncDir(dirname(this.path));
    if (this.legacyPath && existsSync(this.legacyPath)) rmSync(this.legacyPath);
    return true;
  }

  /** The snapshot's seq (its first line) without reading its rows; null when there is none. */
  async seq(): Promise<number | null> {
    if (!existsSync(this.path))
      return this.legacyPath && existsSync(this.legacyPath) ? this.readRows(() => undefined) : null;
    const lines = createInterface({ input: createReadStream(this.path, 'utf8'), crlfDelay: Infinity });
    try {
      for await (const line of lines) if (line) return (JSON.parse(line) as { seq: number }).seq;
      return null;
    } finally {
      lines.close();
    }
  }

  /** The snapshot's size in bytes (0 when there is none). */
  get bytes(): number {
    return existsSync(this.path)
      ? statSync(this.path).size
      : this.legacyPath && existsSync(this.legacyPath)
        ? statSync(this.legacyPath).size
        : 0;
  }
}
