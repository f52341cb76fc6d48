/** Campaigns through the HTTP API, with a clock the test moves: audience, consent, schedule, controls. */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { startService, sleep, type TestService, embeddedOnly, postgresOnly } from '../helpers.ts';
import { FakeClock } from '../fakes/clock.ts';
import { FakeSmsSender } from '../fakes/sms.ts';
import type { DeliveryStatus } from '../../runtime/ports.ts';
import type { WorkflowRecord } from '../../runtime/workflows/types.ts';

interface Ctx {
  svc: TestService;
  clock: FakeClock;
}

// 12:00 in Moscow, a Thursday.
const NOON = Date.parse('2026-11-26T09:00:00Z');

/** Holders: three consenting (one with two cards), one who never consented, one who opted out. */
const BASE = [
  'number,name,phone,birthday,discount',
  '100,Иванов Иван Иванович,+79160000001,26.11.1980,5',
  '101,Петрова Анна,+79160000002,01.01.1990,5',
  '102,Anna Lee,+79160000003,26.11.1995,3',
  '103,Иванов Иван Иванович,+79160000001,26.11.1980,5',
  '104,Сидоров Пётр,+79160000004,02.02.1970,5',
  '105,Кузнецова Ольга,+79160000005,03.03.1975,5',
].join('\n');

async function serve(ctx: Ctx, config: Record<string, unknown> = {}, senders?: FakeSmsSender[]) {
  ctx.clock = new FakeClock(NOON);
  ctx.svc = await startService({
    clock: ctx.clock,
    senders,
    config: {
      campaigns: { quietHours: { from: '21:00', to: '09:00' }, timezone: 'Europe/Moscow', ...config },
    } as never,
  });
  await ctx.svc.call('POST', '/api/v1/cards/import', { body: BASE, headers: { 'Content-Type': 'text/csv' } });
  for (const phone of ['+79160000001', '+79160000002', '+79160000003']) {
    await ctx.svc.call('POST', '/api/v1/consents', { json: { phone, marketing: true, source: 'pos' } });
  }
  await ctx.svc.call('POST', '/api/v1/consents', {
    json: { phone: '+79160000005', marketing: true, source: 'web' },
  });
  await ctx.svc.call('POST', '/api/v1/consents', {
    json: { phone: '+79160000005', marketing: false, source: 'sms-stop' },
  });
}

const create = (svc: TestService, body: Record<string, unknown>) =>
  svc.call('POST', '/api/v1/campaigns', {
    json: {
      name: 'Новости',
      text: '{firstName}, у нас новое меню! Карта {card}',
      ratePerSecond: 100,
      ...body,
    },
  });
const get = async (svc: TestService, id: string) =>
  (await svc.call('GET', `/api/v1/campaigns/${id}`)).json.campaign;

/**
 * The campaign once its current run's record satisfies `test`, woken by each change of the run
 * (`WorkflowHost.until`): no polling. Throws with the campaign as it is after `timeoutMs`.
 */
async function when(
  svc: TestService,
  id: string,
  test: (run: WorkflowRecord) => boolean,
  what: string,
  timeoutMs = 4_000,
) {
  const runId: string | undefined = (await get(svc, id)).runs.at(-1)?.id;
  const run = runId ? await svc.service.host.until(runId, test, timeoutMs) : undefined;
  const campaign = await get(svc, id);
  if (!run || !test(run))
    throw new Error(`campaign ${id}: ${what} did not happen: ${JSON.stringify(campaign)}`);
  return campaign;
}

/** The campaign once it is in `state`: its run's, or, for a recurring one between runs, its own. */
async function until(svc: TestService, id: string, state: string) {
  const now = await get(svc, id);
  if (now.state === state) return now;
  const campaign = await when(svc, id, (run) => run.state === state || !run.live, `state ${state}`);
  if (campaign.state !== state) throw new Error(`campaign ${id} is ${campaign.state}, not ${state}`);
  return campaign;
}

const Campaigns = suite<Ctx>('campaigns');
Campaigns.after.each(async (ctx) => ctx.svc?.stop());

Campaigns(
  'draft → estimate → start → completed: one message per consenting phone, personalised',
  async (ctx) => {
    await serve(ctx);
    const created = await create(ctx.svc, {});
    assert.is(created.status, 201, created.text);
    const c = created.json.campaign;
    assert.is(c.state, 'draft');
    const est = (await ctx.svc.call('GET', `/api/v1/campaigns/${c.id}/estimate`)).json.estimate;
    assert.is(est.recipients, 3);
    assert.equal(est.skipped, { duplicatePhone: 1, noConsent: 1, optedOut: 1 });
    assert.is(est.segmentsPerMessage, 1);
    const started = await ctx.svc.call('POST', `/api/v1/campaigns/${c.id}/start`);
    assert.is(started.status, 200, started.text);
    const done = await until(ctx.svc, c.id, 'completed');
    assert.equal(done.counts, {
      total: 3,
      queued: 0,
      sending: 0,
      sent: 3,
      delivered: 0,
      failed: 0,
      skipped: 0,
      unknown: 0,
    });
    assert.equal(done.skippedReasons, { duplicatePhone: 1, noConsent: 1, optedOut: 1 });
    assert.is(done.cost.actual, '5.55');
    const sent = ctx.svc.sms.sent.filter((m) => m.purpose === 'marketing');
    assert.equal(sent.map((m) => m.to).sort(), ['+79160000001', '+79160000002', '+79160000003']);
    assert.ok(
      sent.some(
        (m) =>
          m.text === 'Иван, у нас новое меню! Карта 100' || m.text === 'Иван, у нас новое меню! Карта 103',
      ),
    );
    assert.ok(
      sent.some((m) => m.text.startsWith('Anna, ')),
      'a Latin name puts the first name first',
    );
    const recipients = await ctx.svc.call('GET', `/api/v1/campaigns/${c.id}/recipients?status=sent`, {
      as: 'support',
    });
    assert.is(recipients.json.items.length, 3);
    assert.match(recipients.json.items[0].phone, /^\+7 916 \*\*\*-\*\*-0\d$/, 'support sees masked phones');
  },
);

