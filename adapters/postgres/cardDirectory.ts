/**
 * The PostgreSQL engine's card directory: cards and ranges as rows, nothing of them in memory,
 * so an instance's size and start time do not grow with the card base.
 *
 * Every change is one transaction that locks the rows it decides on (`FOR UPDATE`); the rules
 * are those of every engine (`runtime/cards/rules.ts`). "One card per phone" is decided under a
 * transaction-scoped advisory lock on the phone, so two instances reserving for one phone at
 * once cannot both pass the check. The pool of virtual cards hands out its first free number
 * with `FOR UPDATE SKIP LOCKED`: activations on several instances take different cards without
 * waiting for each other.
 */
import type pg from 'pg';
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
} from '../../runtime/ports.ts';
import { enumerateRange } from '../../runtime/cards/numbers.ts';
import { reservedLine } from '../../runtime/cards/import.ts';
import {
  activatedCard,
  checkReservable,
  erasedCard,
  heldBy,
  importedCard,
  newRange,
  patchedCard,
  phoneOrder,
  releasedCard,
  reservedCard,
  type StoredCard,
} from '../../runtime/cards/rules.ts';
import type { Database } from './database.ts';
import { lookups } from './batch.ts';
import { lockKey } from './workflowStore.ts';

/** Rows written in one statement. */
const CHUNK = 5_000;
const ORDER = 'length(number), number';

type Query = Pick<pg.PoolClient, 'query'>;

/** The columns of a card row, in the order of `UPSERT`. */
function columns(card: StoredCard) {
  return {
    number: card.number,
    state: card.state,
    virtual: card.virtual,
    has_holder: card.holder !== null,
    phone: card.holder?.phone ?? null,
    reserved_phone: card.state === 'reserved' ? (card.reservedPhone ?? null) : null,
    reserved_by: card.state === 'reserved' ? (card.reservedBy ?? null) : null,
    activation_id: card.activationId ?? null,
    expires_at: card.expiresAt,
    updated_at: card.updatedAt,
    record: card,
  };
}

/** Write cards (new or changed), many in one statement. */
export async function upsertCards(q: Query, cards: StoredCard[]) {
  for (let i = 0; i < cards.length; i += CHUNK) {
    const rows = cards.slice(i, i + CHUNK).map(columns);
    await q.query(
      `INSERT INTO cards (number, state, virtual, has_holder, phone, reserved_phone, reserved_by,
                          activation_id, expires_at, updated_at, record)
       SELECT number, state, virtual, has_holder, phone, reserved_phone, reserved_by,
              activation_id, expires_at, updated_at, record
       FROM jsonb_to_recordset($1::jsonb) AS r(number text, state text, virtual boolean,
            has_holder boolean, phone text, reserved_phone text, reserved_by text,
            activation_id text, expires_at text, updated_at text, record jsonb)
       ON CONFLICT (number) DO UPDATE SET
         state = EXCLUDED.state, virtual = EXCLUDED.virtual, has_holder = EXCLUDED.has_holder,
         phone = EXCLUDED.phone, reserved_phone = EXCLUDED.reserved_phone,
         reserved_by = EXCLUDED.reserved_by, activation_id = EXCLUDED.activation_id,
         expires_at = EXCLUDED.expires_at, updated_at = EXCLUDED.updated_at, record = EXCLUDED.record`,
      [JSON.stringify(rows)],
    );
  }
}

async function one(
  q: Query | Pick<Database, 'query'>,
  where: string,
  values: unknown[],
  lock = '',
): Promise<StoredCard | undefined> {
  const { rows } = await (q as Pick<Database, 'query'>).query<{ record: StoredCard }>(
    `SELECT record FROM cards WHERE ${where} ${lock}`,
    values,
  );
  return rows[0]?.record;
}

export class PostgresCardDirectory implements CardDirectory {
  constructor(private readonly db: Database) {}

