/** Authorization at the till (terminal role): start, verify, resend, cancel, read. */
import type { Router } from '@koa/router';
import type { Context } from 'koa';
import type { AuthService } from '../../runtime/auth.ts';
import type { Role } from '../../runtime/tokens.ts';
import type { WorkflowRecord } from '../../runtime/host.ts';
import { allow, actor } from '../auth.ts';
import { reply } from '../respond.ts';
import { sessionKv, sessionView } from '../views.ts';

export function authRoutes(router: Router, service: AuthService, pinLength: number) {
  const answer = (ctx: Context, status: number, record: WorkflowRecord) => {
    const role = ctx.state.role as Role;
    reply(ctx, status, { session: sessionView(record, role, pinLength) }, sessionKv(record, role));
  };
  const body = (ctx: Context) => (ctx.state.body ?? {}) as Record<string, unknown>;
  const terminalOf = (ctx: Context) => {
    const t = body(ctx).terminal;
    return typeof t === 'string' && t.trim() ? t.trim().slice(0, 64) : null;
  };

  router.post('/api/v1/auth', allow('terminal'), async (ctx) => {
    const record = await service.start(body(ctx), actor(ctx, terminalOf(ctx)));
    answer(ctx, record.state === 'verified' ? 200 : 201, record);
  });

  router.get('/api/v1/auth/:id', allow('terminal', 'support'), async (ctx) => {
    answer(ctx, 200, await service.get(ctx.params.id!));
  });

  router.post('/api/v1/auth/:id/verify', allow('terminal'), async (ctx) => {
    answer(ctx, 200, await service.verify(ctx.params.id!, body(ctx).pin, actor(ctx, terminalOf(ctx))));
  });

  router.post('/api/v1/auth/:id/resend', allow('terminal'), async (ctx) => {
    answer(ctx, 200, await service.resend(ctx.params.id!, actor(ctx, terminalOf(ctx))));
  });

  router.post('/api/v1/auth/:id/cancel', allow('terminal', 'support'), async (ctx) => {
    const reason = typeof body(ctx).reason === 'string' ? String(body(ctx).reason).slice(0, 200) : undefined;
    answer(ctx, 200, await service.cancel(ctx.params.id!, actor(ctx, terminalOf(ctx)), reason));
  });
}
