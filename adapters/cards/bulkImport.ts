/**
 * The command line's import into the embedded engine, in bounded memory at any size.
 *
 * The service imports into its live directory, which holds every card in memory; a file of
 * millions of cards would need that much memory in the command line too, for cards it only
 * passes through. Here the card table is rewritten on disk instead, while no service has the
 * data folder open (the command line holds its lock):
 *
 * 1. The file is read once: every line checked, duplicates found (a compact table of the
 *    numbers seen, 12 bytes a slot), each good row turned into the card it makes on its own.
 * 2. When no card is stored yet (a venue's first import), those cards are the new table: they
 *    are written as they come. Otherwise each is spilled to one of P partition files by a hash
 *    of its number, and so are the stored cards (snapshot plus the journal's changes), so a
 *    number always lands in the same partition as its stored card.
 * 3. One partition at a time — a few tens of thousands of cards — rows are merged into the
 *    stored cards they name (cards a till is issuing are refused here) and streamed into the
 *    new snapshot of the table.
 * 4. An all-or-nothing import with a bad line writes nothing: it stops before the stored cards
 *    are read, or its new snapshot is thrown away unread.
 * 5. The new snapshot replaces the old one atomically (fsync, rename, fsync of the folder), as of
 *    the folder's last commit, so the journal's older card changes never apply over it. Until that
 *    rename, a crash or a refusal leaves the table exactly as it was.
 *
 * Memory holds the numbers' table, a partition and the write buffers, whatever the file's size;
 * the partitions' bytes on disk (about twice the cards' size) are in `import.tmp/` under the data
 * folder, removed at the end and by the next import after a crash.
 */
