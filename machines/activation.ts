/**
 * Card activation at the till: a card from a pre-created range (or the next free virtual card)
 * gets its holder form, optionally after the guest confirms the phone with an SMS PIN.
 *
 *   requested → validating → [confirm=sms: sendingSms → awaitingPin →] committing → activated
 *   ends: activated | rejected | expired | locked | cancelled | failed
 *
 * Pure: no I/O and no clock. Effects are the named actors `reserveCard`, `sendPin`,
 * `activateCard`, the action `releaseCard` and the guard `pinMatches`; the runtime provides the
 * real ones with `.provide()`, tests provide fakes. Time arrives in events (`now`), and the PIN
 * deadline is an absolute `expiresAt` in context that the runtime fires as EXPIRE: XState does
 * not restore pending `after` timers from a persisted snapshot.
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

export interface HolderForm {
  fullName: string;
  birthday: string;
  phone: string;
}

export interface CardSummary {
  number: string;
  virtual: boolean;
  discount: number;
  bonus: number;
  expiresAt: string | null;
}

export interface ActivationInput {
  id: string;
  cardNumber: string | null;
  holder: HolderForm;
  marketingConsent: boolean;
  /**
   * The guest's consent to the processing of personal data, as given at the till: the text's
   * version and who recorded it (null: not given, where the venue does not require it).
   */
  pdConsent?: { textVersion: string; by: string } | null;
  terminal: string | null;
  confirm: 'none' | 'sms';
  policy: OtpPolicy;
}

export interface ActivationContext extends PinWindowContext, ActivationInput {
  /** The phone the PIN goes to (the holder's). */
  phone: string;
  card: CardSummary | null;
}

export type ActivationEvent = PinWindowEvent;

const activationSetup = setup({
  types: {
    context: {} as ActivationContext,
    input: {} as ActivationInput,
    events: {} as ActivationEvent,
  },
  actors: {
    reserveCard: notProvided<CardSummary, ActivationContext>('reserveCard'),
    sendPin: notProvided<PinSent, SendPinInput>('sendPin'),
    activateCard: notProvided<CardSummary, ActivationContext>('activateCard'),
  },
  actions: {
    /** Give a reserved card back to its range; the runtime provides it. */
    releaseCard: (_: unknown, _params: unknown) => {},
  },
  guards: {
    ...otpGuards<ActivationContext, ActivationEvent>(),
    confirmBySms: ({ context }) => context.confirm === 'sms',
    isResend: ({ context }) => context.pinHash !== null,
  },
});

export const activationMachine = activationSetup
  .extend({ actions: pinWindowActions(activationSetup.assign) })
  .createMachine({
    id: 'activation',
    initial: 'requested',
    context: ({ input }) => ({
      ...input,
      phone: input.holder.phone,
      card: null,
      ...pinWindowInitial(),
    }),
    states: {
      requested: {
        tags: ['live'],
        on: { SUBMIT: 'validating' },
      },
      validating: {
        tags: ['live', 'busy'],
        invoke: {
          id: 'reserveCard',
          src: 'reserveCard',
          input: ({ context }) => context,
          onDone: [
            {
              guard: 'confirmBySms',
              target: 'sendingSms',
              actions: assign({ card: ({ event }) => event.output }),
            },
            { target: 'committing', actions: assign({ card: ({ event }) => event.output }) },
          ],
          onError: {
            target: 'rejected',
            actions: assign({ error: ({ event }) => otpErrors.from(event.error) }),
          },
        },
      },
      ...pinWindowStates({ onVerified: 'committing', purpose: 'activation' }),
      committing: {
        tags: ['live', 'busy'],
        invoke: {
          id: 'activateCard',
          src: 'activateCard',
          input: ({ context }) => context,
          onDone: {
            target: 'activated',
            actions: assign({ card: ({ event }) => event.output, error: null }),
          },
          onError: {
            target: 'rejected',
            actions: assign({ error: ({ event }) => otpErrors.from(event.error) }),
          },
        },
      },
      activated: { type: 'final' },
      rejected: { type: 'final', entry: 'releaseCard' },
      expired: { type: 'final', entry: 'releaseCard' },
      locked: { type: 'final', entry: 'releaseCard' },
      cancelled: { type: 'final', entry: 'releaseCard' },
      failed: { type: 'final', entry: 'releaseCard' },
    },
  });

export type ActivationMachine = typeof activationMachine;
