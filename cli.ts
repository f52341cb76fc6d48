/**
 * `smspds` — the command line: run the service, import and export the card base, manage
 * tokens, check a configuration. Commands that touch the data folder take its lock, so they
 * run while the service is stopped (the service's own API covers the running case).
 */
import { Command } from 'commander';
import { closeSync, createReadStream, mkdirSync, openSync, readSync, statSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { SingleBar, Presets } from 'cli-progress';
import { loadConfig, ConfigError, type Config } from './runtime/config.ts';
import { JournaledStore } from './adapters/store/journaled.ts';
import { lockDataDir, DataDirLockedError } from './adapters/store/lock.ts';
import { EmbeddedCardDirectory } from './adapters/cards/lowdb.ts';
import { TokenFile } from './adapters/store/tokenFile.ts';
import { BACKUPS, backupDataFolder, newBackupFolder } from './adapters/store/backup.ts';
import { countLines, detectEncoding } from './runtime/cards/import.ts';
import { bulkImportCards } from './adapters/cards/bulkImport.ts';
import iconv from 'iconv-lite';
import { cardImpFile } from './runtime/cards/export.ts';
import { TokenRegistry, roles, type Role } from './runtime/tokens.ts';
import pino from 'pino';
import { buildSenders } from './adapters/sms/build.ts';
import { checkBalances } from './runtime/sms/balances.ts';
import { SmsChain } from './runtime/sms/chain.ts';
import { systemClock } from './runtime/ports.ts';
import { normalizePhone, maskPhone } from './runtime/phone.ts';
import { countSegments } from './runtime/sms/segments.ts';
import { zoneFormat } from './runtime/zoneFormat.ts';
import type { SmsAttempt } from './machines/otp.ts';
import { AppError } from './machines/errors.ts';
import { openEmbeddedEngine, openPostgresEngine } from './adapters/engine.ts';
import { MoveRefused, moveIntoPostgres } from './adapters/postgres/moveIn.ts';
import { redactUrl } from './adapters/postgres/database.ts';

const program = new Command('smspds').description(
  'SMS PDS — discount cards by phone and SMS PIN for r_keeper 7',
);

function config(): Readonly<Config> {
  return loadConfig().config;
}

/**
 * A time as a person reads it: `2026-12-02 12:01:30` on the venue's clock (`timezone` in the
 * config); the API's JSON keeps ISO UTC.
 */
const local = (iso: string | null | undefined): string =>
  iso ? zoneFormat(config().timezone, 'dateTime').format(new Date(iso)) : '-';

function bar(label: string) {
  return new SingleBar(
    {
      format: `${label.padEnd(9)} [{bar}] {percentage}% | {value}/{total} | {eta_formatted} left`,
      hideCursor: true,
      noTTYOutput: true,
      notTTYSchedule: 1000,
    },
    Presets.shades_classic,
  );
}

/** Take the data folder's lock as the service does, run `fn` on the folder, let go of it. */
async function withDataDir<T>(fn: (dataDir: string) => Promise<T>, embeddedOnly = true): Promise<T> {
  if (embeddedOnly && config().store.engine === 'postgres')
    throw new ConfigError(
      "store.engine is postgres: this command works on an embedded data folder; use the running service's API",
    );
  const dataDir = resolve(config().dataDir);
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  const unlock = lockDataDir(dataDir);
  try {
    return await fn(dataDir);
  } finally {
    unlock();
  }
}

/** Open the data folder the way the service does (lock first), run `fn`, close cleanly. */
function withStore<T>(fn: (store: JournaledStore, dir: EmbeddedCardDirectory) => Promise<T>): Promise<T> {
  return withDataDir(async (dataDir) => {
    const store = await JournaledStore.open(dataDir, EmbeddedCardDirectory.tables);
    try {
      return await fn(store, new EmbeddedCardDirectory(store));
    } finally {
      await store.close();
    }
  });
}

program
  .command('serve')
  .description('run the service (the same as npm start)')
  .action(async () => {
    await import('./main.ts');
  });

const cards = program.command('cards').description('the card directory');

cards
  .command('import <file>')
  .description('import the PDS card base from CSV (UTF-8 or Windows-1251); all-or-nothing unless --partial')
  .option('--partial', 'import the good lines and report the bad ones')
  .option('--batch <n>', 'cards checked and written per batch', '5000')
  .action(async (file: string, opts: { partial?: boolean; batch: string }) => {
    // The file is read once as a stream and the card table rewritten on disk a partition at a
    // time (adapters/cards/bulkImport.ts): memory holds a batch and a partition, not the cards.
    const size = statSync(file).size;
    const head = Buffer.alloc(Math.min(size, 4 << 20));
    const fd = openSync(file, 'r');
    readSync(fd, head, 0, head.length, 0);
    closeSync(fd);
    const encoding = detectEncoding(head, head.length === size);
    const source = async function* () {
      for await (const piece of createReadStream(file).pipe(iconv.decodeStream(encoding)))
        yield piece as string;
    };
    const lines = await countLines(createReadStream(file) as AsyncIterable<Buffer>);
    const batchSize = Math.max(1, Number(opts.batch) || 5000);
    const bars = { checking: bar('checking'), importing: bar('importing') };
    const state: { current: 'checking' | 'importing' | null } = { current: null };
    const outcome = await withDataDir((dataDir) =>
      bulkImportCards(dataDir, source, {
        phones: config().phones,
        partial: Boolean(opts.partial),
        at: new Date().toISOString(),
        batchSize,
        lines,
        keepRejected: opts.partial ? Infinity : 1000,
        onProgress: (pass, done, total) => {
          if (state.current !== pass) {
            if (state.current) bars[state.current].stop();
            state.current = pass;
            bars[pass].start(total, 0);
          }
          bars[pass].update(Math.min(done, total));
        },
      }),
    );
    if (state.current) bars[state.current].stop();
    for (const r of outcome.rejected.slice(0, 50))
      process.stderr.write(`  line ${r.line} (${r.field}): ${r.reason}\n`);
    if (outcome.rejectedCount > 50) process.stderr.write(`  … and ${outcome.rejectedCount - 50} more\n`);
    if (!outcome.written && outcome.rejectedCount) {
      process.stderr.write(
        `${outcome.rejectedCount} bad line(s): nothing imported (use --partial to import the rest)\n`,
      );
      process.exitCode = 3;
      return;
    }
    process.stdout.write(
      `imported ${outcome.imported}, updated ${outcome.updated}, rejected ${outcome.rejectedCount}\n`,
    );
  });

cards
  .command('export')
  .description('write the CardImp file (Windows-1251) of issued cards for CardServ')
  .option('-o, --out <file>', 'output file', 'cardimp.csv')
  .option('--since <iso>', 'only cards changed since this time')
  .action(async (opts: { out: string; since?: string }) => {
    const since = opts.since ? new Date(opts.since).toISOString() : null;
    const { body, count, transliterated } = await withStore((_s, directory) =>
      cardImpFile(directory.changedSince(since)),
    );
    writeFileSync(opts.out, body);
    process.stdout.write(`${count} card(s) written to ${opts.out}\n`);
    if (transliterated.length) {
      // Windows-1251 lacks some letters of these names: said, never silent.
      process.stdout.write(`${transliterated.length} name(s) written in letters CardImp can read:\n`);
      for (const t of transliterated.slice(0, 20))
        process.stdout.write(`  ${t.number}  ${t.name} → ${t.exported}\n`);
      if (transliterated.length > 20) process.stdout.write(`  … and ${transliterated.length - 20} more\n`);
    }
  });

const tokens = program.command('tokens').description('API tokens (only their hashes are kept)');
/** The token registry where the configured engine keeps tokens (the data folder, or PostgreSQL). */
const registry = async () => {
  const c = config();
  if (c.store.engine === 'postgres') {
    const engine = await openPostgresEngine(c.store.url!, { pool: 2 });
    closing.push(() => engine.close());
    return TokenRegistry.open(engine.tokenRows, c);
  }
  const dataDir = resolve(c.dataDir);
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  return TokenRegistry.open(new TokenFile(dataDir), c);
};
/** Connections a command opened, closed once it ends. */
const closing: Array<() => Promise<void>> = [];

tokens
  .command('create')
  .requiredOption('--role <role>', `one of ${roles.join(', ')}`)
  .option('--label <text>', 'what the token is for, e.g. a station name', '')
  .action(async (opts: { role: string; label: string }) => {
    if (!roles.includes(opts.role as Role))
      throw new ConfigError(`--role: expected one of ${roles.join(', ')}`);
    const { token, entry } = await (await registry()).create(opts.role as Role, opts.label);
    process.stdout.write(
      `${entry.id}  ${entry.role}  ${token}\n(shown once; a running service takes it within a second)\n`,
    );
  });

tokens.command('list').action(async () => {
  for (const t of (await registry()).list())
    process.stdout.write(`${t.id}  ${t.role.padEnd(8)}  ${local(t.createdAt)}  ${t.label}\n`);
});

tokens.command('revoke <id>').action(async (id: string) => {
  if (!(await (await registry()).revoke(id))) throw new ConfigError(`no token with id ${id}`);
  process.stdout.write(`revoked ${id} (a running service refuses it within a second)\n`);
});

program
  .command('backup')
  .description(
    'a consistent copy of the data folder: made by the running service (admin token), or here when it is stopped',
  )
  .option(
    '-o, --out <dir>',
    'with the service stopped: the new folder to copy into (default <dataDir>/backups/<time>)',
  )
  .action(async (opts: { out?: string }) => {
    if (config().store.engine === 'postgres')
      throw new ConfigError(
        'store.engine is postgres: back the database up with pg_dump (README: "Chain deployment")',
      );
    const dataDir = resolve(config().dataDir);
    let unlock: (() => void) | null = null;
    try {
      unlock = lockDataDir(dataDir);
    } catch (err) {
      if (!(err instanceof DataDirLockedError)) throw err;
    }
    if (!unlock) {
      // The service holds the folder: it pauses its commits and copies them itself.
      if (opts.out)
        throw new ConfigError('--out: the running service writes its backups into <dataDir>/backups');
      const { backup: b } = await api('POST', '/backup');
      process.stdout.write(
        `backup ${b.dir}: ${b.files} files, ${(b.bytes / 1e6).toFixed(1)} MB (writes paused ${b.pausedMs} ms)\n`,
      );
      return;
    }
    try {
      const now = Date.now();
      const dest = opts.out ? resolve(opts.out) : await newBackupFolder(resolve(dataDir, BACKUPS), now);
      const progress = bar('copying');
      progress.start(1, 0);
      const b = await backupDataFolder(
        dataDir,
        dest,
        (copy) => copy(),
        now,
        (done, total) => {
          progress.setTotal(Math.max(1, total));
          progress.update(done);
        },
      ).catch((err: Error) => {
        progress.stop();
        throw new ConfigError(`backup: ${err.message}`);
      });
      progress.stop();
      process.stdout.write(`backup ${b.dir}: ${b.files} files, ${(b.bytes / 1e6).toFixed(1)} MB\n`);
    } finally {
      unlock();
    }
  });

program
  .command('migrate')
  .description(
    'move this venue into PostgreSQL: copy the data folder (service stopped) into a database; resumable, counts verified',
  )
  .requiredOption(
    '--to <url>',
    'postgres://user:password@host:5432/smspds (an empty database, or one this command began)',
  )
  .option('--dry-run', 'count what would move; connect to nothing, write nothing')
  .action(async (opts: { to: string; dryRun?: boolean }) => {
    if (!/^postgres(ql)?:\/\/\S+$/.test(opts.to)) throw new ConfigError('--to: a postgres:// URL');
    await withDataDir(async (dataDir) => {
      const source = await openEmbeddedEngine(dataDir, {
        onFailure: () => undefined,
        onCommit: () => undefined,
      });
      const target = opts.dryRun ? null : await openPostgresEngine(opts.to, { pool: 4 });
      const bars = new Map<string, SingleBar>();
      try {
        const report = await moveIntoPostgres({
          from: { store: source.journaled!, engine: source },
          to: target ? { db: target.database!, engine: target } : null,
          dryRun: Boolean(opts.dryRun),
          progress: (step, done, total) => {
            let b = bars.get(step);
            if (!b) {
              for (const other of bars.values()) other.stop();
              bars.set(step, (b = bar(step.slice(0, 9))));
              b.start(Math.max(1, total), 0);
            }
            b.update(done);
          },
        }).catch((err: Error) => {
          throw err instanceof MoveRefused ? new ConfigError(err.message) : err;
        });
        for (const b of bars.values()) b.stop();
        const width = Math.max(...report.counts.map((c) => c.what.length));
        process.stdout.write(
          `${report.dryRun ? 'would move' : report.resumed ? 'moved (resumed)' : 'moved'} from ${dataDir}` +
            (target ? ` to ${target.where}` : '') +
            '\n' +
            report.counts
              .map(
                (c) =>
                  `  ${c.what.padEnd(width)}  ${String(c.embedded).padStart(9)}` +
                  (c.postgres === null
                    ? ''
                    : `  ${String(c.postgres).padStart(9)}  ${c.embedded === c.postgres ? 'ok' : 'DIFFERS'}`),
              )
              .join('\n') +
            '\n',
        );
        if (report.verified === false)
          throw new ConfigError('the counts differ: run the command again to resume');
        if (!report.dryRun)
          process.stdout.write(
            `every count equal. Start each instance with "store": {"engine": "postgres", "url": …} and\n` +
              `"secretFile": a copy of ${resolve(dataDir, 'secret.key')} (the PINs and phone hashes here were keyed with it).\n`,
          );
      } finally {
        for (const b of bars.values()) b.stop();
        await target?.close();
        await source.close();
      }
    });
  });

const sms = program.command('sms').description('SMS providers');

/** The configured chain, without opening the data folder (the console provider writes its outbox there). */
function chain() {
  const c = config();
  const dataDir = resolve(c.dataDir);
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  const senders = buildSenders(c, dataDir);
  const logger = pino({ level: 'silent' });
  return {
    c,
    senders,
    chain: new SmsChain({
      senders,
      clock: systemClock,
      logger,
      timeoutMs: c.sms.timeoutMs,
      retries: c.sms.retries,
      failuresBeforeCoolOff: 100,
      coolOffMs: 0,
    }),
  };
}

sms
  .command('test <phone>')
  .description('send one test message through the configured providers and print each answer')
  .option('--text <text>', 'the message', 'SMS PDS: проверка отправки')
  .action(async (phoneText: string, opts: { text: string }) => {
    const { c, chain: ch } = chain();
    const phone = normalizePhone(phoneText, c.phones);
    const message = {
      to: phone,
      text: opts.text,
      purpose: 'test' as const,
      idempotencyKey: `test:${Date.now()}`,
      templateId: 'test',
      segments: countSegments(opts.text).segments,
    };
    process.stdout.write(
      `to ${maskPhone(phone)}, ${message.segments} SMS, via ${c.sms.providers.join(' → ')}${c.sms.dryRun ? ' (dry run)' : ''}\n`,
    );
    const print = (a: SmsAttempt) =>
      process.stdout.write(
        `  ${a.provider.padEnd(11)} ${a.outcome.padEnd(8)} ${a.outcome === 'accepted' ? `id ${a.messageId}, ${a.segments} SMS, cost ${a.cost ?? '?'}` : `${a.error?.code}: ${a.error?.text}`}\n`,
      );
    try {
      const { attempts } = await ch.send(message, 1);
      attempts.forEach(print);
    } catch (err) {
      ((err as { attempts?: SmsAttempt[] }).attempts ?? []).forEach(print);
      process.stdout.write('no provider took the message\n');
      process.exitCode = 4;
    }
  });

sms
  .command('balance')
  .description("print each provider's balance")
  .action(async () => {
    const { c, senders } = chain();
    const reports = await checkBalances(senders, c.sms.balanceWarning, c.sms.timeoutMs);
    for (const s of senders) {
      const r = reports.find((x) => x.provider === s.name);
      const line = !r
        ? 'no balance query for this provider'
        : r.error
          ? `error: ${r.error}`
          : `${r.balance}${r.low ? `  LOW (under ${c.sms.balanceWarning})` : ''}`;
      process.stdout.write(`${s.name.padEnd(11)} ${line}\n`);
    }
  });

// ---- campaigns: through the running service's API (the service owns the data folder) --------

program
  .option('--url <url>', 'the running service, for the commands that use its API', process.env.SMSPDS_URL)
  .option(
    '--token <token>',
    'a token for those commands (admin; support for sessions)',
    process.env.SMSPDS_TOKEN,
  );

const campaign = program
  .command('campaign')
  .description('SMS news campaigns, through the running service (admin token in SMSPDS_TOKEN or --token)')
  .option('--url <url>', 'the service')
  .option('--token <token>', 'an admin token');

/** A text answer of the running service's API (an export to hand over). */
async function apiText(path: string): Promise<string> {
  const { url, token } = apiTarget();
  const res = await fetch(`${url}/api/v1${path}`, { headers: { Authorization: `Bearer ${token}` } }).catch(
    (err: Error) => {
      throw new ConfigError(`cannot reach the service at ${url}: ${err.message}`);
    },
  );
  if (!res.ok) throw new ConfigError(`HTTP ${res.status}: ${await res.text()}`);
  return res.text();
}

/** Where the API-backed commands go, and with which token. */
function apiTarget(): { url: string; token: string } {
  const opts = {
    ...program.opts<{ url?: string; token?: string }>(),
    ...Object.fromEntries(
      Object.entries(campaign.opts<{ url?: string; token?: string }>()).filter(([, v]) => v),
    ),
  };
  const url = opts.url ?? `http://127.0.0.1:${config().server.port}`;
  if (!opts.token) throw new ConfigError('--token (or SMSPDS_TOKEN): an admin token is needed');
  return { url, token: opts.token };
}

async function api(method: string, path: string, body?: unknown) {
  const { url, token } = apiTarget();
  const res = await fetch(`${url}/api/v1${path}`, {
    method,
    headers: {
      Authorization: `Bearer ${token}`,
      'Content-Type': 'application/json',
      'Accept-Language': 'en',
    },
    body: body === undefined ? undefined : JSON.stringify(body),
  }).catch((err: Error) => {
    throw new ConfigError(`cannot reach the service at ${url}: ${err.message}`);
  });
  const json = (await res.json()) as { error?: { code: string; message: string } } & Record<string, any>;
  if (!res.ok) throw new ConfigError(`${json.error?.code}: ${json.error?.message}`);
  return json;
}

interface CampaignView {
  id: string;
  name: string;
  state: string;
  nextRunAt: string | null;
  counts: Record<string, number>;
  skippedReasons: Record<string, number>;
  cost: { actual: string };
  runs: Array<{
    id: string;
    state: string;
    counts: Record<string, number>;
    awaitingRetry?: number;
    wakeAt?: string | null;
    error?: { code: string; extra?: { reason?: string } } | null;
  }>;
}

const line = (c: CampaignView) =>
  `${c.id}  ${c.state.padEnd(9)}  ${String(c.counts.sent + c.counts.delivered).padStart(6)}/${String(c.counts.total).padEnd(6)}  ${c.name}`;

campaign
  .command('create')
  .requiredOption('--name <name>')
  .requiredOption('--text <text>', 'with {firstName}, {fullName}, {card}')
  .option('--birthday [inDays]', 'holders whose birthday is today (or in N days)')
  .option('--prefix <digits>', 'card number prefix')
  .option('--discount <n>', 'PDS discount group')
  .option('--at <iso>', 'run once at this time')
  .option('--cron <expr>', 'run on this schedule (5 fields)')
  .option('--timezone <tz>', 'the schedule’s time zone')
  .option('--rate <perSecond>', 'messages per second')
  .option('--no-quiet-hours', 'send at any hour')
  .option('--budget <amount>', 'refuse to start over this estimated cost')
  .action(async (o) => {
    const audience: Record<string, unknown> = {};
    if (o.birthday !== undefined)
      Object.assign(audience, { type: 'birthday', inDays: o.birthday === true ? 0 : Number(o.birthday) });
    if (o.prefix) audience.cardPrefix = o.prefix;
    if (o.discount !== undefined) audience.discount = Number(o.discount);
    const schedule = o.at
      ? { at: o.at }
      : o.cron
        ? { cron: o.cron, ...(o.timezone ? { timezone: o.timezone } : {}) }
        : undefined;
    const body = {
      name: o.name,
      text: o.text,
      audience,
      ...(schedule ? { schedule } : {}),
      ...(o.rate ? { ratePerSecond: Number(o.rate) } : {}),
      ...(o.quietHours === false ? { quietHours: false } : {}),
      ...(o.budget ? { budget: Number(o.budget) } : {}),
    };
    const { campaign: c } = await api('POST', '/campaigns', body);
    process.stdout.write(`${line(c)}${c.nextRunAt ? `  next run ${local(c.nextRunAt)}` : ''}\n`);
    if (c.message?.warning) process.stdout.write(`  warning: ${c.message.warning}\n`);
  });

campaign.command('list').action(async () => {
  const { items } = await api('GET', '/campaigns?limit=200');
  for (const c of items as CampaignView[]) process.stdout.write(line(c) + '\n');
});

campaign.command('show <id>').action(async (id: string) => {
  const { campaign: c } = (await api('GET', `/campaigns/${id}`)) as { campaign: CampaignView };
  const { estimate: e } = await api('GET', `/campaigns/${id}/estimate`);
  process.stdout.write(
    `${c.name} (${c.id}): ${c.state}${c.nextRunAt ? `, next run ${local(c.nextRunAt)}` : ''}\n`,
  );
  process.stdout.write(
    `  estimate  ${e.recipients} recipients, ${e.segmentsPerMessage} SMS each, ~${e.cost}\n`,
  );
  for (const r of c.runs) {
    const k = r.counts;
    process.stdout.write(
      `  run ${r.id}  ${r.state.padEnd(9)} total ${k.total}, sent ${k.sent}, delivered ${k.delivered}, failed ${k.failed}, skipped ${k.skipped}, unknown ${k.unknown}, queued ${k.queued}\n`,
    );
    if (r.error) process.stdout.write(`      why: ${r.error.extra?.reason ?? r.error.code}\n`);
    if (r.awaitingRetry)
      process.stdout.write(
        `      ${r.awaitingRetry} of the queued were refused with their request: sent first on resume\n`,
      );
  }
  const reasons = Object.entries(c.skippedReasons)
    .map(([k, v]) => `${k} ${v}`)
    .join(', ');
  if (reasons) process.stdout.write(`  not sent  ${reasons}\n`);
  process.stdout.write(`  cost      ${c.cost.actual}\n`);
});

for (const action of ['start', 'pause', 'resume', 'cancel'] as const) {
  campaign
    .command(`${action} <id>`)
    .option('--override', 'start even over the budget', false)
    .action(async (id: string, o: { override: boolean }) => {
      const { campaign: c } = await api(
        'POST',
        `/campaigns/${id}/${action}`,
        action === 'start' ? { override: o.override } : {},
      );
      process.stdout.write(line(c) + '\n');
    });
}

/** The run's state for the progress line, with the provider's answer when it holds the run up. */
function stateLine(c: CampaignView): string {
  const run = c.runs.at(-1);
  const why = run?.error ? (run.error.extra?.reason ?? run.error.code) : null;
  if (c.state === 'running' && run?.wakeAt && why)
    return `waiting for the provider until ${local(new Date(run.wakeAt).toISOString())}: ${why}`;
  if (c.state === 'paused' && why) return `paused: ${why}`;
  return c.state;
}

campaign
  .command('follow <id>')
  .description('draw a progress bar until the current run ends')
  .action(async (id: string) => {
    const progress = new SingleBar(
      {
        format:
          'sending  [{bar}] {percentage}% | {value}/{total} | failed {failed} | skipped {skipped} | {state}',
        hideCursor: true,
        noTTYOutput: true,
        notTTYSchedule: 1000,
      },
      Presets.shades_classic,
    );
    let started = false;
    for (;;) {
      const { campaign: c } = (await api('GET', `/campaigns/${id}`)) as { campaign: CampaignView };
      const k = c.counts;
      const done = k.sent + k.delivered + k.failed + k.skipped + k.unknown;
      const payload = { failed: k.failed, skipped: k.skipped, state: stateLine(c) };
      if (!started) progress.start(Math.max(1, k.total), done, payload);
      started = true;
      progress.setTotal(Math.max(1, k.total));
      progress.update(done, payload);
      if (!['running', 'paused'].includes(c.state)) break;
      await new Promise((r) => setTimeout(r, 500));
    }
    progress.stop();
    const { campaign: c } = (await api('GET', `/campaigns/${id}`)) as { campaign: CampaignView };
    process.stdout.write(
      `${c.state}: sent ${c.counts.sent + c.counts.delivered} of ${c.counts.total}, failed ${c.counts.failed}, unknown ${c.counts.unknown}, cost ${c.cost.actual}\n`,
    );
  });

// ---- sessions: what happened to one guest's authorization ---------------------------------

const retention = program
  .command('retention')
  .description(
    'how long personal data is kept (retention.* in the configuration), through the running service',
  );

retention
  .command('run')
  .description('apply the retention rules now; --dry-run only says what would go')
  .option('--dry-run', 'count, change nothing')
  .action(async (o: { dryRun?: boolean }) => {
    const { retention: r, lastRunAt } = await api('POST', '/retention/run', { dryRun: Boolean(o.dryRun) });
    const would = r.dryRun ? 'would be ' : '';
    const lines = [
      `${r.dryRun ? 'dry run: nothing changed' : 'done'}; last run ${local(lastRunAt)}`,
      `sessions and activations before ${r.keptFrom.sessions}: ${(r.anonymised.auth ?? 0) + (r.anonymised.activation ?? 0)} ${would}anonymised`,
      `refused attempts before ${r.keptFrom.attempts}: ${r.anonymised.attempt ?? 0} ${would}anonymised`,
      `campaign recipient lists before ${r.keptFrom.campaigns}: ${r.campaignRuns} runs ${would}deleted`,
      `outbox messages before ${r.keptFrom.outbox}: ${r.outboxMessages} ${would}deleted`,
    ];
    process.stdout.write(lines.join('\n') + '\n');
  });

const holders = program
  .command('holders')
  .description("a guest's personal data, through the running service (admin token)");

holders
  .command('export <phone>')
  .description('everything the service holds about a phone: JSON, or --text for the Russian text')
  .option('--text', 'the text to hand to the guest')
  .action(async (phone: string, o: { text?: boolean }) => {
    const path = `/holders/${encodeURIComponent(phone)}/export`;
    if (!o.text) {
      process.stdout.write(JSON.stringify((await api('GET', path)).holder, null, 2) + '\n');
      return;
    }
    process.stdout.write(await apiText(`${path}?format=text`));
  });

holders
  .command('erase <phone>')
  .description("erase a guest's data (cards keep their numbers; cards.onErasure says blocked or released)")
  .option('--yes', 'confirm: this cannot be undone')
  .action(async (phone: string, o: { yes?: boolean }) => {
    if (!o.yes) throw new ConfigError('erasing cannot be undone: add --yes');
    const { erasure: e } = await api('DELETE', `/holders/${encodeURIComponent(phone)}`);
    process.stdout.write(
      `${e.id} ${local(e.at)}: cards ${e.cards.join(', ') || '-'}; ${e.records} records and ${e.recipients} campaign lines anonymised; consent ${e.consent ? 'kept as proof under ' + e.subject : 'none'}\n`,
    );
  });

const sessions = program
  .command('sessions')
  .description('authorization and activation sessions, through the running service');

sessions
  .command('find <phoneOrCard>')
  .description('sessions of a phone (any form) or a card number, newest first')
  .option('--limit <n>', 'how many', '20')
  .action(async (key: string, o: { limit: string }) => {
    const digits = key.replace(/\D/g, '');
    const phoneLike =
      key.startsWith('+') ||
      /[\s()-]/.test(key) ||
      (digits.length === 11 && /^[78]/.test(digits)) ||
      digits.length === 10;
    const query = phoneLike ? `phone=${encodeURIComponent(key)}` : `card=${encodeURIComponent(key)}`;
    const { items } = await api('GET', `/sessions?limit=${Number(o.limit) || 20}&${query}`);
    if (!items.length) process.stdout.write('no sessions\n');
    for (const s of items)
      process.stdout.write(
        `${s.id}  ${local(s.createdAt)}  ${s.kind.padEnd(10)} ${s.state.padEnd(11)} ${s.phone ?? '-'}  card ${s.card ?? '-'}  ${s.by ?? s.terminal ?? ''}${s.reason ? `  ${s.reason}` : ''}\n`,
      );
  });

sessions
  .command('show <id>')
  .description('one session: its timeline and every SMS attempt')
  .action(async (id: string) => {
    const { session: s } = await api('GET', `/sessions/${encodeURIComponent(id)}`);
    process.stdout.write(
      `${s.id}  ${s.kind}  ${s.state}\n  ${s.diagnosis}\n  phone ${s.phone ?? '-'}  card ${s.card ?? '-'}  terminal ${s.terminal ?? '-'}${s.deadline ? `  PIN valid until ${local(s.deadline)}` : ''}\n\n`,
    );
    for (const e of s.timeline) {
      const mark = e.detail?.code ? '✗' : ['verified', 'activated'].includes(e.to) ? '✓' : '•';
      process.stdout.write(
        `  ${mark} ${local(e.at)}  ${String(e.event).padEnd(16)} ${(e.from ?? '').padStart(12)} → ${e.to.padEnd(12)} by ${e.by}${e.detail ? `  ${JSON.stringify(e.detail)}` : ''}\n`,
      );
    }
    process.stdout.write(s.sms.length ? '\n  SMS:\n' : '\n  no SMS\n');
    for (const a of s.sms) {
      process.stdout.write(
        `    ${local(a.at)}  ${a.provider.padEnd(11)} ${a.outcome.padEnd(8)} ${a.outcome === 'accepted' ? `id ${a.messageId}, ${a.segments} SMS, cost ${a.cost ?? '?'}, delivery ${a.status}` : `${a.error?.code}: ${a.error?.text}`}${a.duplicatePossible ? '  (duplicate possible)' : ''}${a.mayHaveSent ? '  (may have been sent)' : ''}\n`,
      );
    }
  });

program
  .command('config')
  .description('configuration')
  .command('check')
  .description('validate the configuration and print what it resolves to, secrets hidden')
  .action(() => {
    const { config: c, file } = loadConfig();
    const hide = (key: string, value: unknown) =>
      key === 'url' && typeof value === 'string' && /^postgres/.test(value)
        ? redactUrl(value)
        : /password|apiId|apiKey|Tokens$/i.test(key)
          ? Array.isArray(value)
            ? value.map(() => '***')
            : '***'
          : value;
    process.stdout.write(`# ${file ?? 'defaults (no configuration file)'}\n${JSON.stringify(c, hide, 2)}\n`);
  });

program
  .parseAsync()
  .finally(() => Promise.all(closing.map((close) => close())))
  .catch((err: Error) => {
    const code = err instanceof AppError ? err.code : undefined;
    if (code === 'PHONE_INVALID' || code === 'PHONE_COUNTRY_NOT_ALLOWED') {
      process.stderr.write(`smspds: ${code}: not a phone this venue serves\n`);
      process.exit(2);
    }
    if (err instanceof ConfigError || err instanceof DataDirLockedError) {
      process.stderr.write(`smspds: ${err.message}\n`);
      if (err instanceof DataDirLockedError)
        process.stderr.write('  stop the service first, or use the HTTP API\n');
      process.exit(2);
    }
    process.stderr.write(`smspds: ${err.stack ?? err}\n`);
    process.exit(1);
  });
