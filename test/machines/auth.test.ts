/**
 * Model-based test of the authorization machine: with SMS every state is reached on a real
 * actor; phone-only goes from lookup straight to verified and never asks for a PIN.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { authMachine, type AuthInput } from '../../machines/auth.ts';
import { createPinVault } from '../../runtime/pin/vault.ts';
import {
  failure,
  modelPaths,
  pinMatchesWith,
  pinWindowEvents,
  reachedStates,
  replay,
  type ModelSpec,
} from './model.ts';

const T0 = Date.parse('2026-11-29T10:00:00Z');
const vault = createPinVault(Buffer.alloc(32, 9));
const ID = 'ses_20261129_modeltest000';
const PIN = '480264';
const policy = { ttlMs: 300_000, cooldownMs: 60_000, maxAttempts: 3, maxResends: 2 };
const card = { number: '100', holder: 'Анна Ли', discount: 5, bonus: 1 };
const sent = { pinHash: vault.hash(ID, PIN), sentAt: T0, attempts: [] };
const input = (channel: 'sms' | 'none'): AuthInput => ({
  id: ID,
  phone: '+79161230000',
  terminal: 'T1',
  channel,
  policy,
});
const pinMatches = pinMatchesWith(vault);

const spec = (channel: 'sms' | 'none'): ModelSpec => ({
  model: authMachine.provide({ guards: { pinMatches } } as never),
  effects: ['findCard', 'sendPin', 'recheckCard'],
  input: input(channel),
  eventsFor: ({ value }) => {
    switch (value) {
      case 'requested':
        return [
          { type: 'SUBMIT', by: 'terminal:T1' },
          { type: 'CANCEL', now: T0, by: 'system', reason: 'superseded' },
        ];
      case 'lookingUp':
        return [
          { type: 'xstate.done.actor.findCard', output: card },
          { type: 'xstate.error.actor.findCard', error: failure('CARD_NOT_FOUND') },
        ];
      case 'checkingCard':
        return [
          { type: 'xstate.done.actor.recheckCard', output: card },
          { type: 'xstate.error.actor.recheckCard', error: failure('CARD_BLOCKED') },
        ];
      case 'sendingSms':
      case 'awaitingPin':
        return pinWindowEvents(value, {
          pin: PIN,
          t0: T0,
          policy,
          sent,
          cancel: { type: 'CANCEL', now: T0 + 1_000, by: 'system', reason: 'superseded' },
        });
      default:
        return [];
    }
  },
  implementations: () => ({ guards: { pinMatches } }),
  check(sut, actual) {
    assert.not.ok(JSON.stringify(actual.context).includes(PIN), 'no PIN in context');
    if (actual.value === 'verified') assert.equal(actual.context.card, card, 'verified carries the card');
    if (actual.value === 'rejected' && sut.calls.includes('recheckCard'))
      assert.is(actual.context.error?.code, 'CARD_BLOCKED', 'a card changed in the window is refused');
    if (actual.context.channel === 'none')
      assert.not.ok(sut.calls.includes('sendPin'), 'phone-only sends no SMS');
  },
});

const Auth = suite('authorization machine (model-based)');
for (const channel of ['sms', 'none'] as const) {
  const paths = modelPaths(spec(channel));
  Auth(`channel=${channel}: the model reaches every state the channel allows`, () => {
    const expected =
      channel === 'sms'
        ? [
            'requested',
            'lookingUp',
            'sendingSms',
            'awaitingPin',
            'checkingCard',
            'verified',
            'rejected',
            'expired',
            'locked',
            'cancelled',
            'failed',
          ]
        : ['requested', 'lookingUp', 'verified', 'rejected', 'cancelled'];
    const reached = reachedStates(paths);
    for (const state of expected) assert.ok(reached.has(state), `state ${state} is reached`);
    if (channel === 'none') assert.not.ok(reached.has('awaitingPin'), 'no PIN window without SMS');
  });
  for (const path of paths)
    Auth(`channel=${channel}: ${path.description}`, () => replay(spec(channel), path));
}
Auth.run();
