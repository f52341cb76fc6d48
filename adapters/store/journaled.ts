/**
 * The embedded store: every table lives in memory, every change is appended to one journal, and
 * the journal is fsynced once per tick for all the changes made in that tick (group commit).
 * `flush()` resolves only when every change made before it is on disk, so an answer that awaits
 * it never reports a change that a `kill -9` could lose.
 *
 * Why not lowdb alone: lowdb serialises the whole database on every write, so a write would
 * cost more as history grows. Here a write costs the size of the change. Each table is
 * compacted now and then into its own snapshot file (only tables changed since the last
 * snapshot), after which the journal is cut. The snapshot files are lowdb adapters
 * (`DurableJsonLinesFile`), but the store streams their rows in and out rather than through
 * `Low.read()`/`write()`, which hold a whole table as one array beside the table itself: at a
 * million cards, that copy alone is what made a start run out of its 512 MB heap. Closed workflow records leave the live tables for
 * an append-only archive, one file per kind and day, so live tables stay small.
 *
 * A batch of journal lines ends with a commit line; on replay, lines after the last commit (a
 * torn write from a crash) are dropped: they were never acknowledged.
 */
import {
  constants as fsConstants,
  closeSync,
  openSync,
  readSync,
  write,
  mkdirSync,
  existsSync,
  readdirSync,
  statSync,
  truncateSync,
  rmSync,
  createReadStream,
} from 'node:fs';
import { open, readFile, rename, rm, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { syncDir, writeDurably } from './durableJsonFile.ts';
import { DurableJsonLinesFile } from './durableJsonLinesFile.ts';
import { createInterface } from 'node:readline';
import type { RecordStore, Table } from '../../runtime/ports.ts';

type JournalLine =
  | { t: string; k: string; v: unknown }
  | { t: string; k: string; d: 1 }
  | { a: string; day: string; v: unknown }
  | { c: number };
type Op = Exclude<JournalLine, { c: number }>;

export interface JournaledStoreOptions {
  /** Compact when the journal grows past this many bytes. */
  compactBytes?: number;
  /** Called once when the disk refuses a write; the store then refuses every later flush. */
  onFailure?: (err: Error) => void;
  /** Told how long each commit (write and fsync) took, in ms. */
  onCommit?: (ms: number) => void;
}

class MemoryTable<T> implements Table<T> {
  readonly rows = new Map<string, T>();
  constructor(
    readonly name: string,
    private readonly store: JournaledStore,
  ) {}
  get(key: string): T | undefined {
    return this.rows.get(key);
  }
  has(key: string): boolean {
    return this.rows.has(key);
  }
  put(key: string, value: T): void {
    this.rows.set(key, value);
    this.store.enqueue(this.name, key);
  }
  delete(key: string): void {
    if (!this.rows.delete(key)) return;
    this.store.enqueue(this.name, key);
  }
  values(): IterableIterator<T> {
    return this.rows.values();
  }
  entries(): IterableIterator<[string, T]> {
    return this.rows.entries();
  }
  get size(): number {
    return this.rows.size;
  }
}

export class JournaledStore implements RecordStore {
  private readonly tables = new Map<string, MemoryTable<unknown>>();
  private readonly snapshotSeq = new Map<string, number>();
  private readonly dirty = new Set<string>();
  /**
   * Keys changed since the last commit, per table. Values are serialised at commit time, once
   * per key however often it changed in between: a workflow that moves through four states in
   * one tick costs one line, and one that opens and closes in it costs none in its table.
   */
  private pending = new Map<string, Set<string>>();
  private pendingLines: string[] = [];
  private pendingArchive = new Map<string, string[]>();
  /** Archive keys (`kind/day`) whose committed lines are being copied to their day file now. */
  private copying = new Set<string>();
  private waiters: Array<{ resolve: () => void; reject: (e: Error) => void }> = [];
  private seq = 0;
  private journal!: FileHandle;
  private readonly archiveFiles = new Map<string, number>();
  private journalBytes = 0;
  /** A compaction writing its snapshots while commits go on. */
  private compacting: Promise<void> | null = null;
  private scheduled = false;
  private writing = false;
  private failure: Error | null = null;
  private readonly compactBytes: number;

  private constructor(
    readonly dir: string,
    private readonly options: JournaledStoreOptions,
  ) {
    this.compactBytes = options.compactBytes ?? 32 * 1024 * 1024;
  }

  /** Open (or create) a store in `dir`: load table snapshots, then replay the journal. */
  static async open(dir: string, tableNames: string[], options: JournaledStoreOptions = {}) {
    const store = new JournaledStore(dir, options);
    mkdirSync(join(dir, 'tables'), { recursive: true, mode: 0o700 });
    mkdirSync(join(dir, 'archive'), { recursive: true, mode: 0o700 });
    // Rows are read a line at a time straight into their tables, repeated short strings
    // (timestamps, states, range ids) shared as they come: no copy of a table is ever made.
    const share = new StringPool();
    for (const name of tableNames) {
      const table = new MemoryTable<unknown>(name, store);
      store.tables.set(name, table);
      const seq =
        (await store.snapshotFile(name).readRows((k, v) => table.rows.set(share.key(k), share.value(v)))) ??
        0;
      store.snapshotSeq.set(name, seq);
      store.seq = Math.max(store.seq, seq);
    }
    await store.replay(share);
    store.journal = await open(store.journalPath, JOURNAL_FLAGS, 0o600);
    store.journalBytes = statSync(store.journalPath).size;
    return store;
  }

  /**
   * One table as it is on disk, read without opening the store: its snapshot with every
   * committed journal change over it. For bulk work on a folder that no store has open (the
   * caller holds its lock): a table too large to hold in memory is streamed through `rows`, and
   * a snapshot written by `replaceTable` with this `seq` supersedes every journal change to it.
   * The changes themselves (journals are cut at `compactBytes`) are held in memory.
   */
  static async tableOnDisk(dir: string, name: string): Promise<TableOnDisk> {
    const snapshot = tableSnapshot(dir, name);
    const snapshotSeq = (await snapshot.seq()) ?? 0;
    const changes = new Map<string, unknown>();
    let seq = snapshotSeq;
    const files = [...sealedJournalsIn(dir).map((n) => join(dir, n)), join(dir, 'journal.jsonl')];
    for (const path of files) {
      for await (const { ops, c } of committedBatches(path)) {
        if (c > snapshotSeq)
          for (const op of ops) if ('t' in op && op.t === name) changes.set(op.k, 'd' in op ? DELETED : op.v);
        seq = Math.max(seq, c);
      }
    }
    return {
      seq,
      bytes: snapshot.bytes,
      changes: changes.size,
      async rows(visit) {
        await snapshot.readRawRows((k, v) => {
          if (!changes.has(k)) visit(k, v);
        });
        for (const [k, v] of changes) if (v !== DELETED) visit(k, JSON.stringify(v));
      },
    };
  }

  /**
   * Replace a table's snapshot (see `tableOnDisk`) with rows given as JSON lines
   * (`["key",value]`), as of `seq`: durable when this answers true. `confirm` is asked once the
   * rows are written: false leaves the table as it was.
   */
  static replaceTable(
    dir: string,
    name: string,
    seq: number,
    lines: AsyncIterable<string>,
    confirm?: () => boolean,
  ): Promise<boolean> {
    mkdirSync(join(dir, 'tables'), { recursive: true, mode: 0o700 });
    return tableSnapshot(dir, name).writeLines(seq, lines, confirm);
  }

  private get journalPath() {
    return join(this.dir, 'journal.jsonl');
  }
  private snapshotFile(name: string) {
    return tableSnapshot(this.dir, name);
  }
  private archivePath(kind: string, day: string) {
    return join(this.dir, 'archive', kind, `${day}.jsonl`);
  }

  private async replay(share: StringPool) {
    // Journals sealed by a compaction that a crash interrupted come first, oldest first; their
    // changes are applied again and snapshotted by the next compaction, which deletes them.
    for (const name of this.sealedJournals()) await this.replayFile(join(this.dir, name), share, false);
    await this.replayFile(this.journalPath, share, true);
  }

  private sealedJournals(): string[] {
    return sealedJournalsIn(this.dir);
  }

  private async replayFile(path: string, share: StringPool, current: boolean) {
    if (!existsSync(path)) return;
    const size = statSync(path).size;
    let committedBytes = 0;
    const archived = new Map<string, string[]>();
    for await (const { ops, c, end } of committedBatches(path)) {
      for (const op of ops) {
        if ('a' in op) {
          const key = `${op.a}/${op.day}`;
          let day = archived.get(key);
          if (!day) archived.set(key, (day = []));
          day.push(JSON.stringify(op.v));
          continue;
        }
        const table = this.tables.get(op.t);
        if (!table || c <= (this.snapshotSeq.get(op.t) ?? 0)) continue;
        if ('d' in op) table.rows.delete(op.k);
        else table.rows.set(share.key(op.k), share.value(op.v));
        this.dirty.add(op.t);
      }
      this.seq = Math.max(this.seq, c);
      committedBytes = end;
    }
    if (current && committedBytes < size) truncateSync(path, committedBytes);
    // Archive lines may or may not have reached their files before the crash; readers keep the
    // last copy of an id, so writing them again is harmless.
    for (const [key, lines] of archived) await this.appendArchive(key, lines.join('\n') + '\n');
  }

  table<T>(name: string): Table<T> {
    const table = this.tables.get(name);
    if (!table) throw new Error(`unknown table ${name}`);
    return table as MemoryTable<T>;
  }

  /** Internal: note a changed key for the next group commit. */
  enqueue(table: string, key: string): void {
    let keys = this.pending.get(table);
    if (!keys) this.pending.set(table, (keys = new Set()));
    keys.add(key);
    this.dirty.add(table);
  }

  archive(kind: string, day: string, record: unknown): void {
    const line = JSON.stringify(record); // serialised once: for the journal and the day file
    this.pendingLines.push(`{"a":${JSON.stringify(kind)},"day":${JSON.stringify(day)},"v":${line}}`);
    const key = `${kind}/${day}`;
    const lines = this.pendingArchive.get(key) ?? [];
    lines.push(line);
    this.pendingArchive.set(key, lines);
  }

  private get hasPending() {
    return this.pending.size > 0 || this.pendingLines.length > 0;
  }

  /** The journal lines of the pending changes, each key's value as it is now. */
  private drainLines(): string[] {
    const lines: string[] = [];
    for (const [name, keys] of this.pending) {
      const rows = this.tables.get(name)!.rows;
      const t = JSON.stringify(name);
      for (const key of keys) {
        const k = JSON.stringify(key);
        lines.push(
          rows.has(key)
            ? `{"t":${t},"k":${k},"v":${JSON.stringify(rows.get(key))}}`
            : `{"t":${t},"k":${k},"d":1}`,
        );
      }
    }
    this.pending = new Map();
    lines.push(...this.pendingLines);
    this.pendingLines = [];
    return lines;
  }

  async findArchived<T>(
    kind: string,
    day: string,
    match: (entry: T) => boolean,
    needle?: string,
  ): Promise<T | undefined> {
    let found: T | undefined;
    await this.scanArchive<T>(
      kind,
      day,
      (entry) => {
        if (match(entry)) found = entry;
      },
      needle,
    );
    return found;
  }

  /**
   * Read one day of a kind's archive in file order (a record archived twice appears twice). With
   * a `needle`, only lines that contain it are parsed: the file is searched a megabyte at a time
   * for the text, so finding a few records in a day of thousands costs a read, not a parse of
   * every line.
   */
  async scanArchive<T>(kind: string, day: string, visit: (entry: T) => void, needle?: string): Promise<void> {
    // Lines acknowledged but not yet copied from the journal to this day file: wait for them, so
    // a read made after an answer sees what the answer reported.
    const key = `${kind}/${day}`;
    if (this.copying.has(key) || this.pendingArchive.has(key)) await this.settled().catch(() => undefined);
    const path = this.archivePath(kind, day);
    if (!existsSync(path)) return;
    const wanted = needle === undefined ? undefined : Buffer.from(needle);
    let rest: Buffer = Buffer.alloc(0);
    for await (const chunk of createReadStream(path, { highWaterMark: 1 << 20 })) {
      const bytes = rest.length ? Buffer.concat([rest, chunk as Buffer]) : (chunk as Buffer);
      const end = bytes.lastIndexOf(NEWLINE);
      if (end < 0) {
        rest = bytes;
        continue;
      }
      rest = bytes.subarray(end + 1);
      visitLines(bytes, end, visit, wanted);
    }
    if (rest.length) visitLines(Buffer.concat([rest, Buffer.from('\n')]), rest.length, visit, wanted);
  }

  /**
   * Rewrite one day of a kind's archive, each record through `change` (null drops it), as one
   * durable replacement of the file (written beside it, fsynced, renamed). Lines still on their
   * way from the journal are waited for first; the day's open append descriptor is closed so a
   * later append goes to the new file. With `dryRun`, only counts.
   */
  async rewriteArchive<T>(
    kind: string,
    day: string,
    change: (entry: T) => T | null,
    dryRun = false,
  ): Promise<{ records: number; changed: number; dropped: number }> {
    await this.settled();
    const path = this.archivePath(kind, day);
    const out: string[] = [];
    const counts = { records: 0, changed: 0, dropped: 0 };
    await this.scanArchive<T>(kind, day, (entry) => {
      counts.records += 1;
      const before = JSON.stringify(entry);
      const next = change(entry);
      if (next === null) {
        counts.dropped += 1;
        return;
      }
      const line = JSON.stringify(next);
      if (line !== before) counts.changed += 1;
      out.push(line);
    });
    if (dryRun || (counts.changed === 0 && counts.dropped === 0)) return counts;
    this.closeArchiveFile(`${kind}/${day}`);
    await writeDurably(path, out.length ? out.join('\n') + '\n' : '');
    return counts;
  }

  /** Delete one day of a kind's archive (a run's recipient file, say). */
  async removeArchive(kind: string, day: string): Promise<void> {
    await this.settled();
    this.closeArchiveFile(`${kind}/${day}`);
    await rm(this.archivePath(kind, day), { force: true });
    await syncDir(join(this.dir, 'archive', kind)).catch(() => undefined);
  }

  async removeBlob(name: string): Promise<void> {
    await rm(this.blobPath(name), { force: true });
  }

  archiveSize(kind: string, day: string): number {
    try {
      return statSync(this.archivePath(kind, day)).size;
    } catch {
      return 0;
    }
  }

  archiveDays(kind: string): string[] {
    const dir = join(this.dir, 'archive', kind);
    if (!existsSync(dir)) return [];
    // A day file being rewritten (`.tmp`, left by a crash) is not a day.
    return readdirSorted(dir).filter((name) => !name.endsWith('.tmp'));
  }

  private blobPath(name: string) {
    if (!/^[a-z0-9_.-]+$/i.test(name)) throw new Error(`bad blob name ${name}`);
    return join(this.dir, 'blobs', name);
  }

  async putBlob(name: string, content: string): Promise<void> {
    mkdirSync(join(this.dir, 'blobs'), { recursive: true, mode: 0o700 });
    await writeDurably(this.blobPath(name), content);
  }

  async getBlob(name: string): Promise<string | null> {
    try {
      return await readFile(this.blobPath(name), 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw err;
    }
  }

  get healthy(): boolean {
    return this.failure === null;
  }

  /** Resolves when every change made before the call is on disk. */
  flush(): Promise<void> {
    if (this.failure) return Promise.reject(this.failure);
    if (!this.hasPending && !this.writing) return Promise.resolve();
    return new Promise((resolve, reject) => {
      this.waiters.push({ resolve, reject });
      this.schedule();
    });
  }

  async settled(): Promise<void> {
    await this.flush();
    // A commit still copying its archive lines: the next commit starts only after it.
    if (this.writing) await this.flush();
    // And a compaction writing its snapshots behind the commits.
    await this.compacting;
  }

  private schedule() {
    if (this.scheduled || this.writing) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      void this.commit();
    });
  }

  private async commit() {
    if (this.writing) return;
    const lines = this.drainLines();
    const archive = this.pendingArchive;
    const waiters = this.waiters;
    this.pendingArchive = new Map();
    this.waiters = [];
    if (lines.length === 0) {
      waiters.forEach((w) => w.resolve());
      return;
    }
    this.writing = true;
    const started = performance.now();
    try {
      this.seq += 1;
      lines.push(JSON.stringify({ c: this.seq }));
      const payload = Buffer.from(lines.join('\n') + '\n');
      // A write may take only part of the bytes (a disk filling up): the rest follows, or the
      // next try fails and the batch, with no commit line on disk, is never acknowledged.
      for (let at = 0; at < payload.length;) {
        const { bytesWritten } = await this.journal.write(payload, at, payload.length - at);
        at += bytesWritten;
      }
      if (!SYNC_WRITES) await this.journal.datasync();
      this.journalBytes += payload.length;
      this.options.onCommit?.(performance.now() - started);
      // Durable now: the journal holds the archive lines too. Their day files are written
      // before the next commit, and a flush() made meanwhile waits for that commit.
      this.copying = new Set(archive.keys());
      waiters.forEach((w) => w.resolve());
      for (const [key, entries] of archive) {
        await this.appendArchive(key, entries.join('\n') + '\n');
      }
      this.copying.clear();
      if (this.journalBytes > this.compactBytes && !this.compacting) {
        // The journal is sealed here, between two commits; the snapshots are written while the
        // next commits go on into a fresh journal (a large table takes a second to write).
        const sealed = await this.seal();
        this.compacting = this.writeSnapshots(sealed)
          .catch((err: unknown) => this.fail(err, []))
          .finally(() => (this.compacting = null));
      }
    } catch (err) {
      this.fail(err, waiters);
      return;
    } finally {
      this.writing = false;
      this.copying.clear();
    }
    if (this.hasPending || this.waiters.length) this.schedule();
  }

  /**
   * Append to the day file of an archive key (`kind/day`). The few latest files stay open (a
   * plain descriptor, so a store dropped without `close()` — a crash in tests — leaks it
   * quietly instead of closing it from the garbage collector).
   */
  private async appendArchive(key: string, text: string): Promise<void> {
    let fd = this.archiveFiles.get(key);
    if (fd === undefined) {
      const [kind, day] = key.split('/') as [string, string];
      mkdirSync(join(this.dir, 'archive', kind), { recursive: true, mode: 0o700 });
      const path = this.archivePath(kind, day);
      fd = openSync(path, 'a', 0o600);
      this.archiveFiles.set(key, fd);
      // A line torn by a crash or a full disk ends here without its newline: start on a new
      // line, or the next record would be glued to it and lost with it.
      if (endsMidLine(path)) text = '\n' + text;
      if (this.archiveFiles.size > 8) {
        const [oldest, old] = this.archiveFiles.entries().next().value!;
        this.archiveFiles.delete(oldest);
        closeSync(old);
      }
    }
    await writeAll(fd, text);
  }

  /** Close a day file's append descriptor, if open: the next append opens the file anew. */
  private closeArchiveFile(key: string) {
    const fd = this.archiveFiles.get(key);
    if (fd === undefined) return;
    this.archiveFiles.delete(key);
    closeSync(fd);
  }

  private closeArchiveFiles() {
    for (const fd of this.archiveFiles.values()) closeSync(fd);
    this.archiveFiles.clear();
  }

  /** The store failed: every waiter is told, nothing more is written. */
  private fail(err: unknown, waiters: Array<{ reject: (e: Error) => void }>) {
    if (this.failure) return;
    this.failure = Object.assign(new Error(`the store cannot write: ${(err as Error).message}`), {
      code: 'STORE_UNAVAILABLE',
      cause: err,
    });
    waiters.forEach((w) => w.reject(this.failure!));
    this.waiters.forEach((w) => w.reject(this.failure!));
    this.waiters = [];
    this.options.onFailure?.(this.failure);
  }

  /**
   * Seal the journal (it becomes `journal-<seq>.jsonl`) and open a fresh one; called between
   * commits. Returns what the snapshots must cover: the seq and the tables changed so far.
   */
  private async seal(): Promise<{ seq: number; tables: string[] }> {
    const seq = this.seq;
    await this.journal.close();
    await rename(this.journalPath, join(this.dir, `journal-${seq}.jsonl`));
    this.journal = await open(this.journalPath, JOURNAL_FLAGS, 0o600);
    await syncDir(this.dir);
    this.journalBytes = 0;
    const tables = [...this.dirty];
    this.dirty.clear();
    return { seq, tables };
  }

  /**
   * Write a snapshot of each table changed up to a sealed journal, make the archive durable,
   * then delete the sealed journals. A snapshot may already hold changes committed after `seq`
   * (they are in the fresh journal too, and replaying them again gives the same rows).
   */
  private async writeSnapshots({ seq, tables }: { seq: number; tables: string[] }) {
    for (const name of tables) {
      const table = this.tables.get(name)!;
      await this.snapshotFile(name).writeRows(seq, table.rows.entries());
      this.snapshotSeq.set(name, seq);
    }
    for (const kind of readdirSorted(join(this.dir, 'archive'))) {
      for (const day of this.archiveDays(kind).slice(-2)) {
        const fh = await open(this.archivePath(kind, day), 'r');
        await fh.sync().finally(() => fh.close());
      }
    }
    for (const name of this.sealedJournals()) {
      if (Number(name.slice(8, -6)) <= seq) rmSync(join(this.dir, name));
    }
    await syncDir(this.dir);
  }

  /**
   * Let go of the files without writing anything more: the store failed, and what is in memory
   * but not on disk must not reach it. The data folder is read again by the next open.
   */
  async abandon(): Promise<void> {
    this.failure ??= Object.assign(new Error('the store was abandoned'), { code: 'STORE_UNAVAILABLE' });
    while (this.writing) await new Promise((r) => setImmediate(r));
    await this.compacting?.catch(() => undefined);
    try {
      this.closeArchiveFiles();
    } catch {
      /* already closed */
    }
    await this.journal.close().catch(() => undefined);
  }

  /**
   * Run `task` while nothing is written to the folder: every change made before is on disk
   * (its archive lines in their day files, no compaction running), and commits wait until
   * `task` ends — changes made meanwhile are kept in memory and committed after, their callers
   * answered then.
   */
  async paused<T>(task: () => Promise<T>): Promise<T> {
    await this.settled();
    while (this.writing) await new Promise((r) => setImmediate(r));
    this.writing = true;
    try {
      await this.compacting;
      if (this.failure) throw this.failure;
      return await task();
    } finally {
      this.writing = false;
      if (this.hasPending || this.waiters.length) this.schedule();
    }
  }

  async compact(): Promise<void> {
    await this.paused(async () => this.writeSnapshots(await this.seal()));
  }

  /** Flush, snapshot every changed table and close the journal (graceful shutdown). */
  async close(): Promise<void> {
    if (this.failure) return;
    await this.flush();
    while (this.writing) await new Promise((r) => setImmediate(r));
    this.writing = true;
    try {
      await this.compacting;
      if (this.failure) return;
      await this.writeSnapshots(await this.seal());
      this.closeArchiveFiles();
      await this.journal.close();
    } finally {
      this.writing = false;
    }
  }
}

