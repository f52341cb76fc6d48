/**
 * The embedded card directory: cards and ranges in the journaled store (lowdb snapshots plus a
 * journal), with in-memory indexes by phone and a pool of free virtual cards. Every check and
 * change of one call happens before its first `await`, so two callers never both win a card.
 */
import { AppError } from '../../machines/errors.ts';
import type {
  Card,
  CardDirectory,
  CardPatch,
  CardRange,
  Holder,
  ImportResult,
  ImportRow,
  RangeSpec,
  RecordStore,
  Table,
} from '../../runtime/ports.ts';
import { compareCardNumbers, enumerateRange } from '../../runtime/cards/numbers.ts';
import { newId } from '../../runtime/ids.ts';
import { reservedLine } from '../../runtime/cards/import.ts';

export interface StoredCard extends Card {
  reservedPhone?: string | null;
  activationId?: string | null;
}

export class EmbeddedCardDirectory implements CardDirectory {
  private readonly cards: Table<StoredCard>;
  private readonly ranges: Table<CardRange>;
  /**
   * phone → its card number, or numbers when it has several. Most phones have one card, and a
   * Set per phone cost about 180 bytes (18 MB at 100,000 holders); a string costs nothing more.
   */
  private readonly phoneIndex = new Map<string, string | string[]>();
  private readonly reservedPhones = new Map<string, string>();
  /** activation id → the card it holds. */
  private readonly reservations = new Map<string, string>();
  /** Free virtual card numbers, ascending; the pool hands out the first. */
  private freeVirtual: string[] = [];

  constructor(private readonly store: RecordStore) {
    this.cards = store.table<StoredCard>('cards');
    this.ranges = store.table<CardRange>('ranges');
    for (const card of this.cards.values()) this.index(card);
    this.freeVirtual.sort(compareCardNumbers);
  }

  /** Table names this adapter keeps in the store. */
  static readonly tables = ['cards', 'ranges'];

  private index(card: StoredCard) {
    if (card.holder?.phone) this.indexPhone(card.holder.phone, card.number);
    if (card.state === 'reserved' && card.reservedPhone && card.reservedBy) {
      this.reservedPhones.set(card.reservedPhone, card.reservedBy);
      this.reservations.set(card.reservedBy, card.number);
    }
    if (card.virtual && card.state === 'inactive') this.freeVirtual.push(card.number);
  }

  /** The card numbers of a phone. */
  private numbersOf(phone: string): readonly string[] {
    const entry = this.phoneIndex.get(phone);
    return entry === undefined ? [] : typeof entry === 'string' ? [entry] : entry;
  }

  private indexPhone(phone: string, number: string) {
    const entry = this.phoneIndex.get(phone);
    if (entry === undefined) this.phoneIndex.set(phone, number);
    else if (typeof entry === 'string') {
      if (entry !== number) this.phoneIndex.set(phone, [entry, number]);
    } else if (!entry.includes(number)) entry.push(number);
  }

  private unindexPhone(card: StoredCard) {
    const phone = card.holder?.phone;
    if (!phone) return;
    const rest = this.numbersOf(phone).filter((n) => n !== card.number);
    if (rest.length === 0) this.phoneIndex.delete(phone);
    else this.phoneIndex.set(phone, rest.length === 1 ? rest[0]! : rest);
  }

