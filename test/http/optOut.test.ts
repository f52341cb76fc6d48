/**
 * One-tap opt-out through HTTP: `{optOut}` in a campaign becomes each phone's link, counted in
 * the message's size; the page needs no token, changes nothing on GET, and on its button writes
 * a consent entry with source `link`; it answers every code alike, limits confirmations per
 * address, and carries the pages' security headers. `campaigns.requireOptOut` refuses texts
 * without the link.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startService, type TestService } from '../helpers.ts';
import { FakeClock } from '../fakes/clock.ts';
import { parseConfig, ConfigError } from '../../runtime/config.ts';

const PUBLIC = 'https://club.example.ru';
const NOON = Date.parse('2026-11-26T09:00:00Z'); // a Thursday, 12:00 in Moscow
const BASE = [
  'number,name,phone',
  '100,Иванов Иван Иванович,+79160000001',
  '101,Петрова Анна,+79160000002',
  '102,Anna Lee,+77010000003',
].join('\n');

interface Ctx {
  svc: TestService;
}

async function serve(ctx: Ctx, config: Record<string, unknown> = {}) {
  ctx.svc = await startService({
    clock: new FakeClock(NOON),
    config: {
      publicUrl: PUBLIC,
      otp: { brand: 'Кафе «Ромашка»' },
      campaigns: { quietHours: false },
      ...config,
    } as never,
  });
  await ctx.svc.call('POST', '/api/v1/cards/import', { body: BASE, headers: { 'Content-Type': 'text/csv' } });
  for (const phone of ['+79160000001', '+79160000002', '+77010000003'])
    await ctx.svc.call('POST', '/api/v1/consents', { json: { phone, marketing: true, source: 'pos' } });
}

/** A guest's browser: no token, its own language. */
const visit = (svc: TestService, method: 'GET' | 'POST', path: string, lang = 'ru-RU,ru;q=0.9') =>
  svc.call(method, path, { as: null, headers: { 'Accept-Language': lang } });

/** Run a campaign to its end; the messages it sent, by phone. */
async function runCampaign(svc: TestService, text: string) {
  const created = await svc.call('POST', '/api/v1/campaigns', {
    json: { name: 'Новости', text, ratePerSecond: 100 },
  });
  assert.is(created.status, 201, created.text);
  const id = created.json.campaign.id;
  const started = await svc.call('POST', `/api/v1/campaigns/${id}/start`);
  assert.is(started.status, 200, started.text);
  const runId = (await svc.call('GET', `/api/v1/campaigns/${id}`)).json.campaign.runs.at(-1).id;
  await svc.service.host.until(runId, (r) => !r.live, 5_000);
  const texts = new Map<string, string>();
  for (const m of svc.sms.sent.filter((m) => m.templateId === `campaign:${id}`)) texts.set(m.to, m.text);
  return { id, texts };
}

const linkIn = (text: string) => {
  const m = /https:\/\/club\.example\.ru\/u\/([A-Za-z0-9_-]+)/.exec(text);
  assert.ok(m, text);
  return { path: `/u/${m![1]}`, code: m![1]! };
};

const OptOut = suite<Ctx>('one-tap opt-out');
OptOut.after.each(async (ctx) => ctx.svc?.stop());