/**
 * The committed batches of a journal file, a line at a time (a journal left by a long import
 * that was killed can be hundreds of MB): each batch's operations, its commit number and the
 * byte offset where it ends. Lines after the last commit, or from a line that does not parse
 * on (a torn tail), were never acknowledged and are not yielded.
 */
async function* committedBatches(path: string): AsyncGenerator<{ ops: Op[]; c: number; end: number }> {
  if (!existsSync(path)) return;
  const lines = createInterface({ input: createReadStream(path, 'utf8'), crlfDelay: Infinity });
  let ops: Op[] = [];
  let offset = 0;
  try {
    for await (const line of lines) {
      offset += Buffer.byteLength(line) + 1;
      if (!line) continue;
      let entry: JournalLine;
      try {
        entry = JSON.parse(line);
      } catch {
        return; // a torn tail: everything from here on was never acknowledged
      }
      if (!('c' in entry)) {
        ops.push(entry);
        continue;
      }
      yield { ops, c: entry.c, end: offset };
      ops = [];
    }
  } finally {
    lines.close();
  }
}

/** A table on disk, streamed (see `JournaledStore.tableOnDisk`). */
export interface TableOnDisk {
  /** The folder's last commit: a snapshot written as of it supersedes the journals' changes. */
  seq: number;
  /** The snapshot's size in bytes. */
  bytes: number;
  /** How many rows the journals change over the snapshot. */
  changes: number;
  /** Every row, a line at a time, its value as JSON text. */
  rows(visit: (key: string, value: string) => void): Promise<void>;
}