Campaigns(
  'senders racing past each other while consent is read: every recipient sent once, none left in sending',
  async (ctx) => {
    await serve(ctx);
    const lines = ['number,name,phone'];
    for (let i = 0; i < 400; i++) lines.push(`${9000 + i},Гость ${i},+7917${String(i).padStart(7, '0')}`);
    await ctx.svc.call('POST', '/api/v1/cards/import', {
      body: lines.join('\n'),
      headers: { 'Content-Type': 'text/csv' },
    });
    for (let i = 0; i < 400; i += 50)
      await Promise.all(
        Array.from({ length: 50 }, (_, k) =>
          ctx.svc.call('POST', '/api/v1/consents', {
            json: { phone: `+7917${String(i + k).padStart(7, '0')}`, marketing: true, source: 'pos' },
          }),
        ),
      );
    // Consent reads that take a while, each its own time: the senders' reads and takes interleave.
    // Every seventh of the 400 opts out after the start: skipped where it is taken, so groups end
    // anywhere, not only where a read's range ends.
    const consents = ctx.svc.service.consents;
    const read = consents.news.bind(consents);
    const optsOut = (phone: string) => phone.startsWith('+7917') && Number(phone.slice(-3)) % 7 === 3;
    consents.news = async (phones) => {
      await sleep(Math.random() * 4);
      const news = await read(phones);
      // (once the first message left: the plan, made before, has them all)
      if (ctx.svc.sms.sent.length)
        for (const phone of phones) if (optsOut(phone)) news.set(phone, 'optedOut');
      return news;
    };
    const c = (await create(ctx.svc, { ratePerSecond: 1000, quietHours: false })).json.campaign;
    await ctx.svc.call('POST', `/api/v1/campaigns/${c.id}/start`);
    const done = await when(ctx.svc, c.id, (run) => !run.live, 'the end', 20_000);
    const counts = done.counts;
    assert.is(done.state, 'completed');
    assert.is(counts.total, 403, 'the base three with consent and the 400');
    assert.equal([counts.sending, counts.queued], [0, 0]);
    assert.ok(counts.skipped > 20, `some opted out on the way (${counts.skipped})`);
    assert.is(counts.sent + counts.skipped, 403);
    const perPhone = new Map<string, number>();
    for (const m of ctx.svc.sms.sent) perPhone.set(m.to, (perPhone.get(m.to) ?? 0) + 1);
    assert.is(perPhone.size, counts.sent);
    assert.ok(
      [...perPhone.values()].every((n) => n === 1),
      'once each',
    );
  },
);

Campaigns('filters: birthday today, card prefix, discount group', async (ctx) => {
  await serve(ctx);
  const birthday = (await create(ctx.svc, { audience: { type: 'birthday' } })).json.campaign;
  assert.is(
    (await ctx.svc.call('GET', `/api/v1/campaigns/${birthday.id}/estimate`)).json.estimate.recipients,
    2,
  );
  const prefix = (await create(ctx.svc, { audience: { cardPrefix: '102' } })).json.campaign;
  assert.is(
    (await ctx.svc.call('GET', `/api/v1/campaigns/${prefix.id}/estimate`)).json.estimate.recipients,
    1,
  );
  const group = (await create(ctx.svc, { audience: { discount: 5 } })).json.campaign;
  assert.is(
    (await ctx.svc.call('GET', `/api/v1/campaigns/${group.id}/estimate`)).json.estimate.recipients,
    2,
  );
  const soon = (await create(ctx.svc, { audience: { type: 'birthday', inDays: 36 } })).json.campaign;
  assert.is(
    (await ctx.svc.call('GET', `/api/v1/campaigns/${soon.id}/estimate`)).json.estimate.recipients,
    1,
    'Anna (01.01) in 36 days',
  );
});

Campaigns('quiet hours: nothing is sent outside the window; the run waits for it', async (ctx) => {
  await serve(ctx);
  ctx.clock.t = Date.parse('2026-11-26T19:30:00Z'); // 22:30 in Moscow
  const c = (await create(ctx.svc, {})).json.campaign;
  await ctx.svc.call('POST', `/api/v1/campaigns/${c.id}/start`);
  await sleep(100);
  const waiting = await get(ctx.svc, c.id);
  assert.is(waiting.state, 'running');
  assert.is(waiting.counts.sent, 0);
  assert.is(waiting.runs[0].wakeAt, '2026-11-27T06:00:00.000Z', 'waits for 09:00 Moscow');
  ctx.clock.t = Date.parse('2026-11-27T06:00:00Z');
  await ctx.svc.service.host.fireDeadlines();
  const done = await until(ctx.svc, c.id, 'completed');
  assert.is(done.counts.sent, 3);
});