OptOut(
  'each phone gets its own link; the page ends news for that phone only, with source link',
  async (ctx) => {
    await serve(ctx);
    const { texts } = await runCampaign(ctx.svc, 'Новое меню! Отписаться: {optOut}');
    assert.is(texts.size, 3);
    const links = [...texts.values()].map((t) => linkIn(t).code);
    assert.is(new Set(links).size, 3, 'one code per phone');
    for (const [phone, text] of texts) {
      assert.not.ok(text.includes(phone.slice(-7)), 'the link does not show the phone');
    }
    const { path } = linkIn(texts.get('+79160000002')!);

    // Opening the link (or a messenger's preview of it) changes nothing.
    const page = await visit(ctx.svc, 'GET', path);
    assert.is(page.status, 200);
    assert.match(page.headers.get('content-type')!, /text\/html/);
    assert.match(page.text, /<html lang="ru">/);
    assert.match(page.text, /Отписаться от SMS-рассылки/);
    assert.match(page.text, /от Кафе «Ромашка»/);
    assert.match(page.text, /<form method="post" action="[A-Za-z0-9_-]{16}\?lang=ru">/);
    let consent = (await ctx.svc.call('GET', '/api/v1/consents/+79160000002')).json.consent;
    assert.is(consent.marketing, true);

    const done = await visit(ctx.svc, 'POST', path);
    assert.is(done.status, 200);
    assert.match(done.text, /Готово/);
    consent = (await ctx.svc.call('GET', '/api/v1/consents/+79160000002')).json.consent;
    assert.is(consent.marketing, false);
    const last = consent.history.at(-1);
    assert.is(last.source, 'link');
    assert.is(last.marketing, false);
    assert.ok(Date.parse(last.at) > 0);
    assert.is((await ctx.svc.call('GET', '/api/v1/consents/+79160000001')).json.consent.marketing, true);

    // Pressing again adds nothing; the next campaign leaves the phone out as opted out.
    await visit(ctx.svc, 'POST', path);
    const again = (await ctx.svc.call('GET', '/api/v1/consents/+79160000002')).json.consent;
    assert.is(again.history.length, consent.history.length);
    const next = await ctx.svc.call('POST', '/api/v1/campaigns', {
      json: { name: 'Ещё', text: 'Скидки {optOut}' },
    });
    const est = (await ctx.svc.call('GET', `/api/v1/campaigns/${next.json.campaign.id}/estimate`)).json
      .estimate;
    assert.is(est.recipients, 2);
    assert.equal(est.skipped, { optedOut: 1 });
  },
);

OptOut('the page says the same for every code and never shows a phone', async (ctx) => {
  await serve(ctx);
  const { texts } = await runCampaign(ctx.svc, 'Акция {optOut}');
  const real = linkIn(texts.get('+79160000001')!);
  const fake = `/u/${randomBytes(12).toString('base64url')}`;
  const odd = '/u/%3Cscript%3Ealert(1)%3C%2Fscript%3E';
  const strip = (html: string) => html.replace(/action="[^"]*"/, 'action=""');
  const pages = await Promise.all([real.path, fake, odd].map((p) => visit(ctx.svc, 'GET', p)));
  for (const p of pages) assert.is(p.status, 200);
  assert.is(strip(pages[1]!.text), strip(pages[0]!.text));
  assert.is(strip(pages[2]!.text), strip(pages[0]!.text));
  assert.not.match(pages[2]!.text, /<script/);
  const answers = await Promise.all([fake, odd, real.path].map((p) => visit(ctx.svc, 'POST', p)));
  for (const a of answers) {
    assert.is(a.status, 200);
    assert.is(a.text, answers[0]!.text);
    assert.not.match(a.text, /916|\*\*\*/);
  }
  assert.is((await ctx.svc.call('GET', '/api/v1/consents/+79160000001')).json.consent.marketing, false);
  // The open metrics count confirmations without telling which named someone.
  const metrics = (await ctx.svc.call('GET', '/metrics', { as: null })).text;
  assert.match(metrics, /^smspds_opt_out_confirmations_total 3$/m);
});

