/** Card activation at the till (terminal role): start, then the PIN routes (read, verify, resend, cancel). */
import type { Router } from '@koa/router';
import type { Context } from 'koa';
import type { ActivationService, ActivationView } from '../../runtime/activation/activations.ts';
import type { Role } from '../../runtime/tokens.ts';
import type { WorkflowRecord } from '../../runtime/workflows/host.ts';
import { allow, actor, tokenIdOf } from '../auth.ts';
import { reply } from '../respond.ts';
import { activationKv, activationView } from '../views.ts';
import { bodyOf, pinWorkflowRoutes, terminalOf } from './pinWorkflow.ts';

export function activationRoutes(
  router: Router,
  service: ActivationService,
  pinLength: number,
  timeZone: string,
) {
  const answer = (ctx: Context, status: number, record: WorkflowRecord<ActivationView>) => {
    const role = ctx.state.role as Role;
    reply(
      ctx,
      status,
      { activation: activationView(record, role, pinLength) },
      activationKv(record, role, timeZone),
    );
  };

  router.post('/api/v1/cards/activate', allow('terminal'), async (ctx) => {
    answer(ctx, 201, await service.start(bodyOf(ctx), actor(ctx, terminalOf(ctx)), tokenIdOf(ctx)));
  });

  pinWorkflowRoutes(router, '/api/v1/cards/activations', service, answer);
}
