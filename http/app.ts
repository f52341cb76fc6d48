/**
 * The Koa app: request ids, the one error pipeline, body reading, tokens, routes. Routes are
 * thin: validate, call the runtime, map records to answers.
 */
import Koa from 'koa';
import { Router } from '@koa/router';
import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import type { Lang } from '../machines/errors.ts';
import type { ActivationService } from '../runtime/activations.ts';
import type { AuthService } from '../runtime/auth.ts';
import type { ConsentLedger } from '../runtime/consents.ts';
import type { CardDirectory, Clock, RecordStore } from '../runtime/ports.ts';
import type { Config } from '../runtime/config.ts';
import type { TokenRegistry } from '../runtime/tokens.ts';
import { errorPipeline } from './respond.ts';
import { bodyReader } from './body.ts';
import { authenticate } from './auth.ts';
import { cardRoutes } from './routes/cards.ts';
import { activationRoutes } from './routes/activations.ts';
import { consentRoutes } from './routes/consents.ts';
import { authRoutes } from './routes/auth.ts';

export interface AppDeps {
  config: Readonly<Config>;
  logger: Logger;
  clock: Clock;
  store: RecordStore;
  tokens: TokenRegistry;
  directory: CardDirectory;
  consents: ConsentLedger;
  activations: ActivationService;
  auth: AuthService;
}

export interface RouteInfo {
  method: string;
  path: string;
}

/** The Koa app, and the table of its routes (for the fuzz test and the API description). */
export function createApp(deps: AppDeps): Koa & { routes: RouteInfo[] } {
  const app = new Koa();
  app.proxy = false;
  app.silent = true; // errors are answered and logged by the pipeline, not printed by Koa

  app.use(async (ctx, next) => {
    const started = performance.now();
    ctx.state.reqId = ctx.get('X-Request-Id').slice(0, 64) || randomUUID();
    ctx.set('X-Request-Id', ctx.state.reqId);
    await next();
    deps.logger.debug(
      {
        reqId: ctx.state.reqId,
        method: ctx.method,
        path: ctx.path,
        status: ctx.status,
        ms: +(performance.now() - started).toFixed(1),
      },
      'request',
    );
  });
  app.use(errorPipeline(deps.logger, deps.config.server.lang as Lang));

  const open = new Router();
  open.get('/healthz', (ctx) => {
    const ok = deps.store.healthy;
    ctx.status = ok ? 200 : 503;
    ctx.body = ok ? { status: 'ok' } : { status: 'failing', detail: 'store is not writable' };
  });
  app.use(open.routes());

  const api = new Router();
  api.use('/api', authenticate(deps.tokens));
  api.use('/api', bodyReader(deps.config.server.bodyLimitBytes));
  cardRoutes(api, deps);
  authRoutes(api, deps.auth, deps.config.otp.length);
  activationRoutes(api, deps.activations, deps.config.otp.length);
  consentRoutes(api, deps);
  app.use(api.routes());
  app.use(api.allowedMethods({ throw: true }));
  const routes = [...open.stack, ...api.stack].flatMap((layer) =>
    layer.methods.filter((m) => m !== 'HEAD').map((method) => ({ method, path: String(layer.path) })),
  );
  return Object.assign(app, { routes });
}
