/** Authorization at the till (terminal role): start, then the PIN routes (read, verify, resend, cancel). */
import type { Router } from '@koa/router';
import type { Context } from 'koa';
import type { AuthService, AuthView } from '../../runtime/auth/sessions.ts';
import type { Role } from '../../runtime/tokens.ts';
import type { WorkflowRecord } from '../../runtime/workflows/host.ts';
import { allow, actor, tokenIdOf } from '../auth.ts';
import { reply } from '../respond.ts';
import { sessionKv, sessionView } from '../views.ts';
import { bodyOf, pinWorkflowRoutes, terminalOf } from './pinWorkflow.ts';

export function authRoutes(router: Router, service: AuthService, pinLength: number, timeZone: string) {
  const answer = (ctx: Context, status: number, record: WorkflowRecord<AuthView>) => {
    const role = ctx.state.role as Role;
    reply(ctx, status, { session: sessionView(record, role, pinLength) }, sessionKv(record, role, timeZone));
  };

  router.post('/api/v1/auth', allow('terminal'), async (ctx) => {
    const record = await service.start(bodyOf(ctx), actor(ctx, terminalOf(ctx)), tokenIdOf(ctx));
    answer(ctx, record.state === 'verified' ? 200 : 201, record);
  });

  pinWorkflowRoutes(router, '/api/v1/auth', service, answer);
}
