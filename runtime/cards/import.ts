/**
 * Import of the existing PDS card base from CSV. Encoding is detected (UTF-8, with or without
 * BOM, else Windows-1251), and so is the delimiter (`,` as CardImp writes, `;` as Excel writes in
 * Russian locales).
 *
 * Columns: with a header row, by name (English or Russian: number/номер, phone/телефон,
 * name/фио, birthday/др, discount/скидка, bonus/бонус, expires/срок, blocked/блок). Without a
 * header, CardImp's order (RK7.md) followed by the phone: number, expiry, discount, bonus,
 * birthday, holder name, card type, payment limit, phone. A card with a holder name or phone is
 * imported as issued (`active`); one without, as a blank card waiting to be issued.
 *
 * `importCards` streams: the text is read twice, a batch of records at a time, with the event
 * loop let go between batches (other requests are answered meanwhile). The first pass checks
 * every line and writes nothing; an all-or-nothing import with a bad line stops there, every bad
 * line listed. The second pass writes in batches, each durable before the next; the answer comes
 * after the last. What stays in memory is the current batch and one 12-byte slot per card number
 * seen (for duplicates), not the file's rows.
 */
import { parse } from 'csv-parse';
import iconv from 'iconv-lite';
import { AppError } from '../../machines/errors.ts';
import type { CardDirectory, ImportRow } from '../ports.ts';
import { CARD_NUMBER } from './numbers.ts';
import { normalizePhoneOnce, type PhonePolicy } from '../phone.ts';
import { normalizeName, parseDate } from '../validate.ts';

export interface ImportRejection {
  line: number;
  /** The column at fault (`number`, `fullName`, `phone`…), or `line` for the line as a whole. */
  field: string;
  code: string;
  reason: string;
}

/** A bad value in a column: the line is rejected naming it. */
class FieldError extends Error {
  constructor(
    readonly field: string,
    message: string,
  ) {
    super(message);
  }
}

/**
 * The file's encoding, decided on the whole file (or a large sample of it): a BOM or text that
 * is valid UTF-8 is UTF-8 — unless its UTF-8 reading is made of letters no holder name has
 * (Greek, Armenian, Hebrew, Arabic, CJK…), the sign of Windows-1251 bytes that happen to form
 * UTF-8 sequences; anything else is Windows-1251.
 */
export function detectEncoding(sample: Buffer, complete = true): 'utf8' | 'win1251' {
  if (sample[0] === 0xef && sample[1] === 0xbb && sample[2] === 0xbf) return 'utf8';
  let bytes = sample;
  if (!complete) {
    // A sample may end inside a UTF-8 sequence: leave the last incomplete one out.
    let cut = bytes.length;
    for (let i = bytes.length - 1; i >= Math.max(0, bytes.length - 3); i--) {
      if ((bytes[i]! & 0xc0) === 0xc0) {
        cut = i;
        break;
      }
      if ((bytes[i]! & 0x80) === 0) break;
    }
    bytes = bytes.subarray(0, cut);
  }
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    return 'win1251';
  }
  let high = 0;
  let foreign = 0;
  for (const c of text) {
    const cp = c.codePointAt(0)!;
    if (cp < 0x80) continue;
    high += 1;
    const plausible =
      (cp >= 0xa0 && cp <= 0x24f) || // Latin-1, Latin Extended
      (cp >= 0x300 && cp <= 0x36f) || // combining accents (a name typed decomposed)
      (cp >= 0x400 && cp <= 0x52f) || // Cyrillic (Kazakh included)
      (cp >= 0x2000 && cp <= 0x22ff) || // punctuation, №, €, arrows, maths
      cp >= 0x1f000; // emoji
    if (!plausible) foreign += 1;
  }
  return high > 0 && foreign * 20 > high ? 'win1251' : 'utf8';
}

/** A whole file as text, in its detected encoding. */
export function decodeCsv(buf: Buffer): string {
  const text = iconv.decode(buf, detectEncoding(buf));
  return text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
}

const HEADERS: Record<string, string[]> = {
  number: ['number', 'card', 'cardnumber', 'номер', 'карта', 'номер карты', 'код карты'],
  expiresAt: ['expires', 'expiresat', 'expiry', 'срок', 'срок действия', 'действует до'],
  discount: ['discount', 'скидка'],
  bonus: ['bonus', 'бонус'],
  birthday: ['birthday', 'birth', 'др', 'день рождения', 'дата рождения'],
  fullName: ['name', 'fullname', 'holder', 'фио', 'владелец', 'имя'],
  phone: ['phone', 'телефон', 'тел'],
  email: ['email', 'e-mail', 'почта'],
  blocked: ['blocked', 'блок', 'заблокирована'],
};
const CARDIMP_ORDER = [
  'number',
  'expiresAt',
  'discount',
  'bonus',
  'birthday',
  'fullName',
  'cardType',
  'limit',
  'phone',
];