Campaigns('quietHours: false in the create body turns them off for that campaign', async (ctx) => {
  await serve(ctx);
  ctx.clock.t = Date.parse('2026-11-26T19:30:00Z');
  const c = (await create(ctx.svc, { quietHours: false })).json.campaign;
  await ctx.svc.call('POST', `/api/v1/campaigns/${c.id}/start`);
  assert.is((await until(ctx.svc, c.id, 'completed')).counts.sent, 3);
});

Campaigns('pause, resume, cancel take effect within a batch', async (ctx) => {
  await serve(ctx);
  const c = (await create(ctx.svc, { ratePerSecond: 1 })).json.campaign;
  await ctx.svc.call('POST', `/api/v1/campaigns/${c.id}/start`);
  await sleep(150);
  const paused = await ctx.svc.call('POST', `/api/v1/campaigns/${c.id}/pause`);
  assert.is(paused.status, 200, paused.text);
  assert.is(paused.json.campaign.state, 'paused');
  const sentAtPause = paused.json.campaign.counts.sent;
  assert.ok(sentAtPause >= 1 && sentAtPause < 3, `sent at pause: ${sentAtPause}`);
  await sleep(1200);
  assert.is((await get(ctx.svc, c.id)).counts.sent, sentAtPause, 'nothing is sent while paused');
  const again = await ctx.svc.call('POST', `/api/v1/campaigns/${c.id}/pause`);
  assert.equal([again.status, again.json.error.code], [409, 'CAMPAIGN_STATE']);
  assert.is((await ctx.svc.call('POST', `/api/v1/campaigns/${c.id}/resume`)).json.campaign.state, 'running');
  const cancelled = await ctx.svc.call('POST', `/api/v1/campaigns/${c.id}/cancel`);
  assert.is(cancelled.json.campaign.state, 'cancelled');
  const after = await get(ctx.svc, c.id);
  assert.ok(after.counts.sent < 3, 'cancel stopped the run');
  assert.is(after.counts.sent + after.counts.queued, 3, 'the rest stays queued, reported');
});

Campaigns('a pause stops a fast batch mid-way: only messages already marked sending leave', async (ctx) => {
  await serve(ctx);
  const rows = Array.from(
    { length: 400 },
    (_, i) => `${5000 + i},Гость ${i},+7917${String(i).padStart(7, '0')},,5`,
  );
  await ctx.svc.call('POST', '/api/v1/cards/import', {
    body: ['number,name,phone,birthday,discount', ...rows].join('\n'),
    headers: { 'Content-Type': 'text/csv' },
  });
  for (let i = 0; i < 400; i++) {
    const phone = `+7917${String(i).padStart(7, '0')}`;
    await ctx.svc.call('POST', '/api/v1/consents', { json: { phone, marketing: true, source: 'pos' } });
  }
  const c = (await create(ctx.svc, { audience: { cardPrefix: '5' }, ratePerSecond: 10_000 })).json.campaign;
  let release!: () => void;
  ctx.svc.sms.hold = new Promise<void>((r) => (release = r));
  await ctx.svc.call('POST', `/api/v1/campaigns/${c.id}/start`);
  await sleep(100); // every sender has a group out and the next one ready
  const pausing = ctx.svc.call('POST', `/api/v1/campaigns/${c.id}/pause`);
  await sleep(50);
  release();
  const paused = await pausing;
  assert.is(paused.json.campaign.state, 'paused', paused.text);
  const { counts } = paused.json.campaign;
  assert.is(counts.total, 400);
  assert.is(counts.sending, 0, 'every message that left has its outcome');
  assert.ok(counts.sent > 0 && counts.sent <= 12 * 8 * 2, `sent before the pause: ${counts.sent}`);
  assert.is(counts.sent + counts.queued, 400, 'the rest is queued, not lost and not skipped');
  await sleep(300);
  assert.is((await get(ctx.svc, c.id)).counts.sent, counts.sent, 'nothing leaves while paused');
  assert.is((await ctx.svc.call('POST', `/api/v1/campaigns/${c.id}/resume`)).json.campaign.state, 'running');
  const done = await until(ctx.svc, c.id, 'completed');
  assert.is(done.counts.sent, 400);
  assert.is(new Set(ctx.svc.sms.sent.map((m) => m.to)).size, ctx.svc.sms.sent.length, 'no phone twice');
  // Paged by position: every recipient once, in pages, with or without a status filter.
  const seen: string[] = [];
  for (let cursor: string | null = '0'; cursor !== null;) {
    const res = await ctx.svc.call('GET', `/api/v1/campaigns/${c.id}/recipients?limit=150&cursor=${cursor}`);
    seen.push(...res.json.items.map((r: { phone: string }) => r.phone));
    cursor = res.json.nextCursor;
  }
  assert.is(seen.length, 400);
  assert.is(new Set(seen).size, 400);
  const sent = await ctx.svc.call('GET', `/api/v1/campaigns/${c.id}/recipients?status=sent&limit=500`);
  assert.is(sent.json.items.length, 400);
  assert.ok(
    sent.json.items.every((r: { messageId?: string }) => r.messageId),
    'whole records on the page',
  );
});

/** A fake provider that can tell delivery status, as sms.ru and smsc can. */
class TellingSender extends FakeSmsSender {
  readonly statuses = new Map<string, DeliveryStatus>();
  asked = 0;
  async status(messages: Array<{ messageId: string; to: string }>) {
    this.asked += messages.length;
    return new Map(
      messages.flatMap((m) =>
        this.statuses.has(m.messageId) ? [[m.messageId, this.statuses.get(m.messageId)!]] : [],
      ),
    );
  }
}

