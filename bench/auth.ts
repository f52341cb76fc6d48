/**
 * `npm run bench:auth` — authorization flows (start + verify) against the real service, measured
 * against a bare Koa hello-world in the same run, on this machine:
 *
 *   1. bare Koa: requests/s at the same concurrency (the baseline);
 *   2. the floor (`bench/authFloor.ts`): Koa, the pure transition of the real auth machine and
 *      the PIN vault, with no store — the design's own parts and nothing of the service's work;
 *   3. full flows on a fresh data folder (console SMS provider, durable store);
 *   4. the same after 1,000,000 closed sessions were put in the archive.
 *
 * Prints flows/s, p50/p99 per flow, server CPU per flow, server RSS, and the ratios flows/s ÷
 * Koa req/s, flows ÷ floor, p99 ÷ p50 and full-archive ÷ fresh, each beside its target.
 * Options: --seconds N (default 10), --concurrency N (default 50),
 * --archive N (default 1000000), --rounds N (default 2).
 *
 * `--engine postgres`: the same flows with the service on PostgreSQL, against the embedded
 * engine in the same run, `--rounds` times each alternating (embedded, one instance, two
 * instances…): one instance on a database of its own; then two instances on one database, each
 * flow started on one and verified on the other (as behind a load balancer), driven at the same
 * total concurrency. Prints flows/s and p50/p99 of each, and the ratios PostgreSQL ÷ embedded
 * (target ≥ 50 %), p99 ÷ p50 (target ≤ 3) and two instances ÷ one (target ≥ 100 %). The server:
 * `SMSPDS_BENCH_DATABASE_URL` (a role that may create databases), or the throwaway cluster the
 * tests use.
 *
 * The two flow phases alternate, `--rounds` times each (fresh, full, fresh, full…), each fresh
 * round on a new copy of the seeded data folder: a machine that slows down or speeds up during
 * the run moves both sides of the ratio alike. Rates are over all rounds of a phase; each
 * round's ratio is printed too. The service runs as `npm start` runs it; `SERVER_NODE_ARGS`
 * adds node flags to it (e.g. `--cpu-prof --cpu-prof-dir=/tmp/prof`).
 */
import { cpSync, mkdtempSync, rmSync, writeFileSync, openSync, readSync, closeSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import type { ChildProcess } from 'node:child_process';
import { parseArgs } from 'node:util';
import { dropDatabase, newDatabase } from '../test/postgres.ts';
import {
  cpuMsOf,
  drive,
  fillArchive,
  machine,
  percentile,
  request,
  type Reply,
  rssOf,
  runMain,
  serverArgs,
  startScript,
  startService,
  stopChild,
} from './lib.ts';

const { values: args } = parseArgs({
  options: {
    seconds: { type: 'string', default: '10' },
    concurrency: { type: 'string', default: '50' },
    archive: { type: 'string', default: '1000000' },
    rounds: { type: 'string', default: '2' },
    engine: { type: 'string', default: 'embedded' },
  },
});
if (process.env.SMSPDS_BENCH_DATABASE_URL)
  process.env.SMSPDS_TEST_DATABASE_URL = process.env.SMSPDS_BENCH_DATABASE_URL;
const SECONDS = Number(args.seconds);
const CONCURRENCY = Number(args.concurrency);
const ARCHIVE = Number(args.archive);
const ROUNDS = Math.max(1, Number(args.rounds));
const PHONES_PER_LANE = 200;
const TOKEN = 'bench-terminal-token-000000';
const ADMIN = 'bench-admin-token-00000000';

const phoneOf = (lane: number, i: number) =>
  `+7916${String(lane * PHONES_PER_LANE + (i % PHONES_PER_LANE)).padStart(7, '0')}`;

/** Reads PINs from the console provider's outbox as it grows, by idempotency key. */
class Outbox {
  private offset = 0;
  private rest = '';
  private readonly pins = new Map<string, string>();
  constructor(private readonly path: string) {}
  pinFor(key: string): string {
    let pin = this.pins.get(key);
    if (pin) return this.take(key, pin);
    const size = statSync(this.path).size;
    if (size > this.offset) {
      const buf = Buffer.alloc(size - this.offset);
      const fd = openSync(this.path, 'r');
      readSync(fd, buf, 0, buf.length, this.offset);
      closeSync(fd);
      this.offset = size;
      const lines = (this.rest + buf.toString('utf8')).split('\n');
      this.rest = lines.pop() ?? '';
      for (const line of lines) {
        const m = /"key":"([^"]+)".*?"text":"[^"]*?(\d{6})/.exec(line);
        if (m) this.pins.set(m[1]!, m[2]!);
      }
    }
    pin = this.pins.get(key);
    if (!pin) throw new Error(`no PIN in the outbox for ${key}`);
    return this.take(key, pin);
  }
  private take(key: string, pin: string) {
    this.pins.delete(key);
    return pin;
  }
}

