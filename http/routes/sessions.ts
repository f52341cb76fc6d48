/**
 * Support inspection: search authorization and activation sessions, and starts refused before
 * any session began (kind `attempt`, state `refused`), newest first, paged; read
 * one whole record with its timeline and SMS attempts, cancel a live one (recorded with who).
 */
import type { Router } from '@koa/router';
import { z } from 'zod';
import { AppError } from '../../machines/errors.ts';
import type { WorkflowHost, WorkflowRecord } from '../../runtime/workflows/host.ts';
import type { DeliveryTracker } from '../../runtime/sms/delivery.ts';
import type { Role } from '../../runtime/tokens.ts';
import type { Config } from '../../runtime/config.ts';
import type { AuthService } from '../../runtime/auth/sessions.ts';
import type { ActivationService } from '../../runtime/activation/activations.ts';
import { normalizePhone } from '../../runtime/phone.ts';
import { validationError } from '../../runtime/validate.ts';
import { allow, actor } from '../auth.ts';
import { langOf, reply } from '../respond.ts';
import type { Context } from 'koa';
import { diagnose, type DiagnoseOptions } from '../../runtime/support/diagnosis.ts';
import { errorText, failureText } from '../../runtime/support/catalog.ts';
import { phoneFor, recordView, smsOf } from '../views.ts';

const iso = z
  .string()
  .refine((s) => !Number.isNaN(Date.parse(s)), 'ISO 8601 time')
  .transform((s) => new Date(Date.parse(s)).toISOString());
const querySchema = z.object({
  phone: z.string().optional(),
  card: z
    .string()
    .regex(/^\d{1,20}$/, 'digits')
    .optional(),
  terminal: z.string().max(64).optional(),
  state: z
    .string()
    .regex(/^[a-zA-Z]{1,20}$/)
    .optional(),
  kind: z.enum(['auth', 'activation', 'attempt']).optional(),
  from: iso.optional(),
  to: iso.optional(),
  limit: z.coerce.number().int().min(1).max(200).default(50),
  cursor: z.string().max(200).optional(),
});

const encodeCursor = (c: { createdAt: string; id: string }) =>
  Buffer.from(`${c.createdAt}|${c.id}`).toString('base64url');
function decodeCursor(text: string | undefined) {
  if (!text) return null;
  const [createdAt, id] = Buffer.from(text, 'base64url').toString().split('|');
  if (!createdAt || !id || Number.isNaN(Date.parse(createdAt)))
    throw new AppError('VALIDATION_FAILED', { field: 'cursor', reason: 'cursor' });
  return { createdAt, id };
}

/** One line of a search result; `reason` says in words why it stopped short (or null). */
export function sessionSummary(r: WorkflowRecord, role: Role, words?: DiagnoseOptions) {
  return {
    id: r.id,
    kind: r.kind,
    state: r.state,
    phone: phoneFor(r.phone, role),
    card: r.card,
    terminal: r.terminal,
    error: r.error?.code ?? null,
    reason:
      r.error && words
        ? r.kind === 'attempt'
          ? diagnose(r, words)
          : errorText(r.error.code, words.lang, r.error.extra ?? {})
        : null,
    /** Who started it (role, station, token label). */
    by: r.timeline[0]?.by ?? null,
    sms: ((r.view.sms as unknown[]) ?? []).length,
    createdAt: r.createdAt,
    updatedAt: r.updatedAt,
  };
}

export function sessionRoutes(
  router: Router,
  deps: {
    host: WorkflowHost;
    deliveries: DeliveryTracker;
    config: Readonly<Config>;
    auth: AuthService;
    activations: ActivationService;
  },
) {
  /** A record for support, its SMS with their latest delivery statuses. */
  const supportView = async (record: WorkflowRecord, role: Role) =>
    recordView(record, role, await deps.deliveries.join(smsOf(record)));
  /** The language asked for, the venue's zone and its limits: what a diagnosis is said with. */
  const wordsFor = (ctx: Context): DiagnoseOptions => ({
    lang: langOf(ctx, deps.config.server.lang),
    timeZone: deps.config.timezone,
    limits: deps.config.limits,
  });

  router.get('/api/v1/sessions', allow('support'), async (ctx) => {
    const parsed = querySchema.safeParse(ctx.query);
    if (!parsed.success) throw validationError(parsed.error);
    const q = parsed.data;
    const phone = q.phone ? normalizePhone(q.phone, deps.config.phones) : undefined;
    const { items, next } = await deps.host.search(
      {
        kinds: ['auth', 'activation', 'attempt'],
        kind: q.kind,
        phone,
        card: q.card,
        terminal: q.terminal,
        state: q.state,
        from: q.from,
        to: q.to,
      },
      q.limit,
      decodeCursor(q.cursor),
    );
    const role = ctx.state.role as Role;
    const words = wordsFor(ctx);
    reply(
      ctx,
      200,
      {
        items: items.map((r) => sessionSummary(r, role, words)),
        nextCursor: next ? encodeCursor(next) : null,
      },
      { count: items.length },
    );
  });

  router.get('/api/v1/sessions/:id', allow('support'), async (ctx) => {
    const record = await deps.host.get(ctx.params.id!);
    if (!record || !['auth', 'activation', 'attempt'].includes(record.kind))
      throw new AppError('SESSION_NOT_FOUND');
    const view = await supportView(record, ctx.state.role as Role);
    // The diagnosis reads the SMS as support sees them: with their latest delivery statuses.
    const words = wordsFor(ctx);
    const diagnosis = diagnose({ ...record, view: { ...record.view, sms: view.sms } }, words);
    // Each failed try in words, said by the same function as the diagnosis.
    const sms = view.sms.map((a) =>
      a.error ? { ...a, failure: failureText(a.error, words.lang, a.provider) } : a,
    );
    reply(
      ctx,
      200,
      { session: { ...view, sms, diagnosis } },
      { sessionId: record.id, kind: record.kind, state: record.state },
    );
  });

  router.post('/api/v1/sessions/:id/cancel', allow('support'), async (ctx) => {
    const record = await deps.host.get(ctx.params.id!);
    if (!record || (record.kind !== 'auth' && record.kind !== 'activation'))
      throw new AppError('SESSION_NOT_FOUND');
    const body = (ctx.state.body ?? {}) as { reason?: unknown };
    const reason = typeof body.reason === 'string' ? body.reason.slice(0, 200) : 'cancelled by support';
    const service = record.kind === 'auth' ? deps.auth : deps.activations;
    const done = await service.cancel(record.id, actor(ctx), reason);
    reply(
      ctx,
      200,
      { session: await supportView(done, ctx.state.role as Role) },
      { sessionId: done.id, state: done.state },
    );
  });
}
