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
import { reservedLine } from '../../runtime/cards/import.ts';
import {
  activatedCard,
  changedFor,
  checkReservable,
  erasedCard,
  heldBy,
  importedCard,
  inPages,
  newRange,
  patchedCard,
  phoneOrder,
  releasedCard,
  reservedCard,
  type StoredCard,
} from '../../runtime/cards/rules.ts';

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
    const { range, card: cardOf } = newRange(spec, numbers.length, at);
    this.ranges.put(range.id, range);
    for (const number of numbers) {
      const card = cardOf(number);
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

  async getMany(numbers: readonly string[]): Promise<Map<string, Card>> {
    const found = new Map<string, Card>();
    for (const n of numbers) {
      const card = this.cards.get(n);
      if (card) found.set(n, card);
    }
    return found;
  }

  async byPhone(phone: string): Promise<Card[]> {
    return phoneOrder(
      this.numbersOf(phone)
        .map((n) => this.cards.get(n)!)
        .filter(Boolean),
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
    if (req.number !== null) card = checkReservable(this.cards.get(req.number), req.number, req.at);
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
    const reserved = reservedCard(card!, req.activationId, req.phone, req.at);
    this.save(reserved);
    this.reservedPhones.set(req.phone, req.activationId);
    this.reservations.set(req.activationId, reserved.number);
    return this.durable(reserved);
  }

  private findReservation(activationId: string, number: string | null): StoredCard | undefined {
    if (number !== null) {
      const card = this.cards.get(number);
      return card && heldBy(card, activationId) ? card : undefined;
    }
    const held = this.reservations.get(activationId);
    return held === undefined ? undefined : this.cards.get(held);
  }

  async activate(number: string, activationId: string, holder: Holder, at: string): Promise<Card> {
    const card = this.cards.get(number);
    const { card: active, replayed } = activatedCard(card, number, activationId, holder, at);
    if (replayed) return active;
    if (card!.reservedPhone) this.reservedPhones.delete(card!.reservedPhone);
    this.reservations.delete(activationId);
    this.save(active);
    this.index(active);
    return this.durable(active);
  }

  async release(number: string, activationId: string, at: string): Promise<void> {
    const card = this.cards.get(number);
    const free = releasedCard(card, activationId, at);
    if (!free) return;
    if (card!.reservedPhone && this.reservedPhones.get(card!.reservedPhone) === activationId) {
      this.reservedPhones.delete(card!.reservedPhone);
    }
    this.reservations.delete(activationId);
    this.save(free);
    if (free.virtual) this.returnToPool(free.number);
    await this.store.flush();
  }

  async eraseHolder(number: string, then: 'block' | 'release', at: string): Promise<Card> {
    const card = this.cards.get(number);
    const next = erasedCard(card, number, then, at);
    this.unindexPhone(card!);
    this.save(next);
    if (then === 'release' && next.virtual) this.returnToPool(number);
    return this.durable(next);
  }

  async update(number: string, patch: CardPatch, at: string): Promise<Card> {
    const card = this.cards.get(number);
    const next = patchedCard(card, number, patch, at);
    if (card!.virtual && card!.state === 'inactive' && next.state === 'blocked')
      this.freeVirtual = this.freeVirtual.filter((n) => n !== number);
    if (next.virtual && card!.state === 'blocked' && next.state === 'inactive') this.returnToPool(number);
    this.unindexPhone(card!);
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
      .filter((c) => changedFor(c, since))
      .sort((a, b) => compareCardNumbers(a.number, b.number));
    yield* cards;
  }

  async count(): Promise<number> {
    return this.cards.size;
  }

  async *pages(pageSize: number): AsyncIterable<Card[]> {
    let page: Card[] = [];
    for (const card of this.cards.values()) {
      if (!inPages(card)) continue;
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
