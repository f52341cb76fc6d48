/**
 * Tokens on every API route: `Authorization: Bearer <token>` or `X-Api-Key: <token>`. Admin may
 * do everything; support reads and cancels; terminal runs the till's flows.
 */
import type { Context, Next } from 'koa';
import { AppError } from '../machines/errors.ts';
import type { Role, TokenIdentity, TokenRegistry } from '../runtime/tokens.ts';

export function tokenOf(ctx: Context): string | undefined {
  const header = ctx.get('Authorization');
  const m = /^Bearer\s+(\S+)\s*$/i.exec(header);
  return m?.[1] ?? (ctx.get('X-Api-Key').trim() || undefined);
}

export function authenticate(tokens: TokenRegistry) {
  return async function auth(ctx: Context, next: Next) {
    await tokens.fresh(); // tokens made or revoked elsewhere, looked at once a second
    const identity = tokens.identify(tokenOf(ctx));
    if (!identity) throw new AppError('UNAUTHORIZED');
    ctx.state.role = identity.role;
    ctx.state.token = identity;
    await next();
  };
}

/** Allow the listed roles (admin always). */
export function allow(...allowed: Role[]) {
  return async function roleGuard(ctx: Context, next: Next) {
    const role = ctx.state.role as Role;
    if (role !== 'admin' && !allowed.includes(role)) throw new AppError('FORBIDDEN');
    await next();
  };
}

/** The calling token's id: the key of its limits and budgets. */
export function tokenIdOf(ctx: Context): string {
  return (ctx.state.token as TokenIdentity).id;
}

/**
 * Who did it, for timelines and lists: the role, the station when the caller names one, and the
 * token's label (`terminal:CASH1 (Касса 1, Тверская)`).
 */
export function actor(ctx: Context, terminal?: string | null): string {
  const role = ctx.state.role as Role;
  const label = (ctx.state.token as TokenIdentity | undefined)?.label;
  return `${terminal ? `${role}:${terminal}` : role}${label ? ` (${label})` : ''}`;
}