function columnsOf(first: string[]): { columns: string[]; header: boolean } {
  const names = first.map((c) => c.trim().toLowerCase());
  const mapped = names.map((n) => Object.keys(HEADERS).find((k) => HEADERS[k]!.includes(n)) ?? '');
  if (mapped.includes('number')) return { columns: mapped, header: true };
  return { columns: CARDIMP_ORDER, header: false };
}

function group(text: string | undefined, field: string): number {
  const t = (text ?? '').trim();
  if (t === '') return 0;
  if (!/^\d{1,2}$/.test(t)) throw new FieldError(field, `${field}: ожидается 0–99 / expected 0–99`);
  return Number(t);
}

/** The delimiter of a CSV: `;` when its first line has more of them than of `,`. */
function delimiterOf(text: string): ';' | ',' {
  const end = text.indexOf('\n');
  const first = end < 0 ? text : text.slice(0, end);
  return (first.match(/;/g)?.length ?? 0) > (first.match(/,/g)?.length ?? 0) ? ';' : ',';
}

/** Lines of a file given as byte chunks (a stream or one buffer): its newlines, and a last line without one. */
export async function countLines(chunks: AsyncIterable<Buffer> | Iterable<Buffer>): Promise<number> {
  let n = 0;
  let last = 10;
  for await (const chunk of chunks) {
    for (let at = chunk.indexOf(10); at >= 0; at = chunk.indexOf(10, at + 1)) n += 1;
    if (chunk.length) last = chunk[chunk.length - 1]!;
  }
  return last === 10 ? n : n + 1;
}

/** A CSV source read from the start for each pass: its text in pieces. */
export type CsvSource = () => AsyncIterable<string>;

/** A text already in memory as a source (64K-character pieces). */
export function textSource(text: string): CsvSource {
  return async function* () {
    for (let at = 0; at < text.length; at += 65_536) yield text.slice(at, at + 65_536);
  };
}

/**
 * The records of a source, a batch at a time, with their line numbers; the event loop is let go
 * between batches. A malformed CSV (an unclosed quote…) is VALIDATION_FAILED naming its line.
 */
async function* recordBatches(
  source: CsvSource,
  batchSize: number,
): AsyncGenerator<Array<{ record: string[]; line: number }>> {
  const pieces = source()[Symbol.asyncIterator]();
  const first = await pieces.next();
  if (first.done) return;
  const parser = parse({
    delimiter: delimiterOf(first.value),
    relax_column_count: true,
    skip_empty_lines: true,
    info: true,
    bom: true,
  });
  const feed = (async () => {
    try {
      if (!parser.write(first.value)) await new Promise((r) => parser.once('drain', r));
      for (let p = await pieces.next(); !p.done; p = await pieces.next()) {
        if (!parser.write(p.value)) await new Promise((r) => parser.once('drain', r));
      }
      parser.end();
    } catch (err) {
      parser.destroy(err as Error);
    }
  })();
  let batch: Array<{ record: string[]; line: number }> = [];
  try {
    for await (const { record, info } of parser as AsyncIterable<{
      record: string[];
      info: { lines: number };
    }>) {
      batch.push({ record, line: info.lines });
      if (batch.length >= batchSize) {
        yield batch;
        batch = [];
        await new Promise((r) => setImmediate(r));
      }
    }
  } catch (err) {
    if (err instanceof AppError) throw err;
    const line = (err as { lines?: number }).lines ?? 0;
    throw new AppError('VALIDATION_FAILED', {
      field: 'body',
      reason: `CSV, строка ${line}: ${(err as Error).message}`,
      line,
    });
  }
  await feed;
  if (batch.length) yield batch;
}

/**
 * Card numbers seen in this file and the line of each: an open-addressing table of 12 bytes a
 * slot (two 32-bit hashes and the line) instead of a Map of strings — 5,000,000 numbers in
 * 100 MB, a million in 24 MB. Two different numbers with both hashes equal (about one chance in
 * 10^19 a pair) would be reported as a duplicate, never let through twice.
 */
export class SeenNumbers {
  private h1: Uint32Array;
  private h2: Uint32Array;
  private lines: Uint32Array;
  private size = 0;

  /** `expected`: how many numbers will come (a file's line count), to size the table once. */
  constructor(expected = 0) {
    let slots = 1 << 16;
    while (slots * 3 < expected * 4) slots *= 2;
    this.h1 = new Uint32Array(slots);
    this.h2 = new Uint32Array(slots);
    this.lines = new Uint32Array(slots);
  }