OptOut(
  'security headers: CSP without framing, no referrer, no caching; same on the support page',
  async (ctx) => {
    await serve(ctx);
    for (const path of ['/u/AAAAAAAAAAAAAAAA', '/support']) {
      const res = await ctx.svc.call('GET', path, { as: null });
      const csp = res.headers.get('content-security-policy') ?? '';
      assert.match(csp, /frame-ancestors 'none'/, path);
      assert.match(csp, /base-uri 'none'/, path);
      assert.is(res.headers.get('referrer-policy'), 'no-referrer', path);
      assert.is(res.headers.get('x-frame-options'), 'DENY', path);
      assert.is(res.headers.get('x-content-type-options'), 'nosniff', path);
    }
    const page = await ctx.svc.call('GET', '/u/AAAAAAAAAAAAAAAA', { as: null });
    const csp = page.headers.get('content-security-policy')!;
    assert.match(csp, /default-src 'none'/);
    assert.match(csp, /form-action 'self'/);
    assert.not.match(csp, /unsafe-inline|script-src/);
    assert.is(page.headers.get('cache-control'), 'no-store');
  },
);

OptOut('Kazakh and English by the browser language or ?lang=, Russian otherwise', async (ctx) => {
  await serve(ctx);
  const code = '/u/AAAAAAAAAAAAAAAA';
  const kk = await visit(ctx.svc, 'GET', code, 'kk-KZ,kk;q=0.9,ru;q=0.8');
  assert.match(kk.text, /<html lang="kk">/);
  assert.match(kk.text, /Бас тарту/);
  const en = await visit(ctx.svc, 'GET', code, 'en-GB,en;q=0.9');
  assert.match(en.text, /<html lang="en">/);
  assert.match(en.text, /Unsubscribe/);
  const other = await visit(ctx.svc, 'GET', code, 'de-DE');
  assert.match(other.text, /<html lang="ru">/);
  const asked = await visit(ctx.svc, 'GET', `${code}?lang=kk`, 'en');
  assert.match(asked.text, /<html lang="kk">/);
  assert.match(asked.text, /action="AAAAAAAAAAAAAAAA\?lang=kk"/);
  const doneKk = await visit(ctx.svc, 'POST', `${code}?lang=kk`);
  assert.match(doneKk.text, /Дайын/);
});

OptOut('confirmations are limited per address', async (ctx) => {
  await serve(ctx, { limits: { optOutPerAddressPerHour: 3 } });
  for (let i = 0; i < 3; i++) {
    const ok = await visit(ctx.svc, 'POST', `/u/${randomBytes(12).toString('base64url')}`);
    assert.is(ok.status, 200);
  }
  const limited = await visit(ctx.svc, 'POST', '/u/AAAAAAAAAAAAAAAA');
  assert.is(limited.status, 429);
  assert.is(limited.headers.get('retry-after'), '3600');
  assert.match(limited.text, /Слишком много попыток/);
  // Reading the page is not limited.
  assert.is((await visit(ctx.svc, 'GET', '/u/AAAAAAAAAAAAAAAA')).status, 200);
});

OptOut('the link is counted in the message size, the warning and the estimate', async (ctx) => {
  await serve(ctx);
  // 40 Cyrillic characters: one SMS alone, two with a 42-character link.
  const text = 'Новое сезонное меню уже ждёт вас у нас! ';
  assert.is(text.length, 40);
  const plain = await ctx.svc.call('POST', '/api/v1/campaigns', { json: { name: 'a', text } });
  assert.equal(plain.json.campaign.message, { encoding: 'ucs2', units: 39, segments: 1, warning: null });
  const linked = await ctx.svc.call('POST', '/api/v1/campaigns', {
    json: { name: 'b', text: `${text}{optOut}` },
  });
  const size = linked.json.campaign.message;
  const units = 40 + `${PUBLIC}/u/`.length + 16;
  assert.equal({ ...size, warning: null }, { encoding: 'ucs2', units, segments: 2, warning: null });
  assert.match(size.warning, new RegExp(`длина ${units} со ссылкой отказа: 2 SMS`));
  assert.match(size.warning, /with the opt-out link: 2 SMS each/);
  const est = (await ctx.svc.call('GET', `/api/v1/campaigns/${linked.json.campaign.id}/estimate`)).json
    .estimate;
  assert.is(est.segmentsPerMessage, 2);
  assert.is(est.segments, 6);
  // A Latin text stays GSM-7: the link costs its characters there too.
  const latin = await ctx.svc.call('POST', '/api/v1/campaigns', {
    json: { name: 'c', text: `${'x'.repeat(120)} {optOut}` },
  });
  assert.equal(latin.json.campaign.message.segments, 2);
});