  async createRange(spec: RangeSpec, at: string): Promise<CardRange> {
    const numbers = enumerateRange(spec.from, spec.to);
    const { range, card } = newRange(spec, numbers.length, at);
    try {
      return await this.db.tx(async (q) => {
        for (let i = 0; i < numbers.length; i += CHUNK) {
          const { rows } = await q.query<{ number: string }>(
            `SELECT number FROM cards WHERE number = ANY($1::text[]) ORDER BY ${ORDER} LIMIT 1`,
            [numbers.slice(i, i + CHUNK)],
          );
          if (rows[0]) throw new AppError('RANGE_OVERLAP', { card: rows[0].number });
        }
        await q.query('INSERT INTO ranges (id, from_number, record) VALUES ($1, $2, $3::jsonb)', [
          range.id,
          range.from,
          JSON.stringify(range),
        ]);
        for (let i = 0; i < numbers.length; i += CHUNK) {
          // Insert only: a card another range made meanwhile stops this one (unique number).
          const rows = numbers.slice(i, i + CHUNK).map((n) => columns(card(n)));
          await q.query(
            `INSERT INTO cards (number, state, virtual, has_holder, expires_at, updated_at, record)
             SELECT number, state, virtual, has_holder, expires_at, updated_at, record
             FROM jsonb_to_recordset($1::jsonb) AS r(number text, state text, virtual boolean,
                  has_holder boolean, expires_at text, updated_at text, record jsonb)`,
            [JSON.stringify(rows)],
          );
        }
        return range;
      });
    } catch (err) {
      if ((err as { code?: string }).code === '23505') throw new AppError('RANGE_OVERLAP', { card: null });
      throw err;
    }
  }

  async listRanges(): Promise<CardRange[]> {
    const { rows } = await this.db.query<{ record: CardRange }>(
      'SELECT record FROM ranges ORDER BY length(from_number), from_number',
    );
    return rows.map((r) => r.record);
  }

  async get(number: string): Promise<Card | undefined> {
    return (await this.byNumber.add(number))[0]?.record;
  }

  /** Cards read by number, or by phone, at once: one statement each. */
  private readonly byNumber = lookups<{ record: StoredCard }>(
    () => this.db,
    'SELECT record FROM cards WHERE number = ANY($1::text[])',
    (r) => r.record.number,
  );
  private readonly ofPhone = lookups<{ phone: string; record: StoredCard }>(
    () => this.db,
    'SELECT phone, record FROM cards WHERE phone = ANY($1::text[])',
    (r) => r.phone,
  );

  async getMany(numbers: readonly string[]): Promise<Map<string, Card>> {
    const found = new Map<string, Card>();
    if (!numbers.length) return found;
    const { rows } = await this.db.query<{ record: StoredCard }>(
      'SELECT record FROM cards WHERE number = ANY($1::text[])',
      [[...new Set(numbers)]],
    );
    for (const { record } of rows) found.set(record.number, record);
    return found;
  }

  async byPhone(phone: string): Promise<Card[]> {
    return phoneOrder((await this.ofPhone.add(phone)).map((r) => r.record));
  }

  async reserve(req: {
    number: string | null;
    activationId: string;
    phone: string;
    onePerPhone: boolean;
    at: string;
  }): Promise<Card> {
    return this.db.tx(async (q) => {
      // A replayed reserve of the same activation answers what it holds.
      const mine =
        req.number !== null
          ? await one(q, 'number = $1', [req.number], 'FOR UPDATE')
          : await one(q, 'reserved_by = $1', [req.activationId], 'FOR UPDATE');
      if (mine && heldBy(mine, req.activationId)) return mine;
      const card = req.number !== null ? checkReservable(mine, req.number, req.at) : undefined;
      if (req.onePerPhone) {
        await q.query('SELECT pg_advisory_xact_lock($1::bigint)', [lockKey(`card-phone:${req.phone}`)]);
        const { rows } = await q.query(
          `SELECT 1 FROM cards
           WHERE (phone = $1 AND state IN ('active', 'blocked')) OR (reserved_phone = $1 AND state = 'reserved')
           LIMIT 1`,
          [req.phone],
        );
        if (rows.length) throw new AppError('PHONE_ALREADY_REGISTERED');
      }
      // The pool's first free card that has not expired (expired ones are left where they are).
      const chosen =
        card ??
        (await one(
          q,
          `virtual AND state = 'inactive' AND (expires_at IS NULL OR expires_at >= $1)
           ORDER BY ${ORDER} LIMIT 1`,
          [req.at.slice(0, 10)],
          'FOR UPDATE SKIP LOCKED',
        ));
      if (!chosen) throw new AppError('POOL_EMPTY');
      const reserved = reservedCard(chosen, req.activationId, req.phone, req.at);
      await upsertCards(q, [reserved]);
      return reserved;
    });
  }

