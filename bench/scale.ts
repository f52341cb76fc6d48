/**
 * `npm run bench:scale` — the card base in PostgreSQL at chain size: what an instance pays for
 * 2,000,000 cards (`--cards N`) against 10,000, through the PostgreSQL card directory.
 *
 * For each size, on a database of its own: the cards are filled by SQL (setup, not measured),
 * then an instance's share is measured — its memory (RSS grows by nothing per card: the cards
 * stay in the database), the time from a new connection to its first answer (schema check
 * included), and the card lookups of an authorization start (by phone, then by number) one at a
 * time and 16 at once, p50 and p99. The baseline, in the same run: a `SELECT 1` round trip.
 *
 * The server: `SMSPDS_BENCH_DATABASE_URL` (a role that may create databases), or a throwaway
 * cluster of the installed PostgreSQL, as the tests make it.
 *
 * Then the whole service, as `npm start` runs it, on those databases (`instance`): the time
 * from the process's start to its first answer, its RSS after the start and after the load, and
 * the authorization start over HTTP (a card lookup by phone, the PIN window written, the SMS to
 * the console provider) one at a time and 8 at once, p50 and p99, 2,000,000 ÷ 10,000.
 *
 * Then a campaign (`campaign`): `--recipients N` (default 1,000,000) consenting holders filled
 * by SQL, two instances on the database, a fake sms.ru on 127.0.0.1 answering each request after
 * `--latency` ms (default 50). The campaign is created and started on the first instance; its
 * batches run on one instance at a time (the other takes over if it dies). Printed: the dispatch
 * rate timed at the provider against the fake's own capacity at the same latency (the fake
 * driven directly, 100 numbers a request, 4 at a time, as the service sends), each instance's
 * peak RSS (target ≤ 250 MB), and the numbers the fake received against the recipients: every
 * one once, none twice.
 *
 * `--only directory|instance|campaign` runs one part.
 */
import { parseArgs } from 'node:util';
import { Database } from '../adapters/postgres/database.ts';
import { migrate } from '../adapters/postgres/schema.ts';
import { PostgresCardDirectory } from '../adapters/postgres/cardDirectory.ts';
import { dropDatabase, newDatabase } from '../test/postgres.ts';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ChildProcess } from 'node:child_process';
import { FakeSmsru } from '../test/fakes/providers/smsru.ts';
import {
  machine,
  percentile,
  providerAlone,
  request,
  rssOf,
  runMain,
  serverArgs,
  startService,
  stopChild,
} from './lib.ts';

const { values: args } = parseArgs({
  options: {
    cards: { type: 'string', default: '2000000' },
    lookups: { type: 'string', default: '4000' },
    recipients: { type: 'string', default: '1000000' },
    latency: { type: 'string', default: '50' },
    only: { type: 'string' },
  },
});
const LARGE = Number(args.cards);
const SMALL = 10_000;
const LOOKUPS = Number(args.lookups);
const RECIPIENTS = Number(args.recipients);
const LATENCY = Number(args.latency);
const TOKEN = 'bench-terminal-token-000000';
const ADMIN = 'bench-admin-token-00000000';
const part = (name: string) => !args.only || args.only === name;

if (process.env.SMSPDS_BENCH_DATABASE_URL)
  process.env.SMSPDS_TEST_DATABASE_URL = process.env.SMSPDS_BENCH_DATABASE_URL;

const phoneOf = (n: number) => `+7916${String(n).padStart(7, '0')}`;
const FIRST = 1_000_000;

/**
 * Fill `table` with `count` rows by SQL (setup, not measured): `select` makes the rows of the
 * numbers $1..$2 (a card's number, its holder's phone `+7916` and the number), $3 a timestamp.
 */
async function fillTable(db: Database, table: string, columns: string, select: string, count: number) {
  const at = '2026-11-29T10:00:00.000Z';
  const step = 250_000;
  for (let from = FIRST; from < FIRST + count; from += step) {
    const to = Math.min(FIRST + count, from + step) - 1;
    await db.query(`INSERT INTO ${table} (${columns}) ${select}`, [from, to, at]);
    process.stderr.write(
      `  ${table}: ${(to - FIRST + 1).toLocaleString('en-US')} of ${count.toLocaleString('en-US')}\r`,
    );
  }
  process.stderr.write('\n');
  await db.query(`VACUUM ANALYZE ${table}`);
}