/**
 * `warmups` calls of `worker` on a lane of its own, then `worker` on every lane for the phase:
 * the rates and latencies, the server's CPU per call and memory, and this process's CPU share.
 */
async function measure(
  child: ChildProcess,
  worker: (lane: number, i: number) => Promise<void>,
  warmups: number,
) {
  for (let i = 0; i < warmups; i++) await worker(CONCURRENCY, i);
  const cpuBefore = cpuMsOf(child.pid!);
  const clientBefore = process.cpuUsage();
  const result = await drive(CONCURRENCY, SECONDS, worker);
  const cpuUs = ((cpuMsOf(child.pid!) - cpuBefore) * 1000) / Math.max(1, result.count);
  const client = process.cpuUsage(clientBefore);
  const clientPercent = (client.user + client.system) / 10_000 / SECONDS;
  return { ...result, cpuUs, clientPercent, mem: rssOf(child.pid!) };
}

async function koaBaseline() {
  const { child, port } = await startScript('bench/koaHello.ts');
  const result = await measure(
    child,
    async () => {
      const r = await request(port, 'GET', '/');
      if (r.status !== 200) throw new Error(`koa ${r.status}`);
    },
    200,
  );
  await stopChild(child);
  return result;
}

/**
 * One flow as a `drive` worker: a start, then a verify with the PIN `pinOf` finds for it. `port`
 * is the service's, or per lane the instance that starts and the one that verifies.
 */
function flowOn(
  port: number | ((lane: number) => { start: number; verify: number }),
  headers: Record<string, string>,
  pinOf: (started: Reply, id: string, lane: number) => string,
) {
  const route = typeof port === 'number' ? () => ({ start: port, verify: port }) : port;
  return async (lane: number, i: number) => {
    const { start, verify } = route(lane);
    const started = await request(
      start,
      'POST',
      '/api/v1/auth',
      headers,
      `phone=${encodeURIComponent(phoneOf(lane, i))}&terminal=B${lane}`,
    );
    if (started.status !== 201) throw new Error(`start ${started.status} ${started.body}`);
    const id = (JSON.parse(started.body) as { session: { id: string } }).session.id;
    const verified = await request(
      verify,
      'POST',
      `/api/v1/auth/${id}/verify`,
      headers,
      `pin=${pinOf(started, id, lane)}`,
    );
    if (verified.status !== 200) throw new Error(`verify ${verified.status} ${verified.body}`);
  };
}

/**
 * The floor: the same flows against `bench/authFloor.ts`, the chosen libraries serving the two
 * routes with none of the service's own work. The service can never be faster than this.
 */
async function floorPhase() {
  const { child, port } = await startScript('bench/authFloor.ts');
  const flow = flowOn(
    port,
    { 'Content-Type': 'application/x-www-form-urlencoded' },
    (started) => String(started.headers['x-floor-pin']), // the fixture's stand-in for an SMS
  );
  const result = await measure(child, flow, 300);
  await stopChild(child);
  return result;
}

/** The service as `npm start` runs it. */
let SERVER: string[] = [];

async function flows(dir: string, port: number, label: string, until?: string) {
  const child = await startService(SERVER, dir, port, until);
  const outbox = new Outbox(join(dir, 'data', 'outbox.jsonl'));
  const headers = { Authorization: `Bearer ${TOKEN}`, 'Content-Type': 'application/x-www-form-urlencoded' };
  const flow = flowOn(port, headers, (_, id) => outbox.pinFor(`${id}:1`));
  const result = await measure(child, flow, 100);
  process.stdout.write(`  client CPU ${result.clientPercent.toFixed(0)}%\n`);
  // Where the waiting goes: the store's commits (write and sync) and the collector's pauses.
  const metrics = (await request(port, 'GET', '/metrics')).body;
  const sum = (re: RegExp) => [...metrics.matchAll(re)].reduce((total, m) => total + Number(m[1]), 0);
  const commits = sum(/^smspds_store_commit_seconds_count (\S+)/gm);
  const commitMs = (sum(/^smspds_store_commit_seconds_sum (\S+)/gm) * 1000) / Math.max(1, commits);
  const gcMs = sum(/^smspds_nodejs_gc_duration_seconds_sum\{[^}]*\} (\S+)/gm) * 1000;
  await stopChild(child);
  process.stdout.write(`  ${label}: done\n`);
  return { ...result, commitMs, gcMs };
}

