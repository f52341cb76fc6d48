/**
 * Export for CardServ in CardImp's CSV: Windows-1251, comma separated, CRLF, one card a line, in
 * CardImp's field order (RK7.md): number, expiry (DD.MM.YYYY), discount, bonus, birthday, holder
 * name (without quotes), card type, payment limit. Card type 0 and an empty limit: the module
 * does not manage top-ups. Further CardImp fields are left out, as CardImp allows.
 *
 * Windows-1251 has Russian letters and ASCII, little else; a name is never let through with `?`
 * in place of a letter. `forCardImp` writes each name by one table:
 *
 * - Kazakh letters → the Russian letter read alike: ә→а, ғ→г, қ→к, ң→н, ө→о, ұ→у, ү→у, һ→х,
 *   і→и (capitals alike);
 * - a few Latin letters with no Unicode decomposition → their usual spelling: ł→l, ø→o, đ→d,
 *   ß→ss, æ→ae, œ→oe (capitals alike);
 * - any other letter Windows-1251 lacks → its base letter (Unicode NFKD without the marks):
 *   «Zoë Müller» → «Zoe Muller»;
 * - what is still not in Windows-1251 (emoji, symbols) is dropped, spaces collapsed;
 * - double quotes and line breaks are removed (CardImp's rule for names).
 *
 * The stored name stays as typed; the export reports every card whose name it changed.
 */
import iconv from 'iconv-lite';
import type { Card } from '../ports.ts';

const ddmmyyyy = (iso: string | null | undefined) => (iso ? iso.split('-').reverse().join('.') : '');

/** CSV-quote a field when it needs it; CardImp doubles quotes inside quoted fields. */
function field(value: string): string {
  return /[",\r\n]/.test(value) ? `"${value.replace(/"/g, '""')}"` : value;
}

/** Every character Windows-1251 can write. */
const WIN1251 = new Set(iconv.decode(Buffer.from(Array.from({ length: 256 }, (_, i) => i)), 'win1251'));

/** Letters spelled by a table before NFKD is tried. */
export const TRANSLIT: Readonly<Record<string, string>> = {
  ә: 'а',
  ғ: 'г',
  қ: 'к',
  ң: 'н',
  ө: 'о',
  ұ: 'у',
  ү: 'у',
  һ: 'х',
  і: 'и',
  Ә: 'А',
  Ғ: 'Г',
  Қ: 'К',
  Ң: 'Н',
  Ө: 'О',
  Ұ: 'У',
  Ү: 'У',
  Һ: 'Х',
  І: 'И',
  ł: 'l',
  Ł: 'L',
  ø: 'o',
  Ø: 'O',
  đ: 'd',
  Đ: 'D',
  ß: 'ss',
  æ: 'ae',
  Æ: 'AE',
  œ: 'oe',
  Œ: 'OE',
};

/** One character in Windows-1251: itself, its table spelling, its base letter, or nothing. */
function charFor(c: string): string {
  const table = TRANSLIT[c];
  if (table !== undefined) return table;
  if (WIN1251.has(c)) return c;
  const base = c.normalize('NFKD').replace(/\p{M}/gu, '');
  return [...base].every((b) => WIN1251.has(b)) ? base : '';
}

/** A holder name as CardImp gets it (see the table above). */
export function forCardImp(name: string): string {
  let out = '';
  for (const c of name.replace(/["\r\n]/g, '')) out += charFor(c);
  return out.replace(/\s+/g, ' ').trim();
}

export function cardImpLine(card: Card, name = forCardImp(card.holder?.fullName ?? '')): string {
  return [
    card.number,
    ddmmyyyy(card.expiresAt),
    String(card.discount),
    String(card.bonus),
    ddmmyyyy(card.holder?.birthday),
    name,
    '0',
    '',
  ]
    .map(field)
    .join(',');
}

/** A card whose name the export had to write differently. */
export interface Transliterated {
  number: string;
  name: string;
  exported: string;
}

export async function cardImpFile(
  cards: AsyncIterable<Card>,
): Promise<{ body: Buffer; count: number; transliterated: Transliterated[] }> {
  const lines: string[] = [];
  const transliterated: Transliterated[] = [];
  for await (const card of cards) {
    const name = (card.holder?.fullName ?? '').trim();
    const exported = forCardImp(name);
    if (exported !== name) transliterated.push({ number: card.number, name, exported });
    lines.push(cardImpLine(card, exported));
  }
  return {
    body: iconv.encode(lines.map((l) => l + '\r\n').join(''), 'win1251'),
    count: lines.length,
    transliterated,
  };
}
