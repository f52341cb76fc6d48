/**
 * Request bodies: JSON, `application/x-www-form-urlencoded` (RK7's `HTTP.Post` sends a plain
 * string, often with no content type at all, so a body that is neither is read as a form), and
 * raw bytes for CSV imports. Bounded by a size limit; a malformed body is a 400, never a 500.
 */
import type { Context, Next } from 'koa';
import getRawBody from 'raw-body';
import { AppError } from '../machines/errors.ts';

export function bodyReader(limitBytes: number) {
  return async function body(ctx: Context, next: Next) {
    if (['POST', 'PUT', 'PATCH'].includes(ctx.method)) {
      let raw: Buffer;
      try {
        raw = await getRawBody(ctx.req, {
          limit: limitBytes,
          length: ctx.get('Content-Length') || undefined,
        });
      } catch (err) {
        const type = (err as { type?: string }).type;
        if (type === 'entity.too.large') {
          // A CSV import over the body limit: say where large files go.
          if (ctx.path === '/api/v1/cards/import')
            throw new AppError('IMPORT_TOO_LARGE', { limit: `${Math.round(limitBytes / 1024 / 1024)} MB` });
          throw new AppError('BODY_TOO_LARGE');
        }
        throw new AppError('VALIDATION_FAILED', {
          field: 'body',
          reason: 'тело запроса не прочитано / body unreadable',
        });
      }
      ctx.state.rawBody = raw;
      ctx.state.body = parseBody(ctx.get('Content-Type'), raw);
    }
    await next();
  };
}

function parseBody(contentType: string, raw: Buffer): unknown {
  const type = contentType.split(';')[0]!.trim().toLowerCase();
  if (raw.length === 0) return {};
  if (type === 'text/csv' || type === 'application/csv' || type === 'application/octet-stream') return {};
  const text = raw.toString('utf8').replace(/^\uFEFF/, '');
  if (type === 'application/json' || type.endsWith('+json') || (type === '' && /^\s*[{[]/.test(text))) {
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch {
      throw new AppError('VALIDATION_FAILED', {
        field: 'body',
        reason: 'некорректный JSON / malformed JSON',
      });
    }
    if (!value || typeof value !== 'object' || Array.isArray(value)) {
      throw new AppError('VALIDATION_FAILED', {
        field: 'body',
        reason: 'ожидается объект JSON / expected a JSON object',
      });
    }
    return value;
  }
  if (type === 'application/x-www-form-urlencoded' || type === 'text/plain' || type === '') {
    return Object.fromEntries(new URLSearchParams(text));
  }
  throw new AppError('UNSUPPORTED_MEDIA_TYPE', { reason: type });
}
