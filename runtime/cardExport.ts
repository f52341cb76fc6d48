/**
 * Export for CardServ in CardImp's CSV: Windows-1251, comma separated, CRLF, one card a line, in
 * CardImp's field order (RK7.md): number, expiry (DD.MM.YYYY), discount, bonus, birthday, holder
 * name (without quotes), card type, payment limit. Card type 0 and an empty limit: the module
 * does not manage top-ups. Further CardImp fields are left out, as CardImp allows.
 */
import iconv from 'iconv-lite';
import type { Card } from './ports.ts';

const ddmmyyyy = (iso: string | null | undefined) => (iso ? iso.split('-').reverse().join('.') : '');

/** CSV-quote a field when it needs it; CardImp doubles quotes inside quoted fields. */
function field(value: string): string {
  return /[",\r\n]/.test(value) ? `"${value.replace(/"/g, '""')}"` : value;
}

export function cardImpLine(card: Card): string {
  const name = (card.holder?.fullName ?? '').replace(/["\r\n]/g, '').trim();
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

export async function cardImpFile(cards: AsyncIterable<Card>): Promise<{ body: Buffer; count: number }> {
  const lines: string[] = [];
  for await (const card of cards) lines.push(cardImpLine(card));
  return { body: iconv.encode(lines.map((l) => l + '\r\n').join(''), 'win1251'), count: lines.length };
}
