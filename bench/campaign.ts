/**
 * `npm run bench:campaign` — a campaign to 100,000 consenting holders through an unthrottled
 * fake sms.ru on 127.0.0.1, against the fake's own capacity measured in the same run (a client
 * sending to it directly at the same concurrency). Prints messages/s, the ratio to the
 * provider's capacity, and the server's peak RSS (target: under 250 MB; dispatch limited by the
 * provider, not by us). Options: --holders N (default 100000), --rate N (the campaign's
 * `ratePerSecond`, default 100000: above what the fake takes, so the throttle does not bind),
 * --latency MS (default 50).
 *
 * Two campaigns run on one service: through the fake answering at once (the raw capacity of
 * both sides on this machine), then through the fake answering each request after `--latency`
 * ms, as a provider across the internet does. Each is compared with the fake alone at the same
 * latency, in the same run.
 *
 * After the first, the floor: the service's sms.ru adapter alone, in a process of its own
 * (`bench/campaignFloor.ts`), sends the same number of messages in the same shape through the
 * instant fake, with none of the campaign's bookkeeping: the most a campaign could reach here.
 *
 * Then, on the same data folder, a third campaign runs inside this process with a provider
 * adapter that accepts every request at once and makes no HTTP exchange: what our side costs a
 * message on its own (audience walk, consent, rendering, outcome lines, commits, counts).
 *
 * The dispatch rate is timed at the provider: from the first request it received to the last,
 * so the audience walk before the first send (printed apart) and the polling interval do not
 * blur it.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { parseArgs, promisify } from 'node:util';
import { JournaledStore } from '../adapters/store/journaled.ts';
import { EmbeddedCardDirectory } from '../adapters/cards/lowdb.ts';
import { EmbeddedConsentRows } from '../adapters/store/consentTable.ts';
import { ConsentLedger, consentTables } from '../runtime/consents.ts';
import pino from 'pino';
import { FakeSmsru } from '../test/fakes/providers/smsru.ts';
import { parseConfig } from '../runtime/config.ts';
import { buildService, listen } from '../compose.ts';
import type { SmsMessage, SmsReceipt, SmsSender } from '../runtime/ports.ts';
import {
  ROOT,
  cpuMsOf,
  machine,
  request,
  rssOf,
  runMain,
  serverArgs,
  startService,
  stopChild,
  providerAlone,
} from './lib.ts';

const { values: args } = parseArgs({
  options: {
    holders: { type: 'string', default: '100000' },
    rate: { type: 'string', default: '100000' },
    latency: { type: 'string', default: '50' },
  },
});
const HOLDERS = Number(args.holders);
const RATE = Number(args.rate);
const LATENCY = Number(args.latency);
const ADMIN = 'bench-admin-token-00000000';
const phoneOf = (i: number) => `+7916${String(i).padStart(7, '0')}`;

async function seed(dataDir: string) {
  const store = await JournaledStore.open(dataDir, [...EmbeddedCardDirectory.tables, ...consentTables]);
  const directory = new EmbeddedCardDirectory(store);
  const consents = new ConsentLedger(new EmbeddedConsentRows(store));
  const at = new Date().toISOString();
  for (let i = 0; i < HOLDERS; i += 10_000) {
    const rows = [];
    for (let j = i; j < Math.min(HOLDERS, i + 10_000); j++) {
      rows.push({
        line: j + 1,
        number: String(2_000_000 + j),
        expiresAt: null,
        discount: 5,
        bonus: 0,
        blocked: false,
        holder: { fullName: `Гость Номер ${j}`, birthday: '1990-01-01', phone: phoneOf(j) },
      });
      consents.record(phoneOf(j), { at, marketing: true, source: 'bench', by: 'bench' });
    }
    await directory.import(rows, { partial: false, at });
  }
  await store.close();
}

interface Phase {
  label: string;
  alone: number;
  rate: number;
  sent: number;
  toFirstSend: number;
  sending: number;
  serverCpuUs: number;
  providerCpuUs: number;
  requests: number;
  phones: number;
}

const ADMIN_JSON = { Authorization: `Bearer ${ADMIN}`, 'Content-Type': 'application/json' };

/** A campaign to every consenting holder, with a personalised text; its id. */
async function createCampaign(port: number, name: string): Promise<string> {
  const body = JSON.stringify({ name, text: '{firstName}, у нас новое меню!', ratePerSecond: RATE });
  return JSON.parse((await request(port, 'POST', '/api/v1/campaigns', ADMIN_JSON, body)).body).campaign.id;
}

