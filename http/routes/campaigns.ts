/** Campaigns (admin; support may read): create, list, read, estimate, test, control, recipients. */
import type { Router } from '@koa/router';
import type { Context } from 'koa';
import { AppError } from '../../machines/errors.ts';
import type { CampaignDef, CampaignService } from '../../runtime/campaigns/service.ts';
import type { WorkflowHost } from '../../runtime/workflows/host.ts';
import type { Role } from '../../runtime/tokens.ts';
import { allow, actor, tokenIdOf } from '../auth.ts';
import { reply } from '../respond.ts';
import { phoneFor } from '../views.ts';

const decimal = (tenThousandths: number) => (tenThousandths / 10_000).toFixed(2);

const STATUSES = ['total', 'queued', 'sending', 'sent', 'delivered', 'failed', 'skipped', 'unknown'] as const;
/** A run's counts as answers show them (zeros before a run exists). */
const publicCounts = (c: Record<(typeof STATUSES)[number], number> | null) =>
  Object.fromEntries(STATUSES.map((k) => [k, c?.[k] ?? 0])) as Record<(typeof STATUSES)[number], number>;

export function campaignRoutes(router: Router, deps: { campaigns: CampaignService; host: WorkflowHost }) {
  const { campaigns } = deps;

  async function view(def: CampaignDef) {
    const runs = await Promise.all(
      def.runs.map(async (id) => {
        const r = await deps.host.get(id);
        const c = await campaigns.runCounts(id);
        return {
          id,
          state: r?.state ?? 'unknown',
          startedAt: (r?.view.startedAt as string | null) ?? null,
          endedAt: r?.closedAt ?? null,
          wakeAt: r?.state === 'running' ? r.deadline : null,
          /** Why the run paused itself or failed (the provider's answer), while it applies. */
          error: r?.error ?? null,
          counts: publicCounts(c),
          /** Of `queued`: refused with their whole request, sent first when the run resumes. */
          awaitingRetry: await campaigns.awaitingRetry(id),
          skippedReasons: c.skippedReasons,
          segments: c.segments,
          cost: decimal(c.cost),
        };
      }),
    );
    const current = runs.at(-1);
    return {
      id: def.id,
      kind: 'campaign',
      name: def.name,
      state: await campaigns.stateOf(def),
      text: def.text,
      /** One message before names are filled in: encoding, length, SMS, a warning past one SMS. */
      message: campaigns.messageSize(def.text),
      audience: def.audience,
      schedule: def.schedule,
      nextRunAt: def.nextRunAt === null ? null : new Date(def.nextRunAt).toISOString(),
      missedRuns: def.missedRuns,
      quietHours: def.quietHours,
      weekdaysOnly: def.weekdaysOnly,
      timezone: def.timezone,
      ratePerSecond: def.ratePerSecond,
      provider: def.provider,
      budget: def.budget,
      counts: current?.counts ?? publicCounts(null),
      skippedReasons: current?.skippedReasons ?? {},
      segments: current?.segments ?? 0,
      cost: { actual: current?.cost ?? '0.00' },
      runs,
      createdAt: def.createdAt,
      updatedAt: def.updatedAt,
    };
  }
  const answer = async (ctx: Context, status: number, def: CampaignDef) => {
    const v = await view(def);
    reply(
      ctx,
      status,
      { campaign: v },
      {
        campaignId: v.id,
        state: v.state,
        total: v.counts.total,
        sent: v.counts.sent,
        failed: v.counts.failed,
      },
    );
  };
  const body = (ctx: Context) => (ctx.state.body ?? {}) as Record<string, unknown>;

  router.post('/api/v1/campaigns', allow(), async (ctx) =>
    answer(ctx, 201, await campaigns.create(body(ctx), actor(ctx))),
  );

  router.get('/api/v1/campaigns', allow('support'), async (ctx) => {
    const all = await campaigns.list();
    const offset = Math.max(0, Number(ctx.query.cursor ?? 0) || 0);
    const limit = Math.min(200, Math.max(1, Number(ctx.query.limit ?? 50) || 50));
    const items = await Promise.all(all.slice(offset, offset + limit).map(view));
    reply(
      ctx,
      200,
      { items, nextCursor: offset + limit < all.length ? String(offset + limit) : null },
      { count: items.length },
    );
  });

  router.get('/api/v1/campaigns/:id', allow('support'), async (ctx) =>
    answer(ctx, 200, await campaigns.def(ctx.params.id!)),
  );

  router.get('/api/v1/campaigns/:id/estimate', allow('support'), async (ctx) => {
    const est = await campaigns.estimate(ctx.params.id!);
    reply(
      ctx,
      200,
      { estimate: est },
      { recipients: est.recipients, segmentsPerMessage: est.segmentsPerMessage, cost: est.cost },
    );
  });

  router.post('/api/v1/campaigns/:id/test', allow(), async (ctx) => {
    const { text, receipt, attempts } = await campaigns.test(ctx.params.id!, body(ctx).phone, tokenIdOf(ctx));
    reply(
      ctx,
      200,
      {
        test: {
          text,
          provider: receipt.provider,
          messageId: receipt.messageId,
          segments: receipt.segments,
          cost: receipt.cost,
          attempts,
        },
      },
      { provider: receipt.provider, messageId: receipt.messageId },
    );
  });

  router.post('/api/v1/campaigns/:id/start', allow(), async (ctx) => {
    const override = isYes(body(ctx).override) || ctx.query.override === 'true';
    await campaigns.start(ctx.params.id!, actor(ctx), override);
    await answer(ctx, 200, await campaigns.def(ctx.params.id!));
  });

  for (const action of ['pause', 'resume', 'cancel'] as const) {
    router.post(`/api/v1/campaigns/:id/${action}`, allow(), async (ctx) => {
      await campaigns.control(ctx.params.id!, action, actor(ctx));
      await answer(ctx, 200, await campaigns.def(ctx.params.id!));
    });
  }

  router.get('/api/v1/campaigns/:id/recipients', allow('support'), async (ctx) => {
    const def = await campaigns.def(ctx.params.id!);
    const runId = typeof ctx.query.run === 'string' ? ctx.query.run : def.runs.at(-1);
    if (runId && !def.runs.includes(runId))
      throw new AppError('VALIDATION_FAILED', { field: 'run', reason: 'run: not a run of this campaign' });
    const status = typeof ctx.query.status === 'string' && ctx.query.status ? ctx.query.status : undefined;
    const offset = Math.max(0, Number(ctx.query.cursor ?? 0) || 0);
    const limit = Math.min(500, Math.max(1, Number(ctx.query.limit ?? 100) || 100));
    const page = runId
      ? await campaigns.recipientsOf(runId, status, offset, limit)
      : { items: [], next: null };
    const role = ctx.state.role as Role;
    const items = page.items.map((r) => ({ ...r, phone: phoneFor(r.phone, role) }));
    reply(
      ctx,
      200,
      { items, nextCursor: page.next === null ? null : String(page.next), runId: runId ?? null },
      { count: items.length },
    );
  });
}

/** A yes from a form or JSON field: `true`, `'true'` or `'1'`. */
function isYes(value: unknown): boolean {
  return value === true || value === 'true' || value === '1';
}