embeddedOnly(Campaigns)(
  'delivery statuses are swept from the run file, not tracked one row per message',
  async (ctx) => {
    const sender = new TellingSender('smsru');
    await serve(ctx, {}, [sender]);
    const c = (await create(ctx.svc, { quietHours: false })).json.campaign;
    await ctx.svc.call('POST', `/api/v1/campaigns/${c.id}/start`);
    await until(ctx.svc, c.id, 'completed');
    const sent = sender.sent.filter((m) => m.purpose === 'marketing');
    assert.is(sent.length, 3);
    assert.is([...ctx.svc.service.journaled!.table('deliveries').values()].length, 0, 'no row per message');
    const campaigns = ctx.svc.service.campaigns;
    assert.is(await campaigns.sweepDeliveries(), 0, 'not due yet');
    // fake-1.. are the ids the fake gave; two reached their phones, one is still on its way.
    sender.statuses.set('fake-1', 'delivered').set('fake-2', 'delivered').set('fake-3', 'queued');
    ctx.clock.t += 61_000;
    assert.is(await campaigns.sweepDeliveries(), 3);
    let now = await get(ctx.svc, c.id);
    assert.equal([now.counts.sent, now.counts.delivered], [1, 2]);
    const delivered = await ctx.svc.call('GET', `/api/v1/campaigns/${c.id}/recipients?status=delivered`);
    assert.is(delivered.json.items.length, 2);
    // The next sweep asks only about the message not yet final, and only when it is due.
    sender.asked = 0;
    assert.is(await campaigns.sweepDeliveries(), 0);
    assert.is(sender.asked, 0);
    sender.statuses.set('fake-3', 'undelivered');
    ctx.clock.t += 10 * 60_000 + 1000;
    assert.is(await campaigns.sweepDeliveries(), 1);
    assert.is(sender.asked, 1);
    now = await get(ctx.svc, c.id);
    assert.equal(
      [now.counts.sent, now.counts.delivered],
      [1, 2],
      'an undelivered message stays counted as sent',
    );
    const undelivered = await ctx.svc.call('GET', `/api/v1/campaigns/${c.id}/recipients?status=undelivered`);
    assert.is(undelivered.json.items.length, 1);
    // Every message is final: the sweeps of this run are over.
    ctx.clock.t += 24 * 3600_000;
    sender.asked = 0;
    assert.is(await campaigns.sweepDeliveries(), 0);
    assert.is(sender.asked, 0);
  },
);

embeddedOnly(Campaigns)(
  'a per-recipient `sending` row of an earlier version is reconciled after a restart, not resent',
  async (ctx) => {
    await serve(ctx);
    const c = (await create(ctx.svc, { ratePerSecond: 1, quietHours: false })).json.campaign;
    await ctx.svc.call('POST', `/api/v1/campaigns/${c.id}/start`);
    await sleep(150);
    const paused = (await ctx.svc.call('POST', `/api/v1/campaigns/${c.id}/pause`)).json.campaign;
    assert.is(paused.state, 'paused');
    const runId: string = paused.runs.at(-1).id;
    // Leave the next recipient as earlier versions did: a row of its own in `sending`.
    const store = ctx.svc.service.journaled!;
    const counts = store.table<Record<string, number>>('runCounts').get(runId)!;
    const plan = (await store.getBlob(`plan-${runId}.csv`))!.split('\n').filter(Boolean);
    const [phone, card] = plan[counts.cursor!]!.split(',');
    store.table('recipients').put(`${runId}:${phone}`, { runId, phone, card, status: 'sending' });
    Object.assign(counts, { queued: counts.queued! - 1, sending: 1, cursor: counts.cursor! + 1 });
    store.table('runCounts').put(runId, counts);
    await store.flush();
    const dataDir = ctx.svc.dataDir;
    await ctx.svc.stop({ keepData: true });
    try {
      ctx.svc = await startService({ clock: ctx.clock, dataDir });
      assert.is((await ctx.svc.call('POST', `/api/v1/campaigns/${c.id}/resume`)).status, 200);
      const done = await until(ctx.svc, c.id, 'completed');
      assert.equal([done.counts.sent, done.counts.unknown, done.counts.sending], [2, 1, 0]);
      assert.not.ok(
        ctx.svc.sms.sent.some((m) => m.to === phone),
        'the recipient caught in flight is not sent again',
      );
      const unknown = await ctx.svc.call('GET', `/api/v1/campaigns/${c.id}/recipients?status=unknown`);
      assert.equal(
        unknown.json.items.map((r: { phone: string }) => r.phone),
        [phone],
      );
      assert.is(
        [...ctx.svc.service.journaled!.table('recipients').values()].length,
        0,
        'the old row is gone',
      );
    } finally {
      await ctx.svc.stop();
      rmSync(dataDir, { recursive: true, force: true });
    }
  },
);

