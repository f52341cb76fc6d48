/** The card directory through HTTP: ranges, PDS import, CardImp export, lookup, block, edit. */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import iconv from 'iconv-lite';
import { startService, type TestService } from '../helpers.ts';

const Cards = suite<{ svc: TestService }>('card directory over HTTP');
Cards.before.each(async (ctx) => {
  ctx.svc = await startService();
});
Cards.after.each(async (ctx) => ctx.svc.stop());

Cards('ranges: created inactive with their groups; overlap creates nothing', async ({ svc }) => {
  const res = await svc.call('POST', '/api/v1/cards/ranges', {
    json: { from: '000100', to: '000199', discount: 3, bonus: 7, expiresAt: '31.12.2027' },
  });
  assert.is(res.status, 201);
  assert.is(res.json.range.count, 100);
  const card = await svc.call('GET', '/api/v1/cards/000150');
  assert.is(card.json.card.state, 'inactive');
  assert.is(card.json.card.discount, 3);
  assert.is(card.json.card.bonus, 7);
  assert.is(card.json.card.expiresAt, '2027-12-31');
  const overlap = await svc.call('POST', '/api/v1/cards/ranges', { json: { from: '000190', to: '000210' } });
  assert.is(overlap.status, 409);
  assert.is(overlap.json.error.code, 'RANGE_OVERLAP');
  const outside = await svc.call('GET', '/api/v1/cards/000205');
  assert.is(outside.status, 404, 'nothing of the refused range was created');
  const list = await svc.call('GET', '/api/v1/cards/ranges');
  assert.is(list.json.items.length, 1);
});

Cards('ranges: bad input is a 400 naming the field', async ({ svc }) => {
  const cases: Array<[unknown, string, string]> = [
    [{ from: '100', to: '1000' }, 'to', 'VALIDATION_FAILED'],
    [{ from: '200', to: '100' }, 'to', 'VALIDATION_FAILED'],
    [{ from: 'abc', to: '100' }, 'from', 'VALIDATION_FAILED'],
    [{ from: '100', to: '199', discount: 100 }, 'discount', 'VALIDATION_FAILED'],
    [{ from: '100', to: '199', expiresAt: '2027-13-01' }, 'expiresAt', 'VALIDATION_FAILED'],
  ];
  for (const [body, field, code] of cases) {
    const res = await svc.call('POST', '/api/v1/cards/ranges', { json: body });
    assert.is(res.status, 400, JSON.stringify(body));
    assert.is(res.json.error.code, code);
    assert.is(res.json.error.field, field);
  }
  const huge = await svc.call('POST', '/api/v1/cards/ranges', { json: { from: '1000000', to: '9999999' } });
  assert.is(huge.status, 400);
  assert.is(huge.json.error.code, 'RANGE_TOO_LARGE');
});

const csvUtf8 = [
  'номер;фио;телефон;др;скидка;бонус',
  '5001;Сидорова Анна;+7 916 000-11-22;01.02.1980;10;1',
  '5002;;;;5;0',
  '5003;Петров Пётр;8 701 234 56 78;1975-05-05;3;0',
].join('\n');

Cards('import: UTF-8 with a header, holders become active cards', async ({ svc }) => {
  const res = await svc.call('POST', '/api/v1/cards/import', {
    body: csvUtf8,
    headers: { 'Content-Type': 'text/csv' },
  });
  assert.is(res.status, 200, res.text);
  assert.equal(res.json, { imported: 3, updated: 0, rejected: [] });
  const anna = await svc.call('GET', '/api/v1/cards?phone=89160001122');
  assert.is(anna.json.card.number, '5001');
  assert.is(anna.json.card.state, 'active');
  assert.is(anna.json.card.discount, 10);
  assert.is(anna.json.card.holder.birthday, '1980-02-01');
  assert.is((await svc.call('GET', '/api/v1/cards/5002')).json.card.state, 'inactive');
  const kz = await svc.call('GET', '/api/v1/cards?phone=%2B77012345678');
  assert.is(kz.json.card.holder.fullName, 'Петров Пётр');
});

Cards('import: Windows-1251 in CardImp order is detected', async ({ svc }) => {
  const body = iconv.encode(
    '7001,31.12.2027,5,2,03.04.1990,Кузнецов Олег,0,,+79165554433\r\n7002,,1,0,,,0,,\r\n',
    'win1251',
  );
  const res = await svc.call('POST', '/api/v1/cards/import', {
    body,
    headers: { 'Content-Type': 'text/csv' },
  });
  assert.is(res.status, 200, res.text);
  assert.is(res.json.imported, 2);
  const card = (await svc.call('GET', '/api/v1/cards/7001')).json.card;
  assert.is(card.holder.fullName, 'Кузнецов Олег');
  assert.is(card.expiresAt, '2027-12-31');
});

