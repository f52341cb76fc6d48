/**
 * Daily reports from the records: sessions by outcome, share verified, refused starts by reason,
 * PIN SMS by provider with cost and delivery, CSV; a bad range is a 400.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { startService } from '../helpers.ts';

const Reports = suite('GET /api/v1/reports/daily');

Reports('counts what support sees, per venue day; CSV for a spreadsheet', async () => {
  const svc = await startService({ config: { limits: { perPhonePerHour: 2 }, timezone: 'Asia/Almaty' } });
  try {
    await svc.call('POST', '/api/v1/cards/import', {
      body: 'number,name,phone\n100,Анна Ли,+79161234567\n',
      headers: { 'Content-Type': 'text/csv' },
    });
    const start = () =>
      svc.call('POST', '/api/v1/auth', { as: 'terminal', json: { phone: '+79161234567', terminal: 'T1' } });
    const first = await start();
    await svc.call('POST', `/api/v1/auth/${first.json.session.id}/verify`, {
      as: 'terminal',
      json: { pin: svc.sms.lastPin() },
    });
    await start(); // open: a live window
    assert.is((await start()).status, 429); // refused: the phone's hour limit
    await svc.call('POST', '/api/v1/auth', { as: 'terminal', json: { phone: '12', terminal: 'T1' } });

    const today = new Intl.DateTimeFormat('en-CA', { timeZone: 'Asia/Almaty' }).format(Date.now());
    const res = await svc.call('GET', `/api/v1/reports/daily?from=${today}&to=${today}`, { as: 'support' });
    assert.is(res.status, 200, res.text);
    assert.is(res.json.timeZone, 'Asia/Almaty');
    const [day] = res.json.days;
    assert.is(day.day, today);
    assert.equal(day.auth, { verified: 1, live: 1 });
    assert.is(day.verifiedShare, 1, 'every ended authorization applied a card');
    assert.equal(day.refused, { RATE_LIMITED: 1, PHONE_INVALID: 1 });
    const providers = Object.values(day.sms) as Array<{ sent: number; segments: number }>;
    assert.is(
      providers.reduce((n, p) => n + p.sent, 0),
      2,
      'two PIN SMS',
    );
    assert.ok(providers.every((p) => p.segments >= 1));

    const csv = await svc.call('GET', `/api/v1/reports/daily?from=${today}&to=${today}&format=csv`, {
      as: 'support',
    });
    assert.match(csv.headers.get('content-type') ?? '', /text\/csv/);
    const [head, line] = csv.text.split('\r\n');
    assert.match(head!, /^day,auth_verified,auth_other,verified_share,activations,refused,provider,/);
    assert.match(line!, new RegExp(`^${today},1,1,1,0,2,`));

    const bad = await svc.call('GET', '/api/v1/reports/daily?from=2026-01-10&to=2026-01-01', {
      as: 'support',
    });
    assert.equal([bad.status, bad.json.error.code], [400, 'VALIDATION_FAILED']);
    const tooLong = await svc.call('GET', '/api/v1/reports/daily?from=2025-01-01&to=2026-01-01', {
      as: 'support',
    });
    assert.is(tooLong.status, 400);
    assert.is((await svc.call('GET', '/api/v1/reports/daily', { as: 'terminal' })).status, 403);
  } finally {
    await svc.stop();
  }
});

Reports.run();