Campaigns(
  'a provider refusing a whole request pauses the run; its recipients wait, and resume sends them once',
  async (ctx) => {
    await serve(ctx);
    const c = (await create(ctx.svc, { ratePerSecond: 1, quietHours: false })).json.campaign;
    ctx.svc.sms.failNext = 1000; // a spent balance: every message refused
    await ctx.svc.call('POST', `/api/v1/campaigns/${c.id}/start`);
    const paused = await until(ctx.svc, c.id, 'paused');
    const run = paused.runs.at(-1);
    assert.equal(
      [run.counts.failed, run.counts.queued, run.counts.sent, run.awaitingRetry],
      [0, 3, 0, 1],
      'the refused request sent nothing: its recipient waits for the resume, not failed',
    );
    assert.is(run.error.code, 'SMS_FAILED');
    assert.match(run.error.extra.reason, /FAKE_DOWN/);
    assert.is(ctx.svc.sms.sent.length, 0);
    const list = async (query: string) =>
      (await ctx.svc.call('GET', `/api/v1/campaigns/${c.id}/recipients${query}`)).json.items;
    assert.is((await list('')).length, 3, 'every recipient listed, the one waiting to be sent again too');
    assert.equal(
      (await list('?status=queued')).map((r: { status: string }) => r.status),
      ['queued', 'queued', 'queued'],
    );

    // The retry list is on disk: a restart keeps it.
    const dataDir = ctx.svc.dataDir;
    await ctx.svc.stop({ keepData: true });
    ctx.svc = await startService({
      clock: ctx.clock,
      dataDir,
      config: { campaigns: { quietHours: false } } as never,
    });
    assert.is((await get(ctx.svc, c.id)).runs.at(-1).awaitingRetry, 1, 'kept over a restart');

    // The balance is topped up.
    assert.is((await ctx.svc.call('POST', `/api/v1/campaigns/${c.id}/resume`)).status, 200);
    const done = await until(ctx.svc, c.id, 'completed');
    assert.equal(
      [done.counts.sent, done.counts.failed, done.counts.queued, done.counts.unknown],
      [3, 0, 0, 0],
    );
    assert.is(done.runs.at(-1).awaitingRetry, 0);
    assert.is(done.runs.at(-1).error, null);
    const phones = ctx.svc.sms.sent.map((m) => m.to).sort();
    assert.equal(phones, ['+79160000001', '+79160000002', '+79160000003'], 'each phone once');
    await ctx.svc.stop();
    ctx.svc = undefined as never; // stopped here: the folder was this test's to remove
    rmSync(dataDir, { recursive: true, force: true });
  },
);

/** A run paused by one refused request: its one recipient waits on the retry list. */
async function refusedOnce(ctx: Ctx) {
  await serve(ctx);
  const c = (await create(ctx.svc, { ratePerSecond: 1, quietHours: false })).json.campaign;
  ctx.svc.sms.failNext = 1;
  await ctx.svc.call('POST', `/api/v1/campaigns/${c.id}/start`);
  const runId: string = (await until(ctx.svc, c.id, 'paused')).runs.at(-1).id;
  const store = ctx.svc.service.journaled!;
  const [position] = store.table<{ positions: number[] }>('campaignRetries').get(runId)!.positions;
  const plan = (await store.getBlob(`plan-${runId}.csv`))!.split('\n').filter(Boolean);
  const phone = plan[position!]!.split(',')[0]!;
  return { c, runId, position: position!, phone, store };
}

/** Restart on the same data, resume, wait for the run to complete; what the new service sent. */
async function restartAndFinish(ctx: Ctx, id: string) {
  const dataDir = ctx.svc.dataDir;
  await ctx.svc.stop({ keepData: true });
  ctx.svc = await startService({ clock: ctx.clock, dataDir });
  assert.is((await ctx.svc.call('POST', `/api/v1/campaigns/${id}/resume`)).status, 200);
  const done = await until(ctx.svc, id, 'completed');
  const sent = ctx.svc.sms.sent.map((m) => m.to);
  await ctx.svc.stop();
  ctx.svc = undefined as never; // stopped here: the folder is this test's to remove
  rmSync(dataDir, { recursive: true, force: true });
  return { done, sent };
}

embeddedOnly(Campaigns)(
  'killed after a refusal was recorded, the batch row still covering it: sent once on resume',
  async (ctx) => {
    const { c, runId, position, phone, store } = await refusedOnce(ctx);
    // The moment between the commit that put it on the retry list and the batch's end.
    store.table('campaignBatches').put(runId, { runId, from: position, to: position + 1, at: 'x' });
    await store.flush();
    assert.not.ok(
      ctx.svc.sms.sent.some((m) => m.to === phone),
      'refused before the restart',
    );
    const { done, sent } = await restartAndFinish(ctx, c.id);
    assert.equal([done.counts.sent, done.counts.unknown, done.counts.failed], [3, 0, 0]);
    assert.is(sent.filter((to) => to === phone).length, 1, 'sent once, after the restart');
  },
);

embeddedOnly(Campaigns)(
  'killed while a retried recipient was in flight: unknown, never sent again',
  async (ctx) => {
    const { c, runId, position, phone, store } = await refusedOnce(ctx);
    // The moment a retried group is on disk as `sending` and its request is out.
    const counts = store.table<Record<string, number>>('runCounts').get(runId)!;
    Object.assign(counts, { queued: counts.queued! - 1, sending: 1 });
    store.table('runCounts').put(runId, counts);
    store.table('campaignRetries').delete(runId);
    store
      .table('campaignBatches')
      .put(runId, { runId, from: counts.cursor, to: counts.cursor, again: [position], at: 'x' });
    await store.flush();
    const { done, sent } = await restartAndFinish(ctx, c.id);
    assert.equal([done.counts.sent, done.counts.unknown, done.counts.sending], [2, 1, 0]);
    assert.is(done.runs.at(-1).awaitingRetry, 0);
    assert.not.ok(sent.includes(phone), 'the recipient caught in flight is not sent again');
  },
);

