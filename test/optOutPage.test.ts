/**
 * The guests' opt-out page in a real headless Chromium (Debian's, driven by playwright-core), as
 * a phone opens it from an SMS: Russian, Kazakh and English by the browser's language; styles
 * allowed by the page's strict CSP (no violation reported); one tap ends the news for that phone.
 * Screenshots go to test-artifacts/.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync, mkdirSync } from 'node:fs';
import { resolve } from 'node:path';
import type { Browser } from 'playwright-core';
import { ARTIFACTS, CHROMIUM, launchChromium } from './browser.ts';
import { startService, type TestService } from './helpers.ts';

const GUESTS = { ru: '+79160000001', kk: '+77010000002', en: '+79160000003' } as const;

const Page = suite<{ svc: TestService; browser: Browser; links: Map<string, string> }>(
  'opt-out page in Chromium',
);

if (!existsSync(CHROMIUM)) {
  Page('Chromium is installed where the suite must run', () => {
    assert.not.ok(process.env.CI, `${CHROMIUM} is missing: apt-get install -y chromium`);
    process.stderr.write(
      `    opt-out page tests need ${CHROMIUM} (apt-get install -y chromium); not run here\n`,
    );
  });
} else {
  Page.before(async (ctx) => {
    ctx.svc = await startService({
      config: { publicUrl: 'http://127.0.0.1', otp: { brand: 'Ромашка' }, campaigns: { quietHours: false } },
    });
    const csv = ['number,name,phone', ...Object.values(GUESTS).map((p, i) => `10${i},Гость ${i},${p}`)].join(
      '\n',
    );
    await ctx.svc.call('POST', '/api/v1/cards/import', {
      body: csv,
      headers: { 'Content-Type': 'text/csv' },
    });
    for (const phone of Object.values(GUESTS))
      await ctx.svc.call('POST', '/api/v1/consents', { json: { phone, marketing: true, source: 'pos' } });
    const c = await ctx.svc.call('POST', '/api/v1/campaigns', {
      json: { name: 'Меню', text: 'Новое меню! Отписаться: {optOut}', ratePerSecond: 100 },
    });
    await ctx.svc.call('POST', `/api/v1/campaigns/${c.json.campaign.id}/start`);
    const runId = (await ctx.svc.call('GET', `/api/v1/campaigns/${c.json.campaign.id}`)).json.campaign.runs[0]
      .id;
    await ctx.svc.service.host.until(runId, (r) => !r.live, 5_000);
    // The SMS carry links to the public address; the test's browser opens them on the service.
    ctx.links = new Map(
      ctx.svc.sms.sent
        .filter((m) => m.purpose === 'marketing')
        .map((m) => [m.to, m.text.replace(/^.*http:\/\/127\.0\.0\.1(\/u\/\S+)$/, `${ctx.svc.url}$1`)]),
    );
    assert.is(ctx.links.size, 3);
    mkdirSync(ARTIFACTS, { recursive: true });
    ctx.browser = await launchChromium();
  });
  Page.after(async (ctx) => {
    await ctx.browser?.close();
    await ctx.svc?.stop();
  });

  const cases = [
    {
      lang: 'ru',
      locale: 'ru-RU',
      title: 'Отписаться от SMS-рассылки',
      button: 'Отписаться',
      done: 'Готово',
    },
    { lang: 'kk', locale: 'kk-KZ', title: 'SMS-таратылымнан бас тарту', button: 'Бас тарту', done: 'Дайын' },
    { lang: 'en', locale: 'en-US', title: 'Unsubscribe from SMS news', button: 'Unsubscribe', done: 'Done' },
  ] as const;

  for (const c of cases) {
    Page(`${c.lang}: one tap ends the news for the phone of the link`, async (ctx) => {
      const phone = GUESTS[c.lang];
      const context = await ctx.browser.newContext({
        locale: c.locale,
        viewport: { width: 390, height: 760 },
        deviceScaleFactor: 1,
      });
      const page = await context.newPage();
      const violations: string[] = [];
      page.on('console', (m) => {
        if (/Content Security Policy/i.test(m.text())) violations.push(m.text());
      });
      await page.goto(ctx.links.get(phone)!);
      assert.is(await page.getAttribute('html', 'lang'), c.lang);
      assert.is(await page.textContent('h1'), c.title);
      assert.is((await page.textContent('#confirm'))?.trim(), c.button);
      // The inline styles are applied: the CSP allows them by their hash.
      const bg = await page.$eval('#confirm', (b) => {
        const view = b.ownerDocument.defaultView as unknown as {
          getComputedStyle(e: unknown): { backgroundColor: string };
        };
        return view.getComputedStyle(b).backgroundColor;
      });
      assert.is(bg, 'rgb(192, 57, 43)');
      await page.screenshot({ path: resolve(ARTIFACTS, `opt-out-${c.lang}.png`) });
      const before = (await ctx.svc.call('GET', `/api/v1/consents/${phone}`)).json.consent;
      assert.is(before.marketing, true, 'opening the page changes nothing');

      await page.click('#confirm');
      await page.waitForSelector('#done');
      assert.is(await page.textContent('#done'), c.done);
      assert.is(await page.getAttribute('html', 'lang'), c.lang);
      await page.screenshot({ path: resolve(ARTIFACTS, `opt-out-${c.lang}-done.png`) });
      assert.equal(violations, []);
      await context.close();

      const after = (await ctx.svc.call('GET', `/api/v1/consents/${phone}`)).json.consent;
      assert.is(after.marketing, false);
      assert.is(after.history.at(-1).source, 'link');
      const others = Object.values(GUESTS).filter((p) => p !== phone);
      for (const p of others.slice(cases.findIndex((x) => x.lang === c.lang))) {
        assert.is((await ctx.svc.call('GET', `/api/v1/consents/${p}`)).json.consent.marketing, true, p);
      }
    });
  }

  Page('a page framed by another site is refused', async (ctx) => {
    const context = await ctx.browser.newContext();
    const page = await context.newPage();
    const link = ctx.links.get(GUESTS.ru)!;
    await page.setContent(`<iframe id="f" src="${link}"></iframe>`);
    await page.waitForTimeout(300);
    const frame = page.frames().find((f) => f.url().includes('/u/'));
    const framed = frame ? await frame.$('#confirm').catch(() => null) : null;
    assert.is(framed, null, 'the button is not shown inside a frame');
    await context.close();
  });
}

Page.run();
