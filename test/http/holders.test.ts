/** A guest's data export: everything held about a phone, as JSON and as a text in Russian. */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
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

/** Every file under `dir`, recursively. */
function filesOf(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? filesOf(path) : [path];
  });
}

/**
 * Everything the engine keeps, as text: every file of the data folder, and on PostgreSQL every
 * row of every table besides.
 */
async function everythingKept(svc: TestService): Promise<Array<{ where: string; text: string }>> {
  const kept = filesOf(svc.dataDir).map((file) => ({
    where: file.slice(svc.dataDir.length),
    text: readFileSync(file, 'utf8'),
  }));
  const db = svc.service.engine.database;
  if (db) {
    const { rows } = await db.query<{ name: string }>(
      "SELECT tablename AS name FROM pg_tables WHERE schemaname = 'public'",
    );
    for (const { name } of rows) {
      const all = await db.query<{ row: string }>(`SELECT t::text AS row FROM ${name} t`);
      kept.push({ where: `table ${name}`, text: all.rows.map((r) => r.row).join('\n') });
    }
  }
  return kept;
}

Holders(
  'erasure: the person is gone from every file and table the engine keeps, the card and the proof of consent stay',
  async ({ svc }) => {
    await svc.call('POST', '/api/v1/cards/ranges', { json: { from: '100', to: '101', discount: 5 } });
    await svc.call('POST', '/api/v1/cards/activate', {
      as: 'terminal',
      json: {
        cardNumber: '100',
        fullName: 'Иванова Мария',
        birthday: '1985-03-12',
        phone: PHONE,
        pdConsent: true,
        marketingConsent: true,
        terminal: 'CASH1',
      },
    });
    await svc.call('POST', '/api/v1/auth', { as: 'terminal', json: { phone: PHONE, terminal: 'CASH1' } });
    const verified = await svc.call('POST', '/api/v1/auth', {
      as: 'terminal',
      json: { phone: PHONE, terminal: 'CASH2' },
    });
    await svc.call('POST', `/api/v1/auth/${verified.json.session.id}/verify`, {
      as: 'terminal',
      json: { pin: svc.sms.lastPin() },
    });
    await svc.call('POST', '/api/v1/auth', {
      as: 'terminal',
      json: { phone: '8 916 123-45-67', channel: 'call' },
    });
    // Another guest, whose data stays.
    await svc.call('POST', '/api/v1/cards/activate', {
      as: 'terminal',
      json: {
        cardNumber: '101',
        fullName: 'Борис Ким',
        birthday: '1990-01-02',
        phone: '+79160000002',
        pdConsent: true,
        marketingConsent: true,
      },
    });
    const campaign = (
      await svc.call('POST', '/api/v1/campaigns', {
        json: { name: 'Меню', text: 'Новое меню!', ratePerSecond: 100 },
      })
    ).json.campaign;
    const run = (
      await svc.call('POST', `/api/v1/campaigns/${campaign.id}/start`, { json: { override: true } })
    ).json.campaign.runs.at(-1).id;
    await svc.service.host.until(run, (r) => !r.live, 4_000);
    await svc.service.journaled?.compact(); // the person is also in table snapshots, not only the journal
    const day = (offset: number) => new Date(Date.now() + offset * 86_400_000).toISOString().slice(0, 10);
    const report = async () =>
      (await svc.call('GET', `/api/v1/reports/daily?from=${day(-1)}&to=${day(1)}`, { as: 'support' })).json
        .days;
    const reportBefore = await report();
    assert.ok(
      reportBefore.some((d: { auth: Record<string, number> }) => Object.keys(d.auth).length > 0),
      'the sessions are counted',
    );

    const erased = await svc.call('DELETE', `/api/v1/holders/${encodeURIComponent('8 916 123-45-67')}`);
    assert.is(erased.status, 200, erased.text);
    const e = erased.json.erasure;
    assert.equal(e.cards, ['100']);
    assert.ok(e.records >= 3, 'the card issue, the sessions and the refused start');
    assert.is(e.recipients, 1);
    assert.match(e.subject, /^anon:[0-9a-f]{20}$/);

    // Every form of the phone, and the name, in no file of the data folder.
    const forms = [
      '79161234567',
      '89161234567',
      '9161234567',
      '916 123-45-67',
      '916 ***-**-67',
      'Иванова Мария',
    ];
    for (const { where, text } of await everythingKept(svc))
      for (const form of forms) assert.not.ok(text.includes(form), `${form} in ${where}`);
    // The card stays, blocked, with no holder; the other guest is untouched.
    const card = (await svc.call('GET', '/api/v1/cards/100')).json.card;
    assert.equal([card.state, card.holder], ['blocked', null]);
    assert.is((await svc.call('GET', '/api/v1/cards/101')).json.card.holder.fullName, 'Борис Ким');
    // The proof of consent stays under the keyed hash, with the erasure as its last entry.
    const proof = (await svc.service.consents.get(e.subject))!;
    assert.equal(
      [proof.marketing, proof.pd?.textVersion, proof.history.at(-1)?.source],
      [false, '1', 'erasure'],
    );
    assert.is(proof.history[0]!.source, 'pos:CASH1');
    // The export now finds nothing; the erasure is recorded without the phone.
    const after = (await svc.call('GET', `/api/v1/holders/${encodeURIComponent(PHONE)}/export`)).json.holder;
    assert.equal([after.cards, after.consent, after.sessions, after.campaignMessages], [[], null, [], []]);
    const record = (await svc.service.consents.erasure(e.id))!;
    assert.equal([record.subject, record.by], [e.subject, 'admin (config admin #1)']);
    // Reports still count what happened.
    assert.equal(await report(), reportBefore, 'reports keep their counts');
    assert.is(
      (await svc.call('DELETE', `/api/v1/holders/${encodeURIComponent(PHONE)}`, { as: 'support' })).status,
      403,
    );
  },
);

Holders.run();
