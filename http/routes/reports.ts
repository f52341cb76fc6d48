/** Daily reports for the venue owner: JSON for the support page's charts, CSV for a spreadsheet. */
import type { Router } from '@koa/router';
import type { WorkflowHost } from '../../runtime/workflows/host.ts';
import type { Config } from '../../runtime/config.ts';
import { Reports, reportsCsv, type RunCountsSource } from '../../runtime/support/reports.ts';
import { allow } from '../auth.ts';
import { zoneFormat } from '../../runtime/zoneFormat.ts';
import { reply } from '../respond.ts';

export function reportRoutes(
  router: Router,
  deps: { host: WorkflowHost; campaigns: RunCountsSource; config: Readonly<Config> },
) {
  const reports = new Reports(deps.host, deps.campaigns, deps.config.timezone);
  router.get('/api/v1/reports/daily', allow('support'), async (ctx) => {
    const today = zoneFormat(deps.config.timezone, 'day').format(Date.now());
    const to = typeof ctx.query.to === 'string' && ctx.query.to ? ctx.query.to : today;
    const from =
      typeof ctx.query.from === 'string' && ctx.query.from
        ? ctx.query.from
        : new Date(Date.parse(to) - 13 * 86_400_000).toISOString().slice(0, 10);
    const days = await reports.daily(from, to);
    if (ctx.query.format === 'csv' || ctx.get('Accept').startsWith('text/csv')) {
      ctx.type = 'text/csv; charset=utf-8';
      ctx.set('Content-Disposition', `attachment; filename="smspds-${from}-${to}.csv"`);
      ctx.body = reportsCsv(days);
      return;
    }
    reply(ctx, 200, { from, to, timeZone: deps.config.timezone, days }, { from, to, days: days.length });
  });
}
