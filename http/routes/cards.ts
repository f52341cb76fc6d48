/** Card directory routes: ranges, import, CardImp export, lookup, block/unblock/edit. */
import { Router } from '@koa/router';
import type { Context } from 'koa';
import { z } from 'zod';
import { AppError } from '../../machines/errors.ts';
import type { CardDirectory, CardPatch, Clock } from '../../runtime/ports.ts';
import type { Config } from '../../runtime/config.ts';
import type { Role } from '../../runtime/tokens.ts';
import { CARD_NUMBER } from '../../runtime/cards/numbers.ts';
import { normalizePhone } from '../../runtime/phone.ts';
import {
  countLines,
  decodeCsv,
  importCards,
  textSource,
  type ImportRejection,
} from '../../runtime/cards/import.ts';
import { cardImpFile } from '../../runtime/cards/export.ts';
import {
  expiryDate,
  flag,
  fullName,
  parseBirthday,
  parseDate,
  validationError,
} from '../../runtime/validate.ts';
import { allow } from '../auth.ts';
import { reply } from '../respond.ts';
import { cardKv, cardView } from '../views.ts';

export interface CardRoutesDeps {
  directory: CardDirectory;
  clock: Clock;
  config: Readonly<Config>;
}

const group = z.coerce.number().int().min(0).max(99);
const rangeSchema = z.object({
  from: z.coerce.string().trim().regex(CARD_NUMBER, 'от 1 до 20 цифр / 1 to 20 digits'),
  to: z.coerce.string().trim().regex(CARD_NUMBER, 'от 1 до 20 цифр / 1 to 20 digits'),
  discount: group.default(0),
  bonus: group.default(0),
  expiresAt: expiryDate,
  virtual: flag.default(false),
});

const patchSchema = z.object({
  blocked: flag.optional(),
  state: z.enum(['blocked', 'unblocked', 'active']).optional(),
  fullName: fullName.optional(),
  birthday: z.unknown().optional(),
  phone: z.unknown().optional(),
  email: z.preprocess((v) => (v === '' ? null : v), z.email().nullable().optional()),
  discount: group.optional(),
  bonus: group.optional(),
  expiresAt: z.preprocess((v) => (v === '' ? null : v), z.string().nullable().optional()),
  holder: z.record(z.string(), z.unknown()).optional(),
});

function parseOrThrow<T>(schema: z.ZodType<T>, body: unknown): T {
  const parsed = schema.safeParse(body ?? {});
  if (!parsed.success) throw validationError(parsed.error);
  return parsed.data;
}

/** How many bad lines a `422 IMPORT_REJECTED` lists; the rest are counted. */
export const REJECTED_LISTED = 1000;

/** Nothing was imported: every bad line with its number, field and reason (the first 1,000). */
function importRejected(listed: ImportRejection[], count: number): AppError {
  const err = new AppError('IMPORT_REJECTED', { rejected: count, imported: 0, updated: 0 });
  err.data = { lines: listed.slice(0, REJECTED_LISTED), notListed: Math.max(0, count - REJECTED_LISTED) };
  return err;
}