function setup(store: Record<string, unknown> = {}): string {
  const dir = mkdtempSync(join(tmpdir(), 'smspds-bench-'));
  writeFileSync(
    join(dir, 'config.json'),
    JSON.stringify({
      ...store,
      auth: { terminalTokens: [TOKEN], adminTokens: [ADMIN] },
      limits: { perPhonePerHour: 0, perTerminalPerHour: 0, perTerminalPerDay: 0, smsPerDay: 0 },
      otp: { resendCooldownSeconds: 0 },
    }),
  );
  return dir;
}

async function seedCards(dir: string, port: number) {
  const child = await startService(SERVER, dir, port);
  const lines = ['number,name,phone'];
  for (let lane = 0; lane <= CONCURRENCY; lane++) {
    for (let i = 0; i < PHONES_PER_LANE; i++)
      lines.push(`${1_000_000 + lane * PHONES_PER_LANE + i},Гость ${lane}-${i},${phoneOf(lane, i)}`);
  }
  const res = await request(
    port,
    'POST',
    '/api/v1/cards/import',
    { Authorization: `Bearer ${ADMIN}`, 'Content-Type': 'text/csv' },
    lines.join('\n'),
  );
  if (res.status !== 200) throw new Error(`seed: ${res.status} ${res.body}`);
  await stopChild(child);
}

const fmt = (n: number, d = 0) =>
  n.toLocaleString('en-US', { maximumFractionDigits: d, minimumFractionDigits: d });

type Phase = Awaited<ReturnType<typeof flows>>;

/** The rounds of one phase as one: rates over all of them, percentiles over every flow. */
function combined(rounds: Phase[]) {
  const latencies = rounds.flatMap((r) => r.latencies).sort((a, b) => a - b);
  const count = latencies.length;
  const cpu = rounds.reduce((t, r) => t + r.cpuUs * r.count, 0);
  return {
    perSecond: count / (SECONDS * rounds.length),
    p50: percentile(latencies, 50),
    p99: percentile(latencies, 99),
    cpuUs: cpu / Math.max(1, count),
    errors: rounds.reduce((t, r) => t + r.errors, 0),
    rss: Math.max(...rounds.map((r) => r.mem.rss)),
    peak: Math.max(...rounds.map((r) => r.mem.peak)),
  };
}