/** `count` cards, each with its holder. */
const fill = (db: Database, count: number) =>
  fillTable(
    db,
    'cards',
    'number, state, virtual, has_holder, phone, updated_at, record',
    `SELECT n::text, 'active', false, true, '+7916' || lpad(n::text, 7, '0'), $3::text,
       jsonb_build_object('number', n::text, 'state', 'active', 'virtual', false, 'discount', 5,
         'bonus', 1, 'expiresAt', null, 'rangeId', null,
         'holder', jsonb_build_object('fullName', 'Гость ' || n, 'birthday', '1990-01-01',
                                      'phone', '+7916' || lpad(n::text, 7, '0')),
         'activatedAt', $3::text, 'createdAt', $3::text, 'updatedAt', $3::text)
     FROM generate_series($1::int, $2::int) AS n`,
    count,
  );

/** Latencies (ms) of `n` calls of `op`, `concurrency` at a time. */
async function timed(n: number, concurrency: number, op: (i: number) => Promise<unknown>) {
  const times: number[] = [];
  let next = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < n) {
        const i = next++;
        const t = performance.now();
        await op(i);
        times.push(performance.now() - t);
      }
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  times.sort((a, b) => a - b);
  return { p50: percentile(times, 50), p99: percentile(times, 99), perSecond: n / seconds };
}

async function measure(count: number) {
  const url = await newDatabase(`scale_${count}`);
  const setup = new Database(url);
  try {
    await migrate(setup);
    await fill(setup, count);
    const rssBefore = process.memoryUsage().rss;
    const opened = performance.now();
    const db = new Database(url);
    await migrate(db); // what an instance does at start: the schema is current, nothing to apply
    const directory = new PostgresCardDirectory(db);
    await directory.get(String(FIRST));
    const startMs = performance.now() - opened;
    const pick = (i: number) => FIRST + ((i * 7919) % count);
    const lookup = async (i: number) => {
      const cards = await directory.byPhone(phoneOf(pick(i)));
      if (!cards.length) throw new Error(`no card for ${phoneOf(pick(i))}`);
      await directory.get(cards[0]!.number);
    };
    await timed(500, 4, lookup); // warm: connections open, plans cached
    const floor1 = await timed(LOOKUPS, 1, () => db.query('SELECT 1'));
    const one = await timed(LOOKUPS, 1, lookup);
    const floor16 = await timed(LOOKUPS, 16, () => db.query('SELECT 1'));
    const many = await timed(LOOKUPS, 16, lookup);
    const rssGrowth = process.memoryUsage().rss - rssBefore;
    await db.close();
    return { count, startMs, one, many, floor1, floor16, rssGrowth };
  } finally {
    await setup.close();
    await dropDatabase(url);
  }
}

async function directoryPart() {
  process.stdout.write(`\n== the PostgreSQL card directory ==\n`);
  const results = [];
  for (const count of [SMALL, LARGE]) {
    process.stderr.write(`${count.toLocaleString('en-US')} cards:\n`);
    results.push(await measure(count));
  }
  const ms = (v: number) => `${v.toFixed(2)} ms`;
  for (const r of results) {
    process.stdout.write(
      `\n${r.count.toLocaleString('en-US')} cards\n` +
        `  instance start to first answer  ${ms(r.startMs)}; RSS growth while measuring ${(r.rssGrowth / 1e6).toFixed(1)} MB\n` +
        `  lookup (by phone, then number), one at a time: p50 ${ms(r.one.p50)}, p99 ${ms(r.one.p99)} ` +
        `(SELECT 1: p50 ${ms(r.floor1.p50)}, p99 ${ms(r.floor1.p99)})\n` +
        `  16 at once: ${Math.round(r.many.perSecond)} lookups/s, p50 ${ms(r.many.p50)}, p99 ${ms(r.many.p99)} ` +
        `(SELECT 1: ${Math.round(r.floor16.perSecond)}/s)\n`,
    );
  }
  const [small, large] = results as [(typeof results)[0], (typeof results)[0]];
  const ratio = (a: number, b: number) => `${((a / b) * 100).toFixed(0)} %`;
  process.stdout.write(
    `\n${large.count.toLocaleString('en-US')} ÷ ${small.count.toLocaleString('en-US')} cards: ` +
      `lookup p99 ${ratio(large.one.p99, small.one.p99)} one at a time, ${ratio(large.many.p99, small.many.p99)} at 16 ` +
      `(target ≤ 120 %); start ${ms(large.startMs)} (target ≤ 2 s)\n`,
  );
}

/** A folder with a config for an instance of the service on `url`. */
function instanceDir(url: string, secretFile: string, extra: Record<string, unknown> = {}): string {
  const dir = mkdtempSync(join(tmpdir(), 'smspds-scale-'));
  writeFileSync(
    join(dir, 'config.json'),
    JSON.stringify({
      store: { engine: 'postgres', url },
      secretFile,
      auth: { terminalTokens: [TOKEN], adminTokens: [ADMIN] },
      limits: { perPhonePerHour: 0, perTerminalPerHour: 0, perTerminalPerDay: 0, smsPerDay: 0 },
      ...extra,
    }),
  );
  return dir;
}

