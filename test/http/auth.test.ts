/** Authorization at the till through the HTTP API, as API.md's "Terminal role — authorization". */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { startService, sleep, type TestService, type TestServiceOptions } from '../helpers.ts';

const PHONE = '+79161234567';
const base = `number,name,phone\n100,Анна Ли,${PHONE}\n101,Борис Ким,+79160000002\n102,Вера Ли,+79160000003\n`;

async function withCards(opts: TestServiceOptions = {}) {
  const svc = await startService(opts);
  const res = await svc.call('POST', '/api/v1/cards/import', {
    body: base,
    headers: { 'Content-Type': 'text/csv' },
  });
  assert.is(res.status, 200, res.text);
  return svc;
}

const start = (svc: TestService, body: Record<string, string> = {}, query = '') =>
  svc.call('POST', `/api/v1/auth${query}`, {
    as: 'terminal',
    json: { phone: '8 916 123-45-67', terminal: 'T1', ...body },
  });
const verify = (svc: TestService, id: string, pin: string, query = '') =>
  svc.call('POST', `/api/v1/auth/${id}/verify${query}`, { as: 'terminal', json: { pin } });
const wrongPin = (pin: string) => (pin === '000000' ? '111111' : '000000');

const Auth = suite<{ svc: TestService }>('POST /api/v1/auth');
Auth.before.each(async (ctx) => {
  ctx.svc = await withCards({ config: { otp: { resendCooldownSeconds: 0, maxResends: 2 } } });
});
Auth.after.each(async (ctx) => ctx.svc.stop());

Auth('phone → SMS → PIN → card: the answers API.md promises', async ({ svc }) => {
  const res = await start(svc);
  assert.is(res.status, 201);
  const s = res.json.session;
  assert.is(s.kind, 'auth');
  assert.is(s.state, 'awaitingPin');
  assert.is(s.phone, '+7 916 ***-**-67');
  assert.is(s.attemptsLeft, 3);
  assert.is(s.pinLength, 6);
  assert.ok(Date.parse(s.expiresAt) > Date.now() + 290_000);
  assert.ok(s.resendAvailableAt);
  assert.is(s.card, undefined, 'no card before the PIN');
  assert.is(svc.sms.sent.length, 1);
  assert.is(svc.sms.sent[0]!.to, PHONE);
  assert.match(svc.sms.sent[0]!.text, /Не сообщайте никому, кроме кассира/);
  const ok = await verify(svc, s.id, svc.sms.lastPin());
  assert.is(ok.status, 200);
  assert.is(ok.json.session.state, 'verified');
  assert.equal(ok.json.session.card, { number: '100', holder: 'Анна Ли', discount: 0, bonus: 0 });
  const again = await verify(svc, s.id, svc.sms.lastPin());
  assert.is(again.status, 409);
  assert.is(again.json.error.code, 'SESSION_CLOSED');
  const read = await svc.call('GET', `/api/v1/auth/${s.id}`, { as: 'terminal' });
  assert.is(read.json.session.state, 'verified');
});

Auth(
  'key=value for RK7: sessionId, state, expiresAt, attemptsLeft, then card and holder',
  async ({ svc }) => {
    const res = await svc.call('POST', '/api/v1/auth', {
      as: 'terminal',
      headers: { Accept: 'text/plain' },
      body: 'phone=89161234567&terminal=T1',
    });
    assert.is(res.status, 201);
    assert.is(res.text.split('\r\n')[0], 'status=ok');
    assert.is(res.kv.state, 'awaitingPin');
    assert.ok(res.kv.sessionId && res.kv.expiresAt);
    // The cashier reads the deadline in the venue's time (Europe/Moscow here: UTC+3, no DST).
    const local = new Date(Date.parse(res.kv.expiresAt!) + 3 * 3600_000).toISOString().slice(11, 16);
    assert.is(res.kv.expiresLocal, local);
    assert.is(res.kv.attemptsLeft, '3');
    const ok = await verify(svc, res.kv.sessionId!, svc.sms.lastPin(), '?format=kv');
    assert.is(ok.kv.status, 'ok');
    assert.is(ok.kv.state, 'verified');
    assert.is(ok.kv.card, '100');
    assert.is(ok.kv.holder, 'Анна Ли');
    const bad = await svc.call('POST', '/api/v1/auth?format=kv', { as: 'terminal', body: 'phone=12' });
    assert.is(bad.status, 400);
    assert.equal([bad.kv.status, bad.kv.code], ['error', 'PHONE_INVALID']);
    assert.is(bad.kv.message, 'Неверный номер телефона');
  },
);

