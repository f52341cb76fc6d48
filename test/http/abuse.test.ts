/**
 * Every SMS accounted for, tried as an attacker with one `terminal` token would: pumping SMS
 * through activation, hopping the `terminal` field, racing starts and resends for one phone,
 * changing a card during its PIN window, numbers that must not get SMS, long texts against the
 * day's budget, a pool and a phone list emptied from one till.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { startService, type TestService, type CallInit } from '../helpers.ts';
import type { ConfigInput } from '../../runtime/config.ts';

const holder = { fullName: 'Иванов Иван', birthday: '1985-03-12', pdConsent: true };
const randomMobile = () => `+7916${String(Math.floor(Math.random() * 1e7)).padStart(7, '0')}`;
const wrongPin = (pin: string) => (pin === '000000' ? '111111' : '000000');

async function serve(config: ConfigInput = {}, cards = '') {
  const svc = await startService({ config });
  const ranges = await svc.call('POST', '/api/v1/cards/ranges', {
    json: { from: '900000', to: '900499', virtual: true },
  });
  assert.is(ranges.status, 201, ranges.text);
  await svc.call('POST', '/api/v1/cards/ranges', { json: { from: '5000', to: '5099' } });
  if (cards) {
    const imported = await svc.call('POST', '/api/v1/cards/import', {
      body: `number,name,phone\n${cards}`,
      headers: { 'Content-Type': 'text/csv' },
    });
    assert.is(imported.status, 200, imported.text);
  }
  return svc;
}

const as = (who: CallInit['as'], json: unknown): CallInit => ({ as: who, json });
const authStart = (svc: TestService, phone: string, who: CallInit['as'] = 'terminal', terminal = 'CASH1') =>
  svc.call('POST', '/api/v1/auth', as(who, { phone, terminal }));
const activate = (svc: TestService, body: Record<string, unknown>, who: CallInit['as'] = 'terminal') =>
  svc.call('POST', '/api/v1/cards/activate', as(who, { ...holder, ...body }));

/** A phone's sessions and activations still waiting for a PIN. */
async function liveWindows(svc: TestService, phone: string): Promise<string[]> {
  const res = await svc.call('GET', `/api/v1/sessions?phone=${encodeURIComponent(phone)}&limit=200`);
  assert.is(res.status, 200, res.text);
  return res.json.items
    .filter((s: { state: string }) => s.state === 'awaitingPin' || s.state === 'sendingSms')
    .map((s: { id: string }) => s.id);
}

const tally = (statuses: number[]) =>
  statuses.reduce<Record<number, number>>((t, s) => ((t[s] = (t[s] ?? 0) + 1), t), {});

const Attacks = suite('attacks from one terminal token');

Attacks(
  'pumping through activation: activate → cancel to random phones stops at the token’s hour limit',
  async () => {
    const svc = await serve({}, '7000,Гость Настоящий,+79169990000\n');
    try {
      const statuses: number[] = [];
      const limits = new Set<string>();
      for (let i = 0; i < 150; i++) {
        const res = await activate(svc, { phone: randomMobile(), terminal: 'CASH1' });
        statuses.push(res.status);
        if (res.status === 201) {
          assert.is(res.json.activation.state, 'awaitingPin', 'the default confirms the phone by SMS');
          const cancel = await svc.call(
            'POST',
            `/api/v1/cards/activations/${res.json.activation.id}/cancel`,
            { as: 'terminal' },
          );
          assert.is(cancel.status, 200, cancel.text);
        } else limits.add(`${res.status} ${res.json.error.code} ${res.json.error.limit}`);
      }
      assert.equal(tally(statuses), { 201: 60, 429: 90 });
      assert.equal([...limits], ['429 RATE_LIMITED activationsPerTerminalPerHour']);
      assert.is(svc.sms.sent.length, 60, 'exactly one SMS per accepted activation');
      // Another till's guest is untouched: the budget and the PIN reserve are still there.
      const guest = await authStart(svc, '+79169990000', 'till2');
      assert.is(guest.status, 201, guest.text);
      assert.is(svc.sms.sent.length, 61);
    } finally {
      await svc.stop();
    }
  },
);