/** Start a campaign and poll its record every `pollMs` until its run no longer runs; that record. */
async function runToEnd(port: number, id: string, pollMs: number) {
  const started = await request(port, 'POST', `/api/v1/campaigns/${id}/start`, ADMIN_JSON, '{}');
  if (started.status !== 200) throw new Error(started.body);
  for (;;) {
    await new Promise((r) => setTimeout(r, pollMs));
    const c = JSON.parse((await request(port, 'GET', `/api/v1/campaigns/${id}`, ADMIN_JSON)).body).campaign;
    if (c.state !== 'running') return c;
  }
}

/** One campaign to every holder through the service; timed at the provider. */
async function campaign(
  svcPort: number,
  pid: number,
  fake: FakeSmsru,
  label: string,
  alone: number,
): Promise<Phase> {
  const id = await createCampaign(svcPort, label);
  fake.requests.length = 0;
  const t0 = performance.now();
  const serverCpu0 = cpuMsOf(pid);
  const benchCpu0 = process.cpuUsage();
  const c = await runToEnd(svcPort, id, 200);
  const serverCpuMs = cpuMsOf(pid) - serverCpu0;
  const benchCpu = process.cpuUsage(benchCpu0);
  return {
    ...atProvider(fake, c.counts.sent),
    label,
    alone,
    sent: c.counts.sent,
    toFirstSend: (fake.sent('/sms/send')[0]!.at - t0) / 1000,
    serverCpuUs: (serverCpuMs * 1000) / c.counts.sent,
    providerCpuUs: (benchCpu.user + benchCpu.system) / c.counts.sent, // cpuUsage counts µs
  };
}

/**
 * What the fake received, timed there: the messages of every request but the last, over the
 * time from the first request to the last.
 */
function atProvider(fake: FakeSmsru, sent: number) {
  const sends = fake.sent('/sms/send');
  /** The numbers a request carried (`to[79…]` fields). */
  const numbers = (r: (typeof sends)[number]) => Object.keys(r.fields).filter((k) => k.startsWith('to['));
  const sending = (sends.at(-1)!.at - sends[0]!.at) / 1000;
  return {
    rate: (sent - numbers(sends.at(-1)!).length) / sending,
    sending,
    requests: sends.length,
    phones: new Set(sends.flatMap(numbers)).size,
  };
}

/**
 * The floor: the same messages sent by the sms.ru adapter alone, in a process of its own
 * (`bench/campaignFloor.ts`), with none of the campaign's bookkeeping; timed at the provider.
 */
async function floor(fake: FakeSmsru, alone: number): Promise<Phase> {
  fake.requests.length = 0;
  const benchCpu0 = process.cpuUsage();
  const { stdout } = await promisify(execFile)(
    process.execPath,
    ['--import', 'tsx', 'bench/campaignFloor.ts', fake.url, String(HOLDERS)],
    { cwd: ROOT },
  );
  const benchCpu = process.cpuUsage(benchCpu0);
  const [, count, cpuUs] = /floor (\d+) (\S+)/.exec(stdout)!;
  const sent = Number(count);
  return {
    ...atProvider(fake, sent),
    label: 'floor: the adapter alone',
    alone,
    sent,
    toFirstSend: NaN,
    serverCpuUs: Number(cpuUs),
    providerCpuUs: (benchCpu.user + benchCpu.system) / sent,
  };
}

/** A provider adapter that takes every batch at once, in this process, with no HTTP exchange. */
class InstantBatches implements SmsSender {
  readonly name = 'smsru';
  readonly idempotent = false;
  readonly maxBatch = 100;
  first = 0;
  last = 0;
  lastSize = 0;
  requests = 0;
  phones = new Set<string>();
  private n = 0;
  async send(message: SmsMessage): Promise<SmsReceipt> {
    return (await this.sendMany([message]))[0] as SmsReceipt;
  }
  async sendMany(messages: SmsMessage[]): Promise<Array<SmsReceipt | Error>> {
    this.last = performance.now();
    this.first ||= this.last;
    this.lastSize = messages.length;
    this.requests += 1;
    const acceptedAt = new Date().toISOString();
    return messages.map((m) => {
      this.phones.add(m.to);
      return {
        provider: this.name,
        messageId: `m-${++this.n}`,
        segments: m.segments,
        cost: '1.5',
        status: 'queued',
        acceptedAt,
      };
    });
  }
}

/** The same campaign run by the service inside this process, through `InstantBatches`. */
async function inProcess(dir: string): Promise<Phase> {
  const sender = new InstantBatches();
  const config = parseConfig({
    ...JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8')),
    dataDir: join(dir, 'data'),
  });
  const service = await buildService(config, {
    logger: pino({ level: 'warn' }),
    senders: [sender],
    defaultMetrics: false,
    cron: false,
  });
  const { server, stop } = await listen(service, '127.0.0.1', 0);
  try {
    const address = server.address();
    const port = typeof address === 'object' && address ? address.port : 0;
    const id = await createCampaign(port, 'in process');
    const t0 = performance.now();
    const cpu0 = process.cpuUsage();
    const c = await runToEnd(port, id, 50);
    const cpu = process.cpuUsage(cpu0);
    const sending = (sender.last - sender.first) / 1000;
    return {
      label: 'in process, no HTTP',
      alone: NaN,
      rate: (c.counts.sent - sender.lastSize) / sending,
      sent: c.counts.sent,
      toFirstSend: (sender.first - t0) / 1000,
      sending,
      serverCpuUs: (cpu.user + cpu.system) / c.counts.sent,
      providerCpuUs: NaN,
      requests: sender.requests,
      phones: sender.phones.size,
    };
  } finally {
    await stop();
  }
}