Auth('no card for the phone: 404 CARD_NOT_FOUND, the session is inspectable, no SMS', async ({ svc }) => {
  const res = await start(svc, { phone: '+79169999999' });
  assert.is(res.status, 404);
  assert.is(res.json.error.code, 'CARD_NOT_FOUND');
  const record = await svc.service.host.get(res.json.error.sessionId);
  assert.is(record!.state, 'rejected');
  assert.is(svc.sms.sent.length, 0);
});

Auth(
  'wrong PINs: 422 with attemptsLeft, the third locks (423), then even the right PIN is refused',
  async ({ svc }) => {
    const s = (await start(svc)).json.session;
    const pin = svc.sms.lastPin();
    const first = await verify(svc, s.id, wrongPin(pin));
    assert.equal(
      [first.status, first.json.error.code, first.json.error.attemptsLeft],
      [422, 'PIN_INVALID', 2],
    );
    const second = await verify(svc, s.id, wrongPin(pin));
    assert.is(second.json.error.attemptsLeft, 1);
    const third = await verify(svc, s.id, wrongPin(pin));
    assert.equal([third.status, third.json.error.code], [423, 'SESSION_LOCKED']);
    const right = await verify(svc, s.id, pin);
    assert.is(right.status, 423);
    const bad = await verify(svc, s.id, 'abc');
    assert.is(bad.status, 400, 'a malformed PIN is a validation error, not an attempt');
  },
);

Auth(
  'resend: new PIN, the old one stops working, the wrong-PIN count is kept; then RESEND_LIMIT',
  async ({ svc }) => {
    const s = (await start(svc)).json.session;
    const old = svc.sms.lastPin();
    assert.is((await verify(svc, s.id, wrongPin(old))).json.error.attemptsLeft, 2);
    const resent = await svc.call('POST', `/api/v1/auth/${s.id}/resend`, { as: 'terminal' });
    assert.is(resent.status, 200);
    assert.is(resent.json.session.attemptsLeft, 2, 'the count survives the resend');
    const fresh = svc.sms.lastPin();
    assert.is(svc.sms.sent.at(-1)!.idempotencyKey, `${s.id}:2`);
    if (fresh !== old)
      assert.is((await verify(svc, s.id, old)).json.error.attemptsLeft, 1, 'the old PIN is just wrong now');
    await svc.call('POST', `/api/v1/auth/${s.id}/resend`, { as: 'terminal' });
    const limit = await svc.call('POST', `/api/v1/auth/${s.id}/resend`, { as: 'terminal' });
    assert.equal([limit.status, limit.json.error.code], [429, 'RESEND_LIMIT']);
    const ok = await verify(svc, s.id, svc.sms.lastPin());
    assert.is(ok.status, 200);
  },
);

Auth('resend too soon: 429 with retryAfter', async () => {
  const svc = await withCards({ config: { otp: { resendCooldownSeconds: 60 } } });
  try {
    const s = (await start(svc)).json.session;
    const res = await svc.call('POST', `/api/v1/auth/${s.id}/resend`, { as: 'terminal' });
    assert.equal([res.status, res.json.error.code], [429, 'RESEND_TOO_SOON']);
    assert.ok(res.json.error.retryAfter >= 59 && res.json.error.retryAfter <= 60);
  } finally {
    await svc.stop();
  }
});

Auth('cancel by the terminal; a cancelled session refuses its PIN', async ({ svc }) => {
  const s = (await start(svc)).json.session;
  const res = await svc.call('POST', `/api/v1/auth/${s.id}/cancel`, { as: 'terminal' });
  assert.equal([res.status, res.json.session.state], [200, 'cancelled']);
  const late = await verify(svc, s.id, svc.sms.lastPin());
  assert.equal([late.status, late.json.error.code], [409, 'SESSION_CLOSED']);
  const unknown = await verify(svc, 'ses_20261129_aaaaaaaaaaaa', '123456');
  assert.equal([unknown.status, unknown.json.error.code], [404, 'SESSION_NOT_FOUND']);
});

Auth('a new start for the same phone supersedes the live session', async ({ svc }) => {
  const first = (await start(svc)).json.session;
  const firstPin = svc.sms.lastPin();
  const second = (await start(svc)).json.session;
  const old = await svc.service.host.get(first.id);
  assert.is(old!.state, 'cancelled');
  assert.is(old!.timeline.at(-1)!.detail?.reason, 'superseded');
  const late = await verify(svc, first.id, firstPin);
  assert.is(late.status, 409);
  assert.is((await verify(svc, second.id, svc.sms.lastPin())).status, 200);
});

