/** Card activation at the till through the HTTP API: every path and error, in JSON, form and kv. */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { startService, sleep, type TestService } from '../helpers.ts';

const Activate = suite<{ svc: TestService }>('POST /api/v1/cards/activate');

const holder = {
  fullName: 'Иванов Иван Иванович',
  birthday: '12.03.1985',
  phone: '+7 (916) 123-45-67',
  pdConsent: 'true',
};

Activate.before.each(async (ctx) => {
  ctx.svc = await startService({
    // Today's till flows with and without SMS; the default (`always`) is tested in abuse.test.ts.
    config: {
      otp: { ttlSeconds: 2, resendCooldownSeconds: 0, maxResends: 1 },
      cards: { confirmPhone: 'optional' },
    },
  });
  assert.is(
    (
      await ctx.svc.call('POST', '/api/v1/cards/ranges', {
        json: { from: '1000', to: '1009', discount: 5, bonus: 2 },
      })
    ).status,
    201,
  );
  assert.is(
    (
      await ctx.svc.call('POST', '/api/v1/cards/ranges', {
        json: { from: '900000', to: '900001', virtual: true },
      })
    ).status,
    201,
  );
});
Activate.after.each(async (ctx) => ctx.svc.stop());

Activate(
  'a plastic card is issued without SMS: 201 activated, holder on the card, consent recorded',
  async ({ svc }) => {
    const res = await svc.call('POST', '/api/v1/cards/activate', {
      as: 'terminal',
      json: { cardNumber: '1003', ...holder, marketingConsent: true, terminal: 'T1' },
    });
    assert.is(res.status, 201);
    const a = res.json.activation;
    assert.is(a.kind, 'activation');
    assert.is(a.state, 'activated');
    assert.is(a.card.number, '1003');
    assert.is(a.card.discount, 5);
    assert.is(a.phone, '+7 916 ***-**-67', 'the terminal sees a masked phone');
    assert.is(svc.sms.sent.length, 0, 'no SMS without confirm=sms');
    const card = await svc.call('GET', '/api/v1/cards?number=1003');
    assert.is(card.json.card.state, 'active');
    assert.equal(card.json.card.holder, {
      fullName: 'Иванов Иван Иванович',
      birthday: '1985-03-12',
      phone: '+79161234567',
    });
    const consent = await svc.call('GET', '/api/v1/consents/' + encodeURIComponent('+79161234567'));
    assert.is(consent.json.consent.marketing, true);
    assert.is(consent.json.consent.history.length, 1);
    assert.is(consent.json.consent.history[0].source, 'pos:T1');
  },
);

Activate('no card number: the next free virtual card, then POOL_EMPTY', async ({ svc }) => {
  const phones = ['+79160000001', '+79160000002', '+79160000003'];
  const numbers = [];
  for (const phone of phones.slice(0, 2)) {
    const res = await svc.call('POST', '/api/v1/cards/activate', {
      as: 'terminal',
      json: { ...holder, phone },
    });
    assert.is(res.status, 201);
    numbers.push(res.json.activation.card.number);
  }
  assert.equal(numbers, ['900000', '900001']);
  const empty = await svc.call('POST', '/api/v1/cards/activate', {
    as: 'terminal',
    json: { ...holder, phone: phones[2] },
  });
  assert.is(empty.status, 409);
  assert.is(empty.json.error.code, 'POOL_EMPTY');
  assert.ok(empty.json.error.activationId, 'the refused activation is inspectable');
});

