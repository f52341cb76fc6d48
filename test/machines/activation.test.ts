/**
 * Model-based test of the activation machine: every state reachable in each confirmation mode
 * is reached on a real actor; a reserved card goes back on every unhappy ending; each send has
 * its own idempotency number; no PIN ever sits in the context.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { activationMachine, type ActivationInput, type CardSummary } from '../../machines/activation.ts';
import { createPinVault } from '../../runtime/pin/vault.ts';
import {
  failure,
  modelPaths,
  pinMatchesWith,
  pinWindowEvents,
  reachedStates,
  replay,
  Sut,
  type ModelSpec,
} from './model.ts';

const T0 = Date.parse('2026-11-29T10:00:00Z');
const vault = createPinVault(Buffer.alloc(32, 7));
const ID = 'act_20261129_modeltest000';
const PIN = '907531';
const card: CardSummary = { number: '1005', virtual: false, discount: 5, bonus: 0, expiresAt: null };
const policy = { ttlMs: 300_000, cooldownMs: 60_000, maxAttempts: 3, maxResends: 2 };
const sent = { pinHash: vault.hash(ID, PIN), sentAt: T0, attempts: [] };

const input = (confirm: 'none' | 'sms'): ActivationInput => ({
  id: ID,
  cardNumber: '1005',
  holder: { fullName: 'Иванов Иван', birthday: '1985-03-12', phone: '+79161234567' },
  marketingConsent: true,
  terminal: 'T1',
  confirm,
  policy,
});

const pinMatches = pinMatchesWith(vault);

const spec = (confirm: 'none' | 'sms'): ModelSpec => ({
  model: activationMachine.provide({ guards: { pinMatches } } as never),
  effects: ['reserveCard', 'sendPin', 'activateCard'],
  input: input(confirm),
  eventsFor: ({ value }) => {
    if (value === 'requested') return [{ type: 'SUBMIT', by: 'terminal:T1' }];
    if (value === 'validating')
      return [
        { type: 'xstate.done.actor.reserveCard', output: card },
        { type: 'xstate.error.actor.reserveCard', error: failure('CARD_ALREADY_ACTIVE') },
      ];
    if (value === 'committing')
      return [
        { type: 'xstate.done.actor.activateCard', output: card },
        { type: 'xstate.error.actor.activateCard', error: failure('CARD_BLOCKED') },
      ];
    return pinWindowEvents(value, {
      pin: PIN,
      t0: T0,
      policy,
      sent,
      cancel: { type: 'CANCEL', now: T0 + 1_000, by: 'support' },
    });
  },
  implementations: (sut) => ({
    actions: {
      releaseCard: ({ context }: { context: { card: CardSummary | null } }) =>
        void sut.log.push(context.card?.number ?? '-'),
    },
    guards: { pinMatches },
  }),
  check(sut, actual) {
    assert.not.ok(JSON.stringify(actual.context).includes(PIN), 'no PIN in context');
    if (['expired', 'locked', 'cancelled', 'failed'].includes(String(actual.value))) {
      assert.equal(sut.log, ['1005'], 'the reserved card goes back to its range');
    }
    if (actual.value === 'activated') assert.equal(sut.log, [], 'an activated card is kept');
    if (actual.value === 'sendingSms') {
      const req = sut.pending.get('sendPin')!.input as { sendNo: number };
      assert.is(req.sendNo, actual.context.sends + 1, 'each send has its own idempotency number');
    }
  },
});

const Activation = suite('activation machine (model-based)');

for (const confirm of ['sms', 'none'] as const) {
  const paths = modelPaths(spec(confirm));
  Activation(`confirm=${confirm}: the model reaches every state the mode allows`, () => {
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
    const reached = reachedStates(paths);
    for (const state of expected) assert.ok(reached.has(state), `state ${state} is reached`);
  });
  for (const path of paths) {
    Activation(`confirm=${confirm}: ${path.description}`, () => replay(spec(confirm), path));
  }
}

Activation('the last wrong PIN locks, and the count survives a resend', async () => {
  const s = spec('sms');
  const sut = new Sut(s.model, s.effects, s.input, s.implementations);
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
  assert.equal(sut.log, ['1005']);
});

Activation.run();