  async activate(number: string, activationId: string, holder: Holder, at: string): Promise<Card> {
    return this.db.tx(async (q) => {
      const { card, replayed } = activatedCard(
        await one(q, 'number = $1', [number], 'FOR UPDATE'),
        number,
        activationId,
        holder,
        at,
      );
      if (!replayed) await upsertCards(q, [card]);
      return card;
    });
  }

  async release(number: string, activationId: string, at: string): Promise<void> {
    await this.db.tx(async (q) => {
      const free = releasedCard(await one(q, 'number = $1', [number], 'FOR UPDATE'), activationId, at);
      if (free) await upsertCards(q, [free]);
    });
  }

  async eraseHolder(number: string, then: 'block' | 'release', at: string): Promise<Card> {
    return this.change(number, (card) => erasedCard(card, number, then, at));
  }

  async update(number: string, patch: CardPatch, at: string): Promise<Card> {
    return this.change(number, (card) => patchedCard(card, number, patch, at));
  }

  private change(number: string, next: (card: StoredCard | undefined) => StoredCard): Promise<Card> {
    return this.db.tx(async (q) => {
      const card = next(await one(q, 'number = $1', [number], 'FOR UPDATE'));
      await upsertCards(q, [card]);
      return card;
    });
  }

  async import(rows: ImportRow[], opts: { partial: boolean; at: string }): Promise<ImportResult> {
    return this.db.tx(async (q) => {
      const result: ImportResult = { imported: 0, updated: 0, rejected: [] };
      const existing = new Map<string, StoredCard>();
      for (let i = 0; i < rows.length; i += CHUNK) {
        const found = await q.query<{ record: StoredCard }>(
          'SELECT record FROM cards WHERE number = ANY($1::text[]) FOR UPDATE',
          [rows.slice(i, i + CHUNK).map((r) => r.number)],
        );
        for (const { record } of found.rows) existing.set(record.number, record);
      }
      const accepted: ImportRow[] = [];
      for (const row of rows) {
        if (existing.get(row.number)?.state === 'reserved') result.rejected.push(reservedLine(row.line));
        else accepted.push(row);
      }
      if (result.rejected.length && !opts.partial) return result;
      const written = new Map<string, StoredCard>();
      for (const row of accepted) {
        const before = written.get(row.number) ?? existing.get(row.number);
        if (before) result.updated += 1;
        else result.imported += 1;
        written.set(row.number, importedCard(before, row, opts.at));
      }
      await upsertCards(q, [...written.values()]);
      return result;
    });
  }

  async *changedSince(since: string | null): AsyncIterable<Card> {
    yield* this.walk(
      `has_holder AND state IN ('active', 'blocked') AND ($3::text IS NULL OR updated_at >= $3)`,
      1_000,
      [since],
    );
  }

  async count(): Promise<number> {
    const { rows } = await this.db.query<{ n: number }>('SELECT count(*)::bigint AS n FROM cards');
    return rows[0]!.n;
  }

  async *pages(pageSize: number): AsyncIterable<Card[]> {
    let page: Card[] = [];
    for await (const card of this.walk(`has_holder AND state = 'active'`, pageSize)) {
      page.push(card);
      if (page.length >= pageSize) {
        yield page;
        page = [];
      }
    }
    if (page.length) yield page;
  }

  /** Cards matching `where`, in number order, read `size` at a time (keyset pages). */
  private async *walk(where: string, size: number, extra: unknown[] = []): AsyncIterable<StoredCard> {
    let after: [number, string] = [-1, ''];
    for (;;) {
      const { rows } = await this.db.query<{ record: StoredCard }>(
        `SELECT record FROM cards
         WHERE ${where} AND (length(number), number) > ($1::int, $2::text)
         ORDER BY ${ORDER} LIMIT ${Math.max(1, Math.floor(size))}`,
        [...after, ...extra],
      );
      for (const { record } of rows) yield record;
      if (rows.length < size) return;
      const last = rows[rows.length - 1]!.record.number;
      after = [last.length, last];
    }
  }
}