Activate(
  'with confirm=sms: awaitingPin, wrong PIN 422, right PIN activates; same PIN again 409',
  async ({ svc }) => {
    const start = await svc.call('POST', '/api/v1/cards/activate', {
      as: 'terminal',
      form: { cardNumber: '1001', ...holder, confirm: 'sms', terminal: 'T2' },
    });
    assert.is(start.status, 201);
    const a = start.json.activation;
    assert.is(a.state, 'awaitingPin');
    assert.is(a.attemptsLeft, 3);
    assert.is(a.pinLength, 6);
    assert.ok(Date.parse(a.expiresAt) > Date.now());
    assert.is(svc.sms.sent.length, 1);
    assert.is(svc.sms.sent[0]!.to, '+79161234567');
    assert.is(svc.sms.sent[0]!.idempotencyKey, `${a.id}:1`);
    const pin = svc.sms.lastPin();
    assert.not.ok(start.text.includes(pin), 'the answer never carries the PIN');
    const wrong = await svc.call('POST', `/api/v1/cards/activations/${a.id}/verify`, {
      as: 'terminal',
      json: { pin: pin === '000000' ? '111111' : '000000' },
    });
    assert.is(wrong.status, 422);
    assert.is(wrong.json.error.code, 'PIN_INVALID');
    assert.is(wrong.json.error.attemptsLeft, 2);
    assert.is(wrong.json.error.message, 'Неверный код. Осталось попыток: 2');
    const ok = await svc.call('POST', `/api/v1/cards/activations/${a.id}/verify`, {
      as: 'terminal',
      json: { pin },
    });
    assert.is(ok.status, 200);
    assert.is(ok.json.activation.state, 'activated');
    assert.is(ok.json.activation.card.number, '1001');
    const again = await svc.call('POST', `/api/v1/cards/activations/${a.id}/verify`, {
      as: 'terminal',
      json: { pin },
    });
    assert.is(again.status, 409);
    assert.is(again.json.error.code, 'SESSION_CLOSED');
  },
);

Activate('key=value answers for RK7 scripts, errors included', async ({ svc }) => {
  const res = await svc.call('POST', '/api/v1/cards/activate?format=kv', {
    as: 'terminal',
    form: { cardNumber: '1002', ...holder, confirm: 'sms' },
  });
  assert.is(res.status, 201);
  assert.match(res.headers.get('content-type')!, /text\/plain; charset=utf-8/);
  assert.is(res.text.split('\r\n')[0], 'status=ok');
  assert.is(res.kv.state, 'awaitingPin');
  assert.is(res.kv.card, '1002');
  assert.is(res.kv.holder, 'Иванов Иван Иванович');
  assert.is(res.kv.attemptsLeft, '3');
  const id = res.kv.activationId!;
  const bad = await svc.call('POST', `/api/v1/cards/activations/${id}/verify`, {
    as: 'terminal',
    headers: { Accept: 'text/plain' },
    body: 'pin=000000',
  });
  assert.is(bad.kv.status, 'error');
  assert.is(bad.kv.code, svc.sms.lastPin() === '000000' ? undefined : 'PIN_INVALID');
  assert.is(bad.kv.attemptsLeft, '2');
  assert.ok(!/\n[^\r]/.test(bad.text.replace(/\r\n/g, '')), 'values never contain a line break');
});

Activate('three wrong PINs lock the activation (423) and release the card', async ({ svc }) => {
  const start = await svc.call('POST', '/api/v1/cards/activate', {
    as: 'terminal',
    json: { cardNumber: '1004', ...holder, confirm: 'sms' },
  });
  const id = start.json.activation.id;
  const pin = svc.sms.lastPin();
  const wrong = pin === '000000' ? '111111' : '000000';
  assert.is(
    (
      await svc.call('POST', `/api/v1/cards/activations/${id}/verify`, {
        as: 'terminal',
        json: { pin: wrong },
      })
    ).status,
    422,
  );
  assert.is(
    (
      await svc.call('POST', `/api/v1/cards/activations/${id}/verify`, {
        as: 'terminal',
        json: { pin: wrong },
      })
    ).status,
    422,
  );
  const third = await svc.call('POST', `/api/v1/cards/activations/${id}/verify`, {
    as: 'terminal',
    json: { pin: wrong },
  });
  assert.is(third.status, 423);
  assert.is(third.json.error.code, 'SESSION_LOCKED');
  const late = await svc.call('POST', `/api/v1/cards/activations/${id}/verify`, {
    as: 'terminal',
    json: { pin },
  });
  assert.is(late.status, 423, 'the right PIN after the lock is still refused');
  const card = await svc.call('GET', '/api/v1/cards/1004');
  assert.is(card.json.card.state, 'inactive', 'the card is free again');
});

