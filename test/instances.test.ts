/**
 * Several instances on one PostgreSQL database, as real processes behind any load balancer:
 * a PIN sent by instance A verifies on instance B; A killed with `kill -9` while PIN windows are
 * open — their PINs verify on B and their deadlines fire there; A killed mid-campaign — B carries
 * the campaign on, no phone gets the news twice, every recipient is accounted for.
 *
 * The instances share one database and one secret file, each with a data folder of its own,
 * and send through one fake sms.ru on 127.0.0.1 that counts what each phone got.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { rmSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { call, sleep, tempDir } from './helpers.ts';
import { freePort, spawnService, writeConfig, type ServiceProcess } from './process.ts';
import { FakeSmsru } from './fakes/providers/smsru.ts';
import { dropDatabase, newDatabase, postgresMissing } from './postgres.ts';

interface Ctx {
  dir: string;
  url: string;
  smsru: FakeSmsru;
  running: ServiceProcess[];
  config: (extra?: Record<string, unknown>) => string;
  instance: (name: string, config?: string) => Promise<ServiceProcess>;
}

const Instances = suite<Ctx>('instances on one PostgreSQL database (processes)');
const it = postgresMissing ? Instances.skip : Instances;
if (postgresMissing) process.stderr.write(`    instances (processes): skipped, ${postgresMissing}\n`);

Instances.before.each(async (ctx) => {
  if (postgresMissing) return;
  ctx.dir = tempDir();
  ctx.url = await newDatabase('instances');
  ctx.smsru = await new FakeSmsru().start();
  ctx.running = [];
  const secretFile = join(ctx.dir, 'secret.key');
  writeFileSync(secretFile, randomBytes(32).toString('hex'), { mode: 0o600 });
  ctx.config = (extra = {}) =>
    writeConfig(ctx.dir, {
      store: { engine: 'postgres', url: ctx.url, leaseSeconds: 3 },
      secretFile,
      otp: { ttlSeconds: 300 },
      sms: { providers: ['smsru'], statusPollSeconds: 0, smsru: { apiId: 'API-ID-1', url: ctx.smsru.url } },
      ...extra,
    });
  ctx.instance = async (name, config = ctx.config()) => {
    const svc = await spawnService(config, join(ctx.dir, name), await freePort());
    ctx.running.push(svc);
    return svc;
  };
});

Instances.after.each(async (ctx) => {
  if (postgresMissing) return;
  for (const svc of ctx.running) {
    svc.child.kill('SIGKILL');
    await svc.exited;
  }
  await ctx.smsru.stop();
  await dropDatabase(ctx.url);
  rmSync(ctx.dir, { recursive: true, force: true });
});

const kill = async (svc: ServiceProcess) => {
  svc.child.kill('SIGKILL');
  await svc.exited;
};

/** The PIN in the last message the fake sent to `phone`. */
function pinTo(smsru: FakeSmsru, phone: string): string {
  const to = phone.slice(1);
  const last = smsru
    .sent('/sms/send')
    .filter((r) => String(r.fields.to) === to)
    .at(-1);
  const pin = /\d{4,8}/.exec(String(last?.fields.msg ?? ''))?.[0];
  if (!pin) throw new Error(`no PIN was sent to ${phone}`);
  return pin;
}

/** Each phone the fake got a campaign message for, with how many it got. */
function newsPerPhone(smsru: FakeSmsru): Map<string, number> {
  const got = new Map<string, number>();
  for (const r of smsru.sent('/sms/send')) {
    const phones = Object.keys(r.fields)
      .filter((k) => /^to\[\d+\]$/.test(k))
      .map((k) => k.slice(3, -1));
    if (!phones.length && /новости/i.test(String(r.fields.msg ?? ''))) phones.push(String(r.fields.to));
    for (const p of phones) got.set(p, (got.get(p) ?? 0) + 1);
  }
  return got;
}

const auth = (svc: ServiceProcess, phone: string) =>
  call(svc.url, 'POST', '/api/v1/auth', { as: 'terminal', json: { phone, terminal: 'T1' } });
const verify = (svc: ServiceProcess, id: string, pin: string) =>
  call(svc.url, 'POST', `/api/v1/auth/${id}/verify`, { as: 'terminal', json: { pin } });

async function importCards(svc: ServiceProcess, count: number) {
  const lines = ['number,name,phone'];
  for (let i = 0; i < count; i++) lines.push(`${5000 + i},Гость ${i},+7916${String(i).padStart(7, '0')}`);
  const res = await call(svc.url, 'POST', '/api/v1/cards/import', {
    body: lines.join('\n'),
    headers: { 'Content-Type': 'text/csv' },
  });
  assert.is(res.status, 200, res.text);
}