/** The whole service on `count` cards: start, memory, authorization starts over HTTP. */
async function instanceOn(count: number, server: string[], secretFile: string) {
  const url = await newDatabase(`instance_${count}`);
  const setup = new Database(url);
  const dir = instanceDir(url, secretFile);
  let child: ChildProcess | undefined;
  try {
    await migrate(setup);
    await fill(setup, count);
    const port = 19_000 + Math.floor(Math.random() * 2000);
    const started = performance.now();
    child = await startService(server, dir, port);
    let up = false;
    while (!up) up = (await request(port, 'GET', '/healthz').catch(() => null))?.status === 200;
    const startMs = performance.now() - started;
    const rssStarted = rssOf(child.pid!).rss;
    const headers = { Authorization: `Bearer ${TOKEN}`, 'Content-Type': 'application/x-www-form-urlencoded' };
    let next = 0;
    const pick = () => FIRST + ((next++ * 7919) % count);
    const start = async () => {
      const r = await request(
        port,
        'POST',
        '/api/v1/auth',
        headers,
        `phone=${encodeURIComponent(phoneOf(pick()))}&terminal=S1`,
      );
      if (r.status !== 201) throw new Error(`start ${r.status} ${r.body}`);
    };
    await timed(300, 4, start); // warm
    const one = await timed(Math.min(LOOKUPS, 2000), 1, start);
    const many = await timed(Math.min(LOOKUPS, 2000), 8, start);
    const mem = rssOf(child.pid!);
    return { count, startMs, rssStarted, rss: mem.rss, peak: mem.peak, one, many };
  } finally {
    if (child) await stopChild(child);
    await setup.close();
    await dropDatabase(url);
    rmSync(dir, { recursive: true, force: true });
  }
}

async function instancePart(server: string[], secretFile: string) {
  process.stdout.write(`\n== the whole service on PostgreSQL (npm start's build and flags) ==\n`);
  const results = [];
  for (const count of [SMALL, LARGE]) {
    process.stderr.write(`instance on ${count.toLocaleString('en-US')} cards:\n`);
    results.push(await instanceOn(count, server, secretFile));
  }
  const ms = (v: number) => `${v.toFixed(2)} ms`;
  for (const r of results)
    process.stdout.write(
      `\n${r.count.toLocaleString('en-US')} cards\n` +
        `  process start to first answer  ${Math.round(r.startMs)} ms; RSS ${r.rssStarted.toFixed(0)} MB after the start, ${r.rss.toFixed(0)} MB after the load (peak ${r.peak.toFixed(0)} MB)\n` +
        `  authorization start over HTTP, one at a time: p50 ${ms(r.one.p50)}, p99 ${ms(r.one.p99)}\n` +
        `  8 at once: ${Math.round(r.many.perSecond)} starts/s, p50 ${ms(r.many.p50)}, p99 ${ms(r.many.p99)}\n`,
    );
  const [small, large] = results as [(typeof results)[0], (typeof results)[0]];
  const ratio = (a: number, b: number) => `${((a / b) * 100).toFixed(0)} %`;
  process.stdout.write(
    `\n${large.count.toLocaleString('en-US')} ÷ ${small.count.toLocaleString('en-US')} cards: ` +
      `start p99 ${ratio(large.one.p99, small.one.p99)} one at a time, ${ratio(large.many.p99, small.many.p99)} at 8 ` +
      `(target ≤ 120 %); instance start ${Math.round(large.startMs)} ms (target ≤ 2 s); ` +
      `RSS ${large.peak.toFixed(0)} MB peak (target ≤ 150 MB)\n`,
  );
}

/** `count` holders with consent to news. */
const fillConsents = (db: Database, count: number) =>
  fillTable(
    db,
    'consents',
    'phone, news, record',
    `SELECT p, 'yes', jsonb_build_object('phone', p, 'marketing', true, 'updatedAt', $3::text,
       'history', jsonb_build_array(jsonb_build_object('at', $3::text, 'marketing', true,
                                                       'source', 'bench', 'by', 'bench')))
     FROM (SELECT '+7916' || lpad(n::text, 7, '0') AS p FROM generate_series($1::int, $2::int) AS n) s`,
    count,
  );