Activate('the PIN deadline fires on its own: expired, 410, card released', async ({ svc }) => {
  const start = await svc.call('POST', '/api/v1/cards/activate', {
    as: 'terminal',
    json: { cardNumber: '1005', ...holder, confirm: 'sms' },
  });
  const id = start.json.activation.id;
  await sleep(2300);
  const view = await svc.call('GET', `/api/v1/cards/activations/${id}`, { as: 'support' });
  assert.is(view.json.activation.state, 'expired', 'expired without any request');
  const verify = await svc.call('POST', `/api/v1/cards/activations/${id}/verify`, {
    as: 'terminal',
    json: { pin: svc.sms.lastPin() },
  });
  assert.is(verify.status, 410);
  assert.is(verify.json.error.code, 'SESSION_EXPIRED');
  assert.is((await svc.call('GET', '/api/v1/cards/1005')).json.card.state, 'inactive');
});

Activate('resend: a new PIN, the old one stops working; the limit is kept', async ({ svc }) => {
  const start = await svc.call('POST', '/api/v1/cards/activate', {
    as: 'terminal',
    json: { cardNumber: '1006', ...holder, confirm: 'sms' },
  });
  const id = start.json.activation.id;
  const first = svc.sms.lastPin();
  const resend = await svc.call('POST', `/api/v1/cards/activations/${id}/resend`, { as: 'terminal' });
  assert.is(resend.status, 200);
  assert.is(svc.sms.sent.length, 2);
  assert.is(svc.sms.sent[1]!.idempotencyKey, `${id}:2`);
  const second = svc.sms.lastPin();
  const limit = await svc.call('POST', `/api/v1/cards/activations/${id}/resend`, { as: 'terminal' });
  assert.is(limit.status, 429);
  assert.is(limit.json.error.code, 'RESEND_LIMIT');
  if (first !== second) {
    const old = await svc.call('POST', `/api/v1/cards/activations/${id}/verify`, {
      as: 'terminal',
      json: { pin: first },
    });
    assert.is(old.status, 422, 'the first PIN no longer works');
  }
  const ok = await svc.call('POST', `/api/v1/cards/activations/${id}/verify`, {
    as: 'terminal',
    json: { pin: second },
  });
  assert.is(ok.status, 200);
});

Activate('resend too soon is 429 RESEND_TOO_SOON with retryAfter', async () => {
  const svc = await startService({ config: { otp: { resendCooldownSeconds: 60 } } });
  try {
    await svc.call('POST', '/api/v1/cards/ranges', { json: { from: '1', to: '3' } });
    const start = await svc.call('POST', '/api/v1/cards/activate', {
      as: 'terminal',
      json: { cardNumber: '2', ...holder, confirm: 'sms' },
    });
    const res = await svc.call('POST', `/api/v1/cards/activations/${start.json.activation.id}/resend`, {
      as: 'terminal',
    });
    assert.is(res.status, 429);
    assert.is(res.json.error.code, 'RESEND_TOO_SOON');
    assert.ok(res.json.error.retryAfter > 0 && res.json.error.retryAfter <= 60);
    assert.is(res.headers.get('retry-after'), String(res.json.error.retryAfter));
  } finally {
    await svc.stop();
  }
});

Activate('a cancel answers once the card is released, however long the release takes', async ({ svc }) => {
  const start = await svc.call('POST', '/api/v1/cards/activate', {
    as: 'terminal',
    json: { cardNumber: '1008', ...holder, confirm: 'sms', terminal: 'T9' },
  });
  const { directory } = svc.service;
  const release = directory.release.bind(directory);
  directory.release = async (...args) => {
    await sleep(300); // a slow database
    return release(...args);
  };
  const res = await svc.call('POST', `/api/v1/cards/activations/${start.json.activation.id}/cancel`, {
    as: 'terminal',
    json: { terminal: 'T9' },
  });
  assert.is(res.json.activation.state, 'cancelled');
  assert.is((await directory.get('1008'))?.state, 'inactive', 'released before the answer');
});

Activate('cancel by the terminal: cancelled, card released, recorded with who did it', async ({ svc }) => {
  const start = await svc.call('POST', '/api/v1/cards/activate', {
    as: 'terminal',
    json: { cardNumber: '1007', ...holder, confirm: 'sms', terminal: 'T9' },
  });
  const id = start.json.activation.id;
  const res = await svc.call('POST', `/api/v1/cards/activations/${id}/cancel`, {
    as: 'terminal',
    json: { terminal: 'T9' },
  });
  assert.is(res.status, 200);
  assert.is(res.json.activation.state, 'cancelled');
  assert.is((await svc.call('GET', '/api/v1/cards/1007')).json.card.state, 'inactive');
  const record = svc.service.host.get(id);
  const timeline = (await record)!.timeline;
  assert.equal(
    timeline.map((t) => t.to),
    ['requested', 'validating', 'sendingSms', 'awaitingPin', 'cancelled'],
  );
  assert.is(timeline.at(-1)!.by, 'terminal:T9 (config terminal #1)', 'the station and the token label');
  assert.is(timeline.at(-1)!.event, 'CANCEL');
});