import { appendFileSync, existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { JournaledStore } from '../store/journaled.ts';
import {
  checkedRows,
  duplicateLine,
  hashes,
  Rejections,
  reservedLine,
  SeenNumbers,
  type CsvSource,
  type ImportOptions,
  type ImportOutcome,
} from '../../runtime/cards/import.ts';
import type { ImportRow } from '../../runtime/ports.ts';
import { importedCard, type StoredCard } from '../../runtime/cards/rules.ts';

/** Cards per partition: what one merge step holds in memory (about 15 MB of rows). */
const PARTITION_CARDS = 40_000;
/** Characters buffered per partition file before it is appended to. */
const SPILL_CHARS = 1 << 13;

export interface BulkImportOptions extends Omit<ImportOptions, 'onProgress'> {
  /** The file's line count (for the number of partitions and the progress of the first pass). */
  lines: number;
  /** Lines checked, then cards written, against their totals. */
  onProgress?: (pass: 'checking' | 'importing', done: number, total: number) => void;
}

/** Rows appended to a file, a buffer at a time. */
class Spill {
  private text = '';
  count = 0;
  constructor(readonly path: string) {}
  add(line: string) {
    this.text += line + '\n';
    this.count += 1;
    if (this.text.length >= SPILL_CHARS) this.flush();
  }
  flush() {
    if (!this.text) return;
    appendFileSync(this.path, this.text, { mode: 0o600 });
    this.text = '';
  }
  /** The lines written, and the file removed. */
  take(): string[] {
    this.flush();
    if (!existsSync(this.path)) return [];
    const lines = readFileSync(this.path, 'utf8').split('\n');
    lines.pop();
    rmSync(this.path);
    return lines;
  }
}

/** The row that made `card` on its own (`importedCard(undefined, row)`), to merge it into a stored one. */
function rowOf(card: StoredCard, line: number): ImportRow {
  return {
    line,
    number: card.number,
    expiresAt: card.expiresAt,
    discount: card.discount,
    bonus: card.bonus,
    holder: card.holder,
    blocked: card.state === 'blocked',
  };
}

/** Import a CSV into the card table of an embedded data folder that no service has open. */
export async function bulkImportCards(
  dataDir: string,
  source: CsvSource,
  opts: BulkImportOptions,
): Promise<ImportOutcome> {
  const work = join(dataDir, 'import.tmp');
  rmSync(work, { recursive: true, force: true }); // a crashed import's partitions
  try {
    const table = await JournaledStore.tableOnDisk(dataDir, 'cards');
    const bad = new Rejections(opts.keepRejected);
    let seen: SeenNumbers | null = new SeenNumbers(opts.lines);
    const outcome: ImportOutcome = {
      imported: 0,
      updated: 0,
      rejected: bad.list,
      rejectedCount: 0,
      written: false,
    };
    const empty = table.bytes === 0 && table.changes === 0;
    // With no card stored, reading the file is writing the table: one pass, one bar.
    const checking = (n: number) => opts.onProgress?.(empty ? 'importing' : 'checking', n, opts.lines);
    /** The good rows of the file, each number once, each as the card it makes on its own. */
    async function* fileCards(): AsyncGenerator<{ row: ImportRow; card: string }> {
      for await (const rows of checkedRows(source, opts, bad.add, checking)) {
        for (const row of rows) {
          const first = seen!.noteOrFind(row.number, row.line);
          if (first !== undefined) bad.add(duplicateLine(row.line, first));
          else yield { row, card: JSON.stringify(importedCard(undefined, row, opts.at)) };
        }
      }
    }
    const allowed = () => opts.partial || bad.count === 0;
    const done = () => {
      outcome.rejectedCount = bad.count;
      outcome.rejected.sort((a, b) => a.line - b.line);
      if (!outcome.written) outcome.imported = outcome.updated = 0;
      return outcome;
    };

    if (empty) {
      // No card stored yet (a venue's first import): the file's cards are the new table, written
      // as they are read. A refusal found on the way throws the written file away.
      async function* lines(): AsyncGenerator<string> {
        for await (const { row, card } of fileCards()) {
          outcome.imported += 1;
          yield `[${JSON.stringify(row.number)},${card}]`;
        }
      }
      outcome.written = await JournaledStore.replaceTable(dataDir, 'cards', table.seq, lines(), allowed);
      return done();
    }

    // 1. The file, once: each good row spilled (`number<TAB>line<TAB>card`) to its partition.
    mkdirSync(work, { recursive: true, mode: 0o700 });
    // Stored cards take about 250 bytes a line in the snapshot.
    const estimate = opts.lines + table.bytes / 250 + table.changes;
    const parts = Math.max(1, Math.ceil(estimate / PARTITION_CARDS));
    const partOf = (number: string) => hashes(number)[1] % parts;
    const incoming = Array.from({ length: parts }, (_, i) => new Spill(join(work, `in-${i}.jsonl`)));
    const stored = Array.from({ length: parts }, (_, i) => new Spill(join(work, `stored-${i}.jsonl`)));
    let good = 0;
    for await (const { row, card } of fileCards()) {
      incoming[partOf(row.number)]!.add(`${row.number}\t${row.line}\t${card}`);
      good += 1;
    }
    seen = null; // 12 bytes a line, needed no more
    // 2. All or nothing: nothing was written.
    if (!allowed()) return done();

    // 3. The stored cards, beside them (`number<TAB>card`).
    let storedCount = 0;
    await table.rows((number, card) => {
      stored[partOf(number)]!.add(`${number}\t${card}`);
      storedCount += 1;
    });

    // 4. A partition at a time, into the new snapshot: a card is parsed only to be merged.
    const total = good + storedCount;
    let merged = 0;
    async function* mergedLines(): AsyncGenerator<string> {
      for (let p = 0; p < parts; p++) {
        const cards = new Map<string, string>();
        for (const line of stored[p]!.take()) {
          const tab = line.indexOf('\t');
          cards.set(line.slice(0, tab), line.slice(tab + 1));
        }
        for (const spilled of incoming[p]!.take()) {
          const tab1 = spilled.indexOf('\t');
          const tab2 = spilled.indexOf('\t', tab1 + 1);
          const number = spilled.slice(0, tab1);
          const line = Number(spilled.slice(tab1 + 1, tab2));
          const card = spilled.slice(tab2 + 1);
          const existing = cards.get(number);
          if (existing === undefined) {
            cards.set(number, card);
            outcome.imported += 1;
            continue;
          }
          const stored = JSON.parse(existing) as StoredCard;
          if (stored.state === 'reserved') {
            bad.add(reservedLine(line));
            continue;
          }
          const row = rowOf(JSON.parse(card) as StoredCard, line);
          cards.set(number, JSON.stringify(importedCard(stored, row, opts.at)));
          outcome.updated += 1;
        }
        for (const [number, card] of cards) yield `[${JSON.stringify(number)},${card}]`;
        merged += stored[p]!.count + incoming[p]!.count;
        opts.onProgress?.('importing', merged, total);
        await new Promise((r) => setImmediate(r));
      }
    }
    // 5. The new table, or (a card being issued, all or nothing) the old one.
    outcome.written = await JournaledStore.replaceTable(dataDir, 'cards', table.seq, mergedLines(), allowed);
    return done();
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}
