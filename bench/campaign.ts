/**
 * `npm run bench:campaign` — a campaign to 100,000 consenting holders through an unthrottled
 * fake sms.ru on 127.0.0.1, against the fake's own capacity measured in the same run (a client
 * sending to it directly at the same concurrency). Prints messages/s, the ratio to the
 * provider's capacity, and the server's peak RSS (target: under 250 MB; dispatch limited by the
 * provider, not by us). Options: --holders N (default 100000), --rate N (default 10000).
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { JournaledStore } from '../adapters/store/journaled.ts';
import { EmbeddedCardDirectory } from '../adapters/cards/lowdb.ts';
import { ConsentLedger, consentTables } from '../runtime/consents.ts';
import { FakeSmsru } from '../test/fakes/providers/smsru.ts';
import { drive, request, rssOf, runMain, serverArgs, startChild, stopChild } from './lib.ts';

const { values: args } = parseArgs({
  options: { holders: { type: 'string', default: '100000' }, rate: { type: 'string', default: '10000' } },
});
const HOLDERS = Number(args.holders);
const RATE = Number(args.rate);
const ADMIN = 'bench-admin-token-00000000';
const phoneOf = (i: number) => `+7916${String(i).padStart(7, '0')}`;

async function seed(dataDir: string) {
  const store = await JournaledStore.open(dataDir, [...EmbeddedCardDirectory.tables, ...consentTables]);
  const directory = new EmbeddedCardDirectory(store);
  const consents = new ConsentLedger(store);
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

async function main() {
  const dir = mkdtempSync(join(tmpdir(), 'smspds-bench-campaign-'));
  const fake = await new FakeSmsru().start();
  try {
    process.stdout.write(
      `SMS PDS campaign benchmark — ${HOLDERS.toLocaleString('en-US')} consenting holders, node ${process.version}\n`,
    );
    // Baseline: what the fake provider takes when sent to directly, in the same shape the
    // service uses: requests of 100 numbers with their own texts, 4 at a time.
    const body = (i: number) =>
      `api_id=API-ID-1&json=1&` +
      Array.from(
        { length: 100 },
        (_, j) =>
          `to[${phoneOf(i * 100 + j).slice(1)}]=${encodeURIComponent(`Гость ${j}, у нас новое меню!`)}`,
      ).join('&');
    const port = Number(new URL(fake.url).port);
    const direct = await drive(4, 5, async (lane, i) => {
      const r = await request(
        port,
        'POST',
        '/sms/send',
        { 'Content-Type': 'application/x-www-form-urlencoded' },
        body(lane * 100_000 + i),
      );
      if (r.status !== 200) throw new Error(`fake ${r.status}`);
    });
    const directRate = direct.perSecond * 100;
    fake.requests.length = 0;
    process.stdout.write(
      `  provider alone: ${Math.round(directRate)} messages/s (100-number requests, 4 at a time)\n`,
    );

    await seed(join(dir, 'data'));
    writeFileSync(
      join(dir, 'config.json'),
      JSON.stringify({
        auth: { adminTokens: [ADMIN] },
        sms: { providers: ['smsru'], smsru: { apiId: 'API-ID-1', url: fake.url }, statusPollSeconds: 0 },
        limits: { smsPerDay: 0 },
        campaigns: { quietHours: false },
      }),
    );
    const svcPort = 19_000 + Math.floor(Math.random() * 1000);
    const { child } = await startChild(
      serverArgs(),
      {
        SMSPDS_CONFIG: join(dir, 'config.json'),
        SMSPDS_DATA_DIR: join(dir, 'data'),
        SMSPDS_PORT: String(svcPort),
        SMSPDS_HOST: '127.0.0.1',
        LOG_LEVEL: 'warn',
      },
      (o) => o.includes('listening on'),
    );
    const H = { Authorization: `Bearer ${ADMIN}`, 'Content-Type': 'application/json' };
    const created = JSON.parse(
      (
        await request(
          svcPort,
          'POST',
          '/api/v1/campaigns',
          H,
          JSON.stringify({ name: 'Bench', text: '{firstName}, у нас новое меню!', ratePerSecond: RATE }),
        )
      ).body,
    );
    const id = created.campaign.id;
    const idle = rssOf(child.pid!).rss;
    const t0 = performance.now();
    const started = await request(svcPort, 'POST', `/api/v1/campaigns/${id}/start`, H, '{}');
    if (started.status !== 200) throw new Error(started.body);
    let c;
    let peak = 0;
    for (;;) {
      await new Promise((r) => setTimeout(r, 500));
      c = JSON.parse((await request(svcPort, 'GET', `/api/v1/campaigns/${id}`, H)).body).campaign;
      peak = Math.max(peak, rssOf(child.pid!).peak);
      if (c.state !== 'running') break;
    }
    const seconds = (performance.now() - t0) / 1000;
    const mem = rssOf(child.pid!);
    const metrics = (await request(svcPort, 'GET', '/metrics')).body;
    const metric = (name: string) =>
      Number(new RegExp(`^smspds_${name} (\\S+)`, 'm').exec(metrics)?.[1] ?? NaN) / 1048576;
    const heapUsed = metric('nodejs_heap_size_used_bytes');
    process.stdout.write(
      `  (heap total ${Math.round(metric('nodejs_heap_size_total_bytes'))} MB, external ${Math.round(metric('nodejs_external_memory_bytes'))} MB)\n`,
    );
    await stopChild(child);
    const rate = c.counts.sent / seconds;
    process.stdout.write(
      `\n  campaign        ${c.state}: ${c.counts.sent.toLocaleString('en-US')} sent in ${seconds.toFixed(1)} s (prepare included)\n` +
        `  messages/s      ${Math.round(rate)}   (${((rate / directRate) * 100).toFixed(1)} % of the provider alone)\n` +
        `  server RSS      peak ${Math.round(Math.max(peak, mem.peak))} MB (target < 250 MB), before the start ${Math.round(idle)} MB, at end ${Math.round(mem.rss)} MB, JS heap in use ${Math.round(heapUsed)} MB\n` +
        `  provider got    ${fake.sent('/sms/send').length.toLocaleString('en-US')} requests for ${new Set(fake.sent('/sms/send').flatMap((r) => Object.keys(r.fields).filter((k) => k.startsWith('to[')))).size.toLocaleString('en-US')} distinct phones\n`,
    );
  } finally {
    await fake.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

runMain(main);