it('a PIN sent by one instance verifies on the other', async (ctx) => {
  const [a, b] = await Promise.all([ctx.instance('a'), ctx.instance('b')]);
  await importCards(a, 2);
  const phone = '+79160000001';
  const started = await auth(a, phone);
  assert.is(started.status, 201, started.text);
  const ok = await verify(b, started.json.session.id, pinTo(ctx.smsru, phone));
  assert.is(ok.status, 200, ok.text);
  assert.is(ok.json.session.state, 'verified');
  assert.is(ok.json.session.card.number, '5001');
  // And the other way round: a session of B read on A.
  const other = await auth(b, '+79160000000');
  assert.is(other.status, 201, other.text);
  const read = await call(a.url, 'GET', `/api/v1/auth/${other.json.session.id}`, { as: 'terminal' });
  assert.is(read.json.session.state, 'awaitingPin');
});

it('kill -9 of an instance with open windows: their PINs verify on the other, their deadlines fire there', async (ctx) => {
  const short = ctx.config({ otp: { ttlSeconds: 2 } });
  const [a, b] = await Promise.all([ctx.instance('a', short), ctx.instance('b', short)]);
  await importCards(a, 3);
  const first = await auth(a, '+79160000001');
  const second = await auth(a, '+79160000002');
  assert.is(first.status, 201, first.text);
  assert.is(second.status, 201, second.text);
  const pin = pinTo(ctx.smsru, '+79160000001');
  await kill(a);
  const ok = await verify(b, first.json.session.id, pin);
  assert.is(ok.status, 200, ok.text);
  assert.is(ok.json.session.state, 'verified');
  // Nobody asks about the second window: B's ticker fires its deadline.
  await sleep(Date.parse(second.json.session.expiresAt) - Date.now() + 2500);
  const lapsed = await call(b.url, 'GET', `/api/v1/auth/${second.json.session.id}`, { as: 'terminal' });
  assert.is(lapsed.status, 200, lapsed.text);
  assert.is(lapsed.json.session.state, 'expired');
});

it('kill -9 mid-campaign: the other instance carries it on, no phone twice, every recipient counted', async (ctx) => {
  const [a, b] = await Promise.all([ctx.instance('a'), ctx.instance('b')]);
  const count = 120;
  await importCards(a, count);
  for (let i = 0; i < count; i += 20)
    await Promise.all(
      Array.from({ length: Math.min(20, count - i) }, (_, k) =>
        call((k % 2 ? a : b).url, 'POST', '/api/v1/consents', {
          json: { phone: `+7916${String(i + k).padStart(7, '0')}`, marketing: true, source: 'pos' },
        }),
      ),
    );
  ctx.smsru.delayMs = 40; // a provider across the internet: the run takes seconds
  const made = await call(a.url, 'POST', '/api/v1/campaigns', {
    json: { name: 'Новости', text: 'Новости недели', ratePerSecond: 40, quietHours: false },
  });
  assert.is(made.status, 201, made.text);
  const id = made.json.campaign.id;
  assert.is((await call(a.url, 'POST', `/api/v1/campaigns/${id}/start`)).status, 200);
  // Let A send part of it, then kill it mid-batch.
  for (let i = 0; i < 400 && newsPerPhone(ctx.smsru).size < 30; i++) await sleep(10);
  await kill(a);
  const sentByA = newsPerPhone(ctx.smsru).size;
  assert.ok(sentByA > 0 && sentByA < count, `A sent ${sentByA} before it was killed`);
  let campaign;
  for (const until = Date.now() + 60_000; Date.now() < until; await sleep(200)) {
    campaign = (await call(b.url, 'GET', `/api/v1/campaigns/${id}`, { as: 'support' })).json.campaign;
    if (campaign.state === 'completed') break;
  }
  assert.is(campaign.state, 'completed', JSON.stringify(campaign?.counts));
  const got = newsPerPhone(ctx.smsru);
  const twice = [...got].filter(([, n]) => n > 1);
  assert.equal(twice, [], 'no phone got the news twice');
  const c = campaign.counts;
  assert.is(c.total, count);
  assert.is(c.queued + c.sending, 0);
  assert.is(c.sent + c.delivered + c.unknown + c.failed + c.skipped, count, 'every recipient accounted for');
  // Sent means the fake got it; unknown means it may have: never more than one each.
  assert.ok(got.size >= c.sent + c.delivered && got.size <= c.sent + c.delivered + c.unknown);
  assert.ok(c.sent + c.delivered > sentByA, 'B sent the rest');
});

Instances.run();
