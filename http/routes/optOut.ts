/**
 * The guests' opt-out page, `/u/<code>`: the one part of the service a guest's phone opens,
 * with no token. GET shows one button and changes nothing (a messenger that fetches a link to
 * preview it must not unsubscribe anyone); the button POSTs to the same address and the answer
 * is "done". Russian by default, Kazakh or English by the browser's language or `?lang=`.
 *
 * What it never tells: whether a code names anyone. Every code gets the same page and the same
 * "done"; a guessed code passes the tag check once in 2^40 tries, and confirmations are limited
 * per address (`limits.optOutPerAddressPerHour`, kept in memory: a guest's page writes nothing
 * to disk but the consent entry). No script; the styles are inline and allowed by their hash.
 */
import type { Router } from '@koa/router';
import type { Context } from 'koa';
import { createHash } from 'node:crypto';
import type { Logger } from 'pino';
import { BoundedMap } from '../../runtime/boundedMap.ts';
import type { Config } from '../../runtime/config.ts';
import type { ConsentLedger } from '../../runtime/consents.ts';
import type { Metrics } from '../../runtime/metrics.ts';
import type { Clock } from '../../runtime/ports.ts';
import { confirmOptOut, type OptOutLinks } from '../../runtime/campaigns/optOut.ts';
import { pageHeaders } from '../pageHeaders.ts';

const LANGS = ['ru', 'kk', 'en'] as const;
type PageLang = (typeof LANGS)[number];

const TEXT: Record<
  PageLang,
  {
    title: string;
    lead: (brand: string) => string;
    button: string;
    done: string;
    doneLead: string;
    limited: string;
    failed: string;
    name: string;
  }
> = {
  ru: {
    title: 'Отписаться от SMS-рассылки',
    lead: (b) =>
      `Вы больше не будете получать SMS-новости${b ? ` от ${b}` : ''}. Коды для кассира будут приходить как раньше.`,
    button: 'Отписаться',
    done: 'Готово',
    doneLead: 'SMS-новости на этот номер больше не придут.',
    limited: 'Слишком много попыток с этого адреса. Попробуйте через час.',
    failed: 'Сейчас не получилось. Попробуйте через несколько минут.',
    name: 'Русский',
  },
  kk: {
    title: 'SMS-таратылымнан бас тарту',
    lead: (b) =>
      `${b ? `${b} ` : ''}SMS-жаңалықтары сізге енді келмейді. Кассирге арналған кодтар бұрынғыдай келеді.`,
    button: 'Бас тарту',
    done: 'Дайын',
    doneLead: 'Бұл нөмірге SMS-жаңалықтар енді келмейді.',
    limited: 'Бұл мекенжайдан тым көп әрекет. Бір сағаттан кейін қайталаңыз.',
    failed: 'Қазір мүмкін болмады. Бірнеше минуттан кейін қайталаңыз.',
    name: 'Қазақша',
  },
  en: {
    title: 'Unsubscribe from SMS news',
    lead: (b) =>
      `You will no longer receive SMS news${b ? ` from ${b}` : ''}. Codes for the cashier will still arrive.`,
    button: 'Unsubscribe',
    done: 'Done',
    doneLead: 'No more SMS news will be sent to this number.',
    limited: 'Too many attempts from this address. Try again in an hour.',
    failed: 'That did not work just now. Try again in a few minutes.',
    name: 'English',
  },
};

const STYLE = `body{margin:0;font:18px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;background:#f4f5f7;color:#1d2330}
main{max-width:28rem;margin:12vh auto 2rem;padding:2rem 1.5rem;background:#fff;border-radius:12px;box-shadow:0 1px 4px rgba(0,0,0,.08)}
h1{font-size:1.4rem;margin:0 0 .8rem}p{margin:0 0 1.4rem}
button{width:100%;padding:.9rem;font:inherit;font-weight:600;color:#fff;background:#c0392b;border:0;border-radius:8px;cursor:pointer}
button:focus-visible{outline:3px solid #1d2330;outline-offset:2px}
nav{margin-top:1.4rem;font-size:.9rem;text-align:center}nav a{color:#3a5da8;margin:0 .5rem}
@media (max-width:30rem){main{margin:8vh .75rem 1rem}}`;
const STYLE_HASH = createHash('sha256').update(STYLE).digest('base64');

