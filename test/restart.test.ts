/**
 * Crash safety with a real server process: SIGKILL mid-activation, restart on the same folder,
 * the workflow goes on; deadlines that passed while it was down read expired at once, and ones
 * that had not passed fire on time with no request at all.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { rmSync } from 'node:fs';
import { call, sleep, tempDir } from './helpers.ts';
import { freePort, outboxPins, spawnService, writeConfig } from './process.ts';
import { FakeSmsc } from './fakes/providers/smsc.ts';

const Restart = suite<{ dir: string; config: string; port: number }>('restart after SIGKILL');
Restart.before.each(async (ctx) => {
  ctx.dir = tempDir();
  // PINs outlive any restart, however slow the machine; the deadline test sets its own lifetimes.
  ctx.config = writeConfig(ctx.dir, { otp: { ttlSeconds: 300 } });
  ctx.port = await freePort();
});
Restart.after.each((ctx) => rmSync(ctx.dir, { recursive: true, force: true }));

const holder = { fullName: 'Иванов Иван', birthday: '1985-03-12', confirm: 'sms', pdConsent: true };

Restart(
  'a live activation survives kill -9: the PIN still verifies after restart',
  async ({ dir, config, port }) => {
    const data = `${dir}/data`;
    let svc = await spawnService(config, data, port);
    await call(svc.url, 'POST', '/api/v1/cards/ranges', { json: { from: '100', to: '109' } });
    const start = await call(svc.url, 'POST', '/api/v1/cards/activate', {
      as: 'terminal',
      json: { ...holder, cardNumber: '105', phone: '+79161234567' },
    });
    assert.is(start.json.activation.state, 'awaitingPin');
    svc.child.kill('SIGKILL');
    await svc.exited;
    svc = await spawnService(config, data, port);
    try {
      assert.match(svc.output(), /restored 1 live workflow/);
      const pin = outboxPins(data).at(-1)!;
      const ok = await call(svc.url, 'POST', `/api/v1/cards/activations/${start.json.activation.id}/verify`, {
        as: 'terminal',
        json: { pin },
      });
      assert.is(ok.status, 200, ok.text);
      assert.is(ok.json.activation.state, 'activated');
      assert.is(outboxPins(data).length, 1, 'the restored workflow sent no second SMS');
      const card = await call(svc.url, 'GET', '/api/v1/cards/105');
      assert.is(card.json.card.state, 'active');
    } finally {
      svc.child.kill('SIGKILL');
      await svc.exited;
    }
  },
);

Restart(
  'deadlines: passed while down → expired at once; still ahead → fires on time by itself',
  async ({ dir, port }) => {
    const data = `${dir}/data`;
    // A 1 s PIN for the window that lapses while the service is down; 10 s for the one that
    // must still be ahead after a restart (a start takes far less, even on a busy machine).
    let svc = await spawnService(writeConfig(dir, { otp: { ttlSeconds: 1 } }), data, port);
    await call(svc.url, 'POST', '/api/v1/cards/ranges', { json: { from: '200', to: '209' } });
    const early = await call(svc.url, 'POST', '/api/v1/cards/activate', {
      as: 'terminal',
      json: { ...holder, cardNumber: '201', phone: '+79160000001' },
    });
    svc.child.kill('SIGKILL');
    await svc.exited;
    await sleep(Date.parse(early.json.activation.expiresAt) - Date.now() + 200); // it lapses while down
    const config = writeConfig(dir, { otp: { ttlSeconds: 10 } });
    svc = await spawnService(config, data, port);
    let late;
    try {
      const a = await call(svc.url, 'GET', `/api/v1/cards/activations/${early.json.activation.id}`, {
        as: 'support',
      });
      assert.is(a.json.activation.state, 'expired', 'expired at once on restore');
      late = await call(svc.url, 'POST', '/api/v1/cards/activate', {
        as: 'terminal',
        json: { ...holder, cardNumber: '202', phone: '+79160000002' },
      });
      assert.is(late.status, 201, late.text);
    } finally {
      svc.child.kill('SIGKILL');
      await svc.exited;
    }
    svc = await spawnService(config, data, port);
    try {
      const b = await call(svc.url, 'GET', `/api/v1/cards/activations/${late.json.activation.id}`, {
        as: 'support',
      });
      assert.is(b.json.activation.state, 'awaitingPin', 'the later one is still live');
      await sleep(Date.parse(late.json.activation.expiresAt) - Date.now() + 300);
      svc.child.kill('SIGKILL'); // no request reached it: the timer alone must have fired and saved
      await svc.exited;
      svc = await spawnService(config, data, port);
      const c = await call(svc.url, 'GET', `/api/v1/cards/activations/${late.json.activation.id}`, {
        as: 'support',
      });
      assert.is(c.json.activation.state, 'expired');
      assert.match(svc.output(), /restored 0 live workflow/);
      assert.is(
        (await call(svc.url, 'GET', '/api/v1/cards/202')).json.card.state,
        'inactive',
        'its card was released',
      );
    } finally {
      svc.child.kill('SIGKILL');
      await svc.exited;
    }
  },
);

Restart(
  'killed between the provider’s acceptance and our record: the code the guest got still works',
  async ({ dir, port }) => {
    const data = `${dir}/data`;
    const smsc = await new FakeSmsc().start();
    const config = writeConfig(dir, {
      otp: { ttlSeconds: 300 },
      sms: { providers: ['smsc'], smsc: { login: 'venue', password: 'secret', url: smsc.url } },
    });
    let svc = await spawnService(config, data, port);
    try {
      await call(svc.url, 'POST', '/api/v1/cards/import', {
        body: 'number,name,phone\n310,Анна Ли,+79161234567\n',
        headers: { 'Content-Type': 'text/csv' },
      });
      smsc.queue('hang'); // smsc takes the message, and its answer never comes back
      const pending = call(svc.url, 'POST', '/api/v1/auth', {
        as: 'terminal',
        json: { phone: '+79161234567', terminal: 'T1' },
      }).catch(() => null);
      for (let i = 0; i < 400 && smsc.sent('/sys/send.php').length === 0; i++) await sleep(10);
      assert.is(smsc.delivered().length, 1, 'the guest has the SMS');
      svc.child.kill('SIGKILL');
      await svc.exited;
      await pending;
      svc = await spawnService(config, data, port);
      // The restored send runs again under the same id; smsc drops it as a repeat.
      for (let i = 0; i < 400 && smsc.sent('/sys/send.php').length < 2; i++) await sleep(10);
      const [first, again] = smsc.sent('/sys/send.php');
      assert.ok(again, 'the interrupted send was re-run');
      assert.is(again!.fields.id, first!.fields.id, 'under the same id');
      assert.is(again!.fields.mes, first!.fields.mes, 'with the same code');
      assert.is(smsc.delivered().length, 1, 'smsc delivered it once');
      const sessions = await call(svc.url, 'GET', '/api/v1/sessions?phone=%2B79161234567');
      const id = sessions.json.items[0].id;
      const pin = smsc.delivered()[0]!.text.match(/\d{6}/)![0];
      const ok = await call(svc.url, 'POST', `/api/v1/auth/${id}/verify`, { as: 'terminal', json: { pin } });
      assert.is(ok.status, 200, ok.text);
      assert.is(ok.json.session.card.number, '310');
    } finally {
      svc.child.kill('SIGKILL');
      await svc.exited;
      await smsc.stop();
    }
  },
);

Restart(
  'an authorization session survives kill -9: its PIN verifies after restart, no second SMS',
  async ({ dir, config, port }) => {
    const data = `${dir}/data`;
    let svc = await spawnService(config, data, port);
    await call(svc.url, 'POST', '/api/v1/cards/import', {
      body: 'number,name,phone\n300,Анна Ли,+79161234567\n',
      headers: { 'Content-Type': 'text/csv' },
    });
    const start = await call(svc.url, 'POST', '/api/v1/auth', {
      as: 'terminal',
      form: { phone: '89161234567', terminal: 'T1' },
    });
    assert.is(start.status, 201, start.text);
    svc.child.kill('SIGKILL');
    await svc.exited;
    svc = await spawnService(config, data, port);
    try {
      const ok = await call(svc.url, 'POST', `/api/v1/auth/${start.json.session.id}/verify`, {
        as: 'terminal',
        form: { pin: outboxPins(data).at(-1)! },
      });
      assert.is(ok.status, 200, ok.text);
      assert.is(ok.json.session.card.number, '300');
      assert.is(outboxPins(data).length, 1, 'no SMS was sent twice');
    } finally {
      svc.child.kill('SIGKILL');
      await svc.exited;
    }
  },
);

Restart('a graceful restart (SIGTERM) keeps live sessions working', async ({ dir, config, port }) => {
  const data = `${dir}/data`;
  let svc = await spawnService(config, data, port);
  await call(svc.url, 'POST', '/api/v1/cards/ranges', { json: { from: '400', to: '409' } });
  const start = await call(svc.url, 'POST', '/api/v1/cards/activate', {
    as: 'terminal',
    json: { ...holder, cardNumber: '401', phone: '+79161234567' },
  });
  svc.child.kill('SIGTERM');
  assert.is(await svc.exited, 0);
  svc = await spawnService(config, data, port);
  try {
    assert.match(svc.output(), /restored 1 live workflow/);
    const ok = await call(svc.url, 'POST', `/api/v1/cards/activations/${start.json.activation.id}/verify`, {
      as: 'terminal',
      json: { pin: outboxPins(data).at(-1)! },
    });
    assert.is(ok.status, 200, ok.text);
    assert.is(ok.json.activation.state, 'activated');
  } finally {
    svc.child.kill('SIGKILL');
    await svc.exited;
  }
});

Restart(
  'a second instance on the same folder refuses to start and names the PID',
  async ({ dir, config, port }) => {
    const data = `${dir}/data`;
    const svc = await spawnService(config, data, port);
    try {
      const other = await spawnService(config, data, await freePort()).then(
        () => 'started',
        (err: Error) => err.message,
      );
      assert.match(other, `in use by another SMS PDS process (PID ${svc.child.pid})`);
    } finally {
      svc.child.kill('SIGTERM');
      assert.is(await svc.exited, 0, 'SIGTERM is a clean exit');
    }
  },
);

Restart('a bad configuration stops the start with the key named', async ({ dir, port }) => {
  for (const [extra, key] of [
    [{ otp: { ttlSeconds: 900 } }, 'otp.ttlSeconds'],
    [{ sms: { providers: ['pigeon'] } }, 'sms.providers[0]'],
    [{ campaigns: { timezone: 'Mars/Olympus' } }, 'campaigns.timezone'],
    [{ otp: { lenght: 6 } }, 'otp.lenght'],
    [{ sms: { providers: ['console', 'smsru'] } }, 'sms.smsru.apiId'],
  ] as const) {
    const config = writeConfig(dir, extra);
    const res = await spawnService(config, `${dir}/data`, port).then(
      () => 'started',
      (err: Error) => err.message,
    );
    assert.match(res, key, JSON.stringify(extra));
  }
});

Restart.run();
