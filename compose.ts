/**
 * The composition root: the one place where the runtime meets its adapters and the HTTP layer,
 * from a validated configuration to a running service. `main.ts`, `demo.ts`, the benchmarks and
 * the tests build the service here alike (the tests with fakes: a clock, an SMS sender), and
 * `close()` owns the shutdown order. Dependencies point inward: `machines/` ← `runtime/` ←
 * `adapters/`, `http/` ← this file.
 */
import { mkdirSync, chmodSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { createServer, type Server } from 'node:http';
import { open, unlink } from 'node:fs/promises';
import pino, { type Logger } from 'pino';
import type { Config } from './runtime/config.ts';
import { systemClock, type CallSender, type Clock, type SmsSender } from './runtime/ports.ts';
import { lockDataDir } from './adapters/store/lock.ts';
import { WorkflowHost } from './runtime/workflows/host.ts';
import { createPinSender } from './runtime/sms/pinSender.ts';
import { createPinVault, loadOrCreateSecret } from './runtime/pin/vault.ts';
import { ConsentLedger } from './runtime/consents.ts';
import { ActivationService, activationKind } from './runtime/activation/activations.ts';
import { AuthService, authKind } from './runtime/auth/sessions.ts';
import { RateLimits } from './runtime/limits.ts';
import { PinGate } from './runtime/pin/gate.ts';
import { countSegments } from './runtime/sms/segments.ts';
import { TokenRegistry } from './runtime/tokens.ts';
import { renderPinMessage, checkTemplates } from './runtime/sms/templates.ts';
import { createApp } from './http/app.ts';
import { buildSenders, buildCaller } from './adapters/sms/build.ts';
import { checkBalances, type BalanceReport } from './runtime/sms/balances.ts';
import { SmsChain } from './runtime/sms/chain.ts';
import { DeliveryTracker } from './runtime/sms/delivery.ts';
import { Metrics } from './runtime/metrics.ts';
import { ATTEMPT_KIND, RefusedAttempts } from './runtime/support/attempts.ts';
import { CampaignService } from './runtime/campaigns/service.ts';
import { Retention } from './runtime/support/retention.ts';
import { Erasure } from './runtime/support/erasure.ts';
import { OptOutLinks } from './runtime/campaigns/optOut.ts';
import { AppError } from './machines/errors.ts';
import { BACKUPS, backupDataFolder, newBackupFolder } from './adapters/store/backup.ts';
import cron from 'node-cron';
import { openEmbeddedEngine, openPostgresEngine, type Engine } from './adapters/engine.ts';

export interface ServiceOptions {
  logger?: Logger;
  clock?: Clock;
  /** Replaces the configured provider chain (tests). */
  senders?: SmsSender[];
  /** Where the console provider prints (stdout by default). */
  consoleWrite?: (line: string) => void;
  /** Replaces the code-by-call provider (tests). */
  caller?: CallSender;
  /** Waits between tries at one provider (tests make them short). */
  smsBackoffMs?: number[];
  /** Collect Node's process metrics too (one registry per process wants them once). */
  defaultMetrics?: boolean;
  /** Run the minute schedule check (tests call `campaigns.tick()` themselves). */
  cron?: boolean;
}

/** Redact PINs, tokens and full phones wherever they would appear in a log line. */
export const logRedact = {
  paths: [
    'pin',
    '*.pin',
    'token',
    '*.token',
    'headers.authorization',
    '*.headers.authorization',
    'req.headers["x-api-key"]',
    'text',
    '*.text',
  ],
  censor: '[hidden]',
};

export function createLogger(level = 'info'): Logger {
  return pino({ level, redact: logRedact, base: { service: 'smspds' } });
}

export async function buildService(config: Readonly<Config>, options: ServiceOptions = {}) {
  const logger = options.logger ?? createLogger();
  const clock = options.clock ?? systemClock;
  const dataDir = resolve(config.dataDir);
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  chmodSync(dataDir, 0o700);
  const unlock = lockDataDir(dataDir);
  const metrics = new Metrics(options.defaultMetrics ?? true);
  try {
    // The secret first: a missing or malformed secret file stops the start before anything opens.
    const secret = loadOrCreateSecret(dataDir, config.secretFile ? resolve(config.secretFile) : null);
    const engine: Engine =
      config.store.engine === 'postgres'
        ? await openPostgresEngine(config.store.url!, {
            pool: config.store.pool,
            log: (line) => logger.info(line),
          })
        : await openEmbeddedEngine(dataDir, {
            onFailure: (err) =>
              logger.fatal(
                { err },
                'the store cannot write: answering 503 until the disk takes writes again',
              ),
            onCommit: (ms) => metrics.storeCommits.observe(ms / 1000),
          });
    const store = engine.state;
    const { failed } = engine;
    const senders = options.senders ?? buildSenders(config, dataDir, options.consoleWrite);
    const chain = new SmsChain({
      senders,
      clock,
      logger,
      metrics,
      timeoutMs: config.sms.timeoutMs,
      retries: config.sms.retries,
      failuresBeforeCoolOff: config.sms.failuresBeforeCoolOff,
      coolOffMs: config.sms.coolOffSeconds * 1000,
      backoffMs: options.smsBackoffMs,
    });
    const warnings = [...senders.flatMap((s) => s.warnings ?? []), ...checkTemplates(config)];
    const vault = createPinVault(secret);
    const optOut = new OptOutLinks(secret, config.publicUrl);
    const { directory, workflows, campaignRows } = engine;
    const consents = new ConsentLedger(engine.consentRows);
    const limits = new RateLimits(engine.limitRows, clock, config.timezone);
    const deliveries: DeliveryTracker = new DeliveryTracker({
      rows: engine.deliveryRows,
      senders,
      clock,
      logger,
      metrics,
      timeoutMs: config.sms.timeoutMs,
      onFinal: (workflowId, to, status) =>
        workflowId.startsWith('run_')
          ? void campaigns
              .delivered(workflowId, to, status)
              .catch((err) => logger.warn({ err, run: workflowId }, 'campaign delivery status not kept'))
          : void host.refinalize(workflowId),
    });
    const pins = createPinSender({
      ledger: engine.smsLedger,
      chain,
      caller: options.caller ?? buildCaller(config),
      vault,
      clock,
      logger,
      pinLength: config.otp.length,
      render: (purpose, pin) => renderPinMessage(config, purpose, pin),
      beforeSend: (segments) => limits.spendSms(config.limits.smsPerDay, segments),
      onAccepted: (workflowId, to, attempt) =>
        void deliveries
          .track(workflowId, to, attempt)
          .catch((err) => logger.warn({ err, workflow: workflowId }, 'delivery tracking not kept')),
      timeoutMs: config.sms.timeoutMs,
    });
    const campaigns = new CampaignService({
      rows: campaignRows,
      flush: () => store.flush(),
      directory,
      consents,
      limits,
      chain,
      clock,
      logger,
      config,
      optOut,
    });
    const host = new WorkflowHost({
      store,
      workflows,
      clock,
      logger,
      settleTimeoutMs: config.server.requestTimeoutMs,
      effectLeaseMs: config.store.leaseSeconds * 1000,
      closedKinds: [ATTEMPT_KIND],
      kinds: [
        activationKind({ directory, pins, vault, consents, clock, config, deliveries }),
        authKind({ directory, pins, vault, clock, config, deliveries }),
        campaigns.kind(),
      ],
    });
    campaigns.host = host;
    metrics.watchCampaigns(async () => {
      const current = [];
      for (const def of await campaigns.list()) {
        const run = def.runs.at(-1);
        if (!run) continue;
        const {
          runId: _run,
          skippedReasons: _reasons,
          prepared: _prepared,
          ...counts
        } = await campaigns.runCounts(run);
        current.push({ campaign: def.id, counts });
      }
      return current;
    });
    // A PIN message's segments depend on its purpose only (the code has a fixed length).
    const pinSegments = new Map<string, number>();
    const gate = new PinGate(host, {
      config,
      limits,
      pinSegments: (purpose) => {
        let n = pinSegments.get(purpose);
        if (n === undefined) {
          const sample = () => renderPinMessage(config, purpose, '0'.repeat(config.otp.length)).text;
          pinSegments.set(purpose, (n = purpose === 'call' ? 1 : countSegments(sample()).segments));
        }
        return n;
      },
    });
    const activations = new ActivationService(host, gate, { config, clock, limits });
    const auth = new AuthService(host, gate, { config, clock });
    const attempts = new RefusedAttempts(host, clock, metrics);
    auth.attempts = attempts;
    activations.attempts = attempts;
    host.onClosed((record) => metrics.workflowEnded(record.kind, record.state));
    host.onStarted((record) => metrics.workflowStarted(record.kind));
    deliveries.enabled = config.sms.statusPollSeconds > 0;
    deliveries.start(config.sms.statusPollSeconds * 1000);
    // Campaign messages are asked about a run at a time (see CampaignService.sweepDeliveries).
    const deliverySweep =
      config.sms.statusPollSeconds > 0
        ? setInterval(
            () =>
              void campaigns
                .sweepDeliveries()
                .catch((err) => logger.error({ err }, 'campaign delivery sweep failed')),
            config.sms.statusPollSeconds * 1000,
          )
        : null;
    deliverySweep?.unref();
    const balances: { checkedAt: string | null; reports: BalanceReport[] } = { checkedAt: null, reports: [] };
    const refreshBalances = async () => {
      balances.reports = await checkBalances(senders, config.sms.balanceWarning, config.sms.timeoutMs);
      balances.checkedAt = new Date(clock.now()).toISOString();
      for (const r of balances.reports.filter((b) => b.low))
        logger.warn({ provider: r.provider, balance: r.balance }, 'sms balance is low');
      return balances.reports;
    };
    const balanceTimer = setInterval(() => void refreshBalances().catch(() => undefined), 10 * 60_000);
    balanceTimer.unref();
    const sweep = setInterval(() => void limits.sweep().catch(() => undefined), 10 * 60_000);
    sweep.unref();
    const tokens = await TokenRegistry.open(engine.tokenRows, config);
    const newTokens = await tokens.bootstrap();
    // Data written by earlier versions is taken up once, here, before anything runs on it.
    const migrated = await engine.migrateEarlier();
    if (migrated) logger.info({ recipients: migrated }, 'campaign recipients of an earlier version taken up');
    const restored = await host.restore();
    // Archive days with no summary yet (an archive from before they existed) are read once now,
    // in the background, so that no support search waits for it.
    const warming = performance.now();
    void host
      .warmArchiveKeys()
      .then((days) => {
        if (days)
          logger.info({ days, ms: Math.round(performance.now() - warming) }, 'archive day summaries ready');
      })
      .catch((err) => logger.warn({ err }, 'archive day summaries could not be built'));
    // The schedule: node-cron drives a check every minute; the decisions are the service's.
    await campaigns.tick();
    const cronTask =
      options.cron === false
        ? null
        : cron.schedule(
            '* * * * *',
            () =>
              void campaigns.tick().catch((err) => logger.error({ err }, 'campaign schedule check failed')),
            { name: 'campaigns' },
          );
    // Retention: daily at `retention.at`, venue time; a day missed while down is caught up now.
    const retention = new Retention({
      store: engine.blobs,
      workflows,
      campaigns: campaignRows,
      clock,
      config,
      secret,
      senders,
      isLive: (runId) => host.isLive(runId),
      logger,
    });
    const runRetention = () =>
      void retention.run().catch((err) => logger.error({ err }, 'retention run failed'));
    const [hh, mm] = config.retention.at.split(':');
    const retentionTask =
      options.cron === false
        ? null
        : cron.schedule(`${Number(mm)} ${Number(hh)} * * *`, runRetention, {
            name: 'retention',
            timezone: config.timezone,
          });
    if (options.cron !== false) {
      const last = await retention.lastRunAt();
      if (!last || clock.now() - Date.parse(last) > 24 * 3600_000) runRetention();
    }
    const erasure = new Erasure({
      host,
      directory,
      consents,
      limits,
      deliveries,
      campaigns: campaignRows,
      purge: () => engine.purge(),
      senders,
      config,
      clock,
      secret,
      logger,
    });
    const backup = async () => {
      const now = clock.now();
      const journaled = engine.journaled;
      if (!journaled) throw new AppError('BACKUP_ELSEWHERE');
      let report;
      try {
        const dest = await newBackupFolder(join(dataDir, BACKUPS), now);
        report = await backupDataFolder(dataDir, dest, (copy) => journaled.paused(copy), now);
      } catch (err) {
        logger.error({ err }, 'backup failed');
        throw new AppError('BACKUP_FAILED', { reason: (err as Error).message });
      }
      logger.info(
        { dir: report.dir, files: report.files, bytes: report.bytes, pausedMs: report.pausedMs },
        'backup made',
      );
      return report;
    };
    const app = createApp({
      erasure,
      optOut,
      backup,
      config,
      logger,
      clock,
      store,
      tokens,
      directory,
      consents,
      activations,
      auth,
      metrics,
      host,
      deliveries,
      balances,
      campaigns,
      retention,
    });
    const stopTimers = () => {
      void cronTask?.stop();
      void retentionTask?.stop();
      clearInterval(sweep);
      clearInterval(balanceTimer);
      if (deliverySweep) clearInterval(deliverySweep);
      deliveries.stop();
    };
    /**
     * The shutdown order: no new timer work, the campaign requests already out finish (bounded),
     * the workflow ticker stops, the archive summaries are kept, the store closes (its last
     * commit on disk), and the data folder is unlocked.
     */
    const close = async () => {
      stopTimers();
      await retention.settled();
      await campaigns.drain();
      host.stop();
      await host.saveArchiveKeys().catch((err) => logger.warn({ err }, 'archive summaries not saved'));
      await engine.close();
      unlock();
    };
    /** Let go of a service whose store failed, writing nothing more: its memory is not the truth. */
    const abandon = async () => {
      stopTimers();
      await Promise.race([campaigns.drain().catch(() => undefined), sleep(5_000)]);
      host.stop();
      await engine.abandon();
      unlock();
    };
    return {
      retention,
      close,
      abandon,
      app,
      store,
      /** The embedded engine's store (backups, tests); undefined on PostgreSQL. */
      journaled: engine.journaled,
      engine,
      host,
      directory,
      consents,
      auth,
      activations,
      gate,
      campaigns,
      limits,
      chain,
      deliveries,
      metrics,
      refreshBalances,
      stopTimers,
      tokens,
      newTokens,
      restored,
      warnings,
      logger,
      dataDir,
      unlock,
      failed,
    };
  } catch (err) {
    unlock();
    throw err;
  }
}

export type Service = Awaited<ReturnType<typeof buildService>>;

export interface ListenOptions {
  /**
   * Build the service again from its data folder. Given, a store that fails (a full or broken
   * disk) is recovered without a restart: the service answers 503 meanwhile, probes the disk,
   * and once a write succeeds drops everything it held in memory and reads the folder again,
   * so no change that missed the disk is ever served.
   */
  rebuild?: () => Promise<Service>;
  /** How often the disk is probed while the store is failing, in ms. */
  probeMs?: number;
}

/** Listen, and give back a stop function: stop accepting, finish requests, flush, unlock. */
export async function listen(first: Service, host: string, port: number, options: ListenOptions = {}) {
  let service = first;
  let handle = service.app.callback();
  const server: Server = createServer((req, res) => void handle(req, res));
  await new Promise<void>((ok, fail) => {
    server.once('error', fail);
    server.listen(port, host, () => {
      server.off('error', fail);
      ok();
    });
  });
  server.requestTimeout = 115_000; // inside RK7's 120 s PDS call timeout
  server.keepAliveTimeout = 5_000;
  let stopped: Promise<void> | null = null;
  let closing = false;
  let recovering: Promise<void> | null = null;

  const recover = async (failed: Service) => {
    const log = failed.logger;
    for (let attempt = 1; !closing; attempt++) {
      await sleep(options.probeMs ?? 2_000);
      if (closing || !(await diskTakesWrites(failed.dataDir))) continue;
      try {
        await release(failed);
        const next = await options.rebuild!();
        service = next;
        handle = next.app.callback();
        log.info({ attempt, restored: next.restored }, 'the disk takes writes again: service resumed');
        watch(next);
        return;
      } catch (err) {
        log.error({ err, attempt }, 'the service could not be rebuilt yet; trying again');
      }
    }
  };
  const watch = (s: Service) => {
    if (!options.rebuild) return;
    void s.failed.then(() => {
      if (!closing && service === s) recovering = recover(s).finally(() => (recovering = null));
    });
  };
  watch(service);

  const stop = () => (stopped ??= shutdown());
  const shutdown = async () => {
    closing = true;
    await new Promise<void>((done) => {
      server.close(() => done());
      server.closeIdleConnections();
    });
    await recovering;
    if (!service.store.healthy) return release(service);
    await service.close();
  };
  return { server, stop, current: () => service };
}

/** Let go of a service whose store failed, writing nothing more: its memory is not the truth. */
/** Services already let go of (a rebuild that failed is retried without releasing twice). */
const released = new WeakSet<Service>();

async function release(failed: Service) {
  if (released.has(failed)) return;
  released.add(failed);
  await failed.abandon();
}

/** Whether the data folder takes a small durable write now (a full disk refuses it). */
async function diskTakesWrites(dataDir: string): Promise<boolean> {
  const path = join(dataDir, '.probe');
  try {
    const fh = await open(path, 'w', 0o600);
    try {
      await fh.writeFile(Buffer.alloc(64 * 1024));
      await fh.sync();
    } finally {
      await fh.close();
    }
    return true;
  } catch {
    return false;
  } finally {
    await unlink(path).catch(() => undefined);
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
