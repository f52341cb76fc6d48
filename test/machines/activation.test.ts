/**
 * Model-based test of the activation machine: `createTestModel` walks every path to every state
 * of the machine, and each path is replayed on a real actor whose effects are fakes the test
 * resolves by hand. At each state the actor must agree with the model, and the effects must
 * have been asked for the right things (a card released on every unhappy ending, consent and
 * holder written on activation).
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { createActor, fromPromise, type AnyActorRef } from 'xstate';
import { createTestModel } from 'xstate/graph';
import { testable } from './testable.ts';
import { activationMachine, type ActivationInput, type CardSummary } from '../../machines/activation.ts';
import { createPinVault } from '../../runtime/pin.ts';

const T0 = Date.parse('2026-11-29T10:00:00Z');
const vault = createPinVault(Buffer.alloc(32, 7));
const ID = 'act_20261129_modeltest000';
const PIN = '907531';
const card: CardSummary = { number: '1005', virtual: false, discount: 5, bonus: 0, expiresAt: null };
const policy = { ttlMs: 300_000, cooldownMs: 60_000, maxAttempts: 3, maxResends: 2 };

function input(confirm: 'none' | 'sms'): ActivationInput {
  return {
    id: ID,
    cardNumber: '1005',
    holder: { fullName: 'Иванов Иван', birthday: '1985-03-12', phone: '+79161234567' },
    marketingConsent: true,
    terminal: 'T1',
    confirm,
    policy,
  };
}

const pinMatches = ({
  context,
  event,
}: {
  context: { pinHash: string | null; id: string };
  event: { pin?: unknown };
}) => vault.matches(context.pinHash, context.id, event.pin);

/** The model: the machine with the real PIN check (so VERIFY's payload decides the path). */
const model = testable(activationMachine.provide({ guards: { pinMatches } } as never));

const sent = { pinHash: vault.hash(ID, PIN), sentAt: T0, attempts: [] };
const failure = (code: string) => Object.assign(new Error(code), { code });

/** The events worth trying in each state: the ones the till, the clock and the effects can send. */
function eventsFor(snapshot: { value: unknown }) {
  switch (snapshot.value) {
    case 'requested':
      return [{ type: 'SUBMIT', by: 'terminal:T1' }];
    case 'validating':
      return [
        { type: 'xstate.done.actor.reserveCard', output: card },
        { type: 'xstate.error.actor.reserveCard', error: failure('CARD_ALREADY_ACTIVE') },
      ];
    case 'sendingSms':
      return [
        { type: 'xstate.done.actor.sendPin', output: sent },
        { type: 'xstate.error.actor.sendPin', error: failure('SMS_FAILED') },
      ];
    case 'awaitingPin':
      return [
        { type: 'VERIFY', pin: PIN, now: T0 + 1_000, by: 'terminal:T1' },
        { type: 'VERIFY', pin: '000000', now: T0 + 1_000, by: 'terminal:T1' },
        { type: 'VERIFY', pin: PIN, now: T0 + policy.ttlMs, by: 'terminal:T1' },
        { type: 'RESEND', now: T0 + 1_000, by: 'terminal:T1' },
        { type: 'RESEND', now: T0 + policy.cooldownMs, by: 'terminal:T1' },
        { type: 'EXPIRE', now: T0 + policy.ttlMs - 1 },
        { type: 'EXPIRE', now: T0 + policy.ttlMs },
        { type: 'CANCEL', now: T0 + 1_000, by: 'support' },
      ];
    case 'committing':
      return [
        { type: 'xstate.done.actor.activateCard', output: card },
        { type: 'xstate.error.actor.activateCard', error: failure('CARD_BLOCKED') },
      ];
    default:
      return [];
  }
}

/** The system under test: a real actor whose effects wait for the test to settle them. */
class Sut {
  pending = new Map<
    string,
    { resolve: (v: unknown) => void; reject: (e: unknown) => void; input: unknown }
  >();
  released: string[] = [];
  actor: AnyActorRef;
  constructor(confirm: 'none' | 'sms') {
    const deferred = (name: string) =>
      fromPromise(
        ({ input }) => new Promise((resolve, reject) => this.pending.set(name, { resolve, reject, input })),
      );
    const machine = activationMachine.provide({
      actors: {
        reserveCard: deferred('reserveCard'),
        sendPin: deferred('sendPin'),
        activateCard: deferred('activateCard'),
      },
      actions: {
        releaseCard: ({ context }: { context: { card: CardSummary | null } }) =>
          void this.released.push(context.card?.number ?? '-'),
      },
      guards: { pinMatches },
    } as never);
    this.actor = createActor(machine, { input: input(confirm) });
    this.actor.start();
  }
  async settle(name: string, event: { type: string; output?: unknown; error?: unknown }) {
    const effect = this.pending.get(name);
    assert.ok(effect, `the machine invoked ${name}`);
    this.pending.delete(name);
    if (event.type.startsWith('xstate.done')) effect!.resolve(event.output);
    else effect!.reject(event.error);
    await new Promise((r) => setImmediate(r));
  }
}