Attacks('one phone pumped through both workflows: perPhonePerHour counts PIN windows of both', async () => {
  const phone = '+79161112233';
  const svc = await serve({ cards: { onePerPhone: false } }, `7001,Анна Ли,${phone}\n`);
  try {
    const outcomes: string[] = [];
    for (let i = 0; i < 6; i++) {
      const a = await authStart(svc, phone);
      outcomes.push(a.status === 201 ? 'auth' : `${a.status} ${a.json.error.limit}`);
      const b = await activate(svc, { phone, cardNumber: String(5000 + i) });
      outcomes.push(b.status === 201 ? 'activation' : `${b.status} ${b.json.error.limit}`);
    }
    assert.equal(outcomes.slice(0, 5), ['auth', 'activation', 'auth', 'activation', 'auth']);
    assert.ok(
      outcomes.slice(5).every((o) => o === '429 perPhonePerHour'),
      outcomes.join(', '),
    );
    assert.is(svc.sms.sent.length, 5);
    assert.is((await liveWindows(svc, phone)).length, 1, 'each new window superseded the previous one');
  } finally {
    await svc.stop();
  }
});

Attacks('PIN guesses per phone per hour are bounded across windows and across both workflows', async () => {
  const phone = '+79161112244';
  const svc = await serve(
    { limits: { perPhonePerHour: 0, guessesPerPhonePerHour: 10 }, cards: { onePerPhone: false } },
    `7002,Анна Ли,${phone}\n`,
  );
  try {
    let refused: { status: number; json: any } | undefined;
    let guesses = 0;
    for (let round = 0; round < 10 && !refused; round++) {
      const start =
        round % 2 === 0
          ? await authStart(svc, phone)
          : await activate(svc, { phone, cardNumber: String(5010 + round) });
      assert.is(start.status, 201, start.text);
      const id = start.json.session?.id ?? start.json.activation.id;
      const base = start.json.session ? '/api/v1/auth' : '/api/v1/cards/activations';
      const pin = svc.sms.lastPin(phone);
      for (let i = 0; i < 2; i++) {
        const res = await svc.call('POST', `${base}/${id}/verify`, as('terminal', { pin: wrongPin(pin) }));
        if (res.status === 429) {
          refused = res;
          // Even the right code is not tried once the phone's guesses are spent.
          const right = await svc.call('POST', `${base}/${id}/verify`, as('terminal', { pin }));
          assert.equal([right.status, right.json.error.limit], [429, 'guessesPerPhonePerHour']);
          break;
        }
        assert.is(res.status, 422, res.text);
        guesses += 1;
      }
    }
    assert.ok(refused, 'the guesses ran out');
    assert.equal(
      [refused!.json.error.code, refused!.json.error.limit],
      ['RATE_LIMITED', 'guessesPerPhonePerHour'],
    );
    assert.ok(refused!.json.error.retryAfter > 0);
    assert.is(guesses, 10, 'ten wrong codes through auth and activation together, then no more');
  } finally {
    await svc.stop();
  }
});

Attacks('field hopping: a new `terminal` value, or none, is the same token and the same limit', async () => {
  const svc = await serve({ limits: { perTerminalPerHour: 4 }, cards: { onePerPhone: false } });
  try {
    const tries = [
      () => activate(svc, { phone: randomMobile(), terminal: 'T1' }),
      () => activate(svc, { phone: randomMobile(), terminal: 'T2' }),
      () => activate(svc, { phone: randomMobile() }),
      () => activate(svc, { phone: randomMobile(), terminal: 'any-other-name' }),
      () => activate(svc, { phone: randomMobile(), terminal: 'T5' }),
      () => activate(svc, { phone: randomMobile() }),
    ];
    const results = [];
    for (const t of tries) results.push(await t());
    assert.equal(
      results.map((r) => r.status),
      [201, 201, 201, 201, 429, 429],
    );
    assert.is(results[4]!.json.error.limit, 'perTerminalPerHour');
    assert.is(svc.sms.sent.length, 4);
    // The field stays the station's label in the timeline.
    const one = await svc.call('GET', `/api/v1/sessions/${results[1]!.json.activation.id}`);
    assert.is(one.json.session?.terminal ?? one.json.activation?.terminal, 'T2');
    // Another till (another token) is another bucket.
    assert.is((await activate(svc, { phone: randomMobile() }, 'till2')).status, 201);
  } finally {
    await svc.stop();
  }
});