async function main() {
  process.stdout.write(
    `SMS PDS authorization benchmark — ${CONCURRENCY} concurrent, ${SECONDS} s per phase, ${ROUNDS} rounds, ${machine()}\n`,
  );
  SERVER = serverArgs();
  const koa = await koaBaseline();
  process.stdout.write(`  bare Koa: done\n`);
  const floor = await floorPhase();
  process.stdout.write(`  the chosen stack alone: done\n`);
  const dir = setup();
  const fullDir = `${dir}-full`;
  try {
    const port = 18_000 + Math.floor(Math.random() * 2000);
    await seedCards(dir, port);
    cpSync(dir, fullDir, { recursive: true });
    const started = performance.now();
    await fillArchive(join(fullDir, 'data'), ARCHIVE, (i) => phoneOf(i % 50, i));
    // The fill wrote a gigabyte the kernel would still be writing back during the phase,
    // slowing every fsync of it: that is the bench's own cost, not the service's.
    execFileSync('sync');
    const fillSeconds = (performance.now() - started) / 1000;
    const freshRounds: Phase[] = [];
    const fullRounds: Phase[] = [];
    for (let round = 1; round <= ROUNDS; round++) {
      const freshDir = `${dir}-fresh${round}`;
      cpSync(dir, freshDir, { recursive: true });
      try {
        freshRounds.push(await flows(freshDir, port, `fresh data folder, round ${round}`));
      } finally {
        rmSync(freshDir, { recursive: true, force: true });
      }
      // The fill wrote the archive behind the service's back, so its day summaries (which the
      // service keeps as days are written) are built in the background at the first start: the
      // phase is measured once they are ready, as a service that wrote that history would be.
      fullRounds.push(
        await flows(
          fullDir,
          port,
          `${fmt(ARCHIVE)} closed sessions, round ${round}`,
          // Later starts take the summaries the first one wrote at its shutdown.
          round === 1 ? 'archive day summaries ready' : undefined,
        ),
      );
    }
    const fresh = combined(freshRounds);
    const full = combined(fullRounds);
    const rows = [
      ['bare Koa hello (req/s)', fmt(koa.perSecond), fmt(koa.p50, 2), fmt(koa.p99, 2), fmt(koa.mem.rss)],
      [
        'floor: the stack alone (flows/s)',
        fmt(floor.perSecond),
        fmt(floor.p50, 2),
        fmt(floor.p99, 2),
        fmt(floor.mem.rss),
      ],
      ['flows, fresh (flows/s)', fmt(fresh.perSecond), fmt(fresh.p50, 2), fmt(fresh.p99, 2), fmt(fresh.rss)],
      [
        `flows, ${fmt(ARCHIVE)} archived`,
        fmt(full.perSecond),
        fmt(full.p50, 2),
        fmt(full.p99, 2),
        fmt(full.rss),
      ],
    ];
    process.stdout.write(
      `\n${'phase'.padEnd(34)}${'rate'.padStart(10)}${'p50 ms'.padStart(10)}${'p99 ms'.padStart(10)}${'RSS MB'.padStart(10)}\n`,
    );
    for (const r of rows)
      process.stdout.write(
        `${r[0]!.padEnd(34)}${r
          .slice(1)
          .map((c) => c!.padStart(10))
          .join('')}\n`,
      );
    const ratio = fresh.perSecond / koa.perSecond;
    const floorRatio = floor.perSecond / koa.perSecond;
    const archiveRatio = full.perSecond / fresh.perSecond;
    process.stdout.write(
      `\nflows/s ÷ Koa req/s        ${fmt(ratio * 100, 1)} %   (target ≥ 10 %)\n` +
        `p99 ÷ p50 (fresh)          ${fmt(fresh.p99 / fresh.p50, 1)}     (target ≤ 3; p99 ${fmt(fresh.p99, 2)} ms, p50 ${fmt(fresh.p50, 2)} ms)\n` +
        `full archive ÷ fresh       ${fmt(archiveRatio * 100, 1)} %   (target ≥ 90 %); by round ${freshRounds
          .map((f, i) => `${fmt((fullRounds[i]!.perSecond / f.perSecond) * 100)} %`)
          .join(', ')}\n` +
        `flows ÷ floor              ${fmt((fresh.perSecond / floor.perSecond) * 100, 1)} %   (target ≥ 70 %; floor ÷ Koa ${fmt(floorRatio * 100, 1)} %, floor p99 ${fmt(floor.p99, 2)} ms)\n` +
        `server CPU per flow        ${fmt(fresh.cpuUs)} µs fresh (target ≤ 500 µs), ${fmt(full.cpuUs)} µs with the archive, ${fmt(floor.cpuUs)} µs the floor\n` +
        `store commit (write+sync)  ${freshRounds[0]!.commitMs.toFixed(1)} ms on average, fresh round 1 (every answer waits for one)\n` +
        `GC pauses, fresh round 1   ${(freshRounds[0]!.gcMs / 1000).toFixed(2)} s over the server's life\n` +
        `archive filled in ${fmt(fillSeconds, 1)} s; peak server RSS ${fmt(Math.max(fresh.peak, full.peak))} MB; errors ${fresh.errors + full.errors}\n`,
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
    rmSync(fullDir, { recursive: true, force: true });
  }
}

/**
 * Flows through two instances on one database: a start on one, its verify on the other (lanes
 * alternate which starts), each PIN read from the outbox of the instance that sent it.
 */
async function twoInstances(dirs: [string, string], ports: [number, number]) {
  const children = await Promise.all([
    startService(SERVER, dirs[0], ports[0]),
    startService(SERVER, dirs[1], ports[1]),
  ]);
  const outboxes = dirs.map((d) => new Outbox(join(d, 'data', 'outbox.jsonl')));
  const headers = { Authorization: `Bearer ${TOKEN}`, 'Content-Type': 'application/x-www-form-urlencoded' };
  // Lanes alternate which instance starts; the other verifies. The PIN is in the outbox of the
  // instance that sent it.
  const worker = flowOn(
    (lane) => ({ start: ports[lane % 2]!, verify: ports[1 - (lane % 2)]! }),
    headers,
    (_, id, lane) => outboxes[lane % 2]!.pinFor(`${id}:1`),
  );
  for (let i = 0; i < 100; i++) await worker(CONCURRENCY, i);
  const cpuBefore = children.map((c) => cpuMsOf(c.pid!));
  const result = await drive(CONCURRENCY, SECONDS, worker);
  const cpuMs = children.reduce((t, c, i) => t + cpuMsOf(c.pid!) - cpuBefore[i]!, 0);
  const mem = children.map((c) => rssOf(c.pid!).rss);
  await Promise.all(children.map((c) => stopChild(c)));
  return { ...result, rss: Math.max(...mem), cpuUs: (cpuMs * 1000) / Math.max(1, result.count) };
}

async function postgresMain() {
  process.stdout.write(
    `SMS PDS authorization benchmark, PostgreSQL against embedded — ${CONCURRENCY} concurrent, ${SECONDS} s per phase, ${ROUNDS} rounds, ${machine()}\n`,
  );
  SERVER = serverArgs();
  const secret = join(mkdtempSync(join(tmpdir(), 'smspds-bench-secret-')), 'secret.key');
  writeFileSync(secret, 'ab'.repeat(32), { mode: 0o600 });
  const port = 18_000 + Math.floor(Math.random() * 2000);
  const embeddedDir = setup();
  await seedCards(embeddedDir, port);
  const embedded: Phase[] = [];
  const one: Phase[] = [];
  const two: Array<Awaited<ReturnType<typeof twoInstances>>> = [];
  const dirs: string[] = [embeddedDir];
  const databases: string[] = [];
  try {
    for (let round = 1; round <= ROUNDS; round++) {
      const fresh = `${embeddedDir}-fresh${round}`;
      cpSync(embeddedDir, fresh, { recursive: true });
      dirs.push(fresh);
      embedded.push(await flows(fresh, port, `embedded, round ${round}`));
      // One instance on a database of its own, seeded with the same cards.
      const url = await newDatabase(`bench_auth_${round}`);
      databases.push(url);
      const store = { store: { engine: 'postgres', url }, secretFile: secret };
      const single = setup(store);
      dirs.push(single);
      await seedCards(single, port);
      one.push(await flows(single, port, `postgres, one instance, round ${round}`));
      // Two instances on another database.
      const shared = await newDatabase(`bench_auth_two_${round}`);
      databases.push(shared);
      const pair = [
        setup({ ...store, store: { engine: 'postgres', url: shared } }),
        setup({ ...store, store: { engine: 'postgres', url: shared } }),
      ] as [string, string];
      dirs.push(...pair);
      await seedCards(pair[0], port);
      two.push(await twoInstances(pair, [port, port + 1]));
      process.stdout.write(`  postgres, two instances, round ${round}: done\n`);
    }
    const e = combined(embedded);
    const p = combined(one);
    const latencies = two.flatMap((r) => r.latencies).sort((a, b) => a - b);
    const t = {
      perSecond: latencies.length / (SECONDS * two.length),
      p50: percentile(latencies, 50),
      p99: percentile(latencies, 99),
      rss: Math.max(...two.map((r) => r.rss)),
      errors: two.reduce((n, r) => n + r.errors, 0),
      cpuUs: two.reduce((n, r) => n + r.cpuUs * r.count, 0) / Math.max(1, latencies.length),
    };
    process.stdout.write(
      `\n${'phase'.padEnd(30)}${'flows/s'.padStart(9)}${'p50 ms'.padStart(9)}${'p99 ms'.padStart(9)}${'RSS MB'.padStart(8)}${'service CPU µs/flow'.padStart(21)}\n`,
    );
    for (const [label, r] of [
      ['embedded', e],
      ['postgres, one instance', p],
      ['postgres, two instances (both)', t],
    ] as const)
      process.stdout.write(
        `${label.padEnd(30)}${fmt(r.perSecond).padStart(9)}${fmt(r.p50, 1).padStart(9)}${fmt(r.p99, 1).padStart(9)}${fmt(r.rss).padStart(8)}${fmt(r.cpuUs).padStart(21)}\n`,
      );
    process.stdout.write(
      `\npostgres ÷ embedded         ${fmt((p.perSecond / e.perSecond) * 100, 1)} %   (target ≥ 50 %); by round ${embedded
        .map((r, i) => `${fmt((one[i]!.perSecond / r.perSecond) * 100)} %`)
        .join(', ')}\n` +
        `p99 ÷ p50, one instance     ${fmt(p.p99 / p.p50, 1)}     (target ≤ 3)\n` +
        `p99 ÷ p50, two instances    ${fmt(t.p99 / t.p50, 1)}\n` +
        `two instances ÷ one         ${fmt((t.perSecond / p.perSecond) * 100, 1)} %   (target ≥ 100 %); by round ${one
          .map((r, i) => `${fmt((two[i]!.perSecond / r.perSecond) * 100)} %`)
          .join(', ')}\n` +
        `errors ${e.errors + p.errors + t.errors}\n`,
    );
  } finally {
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
    for (const url of databases) await dropDatabase(url).catch(() => undefined);
  }
}

runMain(args.engine === 'postgres' ? postgresMain : main);
