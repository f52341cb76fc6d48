/**
 * The support page in a real headless Chromium (Debian's, driven by playwright-core): sign in,
 * search a phone, open a session, see its timeline, SMS attempts and workflow diagram; switch
 * to English; campaigns with progress. Screenshots go to test-artifacts/.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync, mkdirSync } from 'node:fs';
import { resolve } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { ARTIFACTS, CHROMIUM, launchChromium } from './browser.ts';
import { startService, TOKENS, type TestService } from './helpers.ts';

/** A new page of the same browser, signed in with `token`. */
async function page0(svc: TestService, token: string): Promise<Page> {
  const page = await shared.browser!.newPage({ viewport: { width: 1280, height: 800 } });
  await page.goto(`${svc.url}/support`);
  await page.fill('#token', token);
  await page.click('#signin-form button[type=submit]');
  await page.waitForSelector('#sessions:not([hidden])');
  return page;
}
const shared: { browser?: Browser } = {};

const Support = suite<{ svc: TestService; browser: Browser; page: Page; sessionId: string }>(
  'support page in Chromium',
);

if (!existsSync(CHROMIUM)) {
  // CI installs Debian's chromium (.ci/run); on a machine without it this suite cannot run.
  Support('Chromium is installed where the suite must run', () => {
    assert.not.ok(process.env.CI, `${CHROMIUM} is missing: apt-get install -y chromium`);
    process.stderr.write(
      `    support page tests need ${CHROMIUM} (apt-get install -y chromium); not run here\n`,
    );
  });
} else {
  Support.before(async (ctx) => {
    ctx.svc = await startService({
      config: { otp: { resendCooldownSeconds: 0 }, campaigns: { quietHours: false } },
    });
    await ctx.svc.call('POST', '/api/v1/cards/import', {
      body: 'number,name,phone\n100500,Анна Ли,+79161234567\n',
      headers: { 'Content-Type': 'text/csv' },
    });
    const s = await ctx.svc.call('POST', '/api/v1/auth', {
      as: 'terminal',
      json: { phone: '+79161234567', terminal: 'CASH1' },
    });
    ctx.sessionId = s.json.session.id;
    const pin = ctx.svc.sms.lastPin();
    await ctx.svc.call('POST', `/api/v1/auth/${ctx.sessionId}/verify`, {
      as: 'terminal',
      json: { pin: pin === '000000' ? '111111' : '000000' },
    });
    await ctx.svc.call('POST', `/api/v1/auth/${ctx.sessionId}/verify`, { as: 'terminal', json: { pin } });
    // A landline typed at the till: refused before any session, kept as a record.
    await ctx.svc.call('POST', '/api/v1/auth', {
      as: 'terminal',
      json: { phone: '+74951234567', terminal: 'CASH1' },
    });
    await ctx.svc.call('POST', '/api/v1/consents', {
      json: { phone: '+79161234567', marketing: true, source: 'pos' },
    });
    const c = await ctx.svc.call('POST', '/api/v1/campaigns', {
      json: { name: 'Новое меню', text: '{firstName}, новое меню!', ratePerSecond: 100 },
    });
    await ctx.svc.call('POST', `/api/v1/campaigns/${c.json.campaign.id}/start`);
    mkdirSync(ARTIFACTS, { recursive: true });
    ctx.browser = await launchChromium();
    shared.browser = ctx.browser;
    ctx.page = await ctx.browser.newPage({ viewport: { width: 1280, height: 800 } });
  });
  Support.after(async (ctx) => {
    await ctx.browser?.close();
    await ctx.svc?.stop();
  });

  Support('a wrong token is refused; a support token signs in', async ({ svc, page }) => {
    await page.goto(`${svc.url}/support`);
    await page.fill('#token', 'not-a-token-at-all-0000');
    await page.click('#signin-form button[type=submit]');
    await page.waitForSelector('#signin-error:has-text("Ключ не подходит")');
    await page.fill('#token', TOKENS.support);
    await page.click('#signin-form button[type=submit]');
    await page.waitForSelector('#sessions:not([hidden])');
    assert.ok(await page.isVisible('#tabs'));
  });

  Support(
    'search by phone in any form, open the session: timeline, SMS, diagram',
    async ({ page, sessionId }) => {
      await page.fill('#search', '8 (916) 123-45-67');
      await page.click('#search-form button[type=submit]');
      await page.waitForSelector(`#results tr[data-id="${sessionId}"]`);
      assert.match(
        (await page.textContent(`#results tr[data-id="${sessionId}"]`)) ?? '',
        /\+7 916 \*\*\*-\*\*-67/,
        'masked for support',
      );
      await page.click(`#results tr[data-id="${sessionId}"]`);
      await page.waitForSelector('#session:not([hidden]) ol.timeline li');
      const steps = await page.$$eval('#session ol.timeline li b', (els) =>
        els.map((e) => [e.getAttribute('data-event'), e.textContent]),
      );
      assert.equal(steps, [
        ['start', 'начало'],
        ['SUBMIT', 'запрос с кассы'],
        ['findCard.done', 'карта найдена'],
        ['sendPin.done', 'СМС отправлено'],
        ['VERIFY', 'введён код'],
        ['VERIFY', 'введён код'],
        ['recheckCard.done', 'карта проверена'],
      ]);
      assert.match(
        (await page.textContent('#diagnosis'))!,
        /Код отправлен через .+ в \d\d:\d\d.*Гость назвал верный код в \d\d:\d\d: карта 100500 применена к заказу\./,
        'what happened, in a sentence',
      );
      // Every word shown outside the technical fold is a person's word: no identifier, no JSON.
      // The page's text without the technical fold and the diagram's hover titles.
      const shown = await page.$eval('#session', (el) => {
        const copy = el.cloneNode(true) as typeof el;
        copy.querySelectorAll('details.technical, svg title').forEach((d: { remove(): void }) => d.remove());
        return (copy as unknown as { innerText: string }).innerText;
      });
      assert.not.match(shown, /\b[a-z]+[A-Z][A-Za-z]*\b|[{}]/, 'no camelCase, no JSON on the page');
      assert.match(shown, /кто: terminal:CASH1 \(config terminal #1\)/, 'the token label on the timeline');
      assert.is(await page.getAttribute('#session ol.timeline li:last-child', 'class'), 'ok');
      assert.ok(
        await page.isVisible('#session table.sms td:has-text("fake")'),
        'the SMS attempt with its provider',
      );
      assert.is(
        await page.getAttribute('svg.diagram g.current', 'data-state'),
        'verified',
        'the diagram marks where it ended',
      );
      const visited = await page.$$eval('svg.diagram g.visited', (els) =>
        els.map((e) => e.getAttribute('data-state')),
      );
      assert.equal(visited.sort(), [
        'awaitingPin',
        'checkingCard',
        'lookingUp',
        'requested',
        'sendingSms',
        'verified',
      ]);
      assert.ok((await page.$$('svg.diagram path.taken')).length >= 4, 'the path taken is highlighted');
      assert.ok((await page.$$('svg.diagram g')).length === 11, 'every state of the machine is drawn');
      await page.screenshot({ path: resolve(ARTIFACTS, 'support-session.png'), fullPage: true });
    },
  );

  Support('a start refused before any session is in the list with its reason', async ({ page }) => {
    await page.click('#session .back');
    await page.fill('#search', '+7 495 123-45-67');
    await page.click('#search-form button[type=submit]');
    await page.waitForSelector('#results tr[data-id^="att_"]');
    const row = (await page.textContent('#results tr[data-id^="att_"]'))!;
    assert.match(row, /отказ до начала/);
    assert.match(row, /На этот номер нельзя отправить СМС|мобильный/);
    assert.match(row, /terminal:CASH1 \(config terminal #1\)/);
    await page.click('#results tr[data-id^="att_"]');
    await page.waitForSelector('#session:not([hidden]) #diagnosis');
    assert.match((await page.textContent('#diagnosis'))!, /спросите у гостя мобильный/);
    await page.screenshot({ path: resolve(ARTIFACTS, 'support-refused-attempt.png'), fullPage: true });
  });

  Support('reports: charts per day drawn by the bundled Chart.js, CSV download', async ({ page }) => {
    await page.click('#tabs button[data-tab=reports]');
    await page.waitForSelector('#report-summary:has-text("Авторизаций: ")');
    assert.match((await page.textContent('#report-summary'))!, /Авторизаций: [1-9]/);
    assert.is(await page.evaluate('typeof window.Chart'), 'function', 'Chart.js served by the service');
    for (const id of ['sessions', 'refused', 'sms', 'rates', 'campaigns'])
      assert.ok(
        await page.$eval(`#chart-${id}`, (c) => (c as unknown as { width: number }).width > 0),
        `chart ${id} drawn`,
      );
    const [download] = await Promise.all([page.waitForEvent('download'), page.click('#report-csv')]);
    assert.match(download.suggestedFilename(), /^smspds-\d{4}-\d\d-\d\d-\d{4}-\d\d-\d\d\.csv$/);
    await page.screenshot({ path: resolve(ARTIFACTS, 'support-reports.png'), fullPage: true });
    await page.click('#tabs button[data-tab=sessions]');
  });

  Support('an id typed in the search box opens the session; English switch', async ({ page, sessionId }) => {
    await page.click('#lang');
    await page.fill('#search', sessionId);
    await page.click('#search-form button[type=submit]');
    await page.waitForSelector('#session:not([hidden]) h2:has-text("Authorization")');
    assert.ok(await page.isVisible('text=Timeline'));
    await page.click('#lang');
  });

  Support('campaigns with progress; admins get the controls, support does not', async ({ svc, page }) => {
    await page.click('#tabs button[data-tab=campaigns]');
    await page.waitForSelector('#campaign-list tr[data-campaign]');
    assert.ok(await page.isVisible('#campaign-list .progress'));
    await page.click('#campaign-list tr[data-campaign]');
    await page.waitForSelector('#campaign:not([hidden]) h2');
    assert.is(await page.$('#campaign [data-act]'), null, 'no controls for support');
    const tablet = await page
      .context()
      .browser()!
      .newPage({ viewport: { width: 768, height: 1024 } });
    await tablet.goto(`${svc.url}/support`);
    await tablet.fill('#token', TOKENS.admin);
    await tablet.click('#signin-form button[type=submit]');
    await tablet.waitForSelector('#sessions:not([hidden])');
    await tablet.screenshot({ path: resolve(ARTIFACTS, 'support-tablet.png') });
    await tablet.close();
  });

  Support(
    'admin: a draft starts after a confirmation; a cancelled run says what was not sent',
    async ({ svc }) => {
      for (let i = 0; i < 30; i++)
        await svc.call('POST', '/api/v1/consents', {
          json: { phone: `+7916555${String(i).padStart(4, '0')}`, marketing: true, source: 'pos' },
        });
      await svc.call('POST', '/api/v1/cards/import', {
        body: [
          'number,name,phone',
          ...Array.from(
            { length: 30 },
            (_, i) => `${900 + i},Гость ${i},+7916555${String(i).padStart(4, '0')}`,
          ),
        ].join('\n'),
        headers: { 'Content-Type': 'text/csv' },
      });
      const draft = (
        await svc.call('POST', '/api/v1/campaigns', {
          json: { name: 'Черновик', text: 'Ждём вас!', ratePerSecond: 100 },
        })
      ).json.campaign.id as string;
      const slow = (
        await svc.call('POST', '/api/v1/campaigns', {
          json: { name: 'Медленная', text: 'Ждём вас!', ratePerSecond: 1 },
        })
      ).json.campaign.id as string;
      await svc.call('POST', `/api/v1/campaigns/${slow}/start`);
      await svc.call('POST', `/api/v1/campaigns/${slow}/cancel`);
      const admin = await page0(svc, TOKENS.admin);
      try {
        await admin.click('#tabs button[data-tab=campaigns]');
        await admin.click(`#campaign-list tr[data-campaign="${draft}"]`);
        await admin.click('#campaign [data-act=start]');
        await admin.waitForSelector('dialog.confirm[open]');
        assert.match((await admin.textContent('dialog.confirm p'))!, /Запустить рассылку «Черновик»\?/);
        await admin.screenshot({ path: resolve(ARTIFACTS, 'support-campaign-confirm.png') });
        await admin.click('dialog.confirm button[value=yes]');
        await admin.waitForSelector('#campaign h2 [data-state]:not([data-state=draft])');
        assert.is.not((await svc.call('GET', `/api/v1/campaigns/${draft}`)).json.campaign.state, 'draft');

        await admin.click('#campaign .back');
        await admin.click(`#campaign-list tr[data-campaign="${slow}"]`);
        await admin.waitForSelector('#recipients tbody tr');
        const text = `${await admin.textContent('#campaign dl')} ${await admin.textContent('#recipients tbody')}`;
        assert.match(text, /не отправлено: рассылка отменена/);
        assert.not.match(text, /В очереди|ждёт отправки/, 'a cancelled run has nothing waiting');
        await admin.selectOption('#recipient-status', 'queued');
        // Every row shown is queued: no row of another state is left (a selector, not a script:
        // the page's CSP refuses evaluated strings).
        await admin.waitForSelector('#recipients tbody tr [data-state]:not([data-state="queued"])', {
          state: 'detached',
        });
        await admin.waitForSelector('#recipients tbody tr [data-state="queued"]');
        await admin.screenshot({
          path: resolve(ARTIFACTS, 'support-campaign-cancelled.png'),
          fullPage: true,
        });
      } finally {
        await admin.close();
      }
    },
  );

  Support('a campaign the provider stopped says why', async ({ svc, page }) => {
    svc.sms.failNext = 100; // every message refused, as with a spent balance
    const made = await svc.call('POST', '/api/v1/campaigns', {
      json: { name: 'Акция выходного дня', text: 'Скидка 10% в субботу!', ratePerSecond: 1 },
    });
    const id = made.json.campaign.id as string;
    await svc.call('POST', `/api/v1/campaigns/${id}/start`);
    for (let i = 0; i < 100; i++) {
      if ((await svc.call('GET', `/api/v1/campaigns/${id}`)).json.campaign.state === 'paused') break;
      await new Promise((r) => setTimeout(r, 20));
    }
    svc.sms.failNext = 0;
    await page.click('#tabs button[data-tab=campaigns]');
    await page.click(`#campaign-list tr[data-campaign="${id}"]`);
    await page.waitForSelector('#campaign-halt');
    assert.match(
      (await page.textContent('#campaign-halt'))!,
      /провайдер не принял.*FAKE_DOWN.*1 ждут повтора/,
    );
    await page.screenshot({ path: resolve(ARTIFACTS, 'support-campaign-halted.png') });
  });

  Support('a campaign waiting for a provider out of reach says so, and when', async ({ svc, page }) => {
    svc.sms.failKind = 'transient'; // the connection refused, for now
    svc.sms.failNext = 100;
    const made = await svc.call('POST', '/api/v1/campaigns', {
      json: { name: 'Бизнес-ланч', text: 'Новый бизнес-ланч с понедельника', ratePerSecond: 1 },
    });
    const id = made.json.campaign.id as string;
    await svc.call('POST', `/api/v1/campaigns/${id}/start`);
    for (let i = 0; i < 100; i++) {
      const run = (await svc.call('GET', `/api/v1/campaigns/${id}`)).json.campaign.runs.at(-1);
      if (run?.wakeAt && run.error) break;
      await new Promise((r) => setTimeout(r, 20));
    }
    svc.sms.failNext = 0;
    svc.sms.failKind = 'account';
    await page.click('#tabs button[data-tab=sessions]');
    await page.click('#tabs button[data-tab=campaigns]');
    await page.click(`#campaign-list tr[data-campaign="${id}"]`);
    await page.waitForSelector('#campaign-halt');
    assert.match((await page.textContent('#campaign-halt'))!, /Ждёт провайдера, повтор в .*FAKE_DOWN/);
  });

  Support(
    'every view at 1280×800, 1024×768 and 768×1024: nothing overflows, no serious accessibility fault',
    async ({ svc, sessionId }) => {
      const AXE = resolve(import.meta.dirname, '..', 'node_modules', 'axe-core', 'axe.min.js');
      const sizes = [
        [1280, 800],
        [1024, 768],
        [768, 1024],
      ] as const;
      // axe is injected as a script: this page only lifts the CSP that would refuse it.
      const browser = (await chromium.launch({
        executablePath: CHROMIUM,
        args: ['--headless', '--no-sandbox'],
      }))!;
      try {
        for (const [width, height] of sizes) {
          const page = await browser.newPage({ viewport: { width, height }, bypassCSP: true });
          const views: Array<[string, () => Promise<unknown>]> = [
            ['signin', async () => page.goto(`${svc.url}/support`)],
            [
              'sessions',
              async () => {
                await page.fill('#token', TOKENS.admin);
                await page.click('#signin-form button[type=submit]');
                await page.waitForSelector('#sessions:not([hidden])');
                await page.fill('#search', '');
                await page.click('#search-form button[type=submit]');
                await page.waitForSelector('#results tr[data-id]');
              },
            ],
            [
              'session',
              async () => {
                await page.click(`#results tr[data-id="${sessionId}"]`);
                await page.waitForSelector('#session:not([hidden]) #diagnosis');
              },
            ],
            [
              'campaigns',
              async () => {
                await page.click('#tabs button[data-tab=campaigns]');
                await page.waitForSelector('#campaign-list tr[data-campaign]');
              },
            ],
            [
              'campaign',
              async () => {
                await page.click('#campaign-list tr[data-campaign]');
                await page.waitForSelector('#campaign:not([hidden]) h2');
              },
            ],
            [
              'reports',
              async () => {
                await page.click('#tabs button[data-tab=reports]');
                await page.waitForSelector('#report-summary:has-text(":")');
              },
            ],
          ];
          for (const [view, open] of views) {
            await open();
            const overflow = await page.evaluate(`(() => {
            const out = [];
            if (document.documentElement.scrollWidth > innerWidth + 1) out.push('page ' + document.documentElement.scrollWidth);
            for (const el of document.querySelectorAll('main section:not([hidden]) *')) {
              if (el.closest('.scroll, details.technical, svg') || !el.offsetParent) continue;
              const r = el.getBoundingClientRect();
              if (r.right > innerWidth + 1) out.push(el.tagName + '.' + el.className + ' ' + Math.round(r.right));
            }
            return out.slice(0, 5);
          })()`);
            assert.equal(overflow, [], `${view} at ${width}×${height}: nothing sticks out`);
            const small =
              await page.evaluate(`[...document.querySelectorAll('main section:not([hidden]) :is(p, td, th, li, dd, dt, label, button, a, figcaption, text)')]
            .filter((el) => el.offsetParent !== null || el.tagName === 'text')
            .map((el) => parseFloat(getComputedStyle(el).fontSize))
            .filter((px) => px < 11).length`);
            assert.is(small, 0, `${view} at ${width}×${height}: no text under 11 px`);
            const words = (await page.evaluate(`(() => {
            const section = document.querySelector('main section:not([hidden])').cloneNode(true);
            section.querySelectorAll('details.technical, svg title, script, select, input').forEach((e) => e.remove());
            return section.innerText;
          })()`)) as string;
            assert.not.match(
              words,
              /\b[a-z]+[A-Z][A-Za-z]*\b|[{}]/,
              `${view}: no identifiers or JSON on the page`,
            );
            await page.addScriptTag({ path: AXE });
            const serious =
              (await page.evaluate(`axe.run(document, { resultTypes: ['violations'] }).then((r) =>
            r.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical').map((v) => v.id + ': ' + v.nodes.length))`)) as string[];
            assert.equal(serious, [], `${view} at ${width}×${height}: axe-core`);
            await page.screenshot({
              path: resolve(ARTIFACTS, `${view}-${width}x${height}.png`),
              fullPage: true,
            });
          }
          await page.close();
        }
      } finally {
        await browser.close();
      }
    },
  );
}

Support.run();
