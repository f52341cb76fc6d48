/**
 * Answers in the two shapes of the API: JSON, or `name=value` lines for RK7's Pascal scripts
 * (`Accept: text/plain` or `?format=kv`), errors included. The one error pipeline lives here:
 * an AppError becomes its status, stable code and cashier message; anything else is logged and
 * answered as a bare 500 that leaks nothing.
 */
import type { Context, Next } from 'koa';
import { AppError, catalog, isErrorCode, messageFor, type Lang, type ErrorCode } from '../machines/errors.ts';
import type { Logger } from 'pino';

export type KvFields = Record<string, string | number | boolean | null | undefined>;

export function wantsKv(ctx: Context): boolean {
  if (ctx.query.format === 'kv') return true;
  if (ctx.query.format === 'json') return false;
  const accept = ctx.get('Accept');
  return /text\/plain/i.test(accept) && !/application\/json/i.test(accept);
}

export function langOf(ctx: Context, fallback: Lang): Lang {
  const header = ctx.get('Accept-Language').trim().toLowerCase();
  if (header.startsWith('en')) return 'en';
  if (header.startsWith('ru')) return 'ru';
  return fallback;
}

/** One `name=value` a line; values never carry a line break (RK7's TStringList reads lines). */
export function toKv(fields: KvFields): string {
  return (
    Object.entries(fields)
      .filter(([, v]) => v !== undefined)
      .map(([k, v]) => `${k}=${v === null ? '' : String(v).replace(/[\r\n]+/g, ' ')}`)
      .join('\r\n') + '\r\n'
  );
}

/** Set the answer: JSON body, and the flat fields used when the caller asked for key=value. */
export function reply(ctx: Context, status: number, body: unknown, kv: KvFields) {
  ctx.status = status;
  if (wantsKv(ctx)) {
    ctx.type = 'text/plain; charset=utf-8';
    ctx.body = toKv({ status: 'ok', ...kv });
  } else {
    ctx.type = 'application/json; charset=utf-8';
    ctx.body = body;
  }
}

/** Koa's own errors (body parser, router) carry an HTTP status: give them a stable code. */
function codeForStatus(status: number): ErrorCode {
  if (status === 413) return 'BODY_TOO_LARGE';
  if (status === 415) return 'UNSUPPORTED_MEDIA_TYPE';
  if (status === 405 || status === 501) return 'METHOD_NOT_ALLOWED';
  if (status === 404) return 'NOT_FOUND';
  if (status === 401) return 'UNAUTHORIZED';
  if (status === 403) return 'FORBIDDEN';
  return 'VALIDATION_FAILED';
}

export function errorPipeline(logger: Logger, defaultLang: Lang) {
  return async function errors(ctx: Context, next: Next) {
    try {
      await next();
      if (ctx.status === 404 && ctx.body === undefined) throw new AppError('NOT_FOUND');
    } catch (err) {
      let appErr: AppError;
      if (err instanceof AppError) appErr = err;
      else if (isErrorCode((err as { code?: unknown })?.code)) {
        // An error from below that carries a code of the catalog (the store's STORE_UNAVAILABLE).
        logger.error({ err, reqId: ctx.state.reqId, path: ctx.path }, 'request failed');
        appErr = new AppError((err as { code: ErrorCode }).code);
      } else if (err instanceof URIError) {
        appErr = new AppError('VALIDATION_FAILED', {
          field: 'path',
          reason: 'некорректный адрес / malformed URL',
        });
      } else {
        const status =
          (err as { status?: number; statusCode?: number }).status ??
          (err as { statusCode?: number }).statusCode;
        if (status && status >= 400 && status < 500) {
          appErr = new AppError(codeForStatus(status), { reason: (err as Error).message });
        } else {
          logger.error({ err, reqId: ctx.state.reqId, path: ctx.path }, 'request failed');
          appErr = new AppError('INTERNAL');
        }
      }
      const spec = catalog[appErr.code];
      const message = messageFor(appErr.code, langOf(ctx, defaultLang), appErr.extra);
      ctx.status = spec.status;
      const retryAfter = appErr.extra.retryAfter;
      if (typeof retryAfter === 'number') ctx.set('Retry-After', String(retryAfter));
      if (wantsKv(ctx)) {
        ctx.type = 'text/plain; charset=utf-8';
        ctx.body = toKv({ status: 'error', code: appErr.code, message, ...appErr.extra });
      } else {
        ctx.type = 'application/json; charset=utf-8';
        ctx.body = { error: { code: appErr.code, message, ...appErr.extra, ...appErr.data } };
      }
    }
  };
}
