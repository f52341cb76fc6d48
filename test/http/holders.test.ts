/** A guest's data export: everything held about a phone, as JSON and as a text in Russian. */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { startService, type TestService } from '../helpers.ts';

const PHONE = '+79161234567';
const Holders = suite<{ svc: TestService }>('GET /api/v1/holders/{phone}/export');
Holders.before.each(async (ctx) => {
  ctx.svc = await startService({
    config: { cards: { confirmPhone: 'optional' }, campaigns: { quietHours: false } },
  });
});
Holders.after.each(async (ctx) => ctx.svc.stop());

Holders('cards, consents, sessions, refused attempts and campaign messages of one phone', async ({ svc }) => {
  await svc.call('POST', '/api/v1/cards/ranges', { json: { from: '100', to: '101', discount: 5 } });
  const issued = await svc.call('POST', '/api/v1/cards/activate', {
    as: 'terminal',
    json: {
      cardNumber: '100',
      fullName: 'Иванова Мария',
      birthday: '1985-03-12',
      phone: '8 916 123-45-67',
      pdConsent: true,
      marketingConsent: true,
      terminal: 'CASH1',
    },
  });
  assert.is(issued.status, 201, issued.text);
  const auth = await svc.call('POST', '/api/v1/auth', {
    as: 'terminal',
    json: { phone: PHONE, terminal: 'CASH1' },
  });
  assert.is(auth.status, 201);
  // A refused start for the same phone: a code by call, which this venue does not offer.
  const refused = await svc.call('POST', '/api/v1/auth', {
    as: 'terminal',
    json: { phone: PHONE, channel: 'call' },
  });
  assert.is(refused.json.error.code, 'CHANNEL_DISABLED');
  const campaign = (
    await svc.call('POST', '/api/v1/campaigns', {
      json: { name: 'Осеннее меню', text: 'Новое меню!', ratePerSecond: 100 },
    })
  ).json.campaign;
  const started = await svc.call('POST', `/api/v1/campaigns/${campaign.id}/start`, {
    json: { override: true },
  });
  const runId = started.json.campaign.runs.at(-1).id;
  await svc.service.host.until(runId, (r) => !r.live, 4_000);

  const res = await svc.call('GET', `/api/v1/holders/${encodeURIComponent('8 (916) 123-45-67')}/export`);
  assert.is(res.status, 200, res.text);
  const h = res.json.holder;
  assert.is(h.phone, PHONE);
  assert.equal(
    h.cards.map((c: { number: string; holder: { fullName: string } }) => [c.number, c.holder.fullName]),
    [['100', 'Иванова Мария']],
  );
  assert.is(h.consent.marketing, true);
  assert.is(h.consent.pd.textVersion, '1');
  assert.equal(
    h.sessions.map((s: { kind: string }) => s.kind).sort(),
    ['activation', 'attempt', 'auth'],
    'the card issue, the authorization and the refused start',
  );
  assert.equal(
    h.campaignMessages.map((m: { campaign: string; status: string }) => [m.campaign, m.status]),
    [['Осеннее меню', 'sent']],
  );

  const text = await svc.call('GET', `/api/v1/holders/${encodeURIComponent(PHONE)}/export?format=text`);
  assert.match(text.headers.get('content-type') ?? '', /text\/plain; charset=utf-8/);
  assert.match(text.text, /^Данные, которые SMS PDS хранит о владельце телефона \+79161234567/);
  assert.match(text.text, /• 100: действует; владелец Иванова Мария, день рождения 1985-03-12/);
  assert.match(text.text, /на обработку персональных данных: дано .*, текст версии 1/);
  assert.match(text.text, /где: pos:CASH1; кто записал: terminal:CASH1 \(config terminal #1\)/);
  assert.match(text.text, /Обращения на кассе \(3\)/);
  assert.match(text.text, /«Осеннее меню»: sent/);

  // Nothing held about another phone; the export is for admins only.
  const other = (await svc.call('GET', `/api/v1/holders/${encodeURIComponent('+79161234568')}/export`)).json
    .holder;
  assert.equal([other.cards, other.consent, other.sessions, other.campaignMessages], [[], null, [], []]);
  assert.is(
    (await svc.call('GET', `/api/v1/holders/${encodeURIComponent(PHONE)}/export`, { as: 'support' })).status,
    403,
  );
  assert.is((await svc.call('GET', '/api/v1/holders/12/export')).status, 400);
});

Holders.run();
