/**
 * Refused attempts are records: a start refused before any session began is found by the same
 * support search, with its reason, who and when; the phone masked for support; counted in the
 * metrics; kept across a restart (archived like a closed session).
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { startService, tempDir, type TestService } from '../helpers.ts';

const PHONE = '+79161234567';

const start = (svc: TestService, body: Record<string, string>) =>
  svc.call('POST', '/api/v1/auth', { as: 'terminal', json: { terminal: 'T1', ...body } });
const search = (svc: TestService, query: string, as: 'support' | 'admin' = 'support') =>
  svc.call('GET', `/api/v1/sessions?${query}`, { as });

const Attempts = suite('refused attempts');

Attempts('a rate-limited start: a record with its reason, who and when, found by phone', async () => {
  const dataDir = tempDir();
  const config = { limits: { perPhonePerHour: 1 } };
  let svc = await startService({ dataDir, config });
  try {
    await svc.call('POST', '/api/v1/cards/import', {
      body: `number,name,phone\n100,Анна Ли,${PHONE}\n`,
      headers: { 'Content-Type': 'text/csv' },
    });
    assert.is((await start(svc, { phone: PHONE })).status, 201);
    const refused = await start(svc, { phone: PHONE });
    assert.is(refused.status, 429);
    const again = await start(svc, { phone: PHONE });
    assert.is(again.status, 429, 'refused again within the minute');

    const found = await search(svc, `phone=${encodeURIComponent(PHONE)}`);
    assert.is(found.status, 200);
    const [attempt, session] = found.json.items;
    assert.is(found.json.items.length, 2, 'the session and one record of the repeated refusal');
    assert.equal(
      [attempt.kind, attempt.state, attempt.error, attempt.terminal],
      ['attempt', 'refused', 'RATE_LIMITED', 'T1'],
    );
    assert.is(attempt.phone, '+7 916 ***-**-67', 'masked for support');
    assert.is(attempt.by, 'terminal:T1 (config terminal #1)', 'the station and the token label');
    assert.is(session.kind, 'auth');
    assert.is(session.by, 'terminal:T1 (config terminal #1)');

    assert.match(attempt.reason, /^Лимит: 1 код в час на этот номер, следующий после \d\d:\d\d\.$/);
    const one = await svc.call('GET', `/api/v1/sessions/${attempt.id}`, { as: 'support' });
    assert.is(one.status, 200);
    assert.is(one.json.session.diagnosis, attempt.reason, 'the same words at the top of the record');
    const live = await svc.call('GET', `/api/v1/sessions/${session.id}`, {
      as: 'support',
      headers: { 'Accept-Language': 'en' },
    });
    assert.match(live.json.session.diagnosis, /^The code went via .+ at \d\d:\d\d/);
    const words = await svc.call('GET', '/api/v1/catalog', { as: 'support' });
    assert.equal(
      [words.json.catalog.states.auth.awaitingPin, words.json.catalog.timeZone],
      ['ждём код от гостя', 'Europe/Moscow'],
    );
    assert.is(one.json.session.error.code, 'RATE_LIMITED');
    assert.is(one.json.session.error.extra.limit, 'perPhonePerHour');
    assert.is(one.json.session.details.for, 'auth');

    const byKind = await search(svc, 'kind=attempt', 'admin');
    assert.equal(
      byKind.json.items.map((r: { phone: string }) => r.phone),
      [PHONE],
      'admin sees the phone',
    );
    const metrics = await svc.call('GET', '/metrics', { as: null });
    assert.match(metrics.text, /smspds_starts_refused_total\{kind="auth",reason="RATE_LIMITED"\} 2/);

    await svc.stop({ keepData: true });
    svc = await startService({ dataDir, config });
    const kept = await search(svc, 'kind=attempt&terminal=T1');
    assert.is(kept.json.items[0]?.id, attempt.id, 'archived: found after a restart');
  } finally {
    await svc.stop();
  }
});

Attempts('a phone that cannot be read, a landline, a channel turned off: each a record', async () => {
  const svc = await startService({});
  try {
    assert.is((await start(svc, { phone: '12-34', terminal: 'BAR' })).status, 400);
    assert.is((await start(svc, { phone: '+74951234567', terminal: 'BAR' })).status, 400);
    assert.is((await start(svc, { phone: PHONE, terminal: 'BAR', channel: 'none' })).status, 403);
    const found = await search(svc, 'terminal=BAR');
    const items = found.json.items as Array<{ id: string; error: string; phone: string | null }>;
    assert.equal(items.map((r) => r.error).sort(), ['CHANNEL_DISABLED', 'PHONE_INVALID', 'PHONE_NOT_MOBILE']);
    const unread = items.find((r) => r.error === 'PHONE_INVALID')!;
    assert.is(unread.phone, null);
    const record = await svc.call('GET', `/api/v1/sessions/${unread.id}`, { as: 'support' });
    assert.is(record.json.session.details.phoneInput, '**34', 'what was typed, masked');
    const activation = await svc.call('POST', '/api/v1/cards/activate', {
      as: 'terminal',
      json: { fullName: 'Анна Ли', phone: PHONE, birthday: '31.02.1990', terminal: 'BAR', pdConsent: true },
    });
    assert.is(activation.status, 400);
    const refusedActivation = await search(svc, `kind=attempt&phone=${encodeURIComponent(PHONE)}`);
    const mine = refusedActivation.json.items.find((r: { error: string }) => r.error === 'VALIDATION_FAILED');
    assert.ok(mine, 'a refused activation is a record under the guest phone');
  } finally {
    await svc.stop();
  }
});

Attempts.run();
