/**
 * The two floor fixtures the benchmarks compare the service with still do what they claim: the
 * authorization floor runs the real auth machine (a right PIN verifies once, a wrong one does
 * not), and the campaign floor sends through the real sms.ru adapter.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { request, startScript, stopChild, ROOT } from '../bench/lib.ts';
import { FakeSmsru } from './fakes/providers/smsru.ts';

const Floors = suite('benchmark floors');
const form = { 'Content-Type': 'application/x-www-form-urlencoded' };

Floors(
  'the authorization floor runs the auth machine: a right PIN verifies, a wrong one does not',
  async () => {
    const { child, port } = await startScript('bench/authFloor.ts');
    try {
      const start = async () => {
        const r = await request(port, 'POST', '/api/v1/auth', form, 'phone=8%20916%20123-45-67&terminal=T1');
        assert.is(r.status, 201, r.body);
        const session = JSON.parse(r.body).session;
        assert.is(session.phone, '+79161234567');
        assert.is(session.state, 'awaitingPin');
        const pin = String(r.headers['x-floor-pin']);
        assert.match(pin, /^\d{6}$/);
        return { id: session.id as string, pin };
      };
      const right = await start();
      const ok = await request(port, 'POST', `/api/v1/auth/${right.id}/verify`, form, `pin=${right.pin}`);
      assert.is(ok.status, 200, ok.body);
      assert.is(JSON.parse(ok.body).session.card.number, '1000001');
      const again = await request(port, 'POST', `/api/v1/auth/${right.id}/verify`, form, `pin=${right.pin}`);
      assert.is(again.status, 404, 'a verified session is gone');

      const wrong = await start();
      const other = wrong.pin === '000000' ? '111111' : '000000';
      const no = await request(port, 'POST', `/api/v1/auth/${wrong.id}/verify`, form, `pin=${other}`);
      assert.is(no.status, 409, no.body);
      const bad = await request(port, 'POST', '/api/v1/auth', form, 'phone=12&terminal=T1');
      assert.is(bad.status, 400);
    } finally {
      await stopChild(child);
    }
  },
);

Floors('the campaign floor sends every message through the sms.ru adapter, 100 a request', async () => {
  const fake = await new FakeSmsru().start();
  try {
    const { stdout } = await promisify(execFile)(
      process.execPath,
      ['--import', 'tsx', 'bench/campaignFloor.ts', fake.url, '250'],
      { cwd: ROOT },
    );
    const [, sent, cpu] = /^floor (\d+) (\S+)$/m.exec(stdout) ?? [];
    assert.is(sent, '250');
    assert.ok(Number(cpu) > 0);
    const sends = fake.sent('/sms/send');
    assert.equal(
      sends.map((r) => Object.keys(r.fields).filter((k) => k.startsWith('to[')).length).sort((a, b) => b - a),
      [100, 100, 50],
    );
    const texts = sends.flatMap((r) => Object.entries(r.fields).filter(([k]) => k.startsWith('to[')));
    assert.is(new Set(texts.map(([k]) => k)).size, 250, 'every number once');
    assert.ok(texts.every(([, text]) => text === 'Гость, у нас новое меню!'));
  } finally {
    await fake.stop();
  }
});

Floors.run();