const DELETED = Symbol('deleted');

/** A table's snapshot: `tables/<name>.jsonl` (earlier versions wrote `tables/<name>.json`). */
function tableSnapshot(dir: string, name: string) {
  return new DurableJsonLinesFile(join(dir, 'tables', `${name}.jsonl`), join(dir, 'tables', `${name}.json`));
}

/** `journal-<seq>.jsonl` files, oldest first. */
function sealedJournalsIn(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((n) => /^journal-\d+\.jsonl$/.test(n))
    .sort((a, b) => Number(a.slice(8, -6)) - Number(b.slice(8, -6)));
}

const writeAsync = promisify(write);

const NEWLINE = 0x0a;

/**
 * Parse the lines of `bytes` up to `end` (a newline), or only those containing `needle`: those
 * are found in the bytes, and only they are decoded.
 */
function visitLines<T>(bytes: Buffer, end: number, visit: (entry: T) => void, needle?: Buffer) {
  const parse = (line: string) => {
    if (!line) return;
    try {
      visit(JSON.parse(line) as T);
    } catch {
      /* a torn last line of a crashed append; its record is replayed from the journal */
    }
  };
  if (needle === undefined) {
    const text = bytes.toString('utf8', 0, end + 1);
    for (let start = 0; start < text.length;) {
      const nl = text.indexOf('\n', start);
      parse(text.slice(start, nl));
      start = nl + 1;
    }
    return;
  }
  for (let at = bytes.indexOf(needle); at !== -1 && at < end;) {
    const nl = bytes.indexOf(NEWLINE, at);
    parse(bytes.toString('utf8', bytes.lastIndexOf(NEWLINE, at) + 1, nl));
    at = bytes.indexOf(needle, nl + 1);
  }
}

