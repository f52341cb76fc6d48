/**
 * Which archive days may hold a phone, a card or a terminal: a Bloom filter per kind and day, so
 * a support search skips the days that surely do not hold what it looks for, and its cost follows
 * the days that match, not the history kept.
 *
 * - A day's summary starts with the day's first record and takes every record the host archives
 *   into it; it grows by adding larger layers, never by reading the day again.
 * - It is kept beside the archive (`keys-<kind>-<day>.json` in the blobs folder) with the day
 *   file's size: written at shutdown, and when a day is read into a summary. A later start takes
 *   it while the size is unchanged.
 * - A day with no summary that matches (days from before summaries existed, the current day after
 *   a crash) is read once into one, the first time a search needs it.
 * - A summary only ever answers "surely not" or "maybe": a wrong "maybe" costs a read of the day,
 *   never a missed record.
 */
import type { RecordStore } from '../ports.ts';

/** The fields a search can name, as they are in an archived record. */
export interface KeyedRecord {
  phone?: string | null;
  card?: string | null;
  terminal?: string | null;
}

export type KeyField = 'phone' | 'card' | 'terminal';

const keysOf = (r: KeyedRecord): string[] => {
  const keys: string[] = [];
  if (r.phone) keys.push(`phone:${r.phone}`);
  if (r.card) keys.push(`card:${r.card}`);
  if (r.terminal) keys.push(`terminal:${r.terminal}`);
  return keys;
};

/** Hash probes per key; with 10 bits per key, about 1 false "maybe" in 100 per layer. */
const PROBES = 7;
const BITS_PER_KEY = 10;
const MIN_BITS = 1 << 15;
const MAX_BITS = 1 << 24;
/** Summaries kept in memory at once; others are read again from their files when needed. */
const KEEP = 40;
/** Archived records are about 700 bytes and bring up to three keys: a first guess at a day's keys. */
const BYTES_PER_KEY = 250;

/** FNV-1a over UTF-16 code units, seeded: two of them make the probes (double hashing). */
function fnv(text: string, seed: number): number {
  let h = seed >>> 0;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h;
}

const hashesOf = (key: string): [number, number] => [fnv(key, 0x811c9dc5), fnv(key, 0x5bd1e995) | 1];

class Layer {
  count = 0;
  constructor(
    readonly bits: Uint8Array,
    readonly size: number,
  ) {}

  /** Room for `keys` keys at about 1 false "maybe" in 100. */
  static sized(keys: number): Layer {
    let size = MIN_BITS;
    while (size < keys * BITS_PER_KEY && size < MAX_BITS) size *= 2;
    return new Layer(new Uint8Array(size / 8), size);
  }

  get full(): boolean {
    return this.count >= this.size / BITS_PER_KEY;
  }

  add(a: number, b: number) {
    for (let i = 0; i < PROBES; i++) {
      const bit = ((a + Math.imul(i, b)) >>> 0) & (this.size - 1);
      this.bits[bit >>> 3]! |= 1 << (bit & 7);
    }
    this.count += 1;
  }

  has(a: number, b: number): boolean {
    for (let i = 0; i < PROBES; i++) {
      const bit = ((a + Math.imul(i, b)) >>> 0) & (this.size - 1);
      if ((this.bits[bit >>> 3]! & (1 << (bit & 7))) === 0) return false;
    }
    return true;
  }
}

/** A growing Bloom filter: a full layer is followed by one twice its size. */
class Summary {
  /** Keys were added since it was last written beside its day (or read from there). */
  unsaved = true;

  constructor(readonly layers: Layer[] = [Layer.sized(0)]) {}

  add(key: string) {
    this.unsaved = true;
    let top = this.layers.at(-1)!;
    if (top.full) this.layers.push((top = Layer.sized((top.size / BITS_PER_KEY) * 2)));
    const [a, b] = hashesOf(key);
    top.add(a, b);
  }

  has(key: string): boolean {
    const [a, b] = hashesOf(key);
    return this.layers.some((layer) => layer.has(a, b));
  }

  /** What is written beside the day: from here on, only later keys make it unsaved. */
  stored(fileSize: number): Stored {
    this.unsaved = false;
    return {
      fileSize,
      layers: this.layers.map((l) => ({
        size: l.size,
        count: l.count,
        bits: Buffer.from(l.bits).toString('base64'),
      })),
    };
  }

  static from(stored: Stored): Summary {
    const summary = new Summary(
      stored.layers.map((l) => {
        const layer = new Layer(new Uint8Array(Buffer.from(l.bits, 'base64')), l.size);
        layer.count = l.count;
        return layer;
      }),
    );
    summary.unsaved = false;
    return summary;
  }
}

interface Stored {
  /** The day file's size the summary covers. */
  fileSize: number;
  layers: Array<{ size: number; count: number; bits: string }>;
}

export class ArchiveKeys {
  /** Loaded summaries by `kind/day`, least recently used first. */
  private readonly loaded = new Map<string, Summary>();
  private readonly loading = new Map<string, Promise<Summary>>();
  /** Keys archived while their day's summary loads: added to it when the load ends. */
  private readonly arriving = new Map<string, string[]>();
  private stopped = false;

