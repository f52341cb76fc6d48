/**
 * Input rules shared by the routes and the CLI: holder names, birthdays, flags, and the
 * conversion of a zod failure into VALIDATION_FAILED naming the field.
 */
import { z } from 'zod';
import { AppError } from '../machines/errors.ts';

/** Zod's first issue as VALIDATION_FAILED with `field` (dotted path) and a readable reason. */
export function validationError(error: z.ZodError): AppError {
  const issue = error.issues[0]!;
  const field = issue.path.map(String).join('.') || (issue as { keys?: string[] }).keys?.[0] || 'body';
  const reason =
    issue.code === 'invalid_type' && /undefined/.test(issue.message)
      ? `${field}: обязательное поле / required`
      : `${field}: ${issue.message}`;
  return new AppError('VALIDATION_FAILED', { field, reason });
}

/** Booleans as JSON or as form fields (`true`, `1`, `yes`, `on`, `да`). */
export const flag = z.preprocess((v) => {
  if (typeof v !== 'string') return v;
  const s = v.trim().toLowerCase();
  if (['true', '1', 'yes', 'on', 'да'].includes(s)) return true;
  if (['false', '0', 'no', 'off', 'нет', ''].includes(s)) return false;
  return v;
}, z.boolean());

export const optionalText = (max: number) =>
  z.preprocess(
    (v) => (v === '' || v === null ? undefined : typeof v === 'number' ? String(v) : v),
    z.string().trim().min(1).max(max).optional(),
  );

/**
 * The holder-name rule, one for every way a name comes in (the till, `PATCH /cards`, the CSV
 * import): NFC, trimmed, inner spaces collapsed; then refused when it holds a control or
 * direction-format character, begins with `=`, `+`, `-` or `@` (a spreadsheet would run it as a
 * formula), has no letter, or is shorter than 2 or longer than 100 characters. Any script is
 * a name: Kazakh, Latin with diacritics, even an emoji after a letter — the CardImp export
 * transliterates what Windows-1251 lacks, the stored name stays as typed.
 * Returns the normalised name, or throws an Error whose message is the reason (ru / en).
 */
export function normalizeName(value: string): string {
  const name = value.normalize('NFC').trim().replace(/\s+/gu, ' ');
  if (/[\p{Cc}\u200e\u200f\u202a-\u202e\u2066-\u2069]/u.test(name))
    throw new Error('управляющие символы в ФИО / control characters in the name');
  if (/^[=+\-@]/.test(name))
    throw new Error('ФИО не может начинаться с = + - @ / a name cannot begin with = + - @');
  if ([...name].length > 100) throw new Error('не длиннее 100 символов / at most 100 characters');
  if ([...name].length < 2) throw new Error('не короче 2 символов / at least 2 characters');
  if (!/\p{L}/u.test(name)) throw new Error('в ФИО нет букв / a name needs letters');
  return name;
}

/** `normalizeName` as a zod schema: VALIDATION_FAILED naming the field. */
export const fullName = z.string().transform((v, ctx) => {
  try {
    return normalizeName(v);
  } catch (err) {
    ctx.addIssue({ code: 'custom', message: (err as Error).message });
    return z.NEVER;
  }
});

export interface AgePolicy {
  minAgeYears: number;
  maxAgeYears: number;
}

/** `YYYY-MM-DD` or `DD.MM.YYYY`, a real past date with a plausible age → `YYYY-MM-DD`. */
export function parseBirthday(value: unknown, now: number, policy: AgePolicy, field = 'birthday'): string {
  const fail = (reason: string) =>
    new AppError('VALIDATION_FAILED', { field, reason: `${field}: ${reason}` });
  if (typeof value !== 'string' || value.trim() === '') throw fail('обязательное поле / required');
  const date = parseDate(value.trim());
  if (!date) throw fail('ожидается ГГГГ-ММ-ДД или ДД.ММ.ГГГГ / expected YYYY-MM-DD or DD.MM.YYYY');
  const today = new Date(now).toISOString().slice(0, 10);
  if (date >= today) throw fail('дата должна быть в прошлом / must be in the past');
  const age = ageOn(date, today);
  if (age < policy.minAgeYears || age > policy.maxAgeYears) {
    throw fail(
      `возраст ${policy.minAgeYears}–${policy.maxAgeYears} лет / age ${policy.minAgeYears}–${policy.maxAgeYears}`,
    );
  }
  return date;
}

/** A calendar date in either accepted form, checked to exist (no 31.02), as `YYYY-MM-DD`. */
export function parseDate(text: string): string | null {
  let m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(text);
  let y: number, mo: number, d: number;
  if (m) [y, mo, d] = [Number(m[1]), Number(m[2]), Number(m[3])];
  else if ((m = /^(\d{1,2})\.(\d{1,2})\.(\d{4})$/.exec(text)))
    [d, mo, y] = [Number(m[1]), Number(m[2]), Number(m[3])];
  else return null;
  if (y < 1000 || mo < 1 || mo > 12 || d < 1) return null;
  // Checked by arithmetic rather than through a Date: an import checks a million of them.
  const leap = (y % 4 === 0 && y % 100 !== 0) || y % 400 === 0;
  const days = [31, leap ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31][mo - 1]!;
  if (d > days) return null;
  return `${y}-${mo < 10 ? '0' : ''}${mo}-${d < 10 ? '0' : ''}${d}`;
}

function ageOn(birthday: string, today: string): number {
  const [by, bm, bd] = birthday.split('-').map(Number) as [number, number, number];
  const [ty, tm, td] = today.split('-').map(Number) as [number, number, number];
  return ty - by - (tm < bm || (tm === bm && td < bd) ? 1 : 0);
}

/** `YYYY-MM-DD` (or `DD.MM.YYYY`) for PCARDS-style expiry dates; null stays null. */
export const expiryDate = z.preprocess(
  (v) => (v === '' ? null : v),
  z
    .string()
    .transform((s, ctx) => {
      const d = parseDate(s.trim());
      if (!d) {
        ctx.addIssue({ code: 'custom', message: 'ожидается ГГГГ-ММ-ДД / expected YYYY-MM-DD' });
        return z.NEVER;
      }
      return d;
    })
    .nullable()
    .default(null),
);