const HOUR = 3_600_000;
/** Addresses whose confirmations are counted at a time (the oldest is forgotten first). */
const ADDRESSES = 50_000;

const escapeHtml = (s: string) =>
  s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);

export interface OptOutDeps {
  config: Readonly<Config>;
  optOut: OptOutLinks;
  consents: ConsentLedger;
  store: { readonly healthy: boolean };
  clock: Clock;
  logger: Logger;
  metrics: Metrics;
}

export function optOutRoutes(router: Router, deps: OptOutDeps) {
  const brand = escapeHtml(deps.config.otp.brand);
  const limit = deps.config.limits.optOutPerAddressPerHour;
  const hits = new BoundedMap<string, number[]>(ADDRESSES);

  /** Count a confirmation from the caller's address; false when the address is at its limit. */
  const allowed = (address: string): boolean => {
    const now = deps.clock.now();
    const recent = (hits.get(address) ?? []).filter((t) => t > now - HOUR);
    if (recent.length >= limit) {
      hits.set(address, recent);
      return false;
    }
    hits.set(address, [...recent, now]);
    return true;
  };

  const langOf = (ctx: Context): PageLang => {
    const asked = String(ctx.query.lang ?? '');
    if ((LANGS as readonly string[]).includes(asked)) return asked as PageLang;
    return (ctx.acceptsLanguages([...LANGS]) || 'ru') as PageLang;
  };

  const page = (ctx: Context, status: number, lang: PageLang, body: string) => {
    const t = TEXT[lang];
    const others = LANGS.filter((l) => l !== lang)
      .map((l) => `<a href="?lang=${l}" lang="${l}" hreflang="${l}">${TEXT[l].name}</a>`)
      .join('');
    ctx.status = status;
    ctx.type = 'text/html; charset=utf-8';
    pageHeaders(ctx, `default-src 'none'; style-src 'sha256-${STYLE_HASH}'; form-action 'self'`, 'no-store');
    ctx.body = `<!doctype html>
<html lang="${lang}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex">
<title>${t.title}</title>
<style>${STYLE}</style>
</head>
<body>
<main>
${body}
<nav>${others}</nav>
</main>
</body>
</html>
`;
  };

  router.get('/u/:code', (ctx) => {
    const lang = langOf(ctx);
    const t = TEXT[lang];
    // The form posts to this same address (relative: a path prefix of the proxy stays).
    const action = `${encodeURIComponent(ctx.params.code!)}?lang=${lang}`;
    page(
      ctx,
      200,
      lang,
      `<h1>${t.title}</h1>
<p>${t.lead(brand)}</p>
<form method="post" action="${action}"><button type="submit" id="confirm">${t.button}</button></form>`,
    );
  });

  router.post('/u/:code', async (ctx) => {
    const lang = langOf(ctx);
    const t = TEXT[lang];
    if (!allowed(ctx.ip)) {
      ctx.set('Retry-After', '3600');
      page(ctx, 429, lang, `<h1>${t.title}</h1>\n<p>${t.limited}</p>`);
      return;
    }
    try {
      if (!deps.store.healthy) throw new Error('store is not writable');
      deps.metrics.optOuts.inc();
      const ended = await confirmOptOut(
        { links: deps.optOut, consents: deps.consents, now: () => deps.clock.now() },
        ctx.params.code!,
      );
      if (ended) deps.logger.info('news consent ended on the opt-out page');
      await deps.consents.flush(); // "done" means on disk
    } catch (err) {
      deps.logger.error({ err }, 'opt-out page: the confirmation was not saved');
      page(ctx, 503, lang, `<h1>${t.title}</h1>\n<p>${t.failed}</p>`);
      return;
    }
    page(ctx, 200, lang, `<h1 id="done">${t.done}</h1>\n<p>${t.doneLead}</p>`);
  });
}