async function campaignPart(server: string[], secretFile: string) {
  process.stdout.write(
    `\n== a campaign to ${RECIPIENTS.toLocaleString('en-US')} recipients, two instances, provider answering in ${LATENCY} ms ==\n`,
  );
  const url = await newDatabase('campaign_scale');
  const setup = new Database(url);
  const fake = await new FakeSmsru().start();
  fake.delayMs = LATENCY;
  const sms = { providers: ['smsru'], statusPollSeconds: 0, smsru: { apiId: 'API-ID-1', url: fake.url } };
  const dirs = [instanceDir(url, secretFile, { sms }), instanceDir(url, secretFile, { sms })];
  const children: ChildProcess[] = [];
  try {
    await migrate(setup);
    process.stderr.write('  filling cards and consents\n');
    await fill(setup, RECIPIENTS);
    await fillConsents(setup, RECIPIENTS);
    const alone = await providerAlone(fake, 10);
    const ports = [20_000 + Math.floor(Math.random() * 1000), 21_000 + Math.floor(Math.random() * 1000)];
    for (let i = 0; i < 2; i++) children.push(await startService(server, dirs[i]!, ports[i]!));
    const json = { Authorization: `Bearer ${ADMIN}`, 'Content-Type': 'application/json' };
    const made = await request(
      ports[0]!,
      'POST',
      '/api/v1/campaigns',
      json,
      JSON.stringify({
        name: 'Scale',
        text: '{firstName}, у нас новое меню!',
        ratePerSecond: 100_000,
        quietHours: false,
      }),
    );
    const id = JSON.parse(made.body).campaign.id;
    fake.requests.length = 0;
    const t0 = performance.now();
    const peaks = [0, 0];
    let walkPeak = 0;
    const started = await request(ports[0]!, 'POST', `/api/v1/campaigns/${id}/start`, json, '{}');
    if (started.status !== 200) throw new Error(started.body);
    let campaign;
    for (;;) {
      await new Promise((r) => setTimeout(r, 1000));
      children.forEach((c, i) => (peaks[i] = Math.max(peaks[i]!, rssOf(c.pid!).peak)));
      // Instance A's peak before its first message left: the audience walk and the plan.
      if (!fake.requests.length) walkPeak = rssOf(children[0]!.pid!).peak;
      campaign = JSON.parse((await request(ports[1]!, 'GET', `/api/v1/campaigns/${id}`, json)).body).campaign;
      process.stderr.write(`  ${campaign.state}: ${campaign.counts.sent.toLocaleString('en-US')} sent\r`);
      if (campaign.state !== 'running') break;
    }
    process.stderr.write('\n');
    const sends = fake.sent('/sms/send');
    const received = new Map<string, number>();
    for (const r of sends)
      for (const k of Object.keys(r.fields))
        if (k.startsWith('to[')) received.set(k, (received.get(k) ?? 0) + 1);
    let twice = 0;
    for (const n of received.values()) if (n > 1) twice += 1;
    const numbersIn = (r: (typeof sends)[number]) =>
      Object.keys(r.fields).filter((k) => k.startsWith('to[')).length;
    const sendingS = (sends.at(-1)!.at - sends[0]!.at) / 1000;
    const rate = (campaign.counts.sent - numbersIn(sends.at(-1)!)) / sendingS;
    const c = campaign.counts;
    process.stdout.write(
      `  state ${campaign.state}: sent ${c.sent.toLocaleString('en-US')}, failed ${c.failed}, unknown ${c.unknown}, skipped ${c.skipped}, queued ${c.queued}, sending ${c.sending}, of ${c.total.toLocaleString('en-US')}\n` +
        `  audience walk and plan before the first send: ${((sends[0]!.at - t0) / 1000).toFixed(1)} s; sending ${sendingS.toFixed(1)} s\n` +
        `  dispatch at the provider ${Math.round(rate).toLocaleString('en-US')} msg/s; the fake alone ${Math.round(alone).toLocaleString('en-US')} msg/s: ${((rate / alone) * 100).toFixed(0)} % (provider-bound near 100 %)\n` +
        `  numbers received ${received.size.toLocaleString('en-US')}, received twice ${twice} (target 0)\n` +
        `  peak RSS: instance A ${peaks[0]!.toFixed(0)} MB (${walkPeak.toFixed(0)} MB before the first send), instance B ${peaks[1]!.toFixed(0)} MB (target ≤ 250 MB each)\n`,
    );
  } finally {
    for (const c of children) await stopChild(c);
    await fake.stop();
    await setup.close();
    await dropDatabase(url);
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  }
}

async function main() {
  process.stdout.write(`SMS PDS scale benchmark — PostgreSQL, ${machine()}\n`);
  const secretDir = mkdtempSync(join(tmpdir(), 'smspds-scale-secret-'));
  const secretFile = join(secretDir, 'secret.key');
  writeFileSync(secretFile, 'cd'.repeat(32), { mode: 0o600 });
  try {
    if (part('directory')) await directoryPart();
    const server = part('instance') || part('campaign') ? serverArgs() : [];
    if (part('instance')) await instancePart(server, secretFile);
    if (part('campaign')) await campaignPart(server, secretFile);
  } finally {
    rmSync(secretDir, { recursive: true, force: true });
  }
}

runMain(main);
