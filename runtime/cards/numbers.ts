/** Card numbers are digit strings; leading zeros matter, so arithmetic goes through BigInt. */
import { AppError } from '../../machines/errors.ts';

/** The most cards one range request may create (larger runs: several ranges, or the CLI import). */
export const MAX_RANGE = 100_000;

export const CARD_NUMBER = /^\d{1,20}$/;

/** Shorter numbers first, then by digits: the order PCARDS lists them in. */
export function compareCardNumbers(a: string, b: string): number {
  return a.length - b.length || (a < b ? -1 : a > b ? 1 : 0);
}

/** Every number from `from` to `to` inclusive, zero-padded to their common length. */
export function enumerateRange(from: string, to: string): string[] {
  if (!CARD_NUMBER.test(from)) throw new AppError('VALIDATION_FAILED', { field: 'from', reason: 'from' });
  if (!CARD_NUMBER.test(to)) throw new AppError('VALIDATION_FAILED', { field: 'to', reason: 'to' });
  if (from.length !== to.length) {
    throw new AppError('VALIDATION_FAILED', {
      field: 'to',
      reason: 'номера from и to должны быть одной длины / from and to must have the same length',
    });
  }
  const start = BigInt(from);
  const end = BigInt(to);
  if (end < start) {
    throw new AppError('VALIDATION_FAILED', { field: 'to', reason: 'to < from' });
  }
  const count = end - start + 1n;
  if (count > BigInt(MAX_RANGE)) throw new AppError('RANGE_TOO_LARGE', { max: MAX_RANGE });
  const numbers: string[] = [];
  for (let n = start; n <= end; n++) numbers.push(n.toString().padStart(from.length, '0'));
  return numbers;
}
