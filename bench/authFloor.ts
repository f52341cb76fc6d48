/**
 * The floor of an authorization flow: the same two requests (`POST /api/v1/auth`, then
 * `POST /api/v1/auth/{id}/verify`) served by the libraries the service is built on and nothing
 * else — Koa with @koa/router, a form body, libphonenumber-js (through the service's memoised
 * `normalizePhone`), the real auth machine (`machines/auth.ts`) run in an XState actor, and the
 * PIN drawn, hashed and compared by the service's own vault (`runtime/pin.ts`).
 *
 * Left out, on purpose: tokens, validation, rate limits and budgets, the card directory, the
 * SMS provider, the store and its fsync, the archive, logs and metrics. What this server
 * answers per second is therefore more than the service can ever answer with all of those:
 * `npm run bench:auth` measures it in the same run, to show what share of a flow the chosen
 * stack takes before any of the service's own work.
 *
 * A fixture, not the service: with no SMS to read, it hands the PIN back in the `x-floor-pin`
 * header. The service never answers with a PIN.
 */
import Koa from 'koa';
import Router from '@koa/router';
import { createActor, fromPromise, waitFor } from 'xstate';
import { randomBytes } from 'node:crypto';
import { authMachine, type AuthCard } from '../machines/auth.ts';
import type { PinSent, SendPinInput } from '../machines/otp.ts';
import { createPinVault } from '../runtime/pin.ts';
import { normalizePhone } from '../runtime/phone.ts';

const vault = createPinVault(randomBytes(32));
const card: AuthCard = { number: '1000001', holder: 'Гость', discount: 5, bonus: 0 };
const policy = { ttlMs: 300_000, cooldownMs: 60_000, maxAttempts: 3, maxResends: 3 };
/** PINs sent and not yet handed to the client, by session id. */
const outbox = new Map<string, string>();
const sessions = new Map<string, ReturnType<typeof createActor<typeof machine>>>();
let seq = 0;

const machine = authMachine.provide({
  actors: {
    findCard: fromPromise<AuthCard, { phone: string }>(async () => card),
    recheckCard: fromPromise<AuthCard, { phone: string; number: string }>(async () => card),
    sendPin: fromPromise<PinSent, SendPinInput>(async ({ input }) => {
      const pin = vault.derive(input.id, input.sendNo, 6);
      outbox.set(input.id, pin);
      return { pinHash: vault.hash(input.id, pin), sentAt: Date.now(), attempts: [] };
    }),
  },
  guards: {
    pinMatches: ({ context, event }) =>
      vault.matches(context.pinHash, context.id, (event as { pin?: unknown }).pin),
  },
});

async function form(ctx: Koa.Context): Promise<URLSearchParams> {
  let text = '';
  for await (const chunk of ctx.req) text += chunk;
  return new URLSearchParams(text);
}

/** The service's own phone parsing: libphonenumber-js, memoised. */
const phones = { allowedCountries: ['RU', 'KZ'], defaultCountry: 'RU' };
function phoneOf(text: string): string | undefined {
  try {
    return normalizePhone(text, phones);
  } catch {
    return undefined;
  }
}

const router = new Router();
router.post('/api/v1/auth', async (ctx) => {
  const body = await form(ctx);
  const phone = phoneOf(body.get('phone') ?? '');
  if (!phone) {
    ctx.status = 400;
    ctx.body = { error: { code: 'PHONE_INVALID' } };
    return;
  }
  const id = `ses_${++seq}`;
  const actor = createActor(machine, {
    input: { id, phone, terminal: body.get('terminal'), channel: 'sms', policy },
  });
  const waiting = new Promise<void>((resolve) => {
    const sub = actor.subscribe((s) => {
      if (s.value === 'awaitingPin' || s.status !== 'active') {
        sub.unsubscribe();
        resolve();
      }
    });
  });
  actor.start();
  actor.send({ type: 'SUBMIT', now: Date.now() } as never);
  await waiting;
  const { context } = actor.getSnapshot();
  sessions.set(id, actor);
  ctx.status = 201;
  ctx.set('x-floor-pin', outbox.get(id) ?? '');
  outbox.delete(id);
  ctx.body = {
    session: { id, state: 'awaitingPin', phone, expiresAt: new Date(context.expiresAt!).toISOString() },
  };
});
router.post('/api/v1/auth/:id/verify', async (ctx) => {
  const body = await form(ctx);
  const actor = sessions.get(ctx.params.id!);
  if (!actor) {
    ctx.status = 404;
    ctx.body = { error: { code: 'SESSION_NOT_FOUND' } };
    return;
  }
  actor.send({ type: 'VERIFY', pin: body.get('pin'), now: Date.now() } as never);
  // A right PIN reads the card again (`checkingCard`) before handing it out, as the service does.
  const snapshot = await waitFor(actor, (s) => !s.hasTag('busy'));
  if (snapshot.value !== 'verified') {
    ctx.status = 409;
    ctx.body = { error: { code: 'PIN_INVALID' } };
    return;
  }
  sessions.delete(ctx.params.id!);
  actor.stop();
  ctx.body = { session: { id: ctx.params.id, state: 'verified', card: snapshot.context.card } };
});

const app = new Koa();
app.use(router.routes());
const server = app.listen(Number(process.env.PORT ?? 0), '127.0.0.1', () => {
  process.stdout.write(`listening ${(server.address() as { port: number }).port}\n`);
});
process.on('SIGTERM', () => process.exit(0));
