/** Support inspection: the whole record of one workflow, with its timeline and SMS attempts. */
import type { Router } from '@koa/router';
import { AppError } from '../../machines/errors.ts';
import type { WorkflowHost } from '../../runtime/host.ts';
import type { DeliveryTracker } from '../../runtime/delivery.ts';
import type { Role } from '../../runtime/tokens.ts';
import { allow } from '../auth.ts';
import { reply } from '../respond.ts';
import { recordView } from '../views.ts';

export function sessionRoutes(router: Router, deps: { host: WorkflowHost; deliveries: DeliveryTracker }) {
  router.get('/api/v1/sessions/:id', allow('support'), async (ctx) => {
    const record = await deps.host.get(ctx.params.id!);
    if (!record) throw new AppError('SESSION_NOT_FOUND');
    const view = recordView(record, ctx.state.role as Role, (sms) => deps.deliveries.join(sms));
    reply(
      ctx,
      200,
      { session: view },
      {
        sessionId: record.id,
        kind: record.kind,
        state: record.state,
        card: record.state === 'verified' || record.kind === 'activation' ? record.card : undefined,
      },
    );
  });
}