/**
 * O_DSYNC where the platform has it (Linux, macOS): a journal write returns once its bytes are
 * on disk, one system call per commit where a write and an fdatasync would be two trips through
 * the thread pool. Elsewhere (Windows) the commit calls fdatasync after the write.
 */
const SYNC_WRITES: number = fsConstants.O_DSYNC ?? 0;
/** How the journal is opened: appending, with O_DSYNC where the platform has it. */
const JOURNAL_FLAGS = SYNC_WRITES
  ? fsConstants.O_APPEND | fsConstants.O_CREAT | fsConstants.O_WRONLY | SYNC_WRITES
  : 'a';

/** Whether a file's last byte is not a newline (a line was torn there). */
function endsMidLine(path: string): boolean {
  const size = statSync(path).size;
  if (size === 0) return false;
  const fd = openSync(path, 'r');
  try {
    const last = Buffer.alloc(1);
    readSync(fd, last, 0, 1, size - 1);
    return last[0] !== NEWLINE;
  } finally {
    closeSync(fd);
  }
}

/** Write the whole text at the end of an append-mode file. */
async function writeAll(fd: number, text: string): Promise<void> {
  const buffer = Buffer.from(text);
  for (let at = 0; at < buffer.length;) {
    const { bytesWritten } = await writeAsync(fd, buffer, at, buffer.length - at);
    at += bytesWritten;
  }
}