  /** The line where `number` was first seen, or undefined (and it is noted at `line`). */
  noteOrFind(number: string, line: number): number | undefined {
    if ((this.size + 1) * 4 > this.h1.length * 3) this.grow();
    const [a, b] = hashes(number);
    const mask = this.h1.length - 1;
    for (let i = a & mask; ; i = (i + 1) & mask) {
      if (this.h1[i] === 0) {
        this.h1[i] = a;
        this.h2[i] = b;
        this.lines[i] = line;
        this.size += 1;
        return undefined;
      }
      if (this.h1[i] === a && this.h2[i] === b) return this.lines[i];
    }
  }

  private grow() {
    const { h1, h2, lines } = this;
    this.h1 = new Uint32Array(h1.length * 2);
    this.h2 = new Uint32Array(h1.length * 2);
    this.lines = new Uint32Array(h1.length * 2);
    const mask = this.h1.length - 1;
    for (let j = 0; j < h1.length; j++) {
      if (h1[j] === 0) continue;
      let i = h1[j]! & mask;
      while (this.h1[i] !== 0) i = (i + 1) & mask;
      this.h1[i] = h1[j]!;
      this.h2[i] = h2[j]!;
      this.lines[i] = lines[j]!;
    }
  }
}

/** Two independent 32-bit hashes of a text (FNV-1a and a Murmur-style mix); the first never 0. */
export function hashes(text: string): [number, number] {
  let a = 0x811c9dc5;
  let b = 0x9747b28c ^ text.length;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    a = Math.imul(a ^ c, 0x01000193);
    b = Math.imul(b ^ c, 0x5bd1e995);
    b ^= b >>> 15;
  }
  return [a >>> 0 || 1, b >>> 0];
}

/** One record as a row, or a thrown FieldError naming what is wrong. */
function rowOf(record: string[], line: number, columns: string[], phones: PhonePolicy): ImportRow {
  const get = (name: string) => {
    const i = columns.indexOf(name);
    return i < 0 ? undefined : record[i]?.trim();
  };
  const number = get('number') ?? '';
  if (!CARD_NUMBER.test(number))
    throw new FieldError('number', 'номер карты: от 1 до 20 цифр / card number: 1 to 20 digits');
  const expiryText = get('expiresAt');
  const expiresAt = expiryText ? parseDate(expiryText) : null;
  if (expiryText && !expiresAt)
    throw new FieldError('expiresAt', 'срок действия: ДД.ММ.ГГГГ / expiry: DD.MM.YYYY');
  const birthdayText = get('birthday');
  const birthday = birthdayText ? parseDate(birthdayText) : null;
  if (birthdayText && !birthday)
    throw new FieldError('birthday', 'день рождения: ДД.ММ.ГГГГ / birthday: DD.MM.YYYY');
  // The same name rule as the till and PATCH; an empty name is a blank card.
  const nameText = get('fullName') ?? '';
  let fullName = '';
  if (nameText !== '') {
    try {
      fullName = normalizeName(nameText);
    } catch (err) {
      throw new FieldError('fullName', `ФИО / name: ${(err as Error).message}`);
    }
  }
  const phoneText = get('phone');
  let phone: string | null = null;
  if (phoneText) {
    try {
      phone = normalizePhoneOnce(phoneText, phones);
    } catch (err) {
      throw new FieldError('phone', `телефон / phone: ${(err as AppError).code}`);
    }
  }
  const blockedText = (get('blocked') ?? '').toLowerCase();
  return {
    line,
    number,
    expiresAt,
    discount: group(get('discount'), 'discount'),
    bonus: group(get('bonus'), 'bonus'),
    holder: fullName || phone ? { fullName, birthday, phone, email: get('email') || null } : null,
    blocked: ['1', 'true', 'yes', 'да', '+'].includes(blockedText),
  };
}

export interface ImportOutcome {
  imported: number;
  updated: number;
  /** Bad lines in line order (the first `keepRejected`; `rejectedCount` counts them all). */
  rejected: ImportRejection[];
  rejectedCount: number;
  /** Whether anything was written (false: an all-or-nothing import with bad lines). */
  written: boolean;
}

export interface ImportOptions {
  phones: PhonePolicy;
  partial: boolean;
  at: string;
  /** Records per batch (checked, then written, per batch). */
  batchSize?: number;
  /** How many bad lines to keep for the answer. */
  keepRejected?: number;
  /** Each pass reports the lines it has read. */
  onProgress?: (pass: 'checking' | 'importing', lines: number) => void;
}

/**
 * The good rows of a source, a batch at a time (header skipped); every bad line is told to
 * `reject`. Duplicates are not looked for here: that takes the whole file (see `importCards`).
 */
