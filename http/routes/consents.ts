/** The consent ledger (admin): record a change, read the current value with its history. */
import type { Router } from '@koa/router';
import { z } from 'zod';
import { AppError } from '../../machines/errors.ts';
import type { ConsentLedger } from '../../runtime/consents.ts';
import type { Clock } from '../../runtime/ports.ts';
import type { Config } from '../../runtime/config.ts';
import { normalizePhone } from '../../runtime/phone.ts';
import { flag, validationError } from '../../runtime/validate.ts';
import { allow } from '../auth.ts';
import { reply } from '../respond.ts';

const schema = z.object({
  phone: z.unknown(),
  marketing: flag,
  source: z.string().trim().min(1).max(100),
});

export function consentRoutes(
  router: Router,
  deps: { consents: ConsentLedger; clock: Clock; config: Readonly<Config> },
) {
  router.post('/api/v1/consents', allow(), async (ctx) => {
    const parsed = schema.safeParse(ctx.state.body ?? {});
    if (!parsed.success) throw validationError(parsed.error);
    const phone = normalizePhone(parsed.data.phone, deps.config.phones);
    const record = await deps.consents.record(phone, {
      at: new Date(deps.clock.now()).toISOString(),
      marketing: parsed.data.marketing,
      source: parsed.data.source,
      by: String(ctx.state.role),
    });
    await deps.consents.flush();
    reply(ctx, 201, { consent: record }, { phone, marketing: record.marketing });
  });

  router.get('/api/v1/consents/:phone', allow(), async (ctx) => {
    const phone = normalizePhone(ctx.params.phone, deps.config.phones);
    const record = await deps.consents.get(phone);
    if (!record) throw new AppError('NOT_FOUND', { phone });
    reply(
      ctx,
      200,
      { consent: record },
      { phone, marketing: record.marketing, changes: record.history.length },
    );
  });
}
