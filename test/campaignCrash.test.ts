/**
 * A campaign stopped mid-run — killed with SIGKILL, or shut down with SIGTERM — against a fake
 * provider that records what it received: after the restart the run resumes where it was, no
 * phone gets the message twice, and no recipient is silently lost (each ends sent, failed or
 * unknown — reported). Also with a request the provider refused whole, whose recipients are
 * sent again on resume, and a kill while they are.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { rmSync } from 'node:fs';
import { call, sleep, tempDir } from './helpers.ts';
import { freePort, spawnService, writeConfig, type ServiceProcess } from './process.ts';
import { FakeSmsru } from './fakes/providers/smsru.ts';

const phoneOf = (i: number) => `+7916${String(1000000 + i).padStart(7, '0')}`;

interface Ctx {
  dir: string;
  fake: FakeSmsru;
  children: ServiceProcess[];
  /** Start (or restart) the service on the suite's folder and port. */
  serve(): Promise<ServiceProcess>;
}

const Crash = suite<Ctx>('campaign crash safety');
Crash.before.each(async (ctx) => {
  ctx.dir = tempDir();
  ctx.fake = await new FakeSmsru().start();
  ctx.children = [];
  const config = writeConfig(ctx.dir, {
    sms: {
      providers: ['smsru'],
      smsru: { apiId: 'API-ID-1', url: ctx.fake.url },
      timeoutMs: 2000,
      statusPollSeconds: 0,
    },
    campaigns: { quietHours: false },
    limits: { smsPerDay: 0 },
  });
  const port = await freePort();
  ctx.serve = async () => {
    const svc = await spawnService(config, `${ctx.dir}/data`, port);
    ctx.children.push(svc);
    return svc;
  };
});
Crash.after.each(async (ctx) => {
  for (const svc of ctx.children) if (svc.child.exitCode === null) svc.child.kill('SIGKILL');
  await ctx.fake.stop();
  rmSync(ctx.dir, { recursive: true, force: true });
});

/** `holders` consenting holders and a started campaign to them; the campaign's id. */
async function startCampaign(svc: ServiceProcess, holders: number, ratePerSecond: number): Promise<string> {
  const csv = [
    'number,name,phone',
    ...Array.from({ length: holders }, (_, i) => `${5000 + i},Гость Номер ${i},${phoneOf(i)}`),
  ];
  const imported = await call(svc.url, 'POST', '/api/v1/cards/import', {
    body: csv.join('\n'),
    headers: { 'Content-Type': 'text/csv' },
  });
  assert.is(imported.status, 200);
  for (let i = 0; i < holders; i++) {
    await call(svc.url, 'POST', '/api/v1/consents', {
      json: { phone: phoneOf(i), marketing: true, source: 'pos' },
    });
  }
  const created = await call(svc.url, 'POST', '/api/v1/campaigns', {
    json: { name: 'Crash', text: 'Новое меню, {firstName}!', ratePerSecond },
  });
  const id = created.json.campaign.id;
  await call(svc.url, 'POST', `/api/v1/campaigns/${id}/start`);
  return id;
}

async function untilCompleted(svc: ServiceProcess, id: string) {
  let campaign;
  for (let i = 0; i < 300; i++) {
    campaign = (await call(svc.url, 'GET', `/api/v1/campaigns/${id}`)).json.campaign;
    if (campaign.state === 'completed') break;
    await sleep(100);
  }
  assert.is(
    campaign.state,
    'completed',
    JSON.stringify({ runs: campaign.runs, out: svc.output().slice(-2000) }),
  );
  return campaign;
}