Activate(
  'an SMS that cannot be sent ends the activation failed (502) and frees the card',
  async ({ svc }) => {
    svc.sms.failNext = 1;
    const res = await svc.call('POST', '/api/v1/cards/activate', {
      as: 'terminal',
      json: { cardNumber: '1008', ...holder, confirm: 'sms' },
    });
    assert.is(res.status, 502);
    assert.is(res.json.error.code, 'SMS_FAILED');
    const record = await svc.service.host.get(res.json.error.activationId);
    assert.is(record!.state, 'failed');
    assert.is((record!.view.sms as Array<{ outcome: string }>)[0]!.outcome, 'failed');
    assert.is((await svc.call('GET', '/api/v1/cards/1008')).json.card.state, 'inactive');
  },
);

Activate('refusals: card not found, already active, blocked, phone already registered', async ({ svc }) => {
  const nf = await svc.call('POST', '/api/v1/cards/activate', {
    as: 'terminal',
    json: { cardNumber: '555', ...holder },
  });
  assert.is(nf.status, 404);
  assert.is(nf.json.error.code, 'CARD_NOT_FOUND');
  assert.is(
    (
      await svc.call('POST', '/api/v1/cards/activate', {
        as: 'terminal',
        json: { cardNumber: '1000', ...holder },
      })
    ).status,
    201,
  );
  const twice = await svc.call('POST', '/api/v1/cards/activate', {
    as: 'terminal',
    json: { cardNumber: '1000', ...holder, phone: '+79160000009' },
  });
  assert.is(twice.status, 409);
  assert.is(twice.json.error.code, 'CARD_ALREADY_ACTIVE');
  const phone = await svc.call('POST', '/api/v1/cards/activate', {
    as: 'terminal',
    json: { cardNumber: '1001', ...holder },
  });
  assert.is(phone.status, 409);
  assert.is(phone.json.error.code, 'PHONE_ALREADY_REGISTERED');
  assert.is((await svc.call('PATCH', '/api/v1/cards/1002', { json: { blocked: true } })).status, 200);
  const blocked = await svc.call('POST', '/api/v1/cards/activate', {
    as: 'terminal',
    json: { cardNumber: '1002', ...holder, phone: '+79160000010' },
  });
  assert.is(blocked.status, 409);
  assert.is(blocked.json.error.code, 'CARD_BLOCKED');
  const en = await svc.call('POST', '/api/v1/cards/activate', {
    as: 'terminal',
    headers: { 'Accept-Language': 'en' },
    json: { cardNumber: '1000', ...holder },
  });
  assert.is(en.json.error.message, 'The card is already active');
});

Activate('two cards on one phone when the venue allows it', async () => {
  const svc = await startService({ config: { cards: { onePerPhone: false, confirmPhone: 'optional' } } });
  try {
    await svc.call('POST', '/api/v1/cards/ranges', { json: { from: '10', to: '12' } });
    assert.is(
      (
        await svc.call('POST', '/api/v1/cards/activate', {
          as: 'terminal',
          json: { cardNumber: '10', ...holder },
        })
      ).status,
      201,
    );
    await sleep(5);
    assert.is(
      (
        await svc.call('POST', '/api/v1/cards/activate', {
          as: 'terminal',
          json: { cardNumber: '11', ...holder },
        })
      ).status,
      201,
    );
    const lookup = await svc.call('GET', '/api/v1/cards?phone=89161234567');
    assert.is(lookup.json.card.number, '11', 'the newest active card answers');
    assert.equal(
      lookup.json.items.map((c: { number: string }) => c.number),
      ['11', '10'],
    );
  } finally {
    await svc.stop();
  }
});

