/**
 * Opaque ids that carry their creation day (`ses_20261129_k3j9…`): the archive of closed
 * records is partitioned by that day, so a record is found by reading one day, not all of them.
 */
import { randomBytes } from 'node:crypto';

const ALPHABET = '0123456789abcdefghijkmnopqrstuvwxyz';

export function newId(prefix: string, now: number): string {
  const day = new Date(now).toISOString().slice(0, 10).replace(/-/g, '');
  const bytes = randomBytes(12);
  let tail = '';
  for (const b of bytes) tail += ALPHABET[b % ALPHABET.length];
  return `${prefix}_${day}_${tail}`;
}

/** The archive day (`YYYY-MM-DD`) of an id made by `newId`, or null for a foreign string. */
export function dayOfId(id: string): string | null {
  const m = /^[a-z]+_(\d{4})(\d{2})(\d{2})_[0-9a-z]{12}$/.exec(id);
  return m ? `${m[1]}-${m[2]}-${m[3]}` : null;
}