  constructor(private readonly store: RecordStore) {}

  /**
   * A record the host archives now: its keys join its day's summary. A day with no file yet
   * starts its summary with this record; a day with a file but no summary loaded is left to be
   * read when a search needs it; a day being loaded gets the keys when its load ends.
   */
  added(kind: string, day: string, record: KeyedRecord) {
    const id = `${kind}/${day}`;
    const keys = keysOf(record);
    const waiting = this.arriving.get(id);
    if (waiting) waiting.push(...keys);
    let summary = this.loaded.get(id);
    if (!summary && !waiting && this.store.archiveSize(kind, day) === 0) {
      // The day's first record: nothing of the day is in a file yet, nor on its way there (every
      // earlier record of it came through here and would have started the summary).
      this.keep(id, (summary = new Summary()));
    }
    if (!summary) return;
    for (const key of keys) summary.add(key);
    this.loaded.delete(id);
    this.loaded.set(id, summary); // a day being written stays among the most recently used
  }

  /** False only when the day surely holds no record with `field` = `value`. */
  async mayHold(kind: string, day: string, field: KeyField, value: string): Promise<boolean> {
    const id = `${kind}/${day}`;
    if (!this.loaded.has(id) && this.store.archiveSize(kind, day) === 0) return true; // nothing to skip
    return (await this.summary(kind, day)).has(`${field}:${value}`);
  }

  /**
   * Make sure every day of these kinds has a summary beside it, newest first, one day at a time
   * (in the background after a start: the first start over an archive from before summaries
   * existed reads each day once, so no search has to). Stops at shutdown.
   */
  async warm(kinds: string[]): Promise<number> {
    let days = 0;
    for (const kind of kinds) {
      for (const day of this.store.archiveDays(kind).reverse()) {
        if (this.stopped) return days;
        if (this.store.archiveSize(kind, day) === 0) continue;
        await this.summary(kind, day);
        days += 1;
      }
    }
    return days;
  }

  /** Write every loaded summary beside its day (at shutdown, once the store has settled). */
  async save(): Promise<void> {
    this.stopped = true;
    await this.store.settled();
    for (const [id, summary] of this.loaded) {
      if (!summary.unsaved) continue; // as it is beside its day already
      const [kind, day] = id.split('/') as [string, string];
      await this.store.putBlob(
        this.blobName(kind, day),
        JSON.stringify(summary.stored(this.store.archiveSize(kind, day))),
      );
    }
  }

  private async summary(kind: string, day: string): Promise<Summary> {
    const id = `${kind}/${day}`;
    const known = this.loaded.get(id);
    if (known) {
      this.loaded.delete(id);
      this.loaded.set(id, known); // most recently used last
      return known;
    }
    let pending = this.loading.get(id);
    if (!pending) {
      pending = this.load(kind, day).finally(() => this.loading.delete(id));
      this.loading.set(id, pending);
    }
    return pending;
  }

  private blobName(kind: string, day: string) {
    return `keys-${kind}-${day}.json`;
  }

  /**
   * Keep a summary loaded, letting the least recently used go. One whose day has nothing in its
   * file yet stays: its records are still on their way there, and only it knows them.
   */
  private keep(id: string, summary: Summary) {
    this.loaded.set(id, summary);
    if (this.loaded.size <= KEEP) return;
    for (const old of this.loaded.keys()) {
      const [kind, day] = old.split('/') as [string, string];
      if (old !== id && this.store.archiveSize(kind, day) > 0) {
        this.loaded.delete(old);
        return;
      }
    }
  }

  /**
   * The day's summary from its file while the day has not grown since; otherwise read the day
   * into a new one. The load first waits until every record archived before it is in the day
   * file, and gathers the keys of those archived during it: none falls between.
   */
  private async load(kind: string, day: string): Promise<Summary> {
    const id = `${kind}/${day}`;
    const arriving: string[] = [];
    this.arriving.set(id, arriving);
    try {
      await this.store.settled();
      const fileSize = this.store.archiveSize(kind, day);
      let summary: Summary | null = null;
      const text = await this.store.getBlob(this.blobName(kind, day));
      if (text) {
        try {
          const stored = JSON.parse(text) as Stored;
          if (stored.fileSize === fileSize) summary = Summary.from(stored);
        } catch {
          /* unreadable: read the day again below */
        }
      }
      let written: string | null = null;
      if (!summary) {
        const fresh = new Summary([Layer.sized(fileSize / BYTES_PER_KEY)]);
        await this.store.scanArchive<KeyedRecord>(kind, day, (r) => {
          for (const key of keysOf(r)) fresh.add(key);
        });
        written = JSON.stringify(fresh.stored(fileSize)); // what was read; keys arriving come after
        summary = fresh;
      }
      for (const key of arriving) summary.add(key);
      this.keep(id, summary); // from here on, `added` reaches it directly
      if (written) await this.store.putBlob(this.blobName(kind, day), written);
      return summary;
    } finally {
      this.arriving.delete(id);
    }
  }
}
