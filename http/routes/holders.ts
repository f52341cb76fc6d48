/**
 * A guest's data (admin): everything the service holds about one phone, as JSON or as a text in
 * Russian (`format=text`) to hand to the guest; and its erasure.
 */
import type { Router } from '@koa/router';
import type { CardDirectory, Clock } from '../../runtime/ports.ts';
import type { ConsentLedger } from '../../runtime/consents.ts';
import type { WorkflowHost } from '../../runtime/workflows/host.ts';
import type { Config } from '../../runtime/config.ts';
import type { CampaignService } from '../../runtime/campaigns/service.ts';
import { exportHolder, exportText } from '../../runtime/support/holderExport.ts';
import { normalizePhone } from '../../runtime/phone.ts';
import { actor, allow } from '../auth.ts';
import type { Erasure } from '../../runtime/support/erasure.ts';
import { reply } from '../respond.ts';

export function holderRoutes(
  router: Router,
  deps: {
    directory: CardDirectory;
    consents: ConsentLedger;
    host: WorkflowHost;
    campaigns: CampaignService;
    clock: Clock;
    config: Readonly<Config>;
    erasure: Erasure;
  },
) {
  router.delete('/api/v1/holders/:phone', allow(), async (ctx) => {
    const phone = normalizePhone(ctx.params.phone, deps.config.phones);
    const report = await deps.erasure.erase(phone, actor(ctx));
    reply(
      ctx,
      200,
      { erasure: report },
      { erasureId: report.id, cards: report.cards.length, records: report.records },
    );
  });

  router.get('/api/v1/holders/:phone/export', allow(), async (ctx) => {
    const phone = normalizePhone(ctx.params.phone, deps.config.phones);
    const data = await exportHolder({ ...deps, campaigns: deps.campaigns.rows }, phone, deps.clock.now());
    if (ctx.query.format === 'text' || ctx.get('Accept').startsWith('text/plain')) {
      ctx.type = 'text/plain; charset=utf-8';
      ctx.set('Content-Disposition', `attachment; filename="smspds-${phone.slice(1)}.txt"`);
      ctx.body = exportText(data, deps.config.timezone);
      return;
    }
    reply(ctx, 200, { holder: data }, { phone, cards: data.cards.length, sessions: data.sessions.length });
  });
}
