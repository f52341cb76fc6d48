/** Retention (admin): run the rules now, or only see what they would remove (`dryRun`). */
import type { Router } from '@koa/router';
import type { Retention } from '../../runtime/support/retention.ts';
import { allow } from '../auth.ts';
import { reply } from '../respond.ts';

export function retentionRoutes(router: Router, deps: { retention: Retention }) {
  router.post('/api/v1/retention/run', allow(), async (ctx) => {
    const body = (ctx.state.body ?? {}) as { dryRun?: unknown };
    const dryRun = body.dryRun === true || body.dryRun === 'true' || ctx.query.dryRun === 'true';
    const report = await deps.retention.run(dryRun);
    reply(
      ctx,
      200,
      { retention: report, lastRunAt: await deps.retention.lastRunAt() },
      {
        dryRun: String(dryRun),
        anonymised: Object.values(report.anonymised).reduce((a, b) => a + b, 0),
        campaignRuns: report.campaignRuns,
        outboxMessages: report.outboxMessages,
      },
    );
  });
}