Crash('SIGKILL mid-campaign, twice: no duplicates, no silent losses, the run completes', async (ctx) => {
  const N = 400;
  const RATE = 80;
  ctx.fake.delayMs = 400; // slow enough that a kill finds messages in flight
  let svc = await ctx.serve();
  const id = await startCampaign(svc, N, RATE);
  for (const wait of [200, 1300]) {
    await sleep(wait);
    const before = (await call(svc.url, 'GET', `/api/v1/campaigns/${id}`)).json.campaign;
    assert.is(before.state, 'running', `the kill lands mid-run: ${JSON.stringify(before.counts)}`);
    assert.ok(before.counts.sent < N, `sent before the kill: ${before.counts.sent}`);
    svc.child.kill('SIGKILL');
    await svc.exited;
    svc = await ctx.serve();
  }
  const campaign = await untilCompleted(svc, id);
  // Single sends carry `to`; multi-number requests carry one `to[79…]` field per number.
  const received = ctx.fake.sent('/sms/send').flatMap((r) =>
    r.fields.to
      ? [String(r.fields.to)]
      : Object.keys(r.fields)
          .filter((k) => k.startsWith('to['))
          .map((k) => k.slice(3, -1)),
  );
  const counts = new Map<string, number>();
  for (const to of received) counts.set(to, (counts.get(to) ?? 0) + 1);
  const twice = [...counts].filter(([, n]) => n > 1);
  assert.equal(twice, [], 'no phone got the message twice');
  const c = campaign.counts;
  assert.is(c.total, N);
  assert.is(c.queued + c.sending, 0, 'nothing left behind');
  assert.is(c.sent + c.delivered + c.failed + c.unknown + c.skipped, N, 'every recipient accounted for');
  assert.ok(c.unknown <= 2 * RATE, `unknown only for what was in flight at a kill: ${c.unknown}`);
  const unknown = (await call(svc.url, 'GET', `/api/v1/campaigns/${id}/recipients?status=unknown&limit=500`))
    .json.items;
  assert.is(unknown.length, c.unknown, 'unknown recipients are reported one by one');
  assert.ok(received.length >= c.sent, 'every recipient counted as sent reached the provider');
  process.stderr.write(
    `    campaign crash: ${N} recipients, provider received ${received.length}, sent ${c.sent}, unknown ${c.unknown}\n`,
  );
});

Crash(
  'SIGTERM mid-campaign: the requests in flight finish, nothing is left unknown, the run resumes',
  async (ctx) => {
    ctx.fake.delayMs = 300;
    let svc = await ctx.serve();
    const id = await startCampaign(svc, 120, 40);
    await sleep(150); // the first batch is waiting for the provider
    svc.child.kill('SIGTERM');
    assert.is(await svc.exited, 0, 'a clean exit');
    svc = await ctx.serve();
    const c = await untilCompleted(svc, id);
    assert.is(c.counts.unknown, 0, 'the requests in flight were finished, not abandoned');
    assert.is(c.counts.sent, 120);
  },
);

Crash(
  'a request refused whole, then SIGKILL while its recipients are sent again: each phone at most once',
  async (ctx) => {
    const N = 240;
    const RATE = 80; // one request of 80 numbers a batch, one batch at a time
    ctx.fake.delayMs = 400;
    ctx.fake.queue('ok', 'error:201'); // the second request: no money
    let svc = await ctx.serve();
    const id = await startCampaign(svc, N, RATE);
    let paused;
    for (let i = 0; i < 100; i++) {
      paused = (await call(svc.url, 'GET', `/api/v1/campaigns/${id}`)).json.campaign;
      if (paused.state === 'paused') break;
      await sleep(50);
    }
    assert.is(paused.state, 'paused');
    assert.equal([paused.runs.at(-1).awaitingRetry, paused.counts.failed], [RATE, 0]);
    await call(svc.url, 'POST', `/api/v1/campaigns/${id}/resume`);
    await sleep(150); // the refused recipients' new request is out
    svc.child.kill('SIGKILL');
    await svc.exited;
    svc = await ctx.serve();
    const campaign = await untilCompleted(svc, id);
    // What the provider took: every request but the refused one.
    const refused = ctx.fake.sent('/sms/send')[1]!;
    const received = ctx.fake
      .sent('/sms/send')
      .filter((r) => r !== refused)
      .flatMap((r) =>
        Object.keys(r.fields)
          .filter((k) => k.startsWith('to['))
          .map((k) => k.slice(3, -1)),
      );
    assert.is(new Set(received).size, received.length, 'no phone got the message twice');
    const c = campaign.counts;
    assert.is(c.queued + c.sending, 0, 'nothing left behind');
    assert.is(c.failed, 0, 'a refused request fails nobody');
    assert.is(c.sent + c.delivered + c.unknown, N, 'every recipient accounted for');
    assert.is(campaign.runs.at(-1).awaitingRetry, 0);
    assert.ok(received.length >= c.sent);
    process.stderr.write(
      `    refused, then killed: ${N} recipients, provider took ${received.length}, sent ${c.sent}, unknown ${c.unknown}\n`,
    );
  },
);

Crash.run();
