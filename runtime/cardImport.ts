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
 */
import { parse } from 'csv-parse/sync';
import iconv from 'iconv-lite';
import { AppError } from '../machines/errors.ts';
import type { ImportRow } from './ports.ts';
import { CARD_NUMBER } from './cardNumbers.ts';
import { normalizePhone, type PhonePolicy } from './phone.ts';
import { normalizeName, parseDate } from './validate.ts';

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

export function decodeCsv(buf: Buffer): string {
  if (buf[0] === 0xef && buf[1] === 0xbb && buf[2] === 0xbf) return buf.subarray(3).toString('utf8');
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(buf);
  } catch {
    return iconv.decode(buf, 'win1251');
  }
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

/** Parse and validate; valid rows and line-numbered rejections. Never throws for a bad row. */
export function parseCardCsv(
  text: string,
  phones: PhonePolicy,
  onProgress?: (done: number, total: number) => void,
): { rows: ImportRow[]; rejected: ImportRejection[] } {
  const firstLine = text.slice(0, text.indexOf('\n') >>> 0);
  const delimiter = (firstLine.match(/;/g)?.length ?? 0) > (firstLine.match(/,/g)?.length ?? 0) ? ';' : ',';
  let records: { record: string[]; info: { lines: number } }[];
  try {
    records = parse(text, {
      delimiter,
      relax_column_count: true,
      skip_empty_lines: true,
      info: true,
      bom: true,
    }) as never;
  } catch (err) {
    const line = (err as { lines?: number }).lines ?? 0;
    throw new AppError('VALIDATION_FAILED', {
      field: 'body',
      reason: `CSV, строка ${line}: ${(err as Error).message}`,
      line,
    });
  }
  if (records.length === 0)
    throw new AppError('VALIDATION_FAILED', { field: 'body', reason: 'пустой файл / empty file' });
  const { columns, header } = columnsOf(records[0]!.record);
  const rows: ImportRow[] = [];
  const rejected: ImportRejection[] = [];
  const seen = new Map<string, number>();
  const body = header ? records.slice(1) : records;
  let done = 0;
  for (const { record, info } of body) {
    if (onProgress && ++done % 1000 === 0) onProgress(done, body.length);
    const line = info.lines;
    const get = (name: string) => {
      const i = columns.indexOf(name);
      return i < 0 ? undefined : record[i]?.trim();
    };
    try {
      const number = get('number') ?? '';
      if (!CARD_NUMBER.test(number))
        throw new FieldError('number', 'номер карты: от 1 до 20 цифр / card number: 1 to 20 digits');
      if (seen.has(number))
        throw new FieldError(
          'number',
          `номер повторяется (строка ${seen.get(number)}) / duplicate of line ${seen.get(number)}`,
        );
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
          phone = normalizePhone(phoneText, phones);
        } catch (err) {
          throw new FieldError('phone', `телефон / phone: ${(err as AppError).code}`);
        }
      }
      const blockedText = (get('blocked') ?? '').toLowerCase();
      rows.push({
        line,
        number,
        expiresAt,
        discount: group(get('discount'), 'discount'),
        bonus: group(get('bonus'), 'bonus'),
        holder: fullName || phone ? { fullName, birthday, phone, email: get('email') || null } : null,
        blocked: ['1', 'true', 'yes', 'да', '+'].includes(blockedText),
      });
      seen.set(number, line);
    } catch (err) {
      const field = err instanceof FieldError ? err.field : 'line';
      rejected.push({ line, field, code: 'VALIDATION_FAILED', reason: (err as Error).message });
    }
  }
  onProgress?.(body.length, body.length);
  return { rows, rejected };
}
