/**
 * The card rules every card directory engine applies the same way: what a card may become and
 * what it looks like after. The engines differ only in how they find cards and keep changes
 * atomic (in-process indexes, or rows locked in a transaction).
 */
import { AppError } from '../../machines/errors.ts';
import type { Card, CardPatch, CardRange, Holder, ImportRow, RangeSpec } from '../ports.ts';
import { newId } from '../ids.ts';
import { compareCardNumbers } from './numbers.ts';

/** A card as engines keep it: who holds a reservation, which activation issued it. */
export interface StoredCard extends Card {
  reservedPhone?: string | null;
  activationId?: string | null;
}

/** A new range of `count` cards, and the card it makes of each number: inactive, no holder. */
export function newRange(spec: RangeSpec, count: number, at: string) {
  const range: CardRange = { id: newId('rng', Date.parse(at)), ...spec, count, createdAt: at };
  const card = (number: string): StoredCard => ({
    number,
    state: 'inactive',
    virtual: spec.virtual,
    discount: spec.discount,
    bonus: spec.bonus,
    expiresAt: spec.expiresAt,
    rangeId: range.id,
    holder: null,
    activatedAt: null,
    createdAt: at,
    updatedAt: at,
  });
  return { range, card };
}

/** A phone's cards, the newest active first, then the others, blocked last. */
export function phoneOrder<C extends Card>(cards: C[]): C[] {
  const rank = (c: Card) => (c.state === 'active' ? 0 : c.state === 'blocked' ? 2 : 1);
  return cards.sort(
    (a, b) =>
      rank(a) - rank(b) ||
      (b.activatedAt ?? b.updatedAt).localeCompare(a.activatedAt ?? a.updatedAt) ||
      compareCardNumbers(a.number, b.number),
  );
}

/** Throws why a named card cannot be reserved at `at`. */
export function checkReservable(card: StoredCard | undefined, number: string, at: string): StoredCard {
  if (!card) throw new AppError('CARD_NOT_FOUND', { card: number });
  if (card.state === 'active' || card.state === 'reserved') {
    throw new AppError('CARD_ALREADY_ACTIVE', { card: card.number });
  }
  if (card.state === 'blocked') throw new AppError('CARD_BLOCKED', { card: card.number });
  if (card.expiresAt && card.expiresAt < at.slice(0, 10)) {
    throw new AppError('CARD_EXPIRED', { card: card.number });
  }
  return card;
}

/** Whether a card already belongs to this activation (a replayed reserve). */
export const heldBy = (card: StoredCard, activationId: string) =>
  card.reservedBy === activationId || card.activationId === activationId;

export function reservedCard(card: StoredCard, activationId: string, phone: string, at: string): StoredCard {
  return { ...card, state: 'reserved', reservedBy: activationId, reservedPhone: phone, updatedAt: at };
}

/** The card made active for its activation; `replayed` when it already is. */
export function activatedCard(
  card: StoredCard | undefined,
  number: string,
  activationId: string,
  holder: Holder,
  at: string,
): { card: StoredCard; replayed: boolean } {
  if (!card) throw new AppError('CARD_NOT_FOUND', { card: number });
  if (card.activationId === activationId && card.state === 'active') return { card, replayed: true };
  if (card.state !== 'reserved' || card.reservedBy !== activationId) {
    throw new AppError('CARD_ALREADY_ACTIVE', { card: number });
  }
  return {
    card: {
      ...card,
      state: 'active',
      holder,
      reservedBy: null,
      reservedPhone: null,
      activationId,
      activatedAt: at,
      updatedAt: at,
    },
    replayed: false,
  };
}

/** A reservation given back, or null when the card is not this activation's reservation. */
export function releasedCard(
  card: StoredCard | undefined,
  activationId: string,
  at: string,
): StoredCard | null {
  if (!card || card.state !== 'reserved' || card.reservedBy !== activationId) return null;
  return { ...card, state: 'inactive', reservedBy: null, reservedPhone: null, updatedAt: at };
}