export async function* checkedRows(
  source: CsvSource,
  opts: Pick<ImportOptions, 'phones' | 'batchSize'>,
  reject: (r: ImportRejection) => void,
  onLines?: (lines: number) => void,
): AsyncGenerator<ImportRow[]> {
  let columns: string[] | null = null;
  let lines = 0;
  for await (const batch of recordBatches(source, opts.batchSize ?? 2000)) {
    lines += batch.length;
    if (columns === null) {
      const found = columnsOf(batch[0]!.record);
      columns = found.columns;
      if (found.header) batch.shift();
    }
    const { rows, rejected } = checkBatch(batch, columns, opts.phones);
    rejected.forEach(reject);
    yield rows;
    onLines?.(lines);
  }
  if (columns === null)
    throw new AppError('VALIDATION_FAILED', { field: 'body', reason: 'пустой файл / empty file' });
}

interface CheckedBatch {
  rows: ImportRow[];
  rejected: ImportRejection[];
}

/** Check a batch of records (the header already left out): its good rows and its bad lines. */
function checkBatch(
  batch: Array<{ record: string[]; line: number }>,
  columns: string[],
  phones: PhonePolicy,
): CheckedBatch {
  const rows: ImportRow[] = [];
  const rejected: ImportRejection[] = [];
  for (const { record, line } of batch) {
    try {
      rows.push(rowOf(record, line, columns, phones));
    } catch (err) {
      const field = err instanceof FieldError ? err.field : 'line';
      rejected.push({ line, field, code: 'VALIDATION_FAILED', reason: (err as Error).message });
    }
  }
  return { rows, rejected };
}

/** The rejection of a card number seen before in the same file. */
export function duplicateLine(line: number, first: number): ImportRejection {
  return {
    line,
    field: 'number',
    code: 'VALIDATION_FAILED',
    reason: `номер повторяется (строка ${first}) / duplicate of line ${first}`,
  };
}

/** The rejection of a card a till is issuing right now. */
export function reservedLine(line: number): ImportRejection {
  return {
    line,
    field: 'number',
    code: 'CARD_ALREADY_ACTIVE',
    reason: 'карта сейчас выдаётся на кассе / the card is being issued at a till',
  };
}

/** Collects bad lines: all of them counted, the first `keep` kept. */
export class Rejections {
  readonly list: ImportRejection[] = [];
  count = 0;
  constructor(private readonly keep = Infinity) {}
  readonly add = (r: ImportRejection) => {
    this.count += 1;
    if (this.list.length < this.keep) this.list.push(r);
  };
}

/**
 * Import a CSV into a directory: check every line (nothing written), then, unless an
 * all-or-nothing import found a bad line, write it batch by batch, each durable.
 */
export async function importCards(
  source: CsvSource,
  directory: Pick<CardDirectory, 'get' | 'import'>,
  opts: ImportOptions,
): Promise<ImportOutcome> {
  const bad = new Rejections(opts.keepRejected);
  const seen = new SeenNumbers();
  // Pass 1: every line checked; nothing written.
  for await (const rows of checkedRows(source, opts, bad.add, (n) => opts.onProgress?.('checking', n))) {
    for (const row of rows) {
      const first = seen.noteOrFind(row.number, row.line);
      if (first !== undefined) bad.add(duplicateLine(row.line, first));
      else if ((await directory.get(row.number))?.state === 'reserved') bad.add(reservedLine(row.line));
    }
  }
  const outcome: ImportOutcome = {
    imported: 0,
    updated: 0,
    rejected: bad.list,
    rejectedCount: bad.count,
    written: false,
  };
  if (bad.count && !opts.partial) return sortRejections(outcome);
  // Pass 2: the good lines written a batch at a time (the bad ones found again, not listed again).
  const seenAgain = new SeenNumbers();
  const listed = new Set(bad.list.map((r) => r.line));
  for await (const rows of checkedRows(
    source,
    opts,
    () => undefined,
    (n) => opts.onProgress?.('importing', n),
  )) {
    const fresh = rows.filter((row) => seenAgain.noteOrFind(row.number, row.line) === undefined);
    const result = await directory.import(fresh, { partial: true, at: opts.at });
    outcome.imported += result.imported;
    outcome.updated += result.updated;
    outcome.written = true;
    // A reserved card (listed by the first pass, or reserved by a till since) is left as it is.
    for (const r of result.rejected) if (!listed.has(r.line)) bad.add(r);
  }
  outcome.rejectedCount = bad.count;
  return sortRejections(outcome);
}

function sortRejections(outcome: ImportOutcome): ImportOutcome {
  outcome.rejected.sort((a, b) => a.line - b.line);
  return outcome;
}
