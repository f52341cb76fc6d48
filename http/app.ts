/**
 * The Koa app: request ids, the one error pipeline, body reading, tokens, routes. Routes are
 * thin: validate, call the runtime, map records to answers.
 */
import Koa from 'koa';
import { Router } from '@koa/router';
import { randomUUID } from 'node:crypto';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import type { Logger } from 'pino';
import type { Lang } from '../machines/errors.ts';
import type { ActivationService } from '../runtime/activation/activations.ts';
import type { AuthService } from '../runtime/auth/sessions.ts';
import type { Metrics } from '../runtime/metrics.ts';
import type { WorkflowHost } from '../runtime/workflows/host.ts';
import type { DeliveryTracker } from '../runtime/sms/delivery.ts';
import type { BalanceReport } from '../runtime/sms/balances.ts';
import { sessionRoutes } from './routes/sessions.ts';
import { campaignRoutes } from './routes/campaigns.ts';
import { openApiDocument } from './openapi.ts';
import { machineGraph } from '../runtime/workflows/graph.ts';
import { allow } from './auth.ts';
import { langOf, reply } from './respond.ts';
import { AppError } from '../machines/errors.ts';
import { readFile } from 'node:fs/promises';

import { projectRoot as root, version } from '../runtime/projectRoot.ts';
import type { CampaignService } from '../runtime/campaigns/service.ts';
import type { ConsentLedger } from '../runtime/consents.ts';
import type { CardDirectory, Clock } from '../runtime/ports.ts';
import type { Config } from '../runtime/config.ts';
import type { TokenRegistry } from '../runtime/tokens.ts';
import { errorPipeline } from './respond.ts';
import { bodyReader } from './body.ts';
import { authenticate } from './auth.ts';
import { cardRoutes } from './routes/cards.ts';
import { activationRoutes } from './routes/activations.ts';
import { consentRoutes } from './routes/consents.ts';
import { authRoutes } from './routes/auth.ts';
import { reportRoutes } from './routes/reports.ts';
import { retentionRoutes } from './routes/retention.ts';
import { holderRoutes } from './routes/holders.ts';
import type { Retention } from '../runtime/support/retention.ts';
import type { Erasure } from '../runtime/support/erasure.ts';
import { catalogFor } from '../runtime/support/catalog.ts';
import { pageHeaders } from './pageHeaders.ts';
import { optOutRoutes } from './routes/optOut.ts';
import { backupRoutes } from './routes/backup.ts';
import type { BackupReport } from '../adapters/store/backup.ts';
import type { OptOutLinks } from '../runtime/campaigns/optOut.ts';

export interface AppDeps {
  config: Readonly<Config>;
  logger: Logger;
  clock: Clock;
  /** Whether the engine takes writes, and the wait for its changes to be durable. */
  store: { readonly healthy: boolean; flush(): Promise<void> };
  tokens: TokenRegistry;
  directory: CardDirectory;
  consents: ConsentLedger;
  activations: ActivationService;
  auth: AuthService;
  metrics: Metrics;
  host: WorkflowHost;
  deliveries: DeliveryTracker;
  balances: { checkedAt: string | null; reports: BalanceReport[] };
  campaigns: CampaignService;
  retention: Retention;
  erasure: Erasure;
  optOut: OptOutLinks;
  /** A consistent copy of the data folder (the embedded engine). */
  backup: () => Promise<BackupReport>;
}

export interface RouteInfo {
  method: string;
  path: string;
}

