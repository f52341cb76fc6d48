/**
 * Phones: any common form in, E.164 out, limited to the venue's countries; masked wherever the
 * reader is not an admin (logs, support views, terminal answers).
 */
import { parsePhoneNumberFromString, type CountryCode, type NumberType } from 'libphonenumber-js/max';
import { AppError } from '../machines/errors.ts';
import { BoundedMap } from './boundedMap.ts';

export interface PhonePolicy {
  allowedCountries: readonly string[];
  defaultCountry: string;
  /** Number types that may get an SMS (libphonenumber's types; `UNKNOWN`: the plan cannot tell). */
  allowTypes?: readonly string[];
}

/** The number types that get SMS by default: mobiles, and numbers the plan cannot split. */
export const smsPhoneTypes = ['MOBILE', 'FIXED_LINE_OR_MOBILE'] as const;

/**
 * Refuse a number that must not get an SMS: landlines, toll-free, premium-rate, shared-cost,
 * voice-over-IP… (`400 PHONE_NOT_MOBILE`). An SMS to a premium-rate number is how a caller turns
 * a PIN form into money; one to a landline is paid and never read.
 */
export function requireMobile(e164: string, policy: PhonePolicy): void {
  const type = remember(
    types,
    e164,
    (): NonNullable<NumberType> | 'UNKNOWN' => parsePhoneNumberFromString(e164)?.getType() ?? 'UNKNOWN',
  );
  const allowed = policy.allowTypes ?? smsPhoneTypes;
  if (!allowed.includes(type)) throw new AppError('PHONE_NOT_MOBILE', { phoneType: type.toLowerCase() });
}

/** Normalise to E.164 (`+79161234567`); throws PHONE_INVALID or PHONE_COUNTRY_NOT_ALLOWED. */
export function normalizePhone(input: unknown, policy: PhonePolicy): string {
  if (typeof input !== 'string' && typeof input !== 'number') throw new AppError('PHONE_INVALID');
  const text = String(input).trim();
  let known = normalized.get(policy);
  if (!known) normalized.set(policy, (known = new BoundedMap(MEMO_MAX)));
  return remember(known, text, () => parsePhone(text, policy));
}

/** A memo holds at most this many numbers (about 2 MB): a day's distinct guests of a busy chain. */
const MEMO_MAX = 20_000;

/** Each number's type (`MOBILE`, `FIXED_LINE`…), as parsed lately. */
const types = new BoundedMap<string, NonNullable<NumberType> | 'UNKNOWN'>(MEMO_MAX);

/** The memoised value of `key`; a throwing `compute` is not kept. */
function remember<V extends string>(memo: Map<string, V>, key: string, compute: () => V): V {
  let value = memo.get(key);
  if (value === undefined) {
    value = compute();
    memo.set(key, value); // a BoundedMap: the oldest entry leaves when it is full
  }
  return value;
}

/** Numbers normalised lately, per policy: a till types the same regulars' phones all day. */
const normalized = new WeakMap<PhonePolicy, Map<string, string>>();

/**
 * `normalizePhone` without the memos: for a file of a million different numbers (an import),
 * where remembering each costs more than parsing it and would push the tills' regulars out.
 */
export function normalizePhoneOnce(input: unknown, policy: PhonePolicy): string {
  if (typeof input !== 'string' && typeof input !== 'number') throw new AppError('PHONE_INVALID');
  return parsePhone(String(input).trim(), policy, false);
}

function parsePhone(text: string, policy: PhonePolicy, memo = true): string {
  // Only digits, spaces, + ( ) - . are part of a phone; anything else is a typo, not a number.
  if (text.length < 5 || text.length > 32 || !/^[+\d\s().-]+$/.test(text)) {
    throw new AppError('PHONE_INVALID');
  }
  const parsed = parsePhoneNumberFromString(text, policy.defaultCountry as CountryCode);
  if (!parsed || !parsed.isValid()) throw new AppError('PHONE_INVALID');
  if (!parsed.country || !policy.allowedCountries.includes(parsed.country)) {
    throw new AppError('PHONE_COUNTRY_NOT_ALLOWED', { country: parsed.country ?? null });
  }
  // The number will be masked in the answer and the log lines: mask it from this parse.
  if (memo) remember(masks, parsed.number, () => maskOf(parsed.countryCallingCode, parsed.nationalNumber));
  return parsed.number;
}

/**
 * `+79161234567` → `+7 916 ***-**-67`: the country code, the first three national digits (the
 * operator, useful to support) and the last two; everything between is hidden.
 */
export function maskPhone(e164: string): string {
  return remember(masks, e164, () => computeMask(e164));
}

/** Masking runs on every answer and log line; parsing a number each time is the costly part. */
const masks = new BoundedMap<string, string>(MEMO_MAX);

function computeMask(e164: string): string {
  const parsed = parsePhoneNumberFromString(e164);
  if (!parsed) return '***';
  return maskOf(parsed.countryCallingCode, parsed.nationalNumber);
}

function maskOf(countryCode: string, national: string): string {
  if (national.length < 7) return `+${countryCode} ***`;
  return `+${countryCode} ${national.slice(0, 3)} ***-**-${national.slice(-2)}`;
}