/** Wait until the run waits for the provider (a wake time, the provider's answer shown), or pauses. */
const waitingForProvider = (svc: TestService, id: string) =>
  when(
    svc,
    id,
    (run) =>
      (run.state === 'running' && run.deadline !== null && run.error !== null) || run.state === 'paused',
    'a wait for the provider',
  );

Campaigns(
  'a provider out of reach is waited for: the run goes on by itself, each phone once',
  async (ctx) => {
    await serve(ctx);
    const c = (await create(ctx.svc, { ratePerSecond: 1, quietHours: false })).json.campaign;
    ctx.svc.sms.failKind = 'transient'; // the connection refused, for now
    ctx.svc.sms.failNext = 1000;
    await ctx.svc.call('POST', `/api/v1/campaigns/${c.id}/start`);
    const waiting = await waitingForProvider(ctx.svc, c.id);
    const run = waiting.runs.at(-1);
    assert.is(waiting.state, 'running', 'not paused: it waits');
    assert.is(Date.parse(run.wakeAt) - ctx.clock.now(), 60_000, 'a minute first');
    assert.match(run.error.extra.reason, /FAKE_DOWN/);
    assert.equal([run.counts.queued, run.counts.failed, run.awaitingRetry], [3, 0, 1]);

    ctx.svc.sms.failNext = 0; // back
    ctx.clock.t = Date.parse(run.wakeAt);
    await ctx.svc.service.host.fireDeadlines();
    const done = await until(ctx.svc, c.id, 'completed');
    assert.equal([done.counts.sent, done.counts.failed, done.counts.unknown], [3, 0, 0]);
    assert.is(done.runs.at(-1).error, null);
    assert.equal(ctx.svc.sms.sent.map((m) => m.to).sort(), ['+79160000001', '+79160000002', '+79160000003']);
  },
);

Campaigns('a provider out of reach for an hour: the run pauses for a person after six waits', async (ctx) => {
  await serve(ctx);
  const c = (await create(ctx.svc, { ratePerSecond: 1, quietHours: false })).json.campaign;
  ctx.svc.sms.failKind = 'transient';
  ctx.svc.sms.failNext = 1_000_000;
  await ctx.svc.call('POST', `/api/v1/campaigns/${c.id}/start`);
  const waited: number[] = [];
  for (;;) {
    const state = await waitingForProvider(ctx.svc, c.id);
    if (state.state === 'paused') break;
    const wakeAt = Date.parse(state.runs.at(-1).wakeAt);
    waited.push((wakeAt - ctx.clock.now()) / 60_000);
    ctx.clock.t = wakeAt;
    await ctx.svc.service.host.fireDeadlines();
    await sleep(30);
  }
  assert.equal(waited, [1, 2, 5, 10, 15, 30], 'minutes waited, then a pause');
  const paused = await get(ctx.svc, c.id);
  assert.match(paused.runs.at(-1).error.extra.reason, /FAKE_DOWN/);
  assert.equal([paused.counts.sent, paused.counts.failed, paused.runs.at(-1).awaitingRetry], [0, 0, 1]);

  // A person resumes it: the provider is waited for again before the next pause.
  assert.is((await ctx.svc.call('POST', `/api/v1/campaigns/${c.id}/resume`)).status, 200);
  const again = await waitingForProvider(ctx.svc, c.id);
  assert.is(again.state, 'running');
  assert.is(Date.parse(again.runs.at(-1).wakeAt) - ctx.clock.now(), 60_000);
});

Campaigns('campaigns.providerWaitMinutes: [] pauses at once for a provider out of reach', async (ctx) => {
  await serve(ctx, { providerWaitMinutes: [] });
  const c = (await create(ctx.svc, { ratePerSecond: 1, quietHours: false })).json.campaign;
  ctx.svc.sms.failKind = 'transient';
  ctx.svc.sms.failNext = 1000;
  await ctx.svc.call('POST', `/api/v1/campaigns/${c.id}/start`);
  const paused = await until(ctx.svc, c.id, 'paused');
  assert.equal([paused.runs.at(-1).awaitingRetry, paused.runs.at(-1).wakeAt], [1, null]);
});

Campaigns('a phone that cannot get SMS fails alone: the run goes on', async (ctx) => {
  await serve(ctx);
  const c = (await create(ctx.svc, { ratePerSecond: 1, quietHours: false })).json.campaign;
  ctx.svc.sms.failNext = 1;
  ctx.svc.sms.failKind = 'permanent'; // a number on the provider's stop list
  await ctx.svc.call('POST', `/api/v1/campaigns/${c.id}/start`);
  const done = await until(ctx.svc, c.id, 'completed');
  assert.equal([done.counts.sent, done.counts.failed, done.runs.at(-1).awaitingRetry], [2, 1, 0]);
  const failed = (await ctx.svc.call('GET', `/api/v1/campaigns/${c.id}/recipients?status=failed`)).json;
  assert.match(JSON.stringify(failed), /FAKE_DOWN/);
});

Campaigns('an opt-out after the start is honoured before each send', async (ctx) => {
  await serve(ctx);
  const c = (await create(ctx.svc, { ratePerSecond: 1 })).json.campaign;
  await ctx.svc.call('POST', `/api/v1/campaigns/${c.id}/start`);
  await sleep(100);
  const sentFirst = ctx.svc.sms.sent.map((m) => m.to);
  const later = ['+79160000001', '+79160000002', '+79160000003'].filter((p) => !sentFirst.includes(p));
  await ctx.svc.call('POST', '/api/v1/consents', {
    json: { phone: later[0], marketing: false, source: 'sms-stop' },
  });
  const done = await until(ctx.svc, c.id, 'completed');
  assert.is(done.counts.skipped, 1);
  assert.is(done.skippedReasons.optedOut, 2, 'one opted out before, one during the run');
  assert.not.ok(
    ctx.svc.sms.sent.some((m) => m.to === later[0]),
    'the opted-out phone got nothing',
  );
});