Auth('the same correct PIN sent at once from many requests: exactly one 200', async ({ svc }) => {
  const s = (await start(svc)).json.session;
  const pin = svc.sms.lastPin();
  const results = await Promise.all(Array.from({ length: 10 }, () => verify(svc, s.id, pin)));
  assert.equal(results.map((r) => r.status).sort(), [200, 409, 409, 409, 409, 409, 409, 409, 409, 409]);
});

Auth(
  'SMS that no provider takes: 502 SMS_FAILED, the session is failed and shows the attempt',
  async ({ svc }) => {
    svc.sms.failNext = 1;
    const res = await start(svc);
    assert.equal([res.status, res.json.error.code], [502, 'SMS_FAILED']);
    const record = await svc.service.host.get(res.json.error.sessionId);
    assert.is(record!.state, 'failed');
    const attempt = (
      record!.view.sms as Array<{ outcome: string; provider: string; error: { code: string } }>
    )[0]!;
    assert.equal([attempt.outcome, attempt.provider, attempt.error.code], ['failed', 'fake', 'FAKE_DOWN']);
  },
);

Auth('the PIN deadline expires the session by itself: 410', async () => {
  const svc = await withCards({ config: { otp: { ttlSeconds: 1 } } });
  try {
    const s = (await start(svc)).json.session;
    await sleep(1300);
    assert.is((await svc.service.host.get(s.id))!.state, 'expired', 'expired with no request');
    const late = await verify(svc, s.id, svc.sms.lastPin());
    assert.equal([late.status, late.json.error.code], [410, 'SESSION_EXPIRED']);
  } finally {
    await svc.stop();
  }
});

const PhoneOnly = suite('phone-only authorization');
PhoneOnly('refused unless the venue allows it: 403 CHANNEL_DISABLED', async () => {
  const svc = await withCards();
  try {
    const res = await start(svc, { channel: 'none' });
    assert.equal([res.status, res.json.error.code], [403, 'CHANNEL_DISABLED']);
  } finally {
    await svc.stop();
  }
});
PhoneOnly(
  'allowed: 200 verified with the card at once, no SMS; optionally only on listed terminals',
  async () => {
    const svc = await withCards({ config: { otp: { phoneOnly: true, phoneOnlyTerminals: ['BAR'] } } });
    try {
      const bar = await start(svc, { channel: 'none', terminal: 'BAR' }, '?format=kv');
      assert.is(bar.status, 200);
      assert.equal([bar.kv.state, bar.kv.card, bar.kv.holder], ['verified', '100', 'Анна Ли']);
      assert.is(svc.sms.sent.length, 0);
      const hall = await start(svc, { channel: 'none', terminal: 'HALL' });
      assert.is(hall.status, 403);
    } finally {
      await svc.stop();
    }
  },
);

Auth('host.until: wakes on the change it waits for, on a close, or at its timeout', async ({ svc }) => {
  const res = await start(svc);
  const id = res.json.session.id as string;
  const host = svc.service.host;
  const quiet = await host.until(id, (r) => r.state === 'verified', 30);
  assert.is(quiet!.state, 'awaitingPin', 'the timeout answers the record as it is');
  const waiting = host.until(id, (r) => r.state === 'verified', 5_000);
  await verify(svc, id, svc.sms.lastPin());
  assert.is((await waiting)!.state, 'verified');
  const other = (await start(svc, { phone: '+79160000002' })).json.session.id as string;
  const closing = host.until(other, () => false, 5_000);
  await svc.call('POST', `/api/v1/auth/${other}/cancel`, { as: 'terminal', json: {} });
  assert.is((await closing)!.state, 'cancelled', 'a close wakes every waiter');
});

