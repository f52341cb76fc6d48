/**
 * Real adapters through the HTTP API, against fake providers on 127.0.0.1: failover when the
 * first provider fails in each way, every provider failing, delivery status reaching the
 * session record, cool-off, dry run, and code by call.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { startService, type TestService } from '../helpers.ts';
import { FakeSmsc } from '../fakes/providers/smsc.ts';
import { FakeSmsru } from '../fakes/providers/smsru.ts';
import { FakeClock } from '../fakes/clock.ts';
import { parseConfig } from '../../runtime/config.ts';

interface Ctx {
  smsc: FakeSmsc;
  smsru: FakeSmsru;
  clock: FakeClock;
  svc: TestService;
}

const PHONE = '+79161234567';

async function serve(ctx: Ctx, extra: Record<string, unknown> = {}, otp: Record<string, unknown> = {}) {
  ctx.svc = await startService({
    realProviders: true,
    clock: ctx.clock,
    config: {
      otp: { resendCooldownSeconds: 0, ...otp },
      sms: {
        providers: ['smsc', 'smsru'],
        sender: 'Cafe',
        timeoutMs: 300,
        retries: 1,
        statusPollSeconds: 3600, // polled by hand below
        smsc: { login: 'venue', password: 'secret', url: ctx.smsc.url },
        smsru: { apiId: 'API-ID-1', url: ctx.smsru.url },
        ...extra,
      },
    } as never,
  });
  await ctx.svc.call('POST', '/api/v1/cards/import', {
    body: `number,name,phone\n100,Анна Ли,${PHONE}\n101,Борис,+79160000002\n`,
    headers: { 'Content-Type': 'text/csv' },
  });
}

const start = (svc: TestService, phone = PHONE) =>
  svc.call('POST', '/api/v1/auth', { as: 'terminal', json: { phone, terminal: 'T1' } });
const pinIn = (fake: FakeSmsc | FakeSmsru) => {
  const last = [...fake.requests]
    .reverse()
    .find((r) => r.path === '/sys/send.php' || r.path === '/sms/send')!;
  return String(last.fields.mes ?? last.fields.msg).match(/\d{6}/)![0];
};
const record = async (svc: TestService, id: string) =>
  (await svc.call('GET', `/api/v1/sessions/${id}`, { as: 'support' })).json.session;

const Providers = suite<Ctx>('providers through the API');
Providers.before.each(async (ctx) => {
  ctx.smsc = await new FakeSmsc().start();
  ctx.smsru = await new FakeSmsru().start();
  ctx.clock = new FakeClock(Date.now());
  ctx.svc = undefined as never;
});
Providers.after.each(async (ctx) => {
  await ctx.svc?.stop();
  await ctx.smsc.stop();
  await ctx.smsru.stop();
});

// The last column: whether smsc may have sent the PIN all the same (so the guest may get two).
for (const [mode, why, tries, maybe] of [
  ['error:3', 'no money (account)', 1, false],
  ['error:2', 'wrong credentials (account)', 1, false],
  ['http500', 'HTTP 500, retried once (transient)', 2, true],
  ['hang', 'no answer before the deadline, retried once', 2, true],
  ['error:9', 'smsc 9, retried once (transient)', 2, false],
] as const) {
  Providers(`failover when smsc fails: ${why}`, async (ctx) => {
    await serve(ctx);
    ctx.smsc.queue(...Array(tries).fill(mode));
    const res = await start(ctx.svc);
    assert.is(res.status, 201, res.text);
    assert.is(ctx.smsc.sent('/sys/send.php').length, tries);
    assert.is(ctx.smsru.sent('/sms/send').length, 1);
    const rec = await record(ctx.svc, res.json.session.id);
    assert.equal(
      rec.sms.map((a: { provider: string; outcome: string }) => `${a.provider}:${a.outcome}`),
      [...Array(tries).fill('smsc:failed'), 'smsru:accepted'],
    );
    assert.ok(rec.sms[0].error.code, 'the provider answer code is shown');
    assert.is(Boolean(rec.sms[0].mayHaveSent), maybe, 'whether smsc may have sent it');
    assert.is(Boolean(rec.sms.at(-1).duplicatePossible), maybe, 'whether the guest may get two');
    const ok = await ctx.svc.call('POST', `/api/v1/auth/${res.json.session.id}/verify`, {
      as: 'terminal',
      json: { pin: pinIn(ctx.smsru) },
    });
    assert.is(ok.status, 200);
  });
}

Providers('a permanent failure (wrong number) stops: no failover, 502', async (ctx) => {
  await serve(ctx);
  ctx.smsc.queue('error:7');
  const res = await start(ctx.svc);
  assert.equal([res.status, res.json.error.code], [502, 'SMS_FAILED']);
  assert.is(ctx.smsru.requests.length, 0);
});

Providers(
  'every provider failing: 502 SMS_FAILED and a failed session showing every attempt',
  async (ctx) => {
    await serve(ctx);
    ctx.smsc.queue('error:3');
    ctx.smsru.queue('error:201');
    const res = await start(ctx.svc);
    assert.equal([res.status, res.json.error.code], [502, 'SMS_FAILED']);
    const rec = await record(ctx.svc, res.json.error.sessionId);
    assert.is(rec.state, 'failed');
    assert.equal(
      rec.sms.map((a: { provider: string; error: { code: string } }) => `${a.provider}:${a.error.code}`),
      ['smsc:3', 'smsru:201'],
    );
    assert.match(rec.sms[1].error.text, /account: Не хватает средств/);
    // Each failed try in words, by the provider's own code.
    assert.match(rec.sms[0].failure, /проблема с нашим аккаунтом.*: на счёте не хватает денег$/);
    assert.match(rec.sms[1].failure, /: на счёте не хватает денег$/);
  },
);

Providers('delivery status reaches the session record', async (ctx) => {
  await serve(ctx, { providers: ['smsru'] });
  const res = await start(ctx.svc);
  const id = res.json.session.id;
  assert.is((await record(ctx.svc, id)).sms[0].status, 'queued');
  ctx.clock.advance(11_000);
  assert.is(await ctx.svc.service.deliveries.pollOnce(), 1);
  assert.is((await record(ctx.svc, id)).sms[0].status, 'delivered');
  assert.is(ctx.smsru.sent('/sms/status')[0]!.fields.sms_id, (await record(ctx.svc, id)).sms[0].messageId);
  await ctx.svc.call('POST', `/api/v1/auth/${id}/verify`, {
    as: 'terminal',
    json: { pin: pinIn(ctx.smsru) },
  });
  assert.is((await record(ctx.svc, id)).sms[0].status, 'delivered', 'kept in the closed record');
  const metrics = await ctx.svc.call('GET', '/metrics', { as: null });
  assert.match(metrics.text, /smspds_sms_delivery_total\{provider="smsru",status="delivered"\} 1/);
  assert.match(metrics.text, /smspds_sms_sent_total\{provider="smsru",purpose="otp"\} 1/);
});

Providers('a provider that keeps failing is skipped for its cool-off', async (ctx) => {
  await serve(ctx, { retries: 0, failuresBeforeCoolOff: 2, coolOffSeconds: 60 });
  ctx.smsc.queue('error:3', 'error:3');
  assert.is((await start(ctx.svc)).status, 201);
  assert.is((await start(ctx.svc, '+79160000002')).status, 201);
  assert.is(ctx.smsc.sent('/sys/send.php').length, 2);
  await start(ctx.svc);
  assert.is(ctx.smsc.sent('/sys/send.php').length, 2, 'smsc was not asked while cooling off');
  ctx.clock.advance(61_000);
  await start(ctx.svc, '+79160000002');
  assert.is(ctx.smsc.sent('/sys/send.php').length, 3, 'and is tried again after it');
});

Providers('dry run goes through the whole path and sends nothing', async (ctx) => {
  await serve(ctx, { providers: ['smsru'], dryRun: true });
  const res = await start(ctx.svc);
  assert.is(res.status, 201);
  assert.is(ctx.smsru.sent('/sms/send')[0]!.fields.test, '1');
});

Providers('code by call: the guest reads the last 4 digits of the calling number', async (ctx) => {
  await serve(ctx, { providers: ['smsru'] }, { call: true });
  ctx.smsru.callCode = '7093';
  const res = await ctx.svc.call('POST', '/api/v1/auth', {
    as: 'terminal',
    json: { phone: PHONE, channel: 'call' },
  });
  assert.is(res.status, 201, res.text);
  assert.is(res.json.session.pinLength, 4);
  assert.is(ctx.smsru.sent('/code/call').length, 1);
  assert.is(ctx.smsru.sent('/sms/send').length, 0);
  const wrong = await ctx.svc.call('POST', `/api/v1/auth/${res.json.session.id}/verify`, {
    as: 'terminal',
    json: { pin: '1111' },
  });
  assert.equal([wrong.status, wrong.json.error.attemptsLeft], [422, 2]);
  const ok = await ctx.svc.call('POST', `/api/v1/auth/${res.json.session.id}/verify`, {
    as: 'terminal',
    json: { pin: '7093' },
  });
  assert.is(ok.status, 200);
  const rec = await record(ctx.svc, res.json.session.id);
  assert.is(rec.sms[0].provider, 'smsru-call');
  assert.not.ok(JSON.stringify(rec).includes('7093'), 'the code is not in the record');
});

Providers('code by call is refused where the venue has not turned it on', async (ctx) => {
  await serve(ctx);
  const res = await ctx.svc.call('POST', '/api/v1/auth', {
    as: 'terminal',
    json: { phone: PHONE, channel: 'call' },
  });
  assert.equal([res.status, res.json.error.code], [403, 'CHANNEL_DISABLED']);
});

Providers(
  'a campaign through sms.ru: one request for every number, each with its own text; counted per message',
  async (ctx) => {
    await serve(ctx, { providers: ['smsru'] });
    for (const phone of [PHONE, '+79160000002'])
      await ctx.svc.call('POST', '/api/v1/consents', { json: { phone, marketing: true, source: 'pos' } });
    const created = await ctx.svc.call('POST', '/api/v1/campaigns', {
      json: { name: 'Меню', text: '{firstName}, у нас новое меню & +20% скидка!', quietHours: false },
    });
    const id = created.json.campaign.id;
    await ctx.svc.call('POST', `/api/v1/campaigns/${id}/start`);
    let campaign;
    for (let i = 0; i < 100; i++) {
      campaign = (await ctx.svc.call('GET', `/api/v1/campaigns/${id}`)).json.campaign;
      if (campaign.state === 'completed') break;
      await new Promise((r) => setTimeout(r, 20));
    }
    assert.is(campaign.state, 'completed');
    assert.is(campaign.counts.sent, 2);
    const sends = ctx.smsru.requests.filter((r) => r.path === '/sms/send');
    assert.is(sends.length, 1, 'one request');
    assert.equal(sends[0]!.fields['to[79161234567]'], 'Ли, у нас новое меню & +20% скидка!');
    assert.equal(sends[0]!.fields['to[79160000002]'], 'Борис, у нас новое меню & +20% скидка!');
    const metrics = await ctx.svc.call('GET', '/metrics', { as: null });
    assert.match(metrics.text, /smspds_sms_sent_total\{provider="smsru",purpose="marketing"\} 2/);
    assert.match(metrics.text, /smspds_sms_segments_total\{provider="smsru"\} 2/);
  },
);

/** Start a campaign to both holders (both consenting) and wait until its run reaches `state`. */
async function campaignTo(ctx: Ctx, state: string) {
  for (const phone of [PHONE, '+79160000002'])
    await ctx.svc.call('POST', '/api/v1/consents', { json: { phone, marketing: true, source: 'pos' } });
  const created = await ctx.svc.call('POST', '/api/v1/campaigns', {
    json: { name: 'Меню', text: '{firstName}, у нас новое меню', quietHours: false },
  });
  const id = created.json.campaign.id as string;
  await ctx.svc.call('POST', `/api/v1/campaigns/${id}/start`);
  return { id, campaign: await campaignState(ctx, id, state) };
}