OptOut('campaigns.requireOptOut refuses a text without the link; {optOut} needs publicUrl', async (ctx) => {
  await serve(ctx, { campaigns: { quietHours: false, requireOptOut: true } });
  const without = await ctx.svc.call('POST', '/api/v1/campaigns', { json: { name: 'a', text: 'Скидки!' } });
  assert.is(without.status, 400);
  assert.is(without.json.error.code, 'OPT_OUT_REQUIRED');
  assert.match(without.json.error.message, /нет ссылки для отказа/);
  const cron = await ctx.svc.call('POST', '/api/v1/campaigns', {
    json: { name: 'b', text: 'Скидки!', schedule: { cron: '0 12 * * *' } },
  });
  assert.is(cron.status, 400);
  const withLink = await ctx.svc.call('POST', '/api/v1/campaigns', {
    json: { name: 'c', text: 'Скидки! {optOut}' },
  });
  assert.is(withLink.status, 201);
  await ctx.svc.stop();

  await serve(ctx, { publicUrl: null });
  const noUrl = await ctx.svc.call('POST', '/api/v1/campaigns', {
    json: { name: 'd', text: 'Скидки {optOut}' },
  });
  assert.is(noUrl.status, 400);
  assert.is(noUrl.json.error.code, 'VALIDATION_FAILED');
  assert.match(noUrl.json.error.message, /publicUrl/);
});

OptOut('a recurring campaign written before requireOptOut was turned on skips its firings', async (ctx) => {
  const dataDir = mkdtempSync(join(tmpdir(), 'smspds-optout-'));
  const clock = new FakeClock(NOON);
  try {
    ctx.svc = await startService({ dataDir, clock, config: { campaigns: { quietHours: false } } });
    const c = await ctx.svc.call('POST', '/api/v1/campaigns', {
      json: { name: 'Каждый день', text: 'Скидки!', schedule: { cron: '0 13 * * *' } },
    });
    assert.is(c.status, 201, c.text);
    await ctx.svc.stop({ keepData: true });
    ctx.svc = await startService({
      dataDir,
      clock,
      config: { publicUrl: PUBLIC, campaigns: { quietHours: false, requireOptOut: true } } as never,
    });
    clock.advance(60 * 60_000 + 1000); // past 13:00 Moscow
    assert.is(await ctx.svc.service.campaigns.tick(), 0);
    const after = (await ctx.svc.call('GET', `/api/v1/campaigns/${c.json.campaign.id}`)).json.campaign;
    assert.is(after.runs.length, 0);
    assert.is(after.missedRuns, 1);
    const manual = await ctx.svc.call('POST', `/api/v1/campaigns/${c.json.campaign.id}/start`);
    assert.is(manual.status, 400);
    assert.is(manual.json.error.code, 'OPT_OUT_REQUIRED');
  } finally {
    await ctx.svc?.stop();
    ctx.svc = undefined as never;
    rmSync(dataDir, { recursive: true, force: true });
  }
});

OptOut('configuration: requireOptOut needs publicUrl; publicUrl is an http(s) address', () => {
  assert.throws(
    () => parseConfig({ campaigns: { requireOptOut: true } }),
    (e: unknown) => {
      return e instanceof ConfigError && /campaigns\.requireOptOut/.test(e.message);
    },
  );
  assert.throws(() => parseConfig({ publicUrl: 'ftp://x.example' }), /publicUrl/);
  assert.throws(() => parseConfig({ publicUrl: 'https://x.example/?a=1' }), /publicUrl/);
  assert.is(parseConfig({ publicUrl: 'https://x.example/pds/' }).publicUrl, 'https://x.example/pds');
});

OptOut.run();
