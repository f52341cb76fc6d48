/**
 * The routes every PIN-confirmed workflow has under its base path: read it, verify the PIN,
 * resend it, cancel. Authorization (`/api/v1/auth`) and activation
 * (`/api/v1/cards/activations`) both mount them.
 */
import type { Router } from '@koa/router';
import type { Context } from 'koa';
import type { PinWindowView, PinWorkflows } from '../../runtime/pin/workflows.ts';
import type { WorkflowRecord } from '../../runtime/workflows/host.ts';
import { allow, actor, tokenIdOf } from '../auth.ts';

/** The request body as an object (JSON or form). */
export const bodyOf = (ctx: Context) => (ctx.state.body ?? {}) as Record<string, unknown>;

/** The station id the caller gives, trimmed and bounded, for timelines. */
export function terminalOf(ctx: Context): string | null {
  const t = bodyOf(ctx).terminal;
  return typeof t === 'string' && t.trim() ? t.trim().slice(0, 64) : null;
}

export function pinWorkflowRoutes<V extends PinWindowView>(
  router: Router,
  base: string,
  service: PinWorkflows<V>,
  answer: (ctx: Context, status: number, record: WorkflowRecord<V>) => void,
) {
  router.get(`${base}/:id`, allow('terminal', 'support'), async (ctx) => {
    answer(ctx, 200, await service.get(ctx.params.id!));
  });

  router.post(`${base}/:id/verify`, allow('terminal'), async (ctx) => {
    answer(ctx, 200, await service.verify(ctx.params.id!, bodyOf(ctx).pin, actor(ctx, terminalOf(ctx))));
  });

  router.post(`${base}/:id/resend`, allow('terminal'), async (ctx) => {
    answer(ctx, 200, await service.resend(ctx.params.id!, actor(ctx, terminalOf(ctx)), tokenIdOf(ctx)));
  });

  router.post(`${base}/:id/cancel`, allow('terminal', 'support'), async (ctx) => {
    const reason = bodyOf(ctx).reason;
    answer(
      ctx,
      200,
      await service.cancel(
        ctx.params.id!,
        actor(ctx, terminalOf(ctx)),
        typeof reason === 'string' ? reason.slice(0, 200) : undefined,
      ),
    );
  });
}