Attacks('the token’s day cap: perTerminalPerDay, and never the PIN reserve of the other tills', async () => {
  const svc = await serve(
    {
      limits: { perPhonePerHour: 0, perTerminalPerHour: 0, activationsPerTerminalPerHour: 0, smsPerDay: 10 },
    },
    '7003,Гость,+79169990001\n',
  );
  try {
    const statuses: number[] = [];
    let last: any;
    for (let i = 0; i < 12; i++) {
      last = await activate(svc, { phone: randomMobile() });
      statuses.push(last.status);
    }
    // 10 a day, a fifth kept for PINs: one token alone may spend 8.
    assert.equal(tally(statuses), { 201: 8, 429: 4 });
    assert.is(last.json.error.limit, 'perTerminalPerDay');
    assert.ok(last.json.error.retryAfter > 0);
    assert.is(svc.sms.sent.length, 8);
    assert.is((await authStart(svc, '+79169990001', 'till2')).status, 201, 'another till still gets its PIN');
  } finally {
    await svc.stop();
  }

  const capped = await serve({ limits: { perPhonePerHour: 0, perTerminalPerDay: 3 } });
  try {
    const statuses = [];
    for (let i = 0; i < 5; i++) statuses.push((await activate(capped, { phone: randomMobile() })).status);
    assert.equal(statuses, [201, 201, 201, 429, 429]);
    assert.is(capped.sms.sent.length, 3);
  } finally {
    await capped.stop();
  }
});

Attacks(
  '20 parallel starts for one phone (limits off): one live window; SMS = answers that say so',
  async () => {
    const phone = '+79161112255';
    const svc = await serve(
      { limits: { perPhonePerHour: 0, perTerminalPerHour: 0 }, cards: { onePerPhone: false } },
      `7004,Анна Ли,${phone}\n`,
    );
    try {
      svc.sms.delayMs = 20; // a provider that takes a moment, as real ones do
      const starts = await Promise.all(
        Array.from({ length: 20 }, (_, i) =>
          i % 2 === 0 ? authStart(svc, phone) : activate(svc, { phone, cardNumber: String(5020 + i) }),
        ),
      );
      const accepted = starts.filter((r) => r.status === 201);
      const refused = starts.filter((r) => r.status !== 201);
      assert.ok(accepted.length >= 1);
      assert.ok(
        refused.every(
          (r) => r.status === 409 && r.json.error.code === 'PHONE_BUSY' && r.json.error.retryAfter > 0,
        ),
        JSON.stringify(refused.map((r) => r.json.error)),
      );
      assert.is(svc.sms.sent.length, accepted.length, 'as many SMS as 201 answers');
      const live = await liveWindows(svc, phone);
      assert.is(live.length, 1, 'one live PIN window');
      // Only the latest window's code works; every earlier one was superseded.
      const ids = accepted.map((r) => r.json.session?.id ?? r.json.activation.id);
      assert.ok(ids.includes(live[0]), 'the live window is one that was answered 201');
      for (const r of accepted) {
        const id = r.json.session?.id ?? r.json.activation.id;
        const base = r.json.session ? '/api/v1/auth' : '/api/v1/cards/activations';
        const state = (await svc.call('GET', `${base}/${id}`, { as: 'support' })).json;
        const s = state.session ?? state.activation;
        assert.is(s.state, id === live[0] ? 'awaitingPin' : 'cancelled', id);
      }
      // A second wave after the first settled: each start supersedes the last, still one window.
      for (let i = 0; i < 3; i++) assert.is((await authStart(svc, phone)).status, 201);
      assert.is((await liveWindows(svc, phone)).length, 1);
    } finally {
      await svc.stop();
    }
  },
);

Attacks('10 parallel resends with 3 allowed: 3 answered 200, 7 RESEND_LIMIT, 3 SMS more', async () => {
  const phone = '+79161112266';
  const svc = await serve({ otp: { resendCooldownSeconds: 0, maxResends: 3 } }, `7005,Анна Ли,${phone}\n`);
  try {
    for (const [start, base] of [
      [() => authStart(svc, phone), '/api/v1/auth'],
      [() => activate(svc, { phone: randomMobile() }), '/api/v1/cards/activations'],
    ] as const) {
      const started = await start();
      assert.is(started.status, 201, started.text);
      const id = started.json.session?.id ?? started.json.activation.id;
      const before = svc.sms.sent.length;
      const resends = await Promise.all(
        Array.from({ length: 10 }, () => svc.call('POST', `${base}/${id}/resend`, { as: 'terminal' })),
      );
      assert.equal(tally(resends.map((r) => r.status)), { 200: 3, 429: 7 });
      assert.ok(resends.filter((r) => r.status === 429).every((r) => r.json.error.code === 'RESEND_LIMIT'));
      assert.is(svc.sms.sent.length - before, 3);
      const pin = svc.sms.lastPin();
      const ok = await svc.call('POST', `${base}/${id}/verify`, as('terminal', { pin }));
      assert.is(ok.status, 200, 'the last code sent is the one that works');
    }
  } finally {
    await svc.stop();
  }
});

