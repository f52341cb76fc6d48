/**
 * SMS PDS — the composition root. Reads the configuration, builds the adapters, restores live
 * workflows, serves HTTP, and shuts down cleanly on SIGTERM/SIGINT.
 */
import { getHeapStatistics } from 'node:v8';
import { loadConfig, ConfigError } from './runtime/config.ts';
import { buildService, listen, createLogger } from './compose.ts';
import { DataDirLockedError } from './adapters/store/lock.ts';

async function main() {
  let loaded;
  try {
    loaded = loadConfig();
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`smspds: ${err.message}\n`);
      process.exit(2);
    }
    throw err;
  }
  const { config, file } = loaded;
  const logger = createLogger(process.env.LOG_LEVEL ?? 'info');
  let service;
  try {
    service = await buildService(config, { logger });
  } catch (err) {
    if (err instanceof DataDirLockedError || err instanceof ConfigError) {
      process.stderr.write(`smspds: ${err.message}\n`);
      process.exit(2);
    }
    throw err;
  }
  const { server, stop } = await listen(service, config.server.host, config.server.port, {
    // A full or broken disk: answer 503, and resume from the data folder once it takes writes.
    rebuild: () => buildService(config, { logger, defaultMetrics: false }),
  });
  if (service.chain.senders.some((s) => s.balance)) {
    for (const b of await service.refreshBalances()) {
      const shown = b.error
        ? `balance unknown (${b.error})`
        : `balance ${b.balance}${b.low ? ` — LOW, under ${config.sms.balanceWarning}` : ''}`;
      service.warnings.push(`${b.provider}: ${shown}`);
    }
  }
  // `npm start` caps V8's heap (--max-old-space-size=512): a capped heap is also grown more
  // tightly, which keeps a 100k-holder campaign under 250 MB. A base that fills much of the cap
  // at start needs a higher one.
  const heap = getHeapStatistics();
  if (heap.used_heap_size > heap.heap_size_limit * 0.5) {
    const mb = (n: number) => Math.round(n / 1048576);
    service.warnings.push(
      `memory: ${mb(heap.used_heap_size)} MB of the ${mb(heap.heap_size_limit)} MB heap in use at start; ` +
        `run with a higher --max-old-space-size (e.g. node --max-old-space-size=${2 * mb(heap.heap_size_limit)} dist/main.js)`,
    );
  }
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : config.server.port;
  const everywhere = config.server.host === '0.0.0.0' || config.server.host === '::';
  const shown = everywhere ? '127.0.0.1' : config.server.host;
  const lines = [
    '',
    `  SMS PDS — listening on http://${shown}:${port}${everywhere ? ' and every network interface' : ''}`,
    `  api      /api/v1   support page /support   health /healthz   metrics /metrics`,
    `  config   ${file ?? '(defaults; no smspds.config.json)'}`,
    service.engine.name === 'postgres'
      ? `  data     PostgreSQL ${service.engine.where} (this instance's folder ${service.dataDir})`
      : `  data     ${service.dataDir}`,
    `  sms      ${config.sms.providers.join(' → ')}${config.sms.dryRun ? '  (dry run: nothing is sent)' : ''}`,
    `  restored ${service.restored} live workflow(s)`,
    ...service.warnings.map((w) => `  warning  ${w}`),
  ];
  if (service.newTokens.length) {
    lines.push('', '  First start: API tokens were made. They are shown only now — keep them:');
    for (const t of service.newTokens) lines.push(`    ${t.role.padEnd(9)} ${t.token}`);
    lines.push(
      service.engine.name === 'postgres'
        ? '  (only their hashes are kept, in the database)'
        : '  (only their hashes are kept, in tokens.json in the data folder)',
    );
  }
  process.stdout.write(lines.join('\n') + '\n\n');
  logger.info({ port, dataDir: service.dataDir, restored: service.restored }, 'serving');

  let stopping = false;
  const shutdown = (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'shutting down');
    const force = setTimeout(() => {
      logger.error('shutdown took longer than 10 s; exiting');
      process.exit(1);
    }, 10_000);
    force.unref();
    stop().then(
      () => process.exit(0),
      (err) => {
        logger.error({ err }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  process.on('SIGINT', () => shutdown('SIGINT'));
}

main().catch((err) => {
  process.stderr.write(`smspds: failed to start: ${err?.stack ?? err}\n`);
  process.exit(1);
});
