/**
 * The floor of an authorization flow, on the service's design: the same two requests
 * (`POST /api/v1/auth`, then `POST /api/v1/auth/{id}/verify`) served by the libraries the
 * service is built on and nothing else — Koa with @koa/router, a form body, libphonenumber-js
 * (through the service's memoised `normalizePhone`), the real auth machine (`machines/auth.ts`)
 * advanced by the host's pure transition (`runtime/workflows/pure.ts`) from a snapshot kept as data, its effects run inline,
 * and the PIN drawn, hashed and compared by the service's own vault (`runtime/pin/vault.ts`).
 *
 * Left out, on purpose: the store (snapshots live in a Map, nothing is written), tokens,
 * validation, rate limits and budgets, the card directory, the SMS provider, the archive, logs
 * and metrics. What this server answers per second is therefore more than the service can ever
 * answer with all of those: `npm run bench:auth` measures it in the same run, to show what share
 * of a flow the design's own parts take before any of the service's work.
 *
 * A fixture, not the service: with no SMS to read, it hands the PIN back in the `x-floor-pin`
 * header. The service never answers with a PIN.
 */
import Koa from 'koa';
import Router from '@koa/router';
import type { AnyMachineSnapshot, StateValue } from 'xstate';
import { stepper } from '../runtime/workflows/pure.ts';
import { randomBytes } from 'node:crypto';
import { authMachine, type AuthCard, type AuthContext } from '../machines/auth.ts';
import type { PinSent, SendPinInput } from '../machines/otp.ts';
import { createPinVault } from '../runtime/pin/vault.ts';
import { normalizePhone } from '../runtime/phone.ts';

const vault = createPinVault(randomBytes(32));
const card: AuthCard = { number: '1000001', holder: 'Гость', discount: 5, bonus: 0 };
const policy = { ttlMs: 300_000, cooldownMs: 60_000, maxAttempts: 3, maxResends: 3 };
/** Each live session's snapshot, as data (what the service's store keeps). */
const sessions = new Map<string, { value: StateValue; context: AuthContext }>();
let seq = 0;

const machine = authMachine.provide({
  guards: {
    pinMatches: ({ context, event }) =>
      event.type === 'VERIFY' && vault.matches(context.pinHash, context.id, event.pin),
  },
});

const steps = stepper(machine);

/** The effects, inline: the card found at once, the PIN drawn and hashed. */
const pins = new Map<string, string>();
async function runEffect(src: string, input: unknown): Promise<unknown> {
  if (src === 'sendPin') {
    const { id, sendNo } = input as SendPinInput;
    const pin = vault.derive(id, sendNo, 6);
    pins.set(id, pin);
    const sent: PinSent = { pinHash: vault.hash(id, pin), sentAt: Date.now(), attempts: [] };
    return sent;
  }
  return card;
}

/** Apply an event, then feed every effect's outcome back until the workflow rests. */
async function drive(snapshot: AnyMachineSnapshot, event: { type: string } & Record<string, unknown>) {
  let [next, actions] = steps.step(snapshot, event);
  for (;;) {
    const spawn = actions.find((a) => a.type === 'xstate.spawnChild');
    if (!spawn) return next;
    const { id, src, input } = spawn.params as { id: string; src: string; input: unknown };
    const output = await runEffect(src, input);
    [next, actions] = steps.step(next, { type: `xstate.done.actor.${id}`, output });
  }
}

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
  const [initial] = steps.initial({
    id,
    phone,
    terminal: body.get('terminal'),
    channel: 'sms',
    policy,
  });
  const snapshot = await drive(initial, { type: 'SUBMIT', by: 'floor' });
  const context: AuthContext = snapshot.context;
  sessions.set(id, { value: snapshot.value, context });
  ctx.status = 201;
  ctx.set('x-floor-pin', pins.get(id) ?? '');
  pins.delete(id);
  ctx.body = {
    session: { id, state: 'awaitingPin', phone, expiresAt: new Date(context.expiresAt!).toISOString() },
  };
});
router.post('/api/v1/auth/:id/verify', async (ctx) => {
  const body = await form(ctx);
  const stored = sessions.get(ctx.params.id!);
  if (!stored) {
    ctx.status = 404;
    ctx.body = { error: { code: 'SESSION_NOT_FOUND' } };
    return;
  }
  // A right PIN reads the card again (`checkingCard`) before handing it out, as the service does.
  const snapshot = await drive(machine.resolveState(stored), {
    type: 'VERIFY',
    pin: body.get('pin'),
    now: Date.now(),
    by: 'floor',
  });
  if (snapshot.value !== 'verified') {
    ctx.status = 409;
    ctx.body = { error: { code: 'PIN_INVALID' } };
    return;
  }
  sessions.delete(ctx.params.id!);
  ctx.body = { session: { id: ctx.params.id, state: 'verified', card: snapshot.context.card } };
});

const app = new Koa();
app.use(router.routes());
const server = app.listen(Number(process.env.PORT ?? 0), '127.0.0.1', () => {
  process.stdout.write(`listening ${(server.address() as { port: number }).port}\n`);
});
process.on('SIGTERM', () => process.exit(0));
