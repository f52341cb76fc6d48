/**
 * Who a campaign reaches, and what each one reads. Filters combine with AND; a holder is a
 * recipient only when the latest consent entry of their phone says yes (38-FZ art. 18: the
 * sender must be able to prove consent), and each phone gets one message per run however many
 * cards it has.
 */
import { z } from 'zod';
import type { Card } from '../ports.ts';
import { wallAt } from './schedule.ts';
import { parseDate } from '../validate.ts';
import type { OptOutLinks } from './optOut.ts';

export const audienceSchema = z
  .object({
    /** `all` (the default) or a birthday audience. */
    type: z.enum(['all', 'birthday']).default('all'),
    /** With `birthday`: holders whose birthday is in this many days (0 = today). */
    inDays: z.number().int().min(0).max(365).default(0),
    cardPrefix: z
      .string()
      .regex(/^\d{1,20}$/)
      .optional(),
    cardFrom: z
      .string()
      .regex(/^\d{1,20}$/)
      .optional(),
    cardTo: z
      .string()
      .regex(/^\d{1,20}$/)
      .optional(),
    discount: z.number().int().min(0).max(99).optional(),
    activatedSince: z
      .string()
      .refine((s) => !Number.isNaN(Date.parse(s)) || parseDate(s) !== null, 'ISO date')
      .optional(),
  })
  .strict();

export type Audience = z.infer<typeof audienceSchema>;

const within = (n: string, from?: string, to?: string) =>
  (from === undefined || n.length > from.length || (n.length === from.length && n >= from)) &&
  (to === undefined || n.length < to.length || (n.length === to.length && n <= to));

/** Whether a card's holder is in the audience at `now` in the venue's zone (consent aside). */
export function inAudience(card: Card, audience: Audience, now: number, timeZone: string): boolean {
  if (!card.holder?.phone || card.state !== 'active') return false;
  if (audience.cardPrefix && !card.number.startsWith(audience.cardPrefix)) return false;
  if ((audience.cardFrom || audience.cardTo) && !within(card.number, audience.cardFrom, audience.cardTo))
    return false;
  if (audience.discount !== undefined && card.discount !== audience.discount) return false;
  if (audience.activatedSince) {
    const since = Date.parse(audience.activatedSince);
    if (!card.activatedAt || Date.parse(card.activatedAt) < since) return false;
  }
  if (audience.type === 'birthday') {
    if (!card.holder.birthday) return false;
    const w = wallAt(now + audience.inDays * 86_400_000, timeZone);
    const [, m, d] = card.holder.birthday.split('-').map(Number) as [number, number, number];
    // Holders born on 29 February are greeted on 28 February in other years.
    const leap = (w.y % 4 === 0 && w.y % 100 !== 0) || w.y % 400 === 0;
    const day = m === 2 && d === 29 && !leap ? 28 : d;
    if (m !== w.m || day !== w.d) return false;
  }
  return true;
}

/**
 * The holder's first name: in a three-word Russian «Фамилия Имя Отчество» the second word; in
 * two words, the second for Cyrillic («Иванов Иван») and the first for Latin («Anna Lee»).
 */
export function firstName(fullName: string): string {
  const words = fullName.trim().split(/\s+/);
  if (words.length >= 3) return words[1]!;
  if (words.length === 2) return /\p{Script=Cyrillic}/u.test(fullName) ? words[1]! : words[0]!;
  return words[0] ?? '';
}

/** What a text is rendered for: a card and its holder; `phone` is who the message goes to. */
export interface RenderInput {
  number: string;
  holder: { fullName: string; phone?: string | null } | null;
}

export function renderFor(text: string, card: RenderInput, optOut: OptOutLinks | null, phone?: string) {
  return compileText(text, optOut)(card, phone);
}

/**
 * A campaign text made ready to render for many holders: split once at its placeholders
 * (`{firstName}`, `{fullName}`, `{card}`, and `{optOut}` — the phone's opt-out link — when the
 * venue has a public address; anything else in braces stays as written). Rendered with no phone
 * and no holder, `{optOut}` is a link of the same length: what a message costs before its
 * holder is known.
 */
export function compileText(
  text: string,
  optOut: OptOutLinks | null,
): (card: RenderInput, phone?: string | null) => string {
  const parts = text.split(/\{(\w+)\}/);
  const known = new Set(['firstName', 'fullName', 'card', ...(optOut?.base ? ['optOut'] : [])]);
  for (let i = 1; i < parts.length; i += 2) if (!known.has(parts[i]!)) parts[i] = `{${parts[i]}}`;
  return (card, phone) => {
    const full = card.holder?.fullName ?? '';
    let out = parts[0]!;
    for (let i = 1; i < parts.length; i += 2) {
      const name = parts[i]!;
      out +=
        (name === 'firstName'
          ? firstName(full)
          : name === 'fullName'
            ? full
            : name === 'card'
              ? card.number
              : name === 'optOut'
                ? optOut!.link(phone ?? card.holder?.phone)
                : name) + parts[i + 1]!;
    }
    return out;
  };
}