/** The Koa app, and the table of its routes (for the fuzz test and the API description). */
export function createApp(deps: AppDeps): Koa & { routes: RouteInfo[] } {
  const app = new Koa();
  const document = openApiDocument(version);
  // Behind a reverse proxy, the client's address is the last one it appended to X-Forwarded-For.
  app.proxy = deps.config.server.trustProxy;
  app.maxIpsCount = 1;
  app.silent = true; // errors are answered and logged by the pipeline, not printed by Koa

  app.use(async (ctx, next) => {
    const started = performance.now();
    ctx.state.reqId = ctx.get('X-Request-Id').slice(0, 64) || randomUUID();
    ctx.set('X-Request-Id', ctx.state.reqId);
    await next();
    const route = (ctx as { _matchedRoute?: string })._matchedRoute ?? 'unmatched';
    deps.metrics.requests.observe(
      { method: ctx.method, route: String(route), status: String(ctx.status) },
      (performance.now() - started) / 1000,
    );
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
    const low = deps.balances.reports.filter((b) => b.low);
    ctx.status = ok ? 200 : 503;
    ctx.body = {
      status: ok ? 'ok' : 'failing',
      ...(ok ? {} : { detail: 'store is not writable' }),
      ...(deps.balances.checkedAt
        ? {
            sms: {
              checkedAt: deps.balances.checkedAt,
              balances: deps.balances.reports,
              ...(low.length ? { warning: `low balance: ${low.map((b) => b.provider).join(', ')}` } : {}),
            },
          }
        : {}),
    };
  });
  open.get('/metrics', async (ctx) => {
    ctx.type = deps.metrics.registry.contentType;
    ctx.body = await deps.metrics.registry.metrics();
  });
  // The support page: every asset served from here (no CDN); its script talks to the API.
  const assets: Record<string, string> = {
    'index.html': 'text/html',
    'app.js': 'text/javascript',
    'style.css': 'text/css',
  };
  const assetDir = new URL('http/support/', root);
  const serveAsset = async (ctx: Koa.Context, file: string) => {
    if (!Object.hasOwn(assets, file)) throw new AppError('NOT_FOUND');
    ctx.type = `${assets[file]}; charset=utf-8`;
    pageHeaders(ctx, "default-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:");
    ctx.body = await readFile(new URL(file, assetDir), 'utf8');
  };
  // Charts are drawn by Chart.js and workflow diagrams laid out by dagre, both served from the
  // installed packages (no CDN).
  const resolvePackage = createRequire(import.meta.url).resolve;
  const vendor: Record<string, string> = {
    'chart.js': join(dirname(resolvePackage('chart.js')), 'chart.umd.min.js'),
    'dagre.js': join(dirname(resolvePackage('@dagrejs/dagre')), 'dagre.min.js'),
  };
  open.get('/support/vendor/:file', async (ctx) => {
    const file = vendor[ctx.params.file!];
    if (!file || !Object.hasOwn(vendor, ctx.params.file!)) throw new AppError('NOT_FOUND');
    ctx.type = 'text/javascript; charset=utf-8';
    ctx.set('X-Content-Type-Options', 'nosniff');
    ctx.set('Cache-Control', 'public, max-age=86400');
    ctx.body = await readFile(file, 'utf8');
  });
  optOutRoutes(open, deps);
  open.get('/support', (ctx) => serveAsset(ctx, 'index.html'));
  open.get('/support/:file', (ctx) => serveAsset(ctx, ctx.params.file!));
  app.use(open.routes());

  const api = new Router();
  api.use('/api', async (ctx, next) => {
    // A failed store holds in memory changes the disk never took: serve nothing from it.
    if (!deps.store.healthy) throw new AppError('STORE_UNAVAILABLE');
    await next();
    // An answer shows only what is on disk: one read while a change is being written waits for
    // that write (at once when nothing is pending), and fails with it.
    await deps.store.flush();
  });
  api.use('/api', authenticate(deps.tokens));
  api.use('/api', bodyReader(deps.config.server.bodyLimitBytes));
  cardRoutes(api, deps);
  authRoutes(api, deps.auth, deps.config.otp.length, deps.config.timezone);
  activationRoutes(api, deps.activations, deps.config.otp.length, deps.config.timezone);
  consentRoutes(api, deps);
  sessionRoutes(api, deps);
  api.get('/api/v1/whoami', (ctx) => {
    reply(ctx, 200, { role: ctx.state.role }, { role: ctx.state.role });
  });
  api.get('/api/v1/catalog', allow('support'), (ctx) => {
    const catalog = { ...catalogFor(langOf(ctx, deps.config.server.lang)), timeZone: deps.config.timezone };
    reply(ctx, 200, { catalog }, { lang: catalog.lang, timeZone: catalog.timeZone });
  });
  api.get('/api/v1/openapi.json', (ctx) => {
    ctx.body = document;
  });
  api.get('/api/v1/machines/:kind', allow('support'), (ctx) => {
    const machine = deps.host.machineOf(ctx.params.kind!);
    if (!machine) throw new AppError('NOT_FOUND');
    reply(ctx, 200, { machine: machineGraph(machine) }, {});
  });
  campaignRoutes(api, deps);
  reportRoutes(api, deps);
  retentionRoutes(api, deps);
  holderRoutes(api, deps);
  backupRoutes(api, deps);
  app.use(api.routes());
  app.use(api.allowedMethods({ throw: true }));
  const routes = [...open.stack, ...api.stack].flatMap((layer) =>
    layer.methods.filter((m) => m !== 'HEAD').map((method) => ({ method, path: String(layer.path) })),
  );
  return Object.assign(app, { routes });
}