Campaigns(
  'budget: refused over the campaign budget or the day’s SMS left, unless overridden',
  async (ctx) => {
    await serve(ctx);
    const c = (await create(ctx.svc, { budget: 1 })).json.campaign;
    const refused = await ctx.svc.call('POST', `/api/v1/campaigns/${c.id}/start`);
    assert.equal([refused.status, refused.json.error.code], [409, 'BUDGET_EXCEEDED']);
    const forced = await ctx.svc.call('POST', `/api/v1/campaigns/${c.id}/start`, {
      json: { override: true },
    });
    assert.is(forced.status, 200);
    await ctx.svc.stop();
    await serve(ctx, {});
    await ctx.svc.stop();
    ctx.clock = new FakeClock(NOON);
    ctx.svc = await startService({
      clock: ctx.clock,
      config: { limits: { smsPerDay: 3 }, campaigns: { quietHours: false } } as never,
    });
    await ctx.svc.call('POST', '/api/v1/cards/import', {
      body: BASE,
      headers: { 'Content-Type': 'text/csv' },
    });
    for (const phone of ['+79160000001', '+79160000002', '+79160000003'])
      await ctx.svc.call('POST', '/api/v1/consents', { json: { phone, marketing: true, source: 'pos' } });
    const day = (await create(ctx.svc, {})).json.campaign;
    const res = await ctx.svc.call('POST', `/api/v1/campaigns/${day.id}/start`);
    // 3 SMS a day, a fifth of it kept for PINs: campaigns may send 2 today.
    assert.equal([res.status, res.json.error.code, res.json.error.smsLeftToday], [409, 'BUDGET_EXCEEDED', 2]);
    const overridden = await ctx.svc.call('POST', `/api/v1/campaigns/${day.id}/start`, {
      json: { override: true },
    });
    assert.is(overridden.status, 200);
    // Two sent, the day's budget spent: the run waits for tomorrow (a wake time on its record).
    const run = await when(ctx.svc, day.id, (r) => r.deadline !== null, 'a wait for the next day');
    assert.equal([run.runs[0].counts.sent, run.runs[0].counts.queued], [2, 1], 'the rest waits for tomorrow');
    assert.is(run.runs[0].wakeAt, '2026-11-26T21:00:00.000Z', 'midnight in Moscow');
    const pin = await ctx.svc.call('POST', '/api/v1/auth', {
      as: 'terminal',
      json: { phone: '+79160000001' },
    });
    assert.is(pin.status, 201, 'the PIN reserve is still there for the till');
    const none = await ctx.svc.call('POST', '/api/v1/auth', {
      as: 'terminal',
      json: { phone: '+79160000002' },
    });
    assert.equal([none.status, none.json.error.limit], [429, 'smsPerDay']);
  },
);

Campaigns('a one-off schedule: scheduled, then running at its time', async (ctx) => {
  await serve(ctx);
  const at = new Date(NOON + 3600_000).toISOString();
  const c = (await create(ctx.svc, { schedule: { at } })).json.campaign;
  assert.is(c.state, 'scheduled');
  ctx.clock.advance(3600_000);
  await ctx.svc.service.host.fireDeadlines();
  assert.is((await until(ctx.svc, c.id, 'completed')).counts.sent, 3);
});

postgresOnly(Campaigns)(
  'two instances checking the schedule at once start one run of a firing',
  async (ctx) => {
    await serve(ctx, { catchUpMinutes: 180 });
    ctx.clock.t = Date.parse('2026-11-26T04:00:00Z'); // 09:00 in Almaty
    const c = (
      await create(ctx.svc, { schedule: { cron: '0 10 * * *', timezone: 'Asia/Almaty' }, quietHours: false })
    ).json.campaign;
    const other = await startService({
      clock: ctx.clock,
      config: {
        store: { engine: 'postgres', url: ctx.svc.service.engine.database!.url },
        secretFile: join(ctx.svc.dataDir, 'shared-secret.key'),
      } as never,
    });
    try {
      ctx.clock.t = Date.parse('2026-11-26T05:00:30Z');
      const started = await Promise.all([
        ctx.svc.service.campaigns.tick(),
        other.service.campaigns.tick(),
        other.service.campaigns.tick(),
        ctx.svc.service.campaigns.tick(),
      ]);
      assert.is(
        started.reduce((a, b) => a + b, 0),
        1,
        `started ${started.join(', ')}`,
      );
      assert.is((await get(ctx.svc, c.id)).runs.length, 1);
      assert.is(await other.service.campaigns.tick(), 0, 'and not again');
    } finally {
      await other.stop();
    }
  },
);