const Limits = suite('abuse limits');
Limits('sessions per phone per hour: 429 RATE_LIMITED with retryAfter; kept across a restart', async () => {
  const dataDir = (await import('../helpers.ts')).tempDir();
  let svc = await withCards({ dataDir, config: { limits: { perPhonePerHour: 2 } } });
  assert.is((await start(svc)).status, 201);
  assert.is((await start(svc)).status, 201);
  const third = await start(svc);
  assert.equal(
    [third.status, third.json.error.code, third.json.error.limit],
    [429, 'RATE_LIMITED', 'perPhonePerHour'],
  );
  assert.ok(third.json.error.retryAfter > 3500 && third.json.error.retryAfter <= 3600);
  assert.is((await start(svc, { phone: '+79160000002' })).status, 201, 'another phone is not limited');
  await svc.stop({ keepData: true });
  svc = await startService({ dataDir, config: { limits: { perPhonePerHour: 2 } } });
  try {
    assert.is((await start(svc)).status, 429, 'the limit survives a restart');
  } finally {
    await svc.stop();
  }
});
Limits('sessions per terminal per hour', async () => {
  const svc = await withCards({ config: { limits: { perTerminalPerHour: 2 } } });
  try {
    await start(svc, { phone: '+79160000002' });
    await start(svc, { phone: '+79160000003' });
    const res = await start(svc);
    assert.equal([res.status, res.json.error.limit], [429, 'perTerminalPerHour']);
    const hopped = await start(svc, { terminal: 'T2' });
    assert.is(hopped.status, 429, 'a new terminal field is the same token: the same bucket');
    const another = await svc.call('POST', '/api/v1/auth', {
      as: 'till2',
      json: { phone: '+79161234567', terminal: 'T1' },
    });
    assert.is(another.status, 201, 'another token is another till');
  } finally {
    await svc.stop();
  }
});
Limits('the daily SMS budget stops starts and resends', async () => {
  const svc = await withCards({
    config: { limits: { smsPerDay: 2 }, campaigns: { pinReserve: 0 }, otp: { resendCooldownSeconds: 0 } },
  });
  try {
    const s = (await start(svc)).json.session;
    assert.is((await svc.call('POST', `/api/v1/auth/${s.id}/resend`, { as: 'terminal' })).status, 200);
    const resend = await svc.call('POST', `/api/v1/auth/${s.id}/resend`, { as: 'terminal' });
    assert.equal(
      [resend.status, resend.json.error.code, resend.json.error.limit],
      [429, 'RATE_LIMITED', 'smsPerDay'],
    );
    const other = await start(svc, { phone: '+79160000002' });
    assert.equal([other.status, other.json.error.limit], [429, 'smsPerDay']);
    assert.is(svc.sms.sent.length, 2, 'nothing past the budget was sent');
  } finally {
    await svc.stop();
  }
});
Limits('brute force: thousands of guesses for one phone across sessions never succeed', async () => {
  const svc = await withCards({ config: { otp: { resendCooldownSeconds: 0 } } });
  try {
    let guesses = 0;
    let accepted = 0;
    let limited = 0;
    for (let round = 0; round < 40 && guesses < 2000; round++) {
      const res = await start(svc);
      if (res.status === 429) {
        limited += 1;
        assert.is(res.json.error.limit, 'perPhonePerHour');
      }
      const id = res.json.session?.id ?? 'ses_20261129_aaaaaaaaaaaa';
      const real = res.status === 201 ? svc.sms.lastPin() : '';
      for (let i = 0; i < 50; i++) {
        let guess = String(Math.floor(Math.random() * 1e6)).padStart(6, '0');
        if (guess === real) guess = wrongPin(real);
        const v = await verify(svc, id, guess);
        guesses += 1;
        if (v.status === 200) accepted += 1;
      }
    }
    assert.ok(guesses >= 2000, `guesses: ${guesses}`);
    assert.is(accepted, 0, 'no guess succeeded');
    assert.ok(limited >= 30, 'new sessions were refused by the per-phone limit');
    const starts = svc.sms.sent.length;
    assert.is(starts, 5, 'only perPhonePerHour sessions (5) ever sent a PIN');
  } finally {
    await svc.stop();
  }
});

const Secrets = suite('no PIN at rest or in logs');
Secrets('the data folder and the logs never carry a PIN', async () => {
  const logs: string[] = [];
  const svc = await withCards({ logs });
  try {
    const pins: string[] = [];
    for (const phone of [PHONE, '+79160000002', '+79160000003']) {
      const s = (await start(svc, { phone })).json.session;
      const pin = svc.sms.lastPin(phone);
      pins.push(pin);
      await verify(svc, s.id, wrongPin(pin));
      await verify(svc, s.id, pin);
    }
    await svc.service.store.flush();
    const walk = (dir: string): string[] =>
      readdirSync(dir).flatMap((name) =>
        statSync(join(dir, name)).isDirectory() ? walk(join(dir, name)) : [join(dir, name)],
      );
    const texts = [
      ...walk(svc.dataDir).map((f) => [f, readFileSync(f, 'utf8')]),
      ...logs.map((l, i) => [`log line ${i}`, l]),
    ];
    assert.ok(
      logs.some((l) => l.includes('pin sent')),
      'logs were captured',
    );
    for (const pin of pins) {
      const re = new RegExp(`(?<![0-9a-f])${pin}(?![0-9a-f])`);
      for (const [where, text] of texts)
        assert.not.ok(re.test(text!.replace(/\+7\d{10}/g, '')), `${where} has the PIN`);
    }
    for (const line of logs) assert.not.ok(line.includes('+7916'), `a full phone in a log line: ${line}`);
  } finally {
    await svc.stop();
  }
});

Auth.run();
PhoneOnly.run();
Limits.run();
Secrets.run();