/**
 * Make equal short strings of loaded rows one string. JSON.parse gives every value its own copy,
 * so the same import time, state or source repeated over 100,000 cards would be 100,000
 * strings; sharing them saves about a fifth of the tables' memory.
 */
/**
 * Short strings read from disk, shared: every card of an import has the same `createdAt`, every
 * one of a range the same `rangeId`, and a string parsed from JSON is a new copy each time. The
 * pool forgets what it holds every 100,000 strings, so unique values (numbers, phones) never make
 * it a copy of the table; repeats close together — which is how they come — are still shared.
 */
class StringPool {
  private seen = new Map<string, string>();

  private string(text: string): string {
    if (text.length > 40) return text;
    const known = this.seen.get(text);
    if (known !== undefined) return known;
    if (this.seen.size >= 100_000) this.seen = new Map();
    this.seen.set(text, text);
    return text;
  }

  key(key: string): string {
    return this.string(key);
  }

  value(value: unknown): unknown {
    if (typeof value === 'string') return this.string(value);
    if (Array.isArray(value)) {
      for (let i = 0; i < value.length; i++) value[i] = this.value(value[i]);
    } else if (value !== null && typeof value === 'object') {
      const obj = value as Record<string, unknown>;
      for (const key of Object.keys(obj)) obj[key] = this.value(obj[key]);
    }
    return value;
  }
}

/** Entry names without `.jsonl`, sorted: day files by date (YYYY-MM-DD), kinds alphabetically. */
function readdirSorted(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .map((name) => name.replace(/\.jsonl$/, ''))
    .sort();
}