Campaigns(
  'recurring birthday greetings at 10:00 Almaty: a run per day; a missed day is caught up once',
  async (ctx) => {
    await serve(ctx, { catchUpMinutes: 180 });
    ctx.clock.t = Date.parse('2026-11-26T04:00:00Z'); // 09:00 in Almaty
    const c = (
      await create(ctx.svc, {
        audience: { type: 'birthday' },
        schedule: { cron: '0 10 * * *', timezone: 'Asia/Almaty' },
        quietHours: false,
      })
    ).json.campaign;
    assert.is(c.state, 'scheduled');
    assert.is(c.nextRunAt, '2026-11-26T05:00:00.000Z');
    assert.is(await ctx.svc.service.campaigns.tick(), 0, 'not yet');
    ctx.clock.t = Date.parse('2026-11-26T05:00:30Z');
    assert.is(await ctx.svc.service.campaigns.tick(), 1);
    const first = await until(ctx.svc, c.id, 'scheduled');
    assert.is(first.runs.length, 1);
    assert.is(first.runs[0].counts.sent, 2, 'Иван and Anna have their birthday today');
    assert.is(first.nextRunAt, '2026-11-27T05:00:00.000Z');
    // Down over the next firing, back 2 h later: within the 3 h catch-up window, it runs once.
    ctx.clock.t = Date.parse('2026-11-27T07:00:00Z');
    assert.is(await ctx.svc.service.campaigns.tick(), 1);
    assert.is(await ctx.svc.service.campaigns.tick(), 0, 'only once');
    await until(ctx.svc, c.id, 'scheduled');
    // Down for longer than the window: skipped and counted.
    ctx.clock.t = Date.parse('2026-11-28T10:00:00Z');
    assert.is(await ctx.svc.service.campaigns.tick(), 0);
    const later = await get(ctx.svc, c.id);
    assert.is(later.missedRuns, 1);
    assert.is(later.runs.length, 2);
    assert.is(later.nextRunAt, '2026-11-29T05:00:00.000Z');
    const cancelled = await ctx.svc.call('POST', `/api/v1/campaigns/${c.id}/cancel`);
    assert.is(cancelled.json.campaign.state, 'cancelled');
    ctx.clock.t = Date.parse('2026-11-29T05:00:30Z');
    assert.is(await ctx.svc.service.campaigns.tick(), 0, 'a cancelled schedule never fires');
  },
);

Campaigns('test send: one rendered message to one phone', async (ctx) => {
  await serve(ctx);
  const c = (await create(ctx.svc, {})).json.campaign;
  const res = await ctx.svc.call('POST', `/api/v1/campaigns/${c.id}/test`, {
    json: { phone: '89160000002' },
  });
  assert.is(res.status, 200, res.text);
  assert.is(res.json.test.text, 'Анна, у нас новое меню! Карта 101');
  assert.is(ctx.svc.sms.sent.length, 1);
});

Campaigns('bad input and unknown campaigns', async (ctx) => {
  await serve(ctx);
  const cases: Array<[Record<string, unknown>, string]> = [
    [{ name: '' }, 'name'],
    [{ text: '' }, 'text'],
    [{ schedule: { cron: '61 10 * * *' } }, 'schedule'],
    [{ schedule: { at: 'tomorrow' } }, 'schedule'],
    [{ audience: { discount: 200 } }, 'audience.discount'],
    [{ ratePerSecond: 0 }, 'ratePerSecond'],
    [{ quietHours: { from: '25:00', to: '09:00' } }, 'quietHours'],
    [{ provider: 'pigeon' }, 'provider'],
  ];
  for (const [body, field] of cases) {
    const res = await create(ctx.svc, body);
    assert.is(res.status, 400, JSON.stringify(body));
    assert.is(res.json.error.code, 'VALIDATION_FAILED');
    assert.ok(res.json.error.field.startsWith(field), `${res.json.error.field} for ${JSON.stringify(body)}`);
  }
  const tz = await create(ctx.svc, { schedule: { cron: '0 10 * * *', timezone: 'Mars/Olympus' } });
  assert.equal([tz.status, tz.json.error.field], [400, 'schedule.timezone']);
  assert.is((await ctx.svc.call('GET', '/api/v1/campaigns/cmp_20261126_aaaaaaaaaaaa')).status, 404);
  const c = (await create(ctx.svc, {})).json.campaign;
  assert.equal(
    (await ctx.svc.call('POST', `/api/v1/campaigns/${c.id}/resume`)).json.error.code,
    'CAMPAIGN_STATE',
  );
  assert.is((await ctx.svc.call('POST', '/api/v1/campaigns', { as: 'terminal', json: {} })).status, 403);
  const list = await ctx.svc.call('GET', '/api/v1/campaigns', { as: 'support' });
  assert.is(list.json.items.length, 1);
});

Campaigns.run();

const Far = suite<Ctx>('campaigns scheduled far ahead');
Far.after.each(async (ctx) => ctx.svc?.stop());
Far('a one-off two months ahead stays scheduled, and starts at its time', async (ctx) => {
  await serve(ctx);
  const at = new Date(NOON + 60 * 86_400_000).toISOString();
  const c = (await create(ctx.svc, { schedule: { at }, quietHours: false })).json.campaign;
  await sleep(50); // a timer that overflowed (setTimeout past 24.8 days) would have fired by now
  assert.is((await get(ctx.svc, c.id)).state, 'scheduled');
  const runId = (await get(ctx.svc, c.id)).runs[0].id;
  assert.ok(
    ((await ctx.svc.service.host.timerDue(runId)) ?? 0) > ctx.clock.now(),
    'a timer is still pending for the start',
  );
  ctx.clock.advance(60 * 86_400_000);
  await ctx.svc.service.host.fireDeadlines();
  assert.is((await until(ctx.svc, c.id, 'completed')).counts.sent, 3);
});
Far.run();
