/**
 * Authorization at the till: the guest's phone → their card → a PIN by SMS → the card number
 * for the order.
 *
 *   requested → lookingUp → sendingSms → awaitingPin → checkingCard → verified
 *   ends: verified | rejected (no card, or the card changed) | expired | locked | cancelled |
 *         failed (no SMS)
 *
 * A right PIN does not hand the card out at once: `checkingCard` reads it again, so a card
 * blocked, expired or moved to another phone during the PIN window ends the session `rejected`
 * with that reason, and no card number is given.
 *
 * Phone-only authorization (`channel: none`, where the venue allows it) goes from lookingUp
 * straight to verified. A resend issues a new PIN (only the latest works) and keeps the
 * wrong-PIN count. Pure like every machine here: effects are the named actors `findCard`,
 * `sendPin` and `recheckCard` and the guard `pinMatches`, provided by the runtime.
 */
import { setup, assign } from 'xstate';
import type { OtpPolicy, PinSent, PinWindowContext, PinWindowEvent, SendPinInput } from './otp.ts';
import {
  notProvided,
  otpGuards,
  otpErrors,
  pinWindowActions,
  pinWindowInitial,
  pinWindowStates,
} from './otp.ts';

export interface AuthCard {
  number: string;
  holder: string;
  discount: number;
  bonus: number;
}

/** `sms`: a PIN by SMS; `call`: the code is the end of the calling number; `none`: phone only. */
export type AuthChannel = 'sms' | 'none' | 'call';

export interface AuthInput {
  id: string;
  /** E.164 */
  phone: string;
  terminal: string | null;
  channel: AuthChannel;
  policy: OtpPolicy;
}

export interface AuthContext extends PinWindowContext, AuthInput {
  card: AuthCard | null;
}

export type AuthEvent = PinWindowEvent;

const authSetup = setup({
  types: {
    context: {} as AuthContext,
    input: {} as AuthInput,
    events: {} as AuthEvent,
  },
  actors: {
    findCard: notProvided<AuthCard, { phone: string }>('findCard'),
    recheckCard: notProvided<AuthCard, { phone: string; number: string }>('recheckCard'),
    sendPin: notProvided<PinSent, SendPinInput>('sendPin'),
  },
  guards: {
    ...otpGuards<AuthContext, AuthEvent>(),
    phoneOnly: ({ context }) => context.channel === 'none',
    isResend: ({ context }) => context.pinHash !== null,
  },
});

export const authMachine = authSetup.extend({ actions: pinWindowActions(authSetup.assign) }).createMachine({
  id: 'auth',
  initial: 'requested',
  context: ({ input }) => ({
    ...input,
    card: null,
    ...pinWindowInitial(),
  }),
  states: {
    requested: {
      tags: ['live'],
      on: { SUBMIT: 'lookingUp', CANCEL: 'cancelled' },
    },
    lookingUp: {
      tags: ['live', 'busy'],
      invoke: {
        id: 'findCard',
        src: 'findCard',
        input: ({ context }) => ({ phone: context.phone }),
        onDone: [
          { guard: 'phoneOnly', target: 'verified', actions: assign({ card: ({ event }) => event.output }) },
          { target: 'sendingSms', actions: assign({ card: ({ event }) => event.output }) },
        ],
        onError: {
          target: 'rejected',
          actions: assign({ error: ({ event }) => otpErrors.from(event.error) }),
        },
      },
    },
    ...pinWindowStates({ onVerified: 'checkingCard', purpose: 'auth' }),
    checkingCard: {
      tags: ['live', 'busy'],
      invoke: {
        id: 'recheckCard',
        src: 'recheckCard',
        input: ({ context }) => ({ phone: context.phone, number: context.card?.number ?? '' }),
        onDone: { target: 'verified', actions: assign({ card: ({ event }) => event.output }) },
        onError: {
          target: 'rejected',
          actions: assign({ error: ({ event }) => otpErrors.from(event.error) }),
        },
      },
    },
    verified: { type: 'final' },
    rejected: { type: 'final' },
    expired: { type: 'final' },
    locked: { type: 'final' },
    cancelled: { type: 'final' },
    failed: { type: 'final' },
  },
});

export type AuthMachine = typeof authMachine;