Activate('two terminals activating one card at once: exactly one wins', async ({ svc }) => {
  const tries = await Promise.all(
    Array.from({ length: 8 }, (_, i) =>
      svc.call('POST', '/api/v1/cards/activate', {
        as: 'terminal',
        json: { cardNumber: '1009', ...holder, phone: `+7916555000${i}`, terminal: `T${i}` },
      }),
    ),
  );
  const statuses = tries.map((r) => r.status).sort();
  assert.equal(statuses, [201, 409, 409, 409, 409, 409, 409, 409]);
  assert.ok(tries.filter((r) => r.status === 409).every((r) => r.json.error.code === 'CARD_ALREADY_ACTIVE'));
});

Activate('the same correct PIN sent twice at once: exactly one 200', async ({ svc }) => {
  const start = await svc.call('POST', '/api/v1/cards/activate', {
    as: 'terminal',
    json: { cardNumber: '1003', ...holder, confirm: 'sms' },
  });
  const id = start.json.activation.id;
  const pin = svc.sms.lastPin();
  const results = await Promise.all(
    Array.from({ length: 5 }, () =>
      svc.call('POST', `/api/v1/cards/activations/${id}/verify`, { as: 'terminal', json: { pin } }),
    ),
  );
  assert.equal(results.map((r) => r.status).sort(), [200, 409, 409, 409, 409]);
});

Activate('validation: each field named, 400 VALIDATION_FAILED, nothing written', async ({ svc }) => {
  const cases: Array<[Record<string, unknown>, string]> = [
    [{ ...holder, fullName: '' }, 'fullName'],
    [{ ...holder, fullName: '=HYPERLINK("http://x","Иван")' }, 'fullName'],
    [{ ...holder, fullName: '+79161234567' }, 'fullName'],
    [{ ...holder, fullName: '@Иван' }, 'fullName'],
    [{ ...holder, fullName: 'Иван\u0007Петров' }, 'fullName'],
    [{ ...holder, fullName: '12345' }, 'fullName'],
    [{ ...holder, fullName: 'x'.repeat(101) }, 'fullName'],
    [{ ...holder, birthday: '31.02.1990' }, 'birthday'],
    [{ ...holder, birthday: '2999-01-01' }, 'birthday'],
    [{ ...holder, birthday: '1850-01-01' }, 'birthday'],
    [{ ...holder, birthday: undefined }, 'birthday'],
    [{ ...holder, cardNumber: '12ab' }, 'cardNumber'],
    [{ ...holder, confirm: 'email' }, 'confirm'],
    [{ ...holder, marketingConsent: 'maybe' }, 'marketingConsent'],
  ];
  for (const [body, field] of cases) {
    const res = await svc.call('POST', '/api/v1/cards/activate', { as: 'terminal', json: body });
    assert.is(res.status, 400, JSON.stringify(body));
    assert.is(res.json.error.code, 'VALIDATION_FAILED');
    assert.is(res.json.error.field, field);
  }
  const phone = await svc.call('POST', '/api/v1/cards/activate', {
    as: 'terminal',
    json: { ...holder, phone: '12' },
  });
  assert.is(phone.json.error.code, 'PHONE_INVALID');
  const foreign = await svc.call('POST', '/api/v1/cards/activate', {
    as: 'terminal',
    json: { ...holder, phone: '+380501234567' },
  });
  assert.is(foreign.status, 400);
  assert.is(foreign.json.error.code, 'PHONE_COUNTRY_NOT_ALLOWED');
  assert.is((await svc.service.host.liveRecords()).length, 0, 'no workflow was started');
});

Activate('tokens and roles', async ({ svc }) => {
  const none = await svc.call('POST', '/api/v1/cards/activate', { as: null, json: holder });
  assert.is(none.status, 401);
  assert.is(none.json.error.code, 'UNAUTHORIZED');
  const bad = await svc.call('GET', '/api/v1/cards?number=1000', {
    as: null,
    headers: { 'X-Api-Key': 'nope-nope-nope-nope' },
  });
  assert.is(bad.status, 401);
  const forbidden = await svc.call('POST', '/api/v1/cards/ranges', {
    as: 'terminal',
    json: { from: '1', to: '2' },
  });
  assert.is(forbidden.status, 403);
  assert.is(forbidden.json.error.code, 'FORBIDDEN');
  const viaKey = await svc.call('GET', '/api/v1/cards/ranges', {
    as: null,
    headers: { 'X-Api-Key': 'support-token-0123456789' },
  });
  assert.is(viaKey.status, 200);
});