async function main() {
  const dir = mkdtempSync(join(tmpdir(), 'smspds-bench-campaign-'));
  const fake = await new FakeSmsru().start();
  try {
    process.stdout.write(
      `SMS PDS campaign benchmark — ${HOLDERS.toLocaleString('en-US')} consenting holders, ${machine()}\n`,
    );
    await seed(join(dir, 'data'));
    writeFileSync(
      join(dir, 'config.json'),
      JSON.stringify({
        auth: { adminTokens: [ADMIN] },
        sms: { providers: ['smsru'], smsru: { apiId: 'API-ID-1', url: fake.url } },
        limits: { smsPerDay: 0 },
        campaigns: { quietHours: false },
      }),
    );
    const svcPort = 19_000 + Math.floor(Math.random() * 1000);
    const child = await startService(serverArgs(), dir, svcPort);
    const idle = rssOf(child.pid!).rss;
    const phases: Phase[] = [];
    for (const latency of [0, LATENCY]) {
      fake.delayMs = latency;
      const label = latency ? `fake answering in ${latency} ms` : 'instant fake';
      const alone = await providerAlone(fake, latency ? 3 : 5);
      process.stdout.write(
        `  ${label}: provider alone ${Math.round(alone).toLocaleString('en-US')} messages/s\n`,
      );
      phases.push(await campaign(svcPort, child.pid!, fake, label, alone));
      if (!latency) phases.push(await floor(fake, alone));
      process.stdout.write(
        `  ${label}: campaign done, server RSS peak so far ${Math.round(rssOf(child.pid!).peak)} MB\n`,
      );
    }
    const mem = rssOf(child.pid!);
    const metrics = (await request(svcPort, 'GET', '/metrics')).body;
    const metric = (name: string) =>
      Number(new RegExp(`^smspds_${name} (\\S+)`, 'm').exec(metrics)?.[1] ?? NaN) / 1048576;
    await stopChild(child);
    phases.push(await inProcess(dir));
    process.stdout.write(`  in process, no HTTP: campaign done\n`);
    const n = (x: number) => (Number.isNaN(x) ? '—' : Math.round(x).toLocaleString('en-US'));
    const pct = (x: number) => (Number.isNaN(x) ? '—' : `${(x * 100).toFixed(1)} %`);
    const us = (x: number) => (Number.isNaN(x) ? '—' : x.toFixed(1));
    process.stdout.write(
      `\n${'provider'.padEnd(30)}${'alone msg/s'.padStart(13)}${'campaign msg/s'.padStart(16)}${'ratio'.padStart(8)}${'first send s'.padStart(14)}${'server µs/msg'.padStart(15)}${'fake µs/msg'.padStart(13)}\n` +
        phases
          .map(
            (p) =>
              `${p.label.padEnd(30)}${n(p.alone).padStart(13)}${n(p.rate).padStart(16)}${pct(p.rate / p.alone).padStart(8)}${(Number.isNaN(p.toFirstSend) ? '—' : p.toFirstSend.toFixed(2)).padStart(14)}${us(p.serverCpuUs).padStart(15)}${us(p.providerCpuUs).padStart(13)}\n`,
          )
          .join('') +
        `\n` +
        phases
          .map(
            (p) =>
              `${p.label}: ${n(p.sent)} sent, ${n(p.requests)} requests for ${n(p.phones)} distinct phones, ${p.sending.toFixed(2)} s of sending\n`,
          )
          .join('') +
        `server RSS: peak ${n(mem.peak)} MB (target < 250 MB), before the first start ${n(idle)} MB, at end ${n(mem.rss)} MB; ` +
        `JS heap in use ${n(metric('nodejs_heap_size_used_bytes'))} MB of ${n(metric('nodejs_heap_size_total_bytes'))} MB\n` +
        `(the fake's µs/msg include this script's polling; the ratio is campaign ÷ provider alone, timed at the provider;\n` +
        ` the floor row is the sms.ru adapter alone in a process of its own, its CPU under "server";\n` +
        ` the in-process row is the service in this process on the same data, its CPU over that campaign: our side without HTTP)\n`,
    );
  } finally {
    await fake.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

runMain(main);