/** The card without its holder's data (an erasure): blocked, or back in its range. */
export function erasedCard(
  card: StoredCard | undefined,
  number: string,
  then: 'block' | 'release',
  at: string,
) {
  if (!card) throw new AppError('CARD_NOT_FOUND', { card: number });
  const next: StoredCard = { ...card, holder: null, activatedAt: null, updatedAt: at };
  if (then === 'block') {
    next.state = 'blocked';
    next.blockedFrom = 'inactive'; // unblocked, it goes back to its range with no holder
  } else {
    next.state = 'inactive';
    delete next.blockedFrom;
  }
  return next;
}

/** A card after a support or admin change. */
export function patchedCard(
  card: StoredCard | undefined,
  number: string,
  patch: CardPatch,
  at: string,
): StoredCard {
  if (!card) throw new AppError('CARD_NOT_FOUND', { card: number });
  const next: StoredCard = { ...card, updatedAt: at };
  if (patch.holder) {
    if (card.state === 'inactive' || card.state === 'reserved') {
      throw new AppError('VALIDATION_FAILED', {
        field: 'holder',
        reason: 'карта ещё не выдана / the card is not issued yet',
      });
    }
    next.holder = { fullName: '', birthday: null, phone: null, ...card.holder, ...patch.holder };
  }
  if (patch.discount !== undefined) next.discount = patch.discount;
  if (patch.bonus !== undefined) next.bonus = patch.bonus;
  if (patch.expiresAt !== undefined) next.expiresAt = patch.expiresAt;
  if (patch.state === 'blocked' && card.state !== 'blocked') {
    if (card.state === 'reserved') throw new AppError('CARD_ALREADY_ACTIVE', { card: number });
    next.blockedFrom = card.state;
    next.state = 'blocked';
  } else if (patch.state === 'unblocked' && card.state === 'blocked') {
    next.state = card.blockedFrom ?? (card.holder ? 'active' : 'inactive');
    delete next.blockedFrom;
  }
  return next;
}

/**
 * A card as an imported row leaves it: the row's terms over what the card had. A field the file
 * leaves empty (or has no column for) keeps what the card has: a CardImp file, which carries no
 * phone, never erases a holder's phone. Shared by the service's import and the command line's.
 */
export function importedCard(existing: StoredCard | undefined, row: ImportRow, at: string): StoredCard {
  const holder = mergeHolder(existing?.holder ?? null, row.holder);
  const state = row.blocked ? 'blocked' : holder ? 'active' : (existing?.state ?? 'inactive');
  return {
    number: row.number,
    virtual: existing?.virtual ?? false,
    rangeId: existing?.rangeId ?? null,
    createdAt: existing?.createdAt ?? at,
    activatedAt: existing?.activatedAt ?? (state === 'active' ? at : null),
    discount: row.discount,
    bonus: row.bonus,
    expiresAt: row.expiresAt,
    holder,
    state,
    ...(state === 'blocked' ? { blockedFrom: holder ? ('active' as const) : ('inactive' as const) } : {}),
    updatedAt: at,
  };
}

/** An imported holder over the stored one: empty imported fields keep the stored values. */
function mergeHolder(stored: Holder | null, imported: Holder | null): Holder | null {
  if (!imported) return stored;
  if (!stored) return imported;
  return {
    ...stored,
    fullName: imported.fullName || stored.fullName,
    birthday: imported.birthday ?? stored.birthday,
    phone: imported.phone ?? stored.phone,
    ...(imported.email ? { email: imported.email } : {}),
  };
}

/** Whether a card is handed out in a directory's pages (issued to a holder, in use). */
export const inPages = (card: Card) => card.holder !== null && card.state === 'active';

/** Whether a card goes in the CardImp export of changes since `since`. */
export const changedFor = (card: Card, since: string | null) =>
  card.holder !== null &&
  (card.state === 'active' || card.state === 'blocked') &&
  (since === null || card.updatedAt >= since);
