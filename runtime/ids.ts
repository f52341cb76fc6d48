/**
 * Opaque ids that carry their creation day (`ses_20261129_k3j9…`): the archive of closed
 * records is partitioned by that day, so a record is found by reading one day, not all of them.
 */
import { createHash, randomFillSync } from 'node:crypto';

const ALPHABET = '0123456789abcdefghijkmnopqrstuvwxyz';

/** Random bytes are drawn from the CSPRNG a pool at a time: one call per 341 ids, not per id. */
const pool = Buffer.alloc(4096);
let used = pool.length;

function randomTail(length: number): string {
  if (used + length > pool.length) {
    randomFillSync(pool);
    used = 0;
  }
  let tail = '';
  for (let i = 0; i < length; i++) tail += ALPHABET[pool[used + i]! % ALPHABET.length];
  pool.fill(0, used, used + length); // a byte is used once
  used += length;
  return tail;
}

let lastDay = { from: 0, to: 0, text: '' };

export function newId(prefix: string, now: number): string {
  if (now < lastDay.from || now >= lastDay.to) {
    const from = now - (now % 86_400_000);
    lastDay = {
      from,
      to: from + 86_400_000,
      text: new Date(from).toISOString().slice(0, 10).replace(/-/g, ''),
    };
  }
  return `${prefix}_${lastDay.text}_${randomTail(12)}`;
}

/**
 * The id of something made once for `seed` at `at` (a campaign's firing at its fire time): the
 * same seed and time give the same id in every process, so two that make it race for one row.
 */
export function idFor(prefix: string, at: number, seed: string): string {
  const day = new Date(at - (at % 86_400_000)).toISOString().slice(0, 10).replace(/-/g, '');
  const digest = createHash('sha256').update(seed).digest();
  let tail = '';
  for (let i = 0; i < 12; i++) tail += ALPHABET[digest[i]! % ALPHABET.length];
  return `${prefix}_${day}_${tail}`;
}

/** The archive day (`YYYY-MM-DD`) of an id made by `newId`, or null for a foreign string. */
export function dayOfId(id: string): string | null {
  const m = /^[a-z]+_(\d{4})(\d{2})(\d{2})_[0-9a-z]{12}$/.exec(id);
  return m ? `${m[1]}-${m[2]}-${m[3]}` : null;
}