export function cardRoutes(router: Router, deps: CardRoutesDeps) {
  const iso = () => new Date(deps.clock.now()).toISOString();
  const role = (ctx: Context) => ctx.state.role as Role;

  router.post('/api/v1/cards/ranges', allow(), async (ctx) => {
    const spec = parseOrThrow(rangeSchema, ctx.state.body);
    const range = await deps.directory.createRange(spec, iso());
    reply(ctx, 201, { range }, { rangeId: range.id, from: range.from, to: range.to, count: range.count });
  });

  router.get('/api/v1/cards/ranges', allow('support'), async (ctx) => {
    reply(ctx, 200, { items: await deps.directory.listRanges(), nextCursor: null }, {});
  });

  router.post('/api/v1/cards/import', allow(), async (ctx) => {
    const raw = ctx.state.rawBody as Buffer | undefined;
    if (!raw || raw.length === 0) {
      throw new AppError('VALIDATION_FAILED', {
        field: 'body',
        reason: 'нужен CSV-файл / a CSV body is required',
      });
    }
    const partial = ['1', 'true', 'yes'].includes(String(ctx.query.partial ?? '').toLowerCase());
    // A file larger than the API takes is refused before anything is read into cards: the
    // command line imports any size in bounded memory.
    const maxLines = deps.config.server.importMaxLines;
    const lines = await countLines([raw]);
    if (lines > maxLines)
      throw new AppError('IMPORT_TOO_LARGE', { lines, maxLines, limit: `${maxLines} строк / lines` });
    const outcome = await importCards(textSource(decodeCsv(raw)), deps.directory, {
      phones: deps.config.phones,
      partial,
      at: iso(),
      keepRejected: REJECTED_LISTED,
      // Small batches: requests of the tills are answered between them.
      batchSize: 500,
    });
    if (!outcome.written && outcome.rejectedCount)
      throw importRejected(outcome.rejected, outcome.rejectedCount);
    reply(
      ctx,
      200,
      {
        imported: outcome.imported,
        updated: outcome.updated,
        rejected: outcome.rejected,
        ...(outcome.rejectedCount > outcome.rejected.length
          ? { notListed: outcome.rejectedCount - outcome.rejected.length }
          : {}),
      },
      { imported: outcome.imported, updated: outcome.updated, rejected: outcome.rejectedCount },
    );
  });

  router.get('/api/v1/cards/export', allow(), async (ctx) => {
    const format = String(ctx.query.format ?? 'cardimp');
    if (format !== 'cardimp')
      throw new AppError('VALIDATION_FAILED', { field: 'format', reason: 'format: cardimp' });
    let since: string | null = null;
    if (ctx.query.since !== undefined) {
      const t = Date.parse(String(ctx.query.since));
      if (Number.isNaN(t))
        throw new AppError('VALIDATION_FAILED', { field: 'since', reason: 'since: ISO 8601' });
      since = new Date(t).toISOString();
    }
    const { body, count, transliterated } = await cardImpFile(deps.directory.changedSince(since));
    if (['1', 'true', 'yes'].includes(String(ctx.query.report ?? '').toLowerCase())) {
      // What the file would change: every card whose name is written differently, as typed and
      // as exported.
      reply(ctx, 200, { count, transliterated }, { count, transliterated: transliterated.length });
      return;
    }
    ctx.status = 200;
    ctx.type = 'text/csv; charset=windows-1251';
    ctx.set('Content-Disposition', `attachment; filename="cardimp-${iso().slice(0, 10)}.csv"`);
    ctx.set('X-Card-Count', String(count));
    ctx.set('X-Export-Transliterated', String(transliterated.length));
    ctx.body = body;
  });

  router.get('/api/v1/cards', allow('support'), async (ctx) => {
    const { phone, number } = ctx.query;
    let cards;
    if (typeof number === 'string' && number !== '') {
      if (!CARD_NUMBER.test(number.trim()))
        throw new AppError('VALIDATION_FAILED', { field: 'number', reason: 'number' });
      const card = await deps.directory.get(number.trim());
      cards = card ? [card] : [];
    } else if (typeof phone === 'string' && phone !== '') {
      cards = await deps.directory.byPhone(normalizePhone(phone, deps.config.phones));
    } else {
      throw new AppError('VALIDATION_FAILED', {
        field: 'phone',
        reason: 'phone или number / phone or number',
      });
    }
    if (cards.length === 0) throw new AppError('CARD_NOT_FOUND');
    const main = cards[0]!;
    reply(
      ctx,
      200,
      { card: cardView(main, role(ctx)), items: cards.map((c) => cardView(c, role(ctx))), nextCursor: null },
      { ...cardKv(main), count: cards.length },
    );
  });

  router.get('/api/v1/cards/:number', allow('support'), async (ctx) => {
    const card = await deps.directory.get(ctx.params.number!);
    if (!card) throw new AppError('CARD_NOT_FOUND');
    reply(ctx, 200, { card: cardView(card, role(ctx)) }, cardKv(card));
  });

  router.patch('/api/v1/cards/:number', allow(), async (ctx) => {
    const body = parseOrThrow(patchSchema, ctx.state.body);
    const h = { ...(body.holder ?? {}), ...pick(body, ['fullName', 'birthday', 'phone', 'email']) } as Record<
      string,
      unknown
    >;
    const patch: CardPatch = {};
    const blocked = body.blocked ?? (body.state === 'blocked' ? true : body.state ? false : undefined);
    if (blocked !== undefined) patch.state = blocked ? 'blocked' : 'unblocked';
    if (body.discount !== undefined) patch.discount = body.discount;
    if (body.bonus !== undefined) patch.bonus = body.bonus;
    if (body.expiresAt !== undefined) {
      const d = body.expiresAt === null ? null : parseDate(body.expiresAt);
      if (d === null && body.expiresAt !== null)
        throw new AppError('VALIDATION_FAILED', { field: 'expiresAt', reason: 'expiresAt' });
      patch.expiresAt = d;
    }
    if (Object.keys(h).length) {
      patch.holder = {};
      if (h.fullName !== undefined) {
        const name = fullName.safeParse(h.fullName);
        if (!name.success) {
          const reason = name.error.issues[0]?.message ?? 'fullName';
          throw new AppError('VALIDATION_FAILED', { field: 'fullName', reason: `fullName: ${reason}` });
        }
        patch.holder.fullName = name.data;
      }
      if (h.birthday !== undefined)
        patch.holder.birthday = parseBirthday(h.birthday, deps.clock.now(), deps.config.cards);
      if (h.phone !== undefined) patch.holder.phone = normalizePhone(h.phone, deps.config.phones);
      if (h.email !== undefined) patch.holder.email = (h.email as string | null) ?? null;
    }
    if (Object.keys(patch).length === 0) {
      throw new AppError('VALIDATION_FAILED', { field: 'body', reason: 'нечего менять / nothing to change' });
    }
    const card = await deps.directory.update(ctx.params.number!, patch, iso());
    reply(ctx, 200, { card: cardView(card, role(ctx)) }, cardKv(card));
  });
}

function pick<T extends object>(obj: T, keys: string[]): Partial<T> {
  return Object.fromEntries(
    Object.entries(obj).filter(([k, v]) => keys.includes(k) && v !== undefined),
  ) as Partial<T>;
}
