/**
 * A campaign killed with SIGKILL mid-run, against a fake provider that records what it
 * received: after the restart the run resumes where it was, no phone gets the message twice,
 * and no recipient is silently lost (each ends sent, failed or unknown — reported).
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { rmSync } from 'node:fs';
import { call, sleep, tempDir } from './helpers.ts';
import { freePort, spawnService, writeConfig } from './process.ts';
import { FakeSmsru } from './fakes/providers/smsru.ts';

const N = 400;
const phoneOf = (i: number) => `+7916${String(1000000 + i).padStart(7, '0')}`;

const Crash = suite('campaign crash safety');

Crash('SIGKILL mid-campaign, twice: no duplicates, no silent losses, the run completes', async () => {
  const dir = tempDir();
  const fake = await new FakeSmsru().start();
  let children: Array<{ child: import('node:child_process').ChildProcess }> | undefined;
  fake.delayMs = 400; // slow enough that a kill finds messages in flight
  try {
    const config = writeConfig(dir, {
      sms: {
        providers: ['smsru'],
        smsru: { apiId: 'API-ID-1', url: fake.url },
        timeoutMs: 2000,
        statusPollSeconds: 0,
      },
      campaigns: { quietHours: false },
      limits: { smsPerDay: 0 },
    });
    const port = await freePort();
    const data = `${dir}/data`;
    let svc = await spawnService(config, data, port);
    children = [svc];
    const csv = [
      'number,name,phone',
      ...Array.from({ length: N }, (_, i) => `${5000 + i},Гость Номер ${i},${phoneOf(i)}`),
    ].join('\n');
    assert.is(
      (
        await call(svc.url, 'POST', '/api/v1/cards/import', {
          body: csv,
          headers: { 'Content-Type': 'text/csv' },
        })
      ).status,
      200,
    );
    for (let i = 0; i < N; i++)
      await call(svc.url, 'POST', '/api/v1/consents', {
        json: { phone: phoneOf(i), marketing: true, source: 'pos' },
      });
    const created = await call(svc.url, 'POST', '/api/v1/campaigns', {
      json: { name: 'Crash', text: 'Новое меню, {firstName}!', ratePerSecond: 80 },
    });
    const id = created.json.campaign.id;
    await call(svc.url, 'POST', `/api/v1/campaigns/${id}/start`);
    for (const wait of [200, 1300]) {
      await sleep(wait);
      const before = (await call(svc.url, 'GET', `/api/v1/campaigns/${id}`)).json.campaign;
      assert.is(before.state, 'running', `the kill lands mid-run: ${JSON.stringify(before.counts)}`);
      assert.ok(before.counts.sent < N, `sent before the kill: ${before.counts.sent}`);
      svc.child.kill('SIGKILL');
      await svc.exited;
      svc = await spawnService(config, data, port);
      children.push(svc);
    }
    let campaign;
    for (let i = 0; i < 300; i++) {
      campaign = (await call(svc.url, 'GET', `/api/v1/campaigns/${id}`)).json.campaign;
      if (campaign.state === 'completed') break;
      await sleep(100);
    }
    assert.is(campaign.state, 'completed', JSON.stringify(campaign));
    // Single sends carry `to`; multi-number requests carry one `to[79…]` field per number.
    const received = fake.sent('/sms/send').flatMap((r) =>
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
    assert.ok(c.unknown <= 2 * 80, `unknown only for what was in flight at a kill: ${c.unknown}`);
    const unknown = (
      await call(svc.url, 'GET', `/api/v1/campaigns/${id}/recipients?status=unknown&limit=500`)
    ).json.items;
    assert.is(unknown.length, c.unknown, 'unknown recipients are reported one by one');
    assert.ok(received.length >= c.sent, 'every recipient counted as sent reached the provider');
    process.stderr.write(
      `    campaign crash: ${N} recipients, provider received ${received.length}, sent ${c.sent}, unknown ${c.unknown}\n`,
    );
    svc.child.kill('SIGTERM');
    await svc.exited;
  } finally {
    for (const child of children ?? []) if (child.child.exitCode === null) child.child.kill('SIGKILL');
    await fake.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});

Crash(
  'SIGTERM mid-campaign: the batch in flight finishes, nothing is left unknown, the run resumes',
  async () => {
    const dir = tempDir();
    const fake = await new FakeSmsru().start();
    fake.delayMs = 300;
    let svc: Awaited<ReturnType<typeof spawnService>> | undefined;
    try {
      const config = writeConfig(dir, {
        sms: {
          providers: ['smsru'],
          smsru: { apiId: 'API-ID-1', url: fake.url },
          timeoutMs: 2000,
          statusPollSeconds: 0,
        },
        campaigns: { quietHours: false },
        limits: { smsPerDay: 0 },
      });
      const port = await freePort();
      const data = `${dir}/data`;
      svc = await spawnService(config, data, port);
      const csv = [
        'number,name,phone',
        ...Array.from({ length: 120 }, (_, i) => `${7000 + i},Гость Номер ${i},${phoneOf(i)}`),
      ].join('\n');
      await call(svc.url, 'POST', '/api/v1/cards/import', {
        body: csv,
        headers: { 'Content-Type': 'text/csv' },
      });
      for (let i = 0; i < 120; i++)
        await call(svc.url, 'POST', '/api/v1/consents', {
          json: { phone: phoneOf(i), marketing: true, source: 'pos' },
        });
      const id = (
        await call(svc.url, 'POST', '/api/v1/campaigns', {
          json: { name: 'Stop', text: 'Меню!', ratePerSecond: 40 },
        })
      ).json.campaign.id;
      await call(svc.url, 'POST', `/api/v1/campaigns/${id}/start`);
      await sleep(150); // the first batch is waiting for the provider
      svc.child.kill('SIGTERM');
      assert.is(await svc.exited, 0, 'a clean exit');
      svc = await spawnService(config, data, port);
      let c;
      for (let i = 0; i < 200; i++) {
        c = (await call(svc.url, 'GET', `/api/v1/campaigns/${id}`)).json.campaign;
        if (c.state === 'completed') break;
        await sleep(100);
      }
      assert.is(c.state, 'completed', JSON.stringify({ runs: c.runs, out: svc.output().slice(-2000) }));
      assert.is(c.counts.unknown, 0, 'the batch in flight was finished, not abandoned');
      assert.is(c.counts.sent, 120);
    } finally {
      if (svc && svc.child.exitCode === null) svc.child.kill('SIGKILL');
      await fake.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  },
);

Crash.run();