  private returnToPool(number: string) {
    // Binary insertion keeps the pool sorted without re-sorting it.
    let lo = 0;
    let hi = this.freeVirtual.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (compareCardNumbers(this.freeVirtual[mid]!, number) < 0) lo = mid + 1;
      else hi = mid;
    }
    if (this.freeVirtual[lo] !== number) this.freeVirtual.splice(lo, 0, number);
  }

  private save(card: StoredCard) {
    this.cards.put(card.number, card);
  }

  private async durable<T>(value: T): Promise<T> {
    await this.store.flush();
    return value;
  }

  async createRange(spec: RangeSpec, at: string): Promise<CardRange> {
    const numbers = enumerateRange(spec.from, spec.to);
    const taken = numbers.find((n) => this.cards.has(n));
    if (taken !== undefined) throw new AppError('RANGE_OVERLAP', { card: taken });
    const range: CardRange = {
      id: newId('rng', Date.parse(at)),
      ...spec,
      count: numbers.length,
      createdAt: at,
    };
    this.ranges.put(range.id, range);
    for (const number of numbers) {
      const card: StoredCard = {
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
      };
      this.save(card);
      if (spec.virtual) this.freeVirtual.push(number);
    }
    if (spec.virtual) this.freeVirtual.sort(compareCardNumbers);
    return this.durable(range);
  }

  async listRanges(): Promise<CardRange[]> {
    return [...this.ranges.values()].sort((a, b) => compareCardNumbers(a.from, b.from));
  }

  async get(number: string): Promise<Card | undefined> {
    return this.cards.get(number);
  }

  async byPhone(phone: string): Promise<Card[]> {
    const cards = this.numbersOf(phone)
      .map((n) => this.cards.get(n)!)
      .filter(Boolean);
    const rank = (c: Card) => (c.state === 'active' ? 0 : c.state === 'blocked' ? 2 : 1);
    return cards.sort(
      (a, b) =>
        rank(a) - rank(b) ||
        (b.activatedAt ?? b.updatedAt).localeCompare(a.activatedAt ?? a.updatedAt) ||
        compareCardNumbers(a.number, b.number),
    );
  }

  async reserve(req: {
    number: string | null;
    activationId: string;
    phone: string;
    onePerPhone: boolean;
    at: string;
  }): Promise<Card> {
    const mine = this.findReservation(req.activationId, req.number);
    if (mine) return mine;
    let card: StoredCard | undefined;
    if (req.number !== null) {
      card = this.cards.get(req.number);
      if (!card) throw new AppError('CARD_NOT_FOUND', { card: req.number });
      if (card.state === 'active' || card.state === 'reserved') {
        throw new AppError('CARD_ALREADY_ACTIVE', { card: card.number });
      }
      if (card.state === 'blocked') throw new AppError('CARD_BLOCKED', { card: card.number });
      if (card.expiresAt && card.expiresAt < req.at.slice(0, 10)) {
        throw new AppError('CARD_EXPIRED', { card: card.number });
      }
    }
    if (req.onePerPhone) {
      const active = this.numbersOf(req.phone).some(
        (n) => this.cards.get(n)?.state === 'active' || this.cards.get(n)?.state === 'blocked',
      );
      if (active || this.reservedPhones.has(req.phone)) throw new AppError('PHONE_ALREADY_REGISTERED');
    }
    if (req.number === null) {
      const today = req.at.slice(0, 10);
      // Expired pool cards are skipped (and left out of the pool) rather than handed out.
      while (this.freeVirtual.length) {
        const candidate = this.cards.get(this.freeVirtual.shift()!);
        if (candidate?.state !== 'inactive') continue;
        if (candidate.expiresAt && candidate.expiresAt < today) continue;
        card = candidate;
        break;
      }
      if (!card) throw new AppError('POOL_EMPTY');
    }
    const reserved: StoredCard = {
      ...card!,
      state: 'reserved',
      reservedBy: req.activationId,
      reservedPhone: req.phone,
      updatedAt: req.at,
    };
    this.save(reserved);
    this.reservedPhones.set(req.phone, req.activationId);
    this.reservations.set(req.activationId, reserved.number);
    return this.durable(reserved);
  }

  private findReservation(activationId: string, number: string | null): StoredCard | undefined {
    if (number !== null) {
      const card = this.cards.get(number);
      return card && (card.reservedBy === activationId || card.activationId === activationId)
        ? card
        : undefined;
    }
    const held = this.reservations.get(activationId);
    return held === undefined ? undefined : this.cards.get(held);
  }

  async activate(number: string, activationId: string, holder: Holder, at: string): Promise<Card> {
    const card = this.cards.get(number);
    if (!card) throw new AppError('CARD_NOT_FOUND', { card: number });
    if (card.activationId === activationId && card.state === 'active') return card; // replayed
    if (card.state !== 'reserved' || card.reservedBy !== activationId) {
      throw new AppError('CARD_ALREADY_ACTIVE', { card: number });
    }
    if (card.reservedPhone) this.reservedPhones.delete(card.reservedPhone);
    this.reservations.delete(activationId);
    const active: StoredCard = {
      ...card,
      state: 'active',
      holder,
      reservedBy: null,
      reservedPhone: null,
      activationId,
      activatedAt: at,
      updatedAt: at,
    };
    this.save(active);
    this.index(active);
    return this.durable(active);
  }

  async release(number: string, activationId: string, at: string): Promise<void> {
    const card = this.cards.get(number);
    if (!card || card.state !== 'reserved' || card.reservedBy !== activationId) return;
    if (card.reservedPhone && this.reservedPhones.get(card.reservedPhone) === activationId) {
      this.reservedPhones.delete(card.reservedPhone);
    }
    this.reservations.delete(activationId);
    const free: StoredCard = {
      ...card,
      state: 'inactive',
      reservedBy: null,
      reservedPhone: null,
      updatedAt: at,
    };
    this.save(free);
    if (free.virtual) this.returnToPool(free.number);
    await this.store.flush();
  }

  async eraseHolder(number: string, then: 'block' | 'release', at: string): Promise<Card> {
    const card = this.cards.get(number);
    if (!card) throw new AppError('CARD_NOT_FOUND', { card: number });
    this.unindexPhone(card);
    const next: StoredCard = { ...card, holder: null, activatedAt: null, updatedAt: at };
    if (then === 'block') {
      next.state = 'blocked';
      next.blockedFrom = 'inactive'; // unblocked, it goes back to its range with no holder
    } else {
      next.state = 'inactive';
      delete next.blockedFrom;
    }
    this.save(next);
    if (then === 'release' && next.virtual) this.returnToPool(number);
    return this.durable(next);
  }

  async update(number: string, patch: CardPatch, at: string): Promise<Card> {
    const card = this.cards.get(number);
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
      if (card.virtual && card.state === 'inactive')
        this.freeVirtual = this.freeVirtual.filter((n) => n !== number);
    } else if (patch.state === 'unblocked' && card.state === 'blocked') {
      next.state = card.blockedFrom ?? (card.holder ? 'active' : 'inactive');
      delete next.blockedFrom;
      if (next.virtual && next.state === 'inactive') this.returnToPool(number);
    }
    this.unindexPhone(card);
    this.save(next);
    if (next.holder?.phone) this.indexPhone(next.holder.phone, next.number);
    return this.durable(next);
  }

  async import(rows: ImportRow[], opts: { partial: boolean; at: string }): Promise<ImportResult> {
    const result: ImportResult = { imported: 0, updated: 0, rejected: [] };
    const accepted: ImportRow[] = [];
    for (const row of rows) {
      if (this.cards.get(row.number)?.state === 'reserved') result.rejected.push(reservedLine(row.line));
      else accepted.push(row);
    }
    if (result.rejected.length && !opts.partial) return result;
    for (const row of accepted) {
      const existing = this.cards.get(row.number);
      const card = importedCard(existing, row, opts.at);
      if (existing) {
        this.unindexPhone(existing);
        if (existing.virtual && existing.state === 'inactive' && card.state !== 'inactive') {
          this.freeVirtual = this.freeVirtual.filter((n) => n !== row.number);
        }
        result.updated += 1;
      } else {
        result.imported += 1;
      }
      this.save(card);
      if (card.holder?.phone) this.indexPhone(card.holder.phone, card.number);
    }
    return this.durable(result);
  }

  async *changedSince(since: string | null): AsyncIterable<Card> {
    const cards = [...this.cards.values()]
      .filter((c) => c.holder && (c.state === 'active' || c.state === 'blocked'))
      .filter((c) => since === null || c.updatedAt >= since)
      .sort((a, b) => compareCardNumbers(a.number, b.number));
    yield* cards;
  }

  async count(): Promise<number> {
    return this.cards.size;
  }

  async *pages(pageSize: number): AsyncIterable<Card[]> {
    let page: Card[] = [];
    for (const card of this.cards.values()) {
      if (!card.holder || card.state !== 'active') continue;
      page.push(card);
      if (page.length >= pageSize) {
        yield page;
        page = [];
        await new Promise((r) => setImmediate(r)); // let requests in between pages
      }
    }
    if (page.length) yield page;
  }
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