Activate('the PIN is nowhere in the data folder but as a keyed hash', async ({ svc }) => {
  await svc.call('POST', '/api/v1/cards/activate', {
    as: 'terminal',
    json: { cardNumber: '1000', ...holder, confirm: 'sms' },
  });
  const pin = svc.sms.lastPin();
  await svc.service.store.flush();
  const walk = (dir: string): string[] =>
    readdirSync(dir).flatMap((name) => {
      const p = join(dir, name);
      return statSync(p).isDirectory() ? walk(p) : [p];
    });
  for (const file of walk(svc.dataDir)) {
    const text = readFileSync(file, 'utf8');
    assert.not.ok(
      new RegExp(`(^|[^0-9a-f])${pin}([^0-9a-f]|$)`).test(text.replace(/\+7\d{10}/g, '')),
      `${file} has no PIN`,
    );
  }
});

Activate(
  'personal-data consent: refused without it (nothing reserved, the refusal noted), recorded with its text version and who took it',
  async ({ svc }) => {
    const { pdConsent: _given, ...noConsent } = holder;
    const refused = await svc.call('POST', '/api/v1/cards/activate', {
      as: 'terminal',
      json: { cardNumber: '1004', ...noConsent, terminal: 'T1' },
    });
    assert.equal(
      [refused.status, refused.json.error.code, refused.json.error.field],
      [400, 'PD_CONSENT_REQUIRED', 'pdConsent'],
    );
    assert.match(refused.json.error.message, /согласие гостя на обработку персональных данных/);
    assert.is((await svc.call('GET', '/api/v1/cards?number=1004')).json.card.state, 'inactive');
    const noted = await svc.call('GET', '/api/v1/sessions?kind=attempt&phone=%2B79161234567', {
      as: 'support',
    });
    assert.is(noted.json.items[0].error, 'PD_CONSENT_REQUIRED');
    assert.is(
      (await svc.call('GET', '/api/v1/consents/' + encodeURIComponent('+79161234567'))).status,
      404,
      'no consent entry for a refused activation',
    );

    const given = await svc.call('POST', '/api/v1/cards/activate', {
      as: 'terminal',
      json: { cardNumber: '1004', ...noConsent, pdConsent: 'true', terminal: 'T1' },
    });
    assert.equal([given.status, given.json.activation.pdConsent], [201, true]);
    const consent = (await svc.call('GET', '/api/v1/consents/' + encodeURIComponent('+79161234567'))).json
      .consent;
    assert.is(consent.marketing, false);
    assert.equal(consent.pd.textVersion, '1');
    const entry = consent.history.at(-1);
    assert.equal([entry.pd, entry.pdTextVersion, entry.source], [true, '1', 'pos:T1']);
    assert.match(entry.by, /^terminal:T1 \(config terminal #1\)$/, 'role, station and token label');
  },
);

Activate(
  "personal-data consent: the text version is the venue's; not required where turned off",
  async () => {
    const svc = await startService({
      config: {
        cards: { confirmPhone: 'optional', requirePdConsent: false },
        consents: { pdTextVersion: '2026-11' },
      },
    });
    try {
      await svc.call('POST', '/api/v1/cards/ranges', { json: { from: '500', to: '501' } });
      const { pdConsent: _given, ...noConsent } = holder;
      const without = await svc.call('POST', '/api/v1/cards/activate', {
        as: 'terminal',
        json: { cardNumber: '500', ...noConsent },
      });
      assert.equal([without.status, without.json.activation.pdConsent], [201, false]);
      const first = (await svc.call('GET', '/api/v1/consents/' + encodeURIComponent('+79161234567'))).json
        .consent;
      assert.is(first.pd, null, 'no personal-data consent recorded when none was given');
      const other = { ...noConsent, phone: '+79161234568', pdConsent: true };
      await svc.call('POST', '/api/v1/cards/activate', {
        as: 'terminal',
        json: { cardNumber: '501', ...other },
      });
      const second = (await svc.call('GET', '/api/v1/consents/' + encodeURIComponent('+79161234568'))).json
        .consent;
      assert.is(second.pd.textVersion, '2026-11');
    } finally {
      await svc.stop();
    }
  },
);

Activate.run();