async function campaignState(ctx: Ctx, id: string, state: string) {
  for (let i = 0; i < 150; i++) {
    const campaign = (await ctx.svc.call('GET', `/api/v1/campaigns/${id}`)).json.campaign;
    if (campaign.state === state) return campaign;
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error(`campaign ${id} did not reach ${state}`);
}

Providers(
  'a campaign request sms.ru leaves unanswered is sent once: unknown, not tried again, not failed over',
  async (ctx) => {
    await serve(ctx, { providers: ['smsru', 'smsc'] });
    ctx.smsru.queue('hang'); // it may have sent them: it never says
    const { id, campaign } = await campaignTo(ctx, 'paused');
    assert.equal([campaign.counts.unknown, campaign.counts.sent, campaign.counts.failed], [2, 0, 0]);
    assert.is(ctx.smsru.sent('/sms/send').length, 1, 'no second request to sms.ru');
    assert.is(ctx.smsc.sent('/sys/send.php').length, 0, 'no failover to smsc');
    const unknown = (await ctx.svc.call('GET', `/api/v1/campaigns/${id}/recipients?status=unknown`)).json;
    const reasons = unknown.items.map((r: { reason: string }) => r.reason);
    assert.is(reasons.length, 2);
    for (const reason of reasons) assert.match(reason, /smsru TIMEOUT.*may have been sent, not sent again/);

    assert.is((await ctx.svc.call('POST', `/api/v1/campaigns/${id}/resume`)).status, 200);
    const done = await campaignState(ctx, id, 'completed');
    assert.equal([done.counts.unknown, done.counts.sent], [2, 0], 'resume does not send them again');
    assert.is(ctx.smsru.sent('/sms/send').length + ctx.smsc.sent('/sys/send.php').length, 1);
  },
);

Providers(
  'a campaign request smsc leaves unanswered is asked of smsc again with the same id, never of sms.ru',
  async (ctx) => {
    await serve(ctx, { providers: ['smsc', 'smsru'] });
    // smsc deduplicates by our id: asking it again cannot send twice; asking sms.ru could.
    ctx.smsc.queue('hang', 'hang');
    const { campaign } = await campaignTo(ctx, 'paused');
    assert.equal([campaign.counts.sent, campaign.counts.unknown], [0, 2]);
    const tries = ctx.smsc.sent('/sys/send.php');
    assert.is(tries.length, 2);
    assert.ok(tries[0]!.fields.id, 'our id');
    assert.is(tries[1]!.fields.id, tries[0]!.fields.id, 'the same id both times');
    assert.is(ctx.smsru.sent('/sms/send').length, 0, 'no failover after a try that may have sent');
  },
);

Providers(
  'a campaign request sms.ru refuses whole (no money) waits for the resume, then each number gets it once',
  async (ctx) => {
    await serve(ctx, { providers: ['smsru'] });
    ctx.smsru.queue('error:201');
    const { id, campaign } = await campaignTo(ctx, 'paused');
    const run = campaign.runs.at(-1);
    assert.equal([run.counts.queued, run.counts.failed, run.awaitingRetry], [2, 0, 2]);
    assert.match(run.error.extra.reason, /^201: .*средств/);

    assert.is((await ctx.svc.call('POST', `/api/v1/campaigns/${id}/resume`)).status, 200);
    const done = await campaignState(ctx, id, 'completed');
    assert.equal([done.counts.sent, done.counts.failed, done.runs.at(-1).awaitingRetry], [2, 0, 0]);
    const sends = ctx.smsru.sent('/sms/send');
    assert.is(sends.length, 2, 'the refused request, then the one that took both');
    assert.equal(
      Object.keys(sends[1]!.fields)
        .filter((k) => k.startsWith('to['))
        .sort(),
      ['to[79160000002]', 'to[79161234567]'],
    );
  },
);

Providers('a listed provider without its credentials stops the start, naming the key', () => {
  assert.throws(
    () => parseConfig({ sms: { providers: ['smsru'] } }),
    /sms\.smsru\.apiId: required when "smsru" is in sms\.providers/,
  );
  assert.throws(
    () => parseConfig({ sms: { providers: ['smsc'], smsc: { login: 'x' } } }),
    /sms\.smsc\.password/,
  );
  assert.throws(
    () => parseConfig({ sms: { providers: ['kazinfoteh'], kazinfoteh: { login: 'x' } } }),
    /sms\.kazinfoteh\.password/,
  );
  assert.throws(
    () => parseConfig({ otp: { call: true } }),
    /otp\.call: code by call needs sms\.smsru\.apiId/,
  );
  assert.ok(
    parseConfig({ sms: { providers: ['smsc'], smsc: { apiKey: 'k' } } }),
    'an API key alone is enough for smsc',
  );
});

Providers.run();