Attacks('a card changed during the PIN window is not handed out', async () => {
  const svc = await serve(
    {},
    '7010,Анна,+79161000010\n7011,Борис,+79161000011\n7012,Вера,+79161000012\n7013,Глеб,+79161000013\n',
  );
  try {
    const cases: Array<[string, string, Record<string, unknown>, number, string]> = [
      ['+79161000010', '7010', { blocked: true }, 409, 'CARD_BLOCKED'],
      ['+79161000011', '7011', { expiresAt: '2020-01-31' }, 409, 'CARD_EXPIRED'],
      ['+79161000012', '7012', { phone: '+79161000099' }, 404, 'CARD_NOT_FOUND'],
    ];
    for (const [phone, number, patch, status, code] of cases) {
      const start = await authStart(svc, phone);
      assert.is(start.status, 201, start.text);
      const id = start.json.session.id;
      const changed = await svc.call('PATCH', `/api/v1/cards/${number}`, { json: patch });
      assert.is(changed.status, 200, changed.text);
      const res = await svc.call(
        'POST',
        `/api/v1/auth/${id}/verify`,
        as('terminal', { pin: svc.sms.lastPin(phone) }),
      );
      assert.equal([res.status, res.json.error?.code], [status, code], res.text);
      assert.not.match(res.text, number, 'no card number in the answer');
      const after = (await svc.call('GET', `/api/v1/sessions/${id}`, { as: 'support' })).json.session;
      assert.equal(
        [after.state, after.error?.code ?? after.error],
        ['rejected', code],
        JSON.stringify(after),
      );
    }
    // Start refuses an expired card at once.
    await svc.call('PATCH', '/api/v1/cards/7013', { json: { expiresAt: '2021-12-31' } });
    const before = svc.sms.sent.length;
    const expired = await authStart(svc, '+79161000013');
    assert.equal([expired.status, expired.json.error.code], [409, 'CARD_EXPIRED']);
    assert.is(svc.sms.sent.length, before, 'no SMS for an expired card');
  } finally {
    await svc.stop();
  }
});

Attacks(
  'only mobile numbers get SMS: premium, toll-free and landlines answer 400 PHONE_NOT_MOBILE',
  async () => {
    const svc = await serve({}, '7020,Офис,+74951234567\n');
    try {
      for (const phone of ['+7 809 505-12-34', '+7 803 555-12-34', '8 800 555-35-35', '+7 495 123-45-67']) {
        const a = await authStart(svc, phone);
        assert.equal([a.status, a.json.error.code], [400, 'PHONE_NOT_MOBILE'], phone);
        const b = await activate(svc, { phone });
        assert.equal([b.status, b.json.error.code], [400, 'PHONE_NOT_MOBILE'], phone);
      }
      assert.is(svc.sms.sent.length, 0);
      for (const phone of ['+7 916 123-45-67', '+7 701 123-45-67', '+7 747 123-45-67']) {
        assert.is((await activate(svc, { phone })).status, 201, phone);
      }
    } finally {
      await svc.stop();
    }
    const wide = await serve(
      { phones: { allowTypes: ['MOBILE', 'FIXED_LINE_OR_MOBILE', 'FIXED_LINE'] } },
      '7021,Офис,+74951234567\n',
    );
    try {
      assert.is((await authStart(wide, '+74951234567')).status, 201, 'phones.allowTypes widens the rule');
      assert.is((await authStart(wide, '+78095051234')).status, 400, 'premium stays out');
    } finally {
      await wide.stop();
    }
  },
);