Cards(
  'import: one bad line rejects the whole file, with line numbers; partial=true keeps the good ones',
  async ({ svc }) => {
    const csv = [
      'number,name,phone',
      '8001,Ann Lee,+79160001100',
      '8002,Bob,not-a-phone',
      'x8003,Carl,',
      '8001,Dup,',
    ].join('\n');
    const all = await svc.call('POST', '/api/v1/cards/import', {
      body: csv,
      headers: { 'Content-Type': 'text/csv' },
    });
    assert.is(all.status, 422);
    assert.is(all.json.error.code, 'IMPORT_REJECTED');
    assert.is(all.json.error.rejected, 3);
    assert.is((await svc.call('GET', '/api/v1/cards/8001')).status, 404, 'nothing imported');
    const partial = await svc.call('POST', '/api/v1/cards/import?partial=true', {
      body: csv,
      headers: { 'Content-Type': 'text/csv' },
    });
    assert.is(partial.status, 200);
    assert.is(partial.json.imported, 1);
    assert.equal(
      partial.json.rejected.map((r: { line: number }) => r.line),
      [3, 4, 5],
    );
    assert.match(partial.json.rejected[2].reason, /line 2/);
    const again = await svc.call('POST', '/api/v1/cards/import', {
      body: 'number,name\n8001,Ann Lee-Smith\n',
      headers: { 'Content-Type': 'text/csv' },
    });
    assert.equal(again.json, { imported: 0, updated: 1, rejected: [] });
  },
);

Cards('export: CardImp CSV in Windows-1251, since filters by change time', async ({ svc }) => {
  await svc.call('POST', '/api/v1/cards/ranges', {
    json: { from: '100', to: '102', discount: 4, bonus: 1, expiresAt: '2028-01-31' },
  });
  // The default activation confirms the guest's phone by SMS before the card is bound.
  const started = await svc.call('POST', '/api/v1/cards/activate', {
    as: 'terminal',
    json: {
      cardNumber: '101',
      fullName: 'Иванов Иван',
      birthday: '1985-03-12',
      phone: '+79161234567',
      pdConsent: true,
    },
  });
  assert.is(started.json.activation.state, 'awaitingPin');
  const confirmed = await svc.call('POST', `/api/v1/cards/activations/${started.json.activation.id}/verify`, {
    as: 'terminal',
    json: { pin: svc.sms.lastPin() },
  });
  assert.is(confirmed.status, 200, confirmed.text);
  // An imported name may carry quotes; CardImp wants names without them.
  await svc.call('POST', '/api/v1/cards/import', {
    body: '102,31.01.2028,4,1,,"Петров ""Петя"" Пётр",0,,\n',
    headers: { 'Content-Type': 'text/csv' },
  });
  const res = await svc.call('GET', '/api/v1/cards/export?format=cardimp');
  assert.is(res.status, 200);
  assert.match(res.headers.get('content-type')!, /windows-1251/);
  const raw = Buffer.from(
    await (
      await fetch(svc.url + '/api/v1/cards/export?format=cardimp', {
        headers: { Authorization: 'Bearer admin-token-0123456789ab' },
      })
    ).arrayBuffer(),
  );
  const text = iconv.decode(raw, 'win1251');
  assert.is(
    text,
    '101,31.01.2028,4,1,12.03.1985,Иванов Иван,0,\r\n102,31.01.2028,4,1,,Петров Петя Пётр,0,\r\n',
  );
  const later = await svc.call(
    'GET',
    '/api/v1/cards/export?format=cardimp&since=' +
      encodeURIComponent(new Date(Date.now() + 60_000).toISOString()),
  );
  assert.is(later.text, '');
  const bad = await svc.call('GET', '/api/v1/cards/export?format=xml');
  assert.is(bad.status, 400);
});