const Activation = suite('activation machine (model-based)');

for (const confirm of ['sms', 'none'] as const) {
  const testModel = createTestModel(model, { events: eventsFor as never, input: input(confirm) } as never);
  const paths = testModel.getShortestPaths();

  Activation(`confirm=${confirm}: the model's paths reach every state the mode allows`, () => {
    const reached = new Set(
      paths.flatMap((p) => p.steps.map((s) => String((s.state as { value: unknown }).value))),
    );
    const expected =
      confirm === 'sms'
        ? [
            'requested',
            'validating',
            'sendingSms',
            'awaitingPin',
            'committing',
            'activated',
            'rejected',
            'expired',
            'locked',
            'cancelled',
            'failed',
          ]
        : ['requested', 'validating', 'committing', 'activated', 'rejected'];
    for (const state of expected) assert.ok(reached.has(state), `state ${state} is reached`);
  });

  for (const path of paths) {
    Activation(`confirm=${confirm}: ${path.description}`, async () => {
      const sut = new Sut(confirm);
      const settle = (name: string) => (step: { event: { type: string } }) => sut.settle(name, step.event);
      await path.test({
        events: {
          SUBMIT: ({ event }: { event: object }) => void sut.actor.send(event),
          VERIFY: ({ event }: { event: object }) => void sut.actor.send(event),
          RESEND: ({ event }: { event: object }) => void sut.actor.send(event),
          EXPIRE: ({ event }: { event: object }) => void sut.actor.send(event),
          CANCEL: ({ event }: { event: object }) => void sut.actor.send(event),
          'xstate.done.actor.reserveCard': settle('reserveCard'),
          'xstate.error.actor.reserveCard': settle('reserveCard'),
          'xstate.done.actor.sendPin': settle('sendPin'),
          'xstate.error.actor.sendPin': settle('sendPin'),
          'xstate.done.actor.activateCard': settle('activateCard'),
          'xstate.error.actor.activateCard': settle('activateCard'),
        } as never,
        states: {
          '*': (expected: { value: unknown; context: Record<string, unknown> }) => {
            const actual = sut.actor.getSnapshot();
            assert.is(actual.value, expected.value, 'the actor is where the model is');
            assert.is(actual.context.attempts, expected.context.attempts, 'wrong-PIN count');
            assert.equal(actual.context.error, expected.context.error, 'refusal reason');
            assert.not.ok(JSON.stringify(actual.context).includes(PIN), 'no PIN in context');
            if (['expired', 'locked', 'cancelled', 'failed'].includes(String(actual.value))) {
              assert.equal(sut.released, ['1005'], 'the reserved card goes back to its range');
            }
            if (actual.value === 'activated') assert.equal(sut.released, [], 'an activated card is kept');
            if (actual.value === 'sendingSms') {
              const req = sut.pending.get('sendPin')!.input as { sendNo: number };
              assert.is(
                req.sendNo,
                (actual.context.sends as number) + 1,
                'each send has its own idempotency number',
              );
            }
          },
        },
      } as never);
    });
  }
}

Activation('the last wrong PIN locks, and the count survives a resend', async () => {
  const sut = new Sut('sms');
  const m = sut.actor;
  m.send({ type: 'SUBMIT', by: 't' });
  await sut.settle('reserveCard', { type: 'xstate.done.actor.reserveCard', output: card });
  await sut.settle('sendPin', { type: 'xstate.done.actor.sendPin', output: sent });
  m.send({ type: 'VERIFY', pin: '000000', now: T0 + 1, by: 't' });
  m.send({ type: 'VERIFY', pin: '000001', now: T0 + 2, by: 't' });
  assert.is(m.getSnapshot().context.attempts, 2);
  m.send({ type: 'RESEND', now: T0 + policy.cooldownMs, by: 't' });
  const second = { ...sent, pinHash: vault.hash(ID, '654321'), sentAt: T0 + policy.cooldownMs };
  await sut.settle('sendPin', { type: 'xstate.done.actor.sendPin', output: second });
  assert.is(m.getSnapshot().value, 'awaitingPin');
  assert.is(m.getSnapshot().context.attempts, 2, 'a resend keeps the wrong-PIN count');
  m.send({ type: 'VERIFY', pin: PIN, now: T0 + policy.cooldownMs + 1, by: 't' });
  assert.is(m.getSnapshot().value, 'locked', 'the old PIN no longer works, and it was the last attempt');
  assert.equal(sut.released, ['1005']);
});

Activation.run();