Attacks(
  'pool drain and phone squatting: no card bound without the guest’s code; 60 an hour per till',
  async () => {
    const svc = await serve();
    try {
      const squat = await activate(svc, { phone: '+79161234567', confirm: 'none' });
      assert.equal([squat.status, squat.json.error.code], [400, 'CONFIRMATION_REQUIRED']);
      // The stranger's phone is still free for its owner.
      const owner = await activate(svc, { phone: '+79161234567' });
      assert.is(owner.status, 201);
      const bound = await svc.call(
        'POST',
        `/api/v1/cards/activations/${owner.json.activation.id}/verify`,
        as('terminal', { pin: svc.sms.lastPin() }),
      );
      assert.is(bound.json.activation.state, 'activated');
    } finally {
      await svc.stop();
    }
    // Where the venue chose `optional`, a till may still bind without SMS, but not the whole pool.
    const open = await serve({ cards: { confirmPhone: 'optional' }, limits: { perTerminalPerHour: 0 } });
    try {
      const statuses = await Promise.all(
        Array.from({ length: 120 }, () => activate(open, { phone: randomMobile(), confirm: 'none' })),
      ).then((rs) => rs.map((r) => r.status));
      assert.equal(tally(statuses), { 201: 60, 429: 60 });
      // The pool is handed out in order: 60 cards went, the rest is still there for other tills.
      assert.is((await open.call('GET', '/api/v1/cards/900059')).json.card.state, 'active');
      assert.is((await open.call('GET', '/api/v1/cards/900060')).json.card.state, 'inactive');
      const other = await activate(open, { phone: randomMobile(), confirm: 'none' }, 'till2');
      assert.is(other.json.activation.card.number, '900060');
    } finally {
      await open.stop();
    }
    const never = await serve({ cards: { confirmPhone: 'never' } });
    try {
      const res = await activate(never, { phone: randomMobile(), confirm: 'sms' });
      assert.equal([res.status, res.json.error.code], [403, 'CHANNEL_DISABLED']);
      assert.is((await activate(never, { phone: randomMobile() })).json.activation.state, 'activated');
    } finally {
      await never.stop();
    }
  },
);

Attacks('the day budget counts billed segments; campaign test sends count too', async () => {
  // A text of 660 Cyrillic characters: 10 segments of 67.
  const text = 'Новое меню. '.repeat(55);
  const phones = ['+79160000001', '+79160000002', '+79160000003'];
  const svc = await serve(
    { limits: { smsPerDay: 30 }, campaigns: { quietHours: false } },
    phones.map((p, i) => `${7030 + i},Гость,${p}\n`).join(''),
  );
  try {
    for (const phone of phones) {
      await svc.call('POST', '/api/v1/consents', { json: { phone, marketing: true, source: 'pos' } });
    }
    const segments = () => svc.sms.sent.reduce((n, m) => n + m.segments, 0);
    const create = async (name: string, body: string) =>
      (await svc.call('POST', '/api/v1/campaigns', { json: { name, text: body, ratePerSecond: 100 } })).json
        .campaign;
    const c = await create('Длинный', text);
    const est = (await svc.call('GET', `/api/v1/campaigns/${c.id}/estimate`)).json.estimate;
    assert.is(est.segmentsPerMessage, 10);
    const started = await svc.call('POST', `/api/v1/campaigns/${c.id}/start`, { json: { override: true } });
    assert.is(started.status, 200, started.text);
    let run: any;
    for (let i = 0; i < 200; i++) {
      run = (await svc.call('GET', `/api/v1/campaigns/${c.id}`)).json.campaign.runs[0];
      if (run?.wakeAt) break;
      await new Promise((r) => setTimeout(r, 20));
    }
    // 30 segments a day, a fifth kept for PINs: campaigns may spend 24 → two 10-segment
    // messages; the third waits for tomorrow.
    assert.equal([run.counts.sent, run.counts.queued], [2, 1], JSON.stringify(run));
    assert.is(segments(), 20);
    const test = (id: string) =>
      svc.call('POST', `/api/v1/campaigns/${id}/test`, { json: { phone: '+79160000004' } });
    assert.is((await test(c.id)).status, 200, 'a long test send: 10 more segments');
    assert.is(segments(), 30);
    const short = await create('Коротко', 'Привет');
    const refused = await test(short.id);
    assert.equal([refused.status, refused.json.error.limit], [429, 'smsPerDay'], 'test sends are counted');
    const pin = await activate(svc, { phone: randomMobile() });
    assert.equal([pin.status, pin.json.error.limit], [429, 'smsPerDay']);
    assert.is(segments(), 30, 'never over the day');
  } finally {
    await svc.stop();
  }
});

Attacks.run();