Cards('PATCH: block, unblock, edit the holder; support sees masked phones', async ({ svc }) => {
  await svc.call('POST', '/api/v1/cards/import', { body: csvUtf8, headers: { 'Content-Type': 'text/csv' } });
  const blocked = await svc.call('PATCH', '/api/v1/cards/5001', { json: { blocked: true } });
  assert.is(blocked.json.card.state, 'blocked');
  const unblocked = await svc.call('PATCH', '/api/v1/cards/5001', { form: { blocked: 'false' } });
  assert.is(unblocked.json.card.state, 'active');
  const edited = await svc.call('PATCH', '/api/v1/cards/5001', {
    json: { fullName: 'Сидорова-Ким Анна', phone: '+79160009988' },
  });
  assert.is(edited.json.card.holder.fullName, 'Сидорова-Ким Анна');
  assert.is((await svc.call('GET', '/api/v1/cards?phone=%2B79160009988')).json.card.number, '5001');
  assert.is(
    (await svc.call('GET', '/api/v1/cards?phone=%2B79160001122')).status,
    404,
    'the old phone no longer finds it',
  );
  const support = await svc.call('GET', '/api/v1/cards/5001', { as: 'support' });
  assert.is(support.json.card.holder.phone, '+7 916 ***-**-88');
  const none = await svc.call('PATCH', '/api/v1/cards/9999', { json: { blocked: true } });
  assert.is(none.status, 404);
  const empty = await svc.call('PATCH', '/api/v1/cards/5001', { json: {} });
  assert.is(empty.status, 400);
  const blank = await svc.call('PATCH', '/api/v1/cards/5002', { json: { fullName: 'Someone' } });
  assert.is(blank.status, 400, 'a card not yet issued has no holder to edit');
});

Cards('lookup: kv answer, 404 for unknown, 400 without a key', async ({ svc }) => {
  await svc.call('POST', '/api/v1/cards/import', { body: csvUtf8, headers: { 'Content-Type': 'text/csv' } });
  const kv = await svc.call('GET', '/api/v1/cards?phone=89160001122&format=kv');
  assert.is(kv.kv.status, 'ok');
  assert.is(kv.kv.card, '5001');
  assert.is(kv.kv.holder, 'Сидорова Анна');
  const missing = await svc.call('GET', '/api/v1/cards?phone=89160001199');
  assert.is(missing.status, 404);
  assert.is(missing.json.error.code, 'CARD_NOT_FOUND');
  assert.is(missing.json.error.message, 'Карта не найдена');
  assert.is((await svc.call('GET', '/api/v1/cards')).status, 400);
});

Cards('consents: every change kept with time and source', async ({ svc }) => {
  assert.is(
    (
      await svc.call('POST', '/api/v1/consents', {
        json: { phone: '8 916 123 45 67', marketing: true, source: 'web' },
      })
    ).status,
    201,
  );
  const stop = await svc.call('POST', '/api/v1/consents', {
    form: { phone: '+79161234567', marketing: 'false', source: 'sms-stop' },
  });
  assert.is(stop.json.consent.marketing, false);
  const read = await svc.call('GET', '/api/v1/consents/89161234567');
  assert.equal(
    read.json.consent.history.map((h: { source: string }) => h.source),
    ['web', 'sms-stop'],
  );
  const bad = await svc.call('POST', '/api/v1/consents', { json: { phone: '+79161234567', source: 'web' } });
  assert.is(bad.status, 400);
  assert.is(bad.json.error.field, 'marketing');
});

Cards(
  'operations: /healthz without a token, unknown route 404, wrong method 405, body limit 413',
  async ({ svc }) => {
    const health = await svc.call('GET', '/healthz', { as: null });
    assert.equal(health.json, { status: 'ok' });
    const unknown = await svc.call('GET', '/api/v1/nothing');
    assert.is(unknown.status, 404);
    assert.is(unknown.json.error.code, 'NOT_FOUND');
    const method = await svc.call('DELETE', '/api/v1/cards/ranges');
    assert.is(method.status, 405);
    assert.is(method.json.error.code, 'METHOD_NOT_ALLOWED');
    const big = await svc.call('POST', '/api/v1/cards/import', {
      body: 'x'.repeat(9 * 1024 * 1024),
      headers: { 'Content-Type': 'text/csv' },
    });
    assert.is(big.status, 413);
    assert.is(big.json.error.code, 'IMPORT_TOO_LARGE');
    assert.match(big.json.error.message, 'npm run cli -- cards import', 'it names the way for large files');
    const bigJson = await svc.call('POST', '/api/v1/cards/ranges', {
      body: JSON.stringify({ from: '1', to: '2', pad: 'x'.repeat(9 * 1024 * 1024) }),
      headers: { 'Content-Type': 'application/json' },
    });
    assert.equal([bigJson.status, bigJson.json.error.code], [413, 'BODY_TOO_LARGE']);
    const json = await svc.call('POST', '/api/v1/cards/ranges', {
      body: '{"from": ',
      headers: { 'Content-Type': 'application/json' },
    });
    assert.is(json.status, 400);
    assert.is(json.json.error.code, 'VALIDATION_FAILED');
  },
);

Cards.run();
