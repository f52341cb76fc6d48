/**
 * Headers of every page a browser shows (the support page, the guests' opt-out page): a
 * Content-Security-Policy that allows only the page's own resources and no framing (no
 * clickjacking of a button), no Referer (a page's address may carry a code), no type sniffing.
 */
import type { Context } from 'koa';

export function pageHeaders(ctx: Context, csp: string, cache = 'no-cache') {
  ctx.set('Content-Security-Policy', `${csp}; frame-ancestors 'none'; base-uri 'none'`);
  ctx.set('X-Frame-Options', 'DENY');
  ctx.set('Referrer-Policy', 'no-referrer');
  ctx.set('X-Content-Type-Options', 'nosniff');
  ctx.set('Cache-Control', cache);
}
