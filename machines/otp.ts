/**
 * The PIN window shared by every workflow that confirms a phone by SMS: guards over the
 * absolute deadline, attempts and resends, and the errors the window answers with.
 */
import { assign, fromPromise } from 'xstate';
import type { ErrorData } from './errors.ts';
import { toErrorData } from './errors.ts';

export interface OtpPolicy {
  ttlMs: number;
  cooldownMs: number;
  maxAttempts: number;
  maxResends: number;
}

/** One try at one provider, as support sees it. Never the text of the message. */
export interface SmsAttempt {
  sendNo: number;
  at: string;
  provider: string;
  outcome: 'accepted' | 'failed';
  messageId: string | null;
  segments: number;
  cost: string | null;
  status: string;
  /** `kind`: permanent (this phone), account (ours), transient (try again). */
  error?: { code: string; text: string; kind?: 'permanent' | 'account' | 'transient' };
  /** A retried send whose first try may have reached the guest. */
  duplicatePossible?: boolean;
  /** A failed try the provider may have sent all the same (no answer, a cut connection). */
  mayHaveSent?: boolean;
}

/** What a PIN-sending effect hands back: the keyed hash, never the PIN. */
export interface PinSent {
  pinHash: string;
  sentAt: number;
  attempts: SmsAttempt[];
}

/** The part of a machine's context that belongs to its PIN window. */
export interface PinWindowContext {
  pinHash: string | null;
  expiresAt: number | null;
  resendAt: number | null;
  attempts: number;
  sends: number;
  sms: SmsAttempt[];
  /** The outcome of the last event that was refused, or the reason the workflow ended. */
  error: ErrorData | null;
}

export const pinWindowInitial = (): PinWindowContext => ({
  pinHash: null,
  expiresAt: null,
  resendAt: null,
  attempts: 0,
  sends: 0,
  sms: [],
  error: null,
});

/** The events of a workflow with a PIN window: the till's, the clock's, support's. */
export type PinWindowEvent =
  | { type: 'SUBMIT'; by: string }
  | { type: 'VERIFY'; pin: string; now: number; by: string }
  | { type: 'RESEND'; now: number; by: string }
  | { type: 'EXPIRE'; now: number; by?: string }
  | { type: 'CANCEL'; now: number; by: string; reason?: string };

export interface SendPinInput {
  id: string;
  phone: string;
  sendNo: number;
  purpose: string;
}

/** A placeholder effect that fails: machines declare their effects; the runtime provides them. */
export const notProvided = <O, I>(name: string) =>
  fromPromise<O, I>(async () => {
    throw Object.assign(new Error(`${name} is not provided`), { code: 'INTERNAL' });
  });

export interface OtpContext {
  expiresAt: number | null;
  resendAt: number | null;
  attempts: number;
  sends: number;
  policy: OtpPolicy;
}

type Args<C, E> = { context: C; event: E };
const nowOf = (event: unknown): number | null =>
  typeof (event as { now?: unknown }).now === 'number' ? (event as { now: number }).now : null;

export function otpGuards<C extends OtpContext, E>() {
  return {
    deadlinePassed: ({ context, event }: Args<C, E>) => {
      const now = nowOf(event);
      return context.expiresAt !== null && now !== null && now >= context.expiresAt;
    },
    /** Fails closed: the runtime provides the keyed-hash comparison. */
    pinMatches: (_: Args<C, E>) => false,
    lastAttempt: ({ context }: Args<C, E>) => context.attempts + 1 >= context.policy.maxAttempts,
    resendsExhausted: ({ context }: Args<C, E>) => context.sends - 1 >= context.policy.maxResends,
    /** The runtime provides the daily SMS budget check; by default there is no budget. */
    resendBudgetSpent: (_: Args<C, E>) => false,
    resendTooSoon: ({ context, event }: Args<C, E>) => {
      const now = nowOf(event);
      return context.resendAt !== null && now !== null && now < context.resendAt;
    },
  };
}

export const otpErrors = {
  from: (err: unknown): ErrorData => toErrorData(err),
  /** SMS attempts carried by a failed send, so the record shows every provider's answer. */
  attempts: (err: unknown): SmsAttempt[] => {
    const list = (err as { attempts?: unknown })?.attempts;
    return Array.isArray(list) ? (list as SmsAttempt[]) : [];
  },
  expired: (): ErrorData => ({ code: 'SESSION_EXPIRED' }),
  locked: (): ErrorData => ({ code: 'SESSION_LOCKED', extra: { attemptsLeft: 0 } }),
  resendLimit: (): ErrorData => ({ code: 'RESEND_LIMIT' }),
  budgetSpent: (): ErrorData => ({ code: 'RATE_LIMITED', extra: { retryAfter: 3600, limit: 'smsPerDay' } }),
  pinInvalid: (context: OtpContext): ErrorData => ({
    code: 'PIN_INVALID',
    extra: { attemptsLeft: context.policy.maxAttempts - (context.attempts + 1) },
  }),
  resendTooSoon: ({ context, event }: { context: OtpContext; event: unknown }): ErrorData => ({
    code: 'RESEND_TOO_SOON',
    extra: { retryAfter: Math.max(1, Math.ceil(((context.resendAt ?? 0) - (nowOf(event) ?? 0)) / 1000)) },
  }),
};

/**
 * The two states of a PIN window, shared by every machine that confirms a phone: `sendingSms`
 * invokes `sendPin` and `awaitingPin` takes VERIFY, RESEND, EXPIRE and CANCEL. A right PIN goes
 * to `onVerified`; the window's own endings are `expired`, `locked`, `cancelled`, `failed`.
 * The machine declares the `sendPin` actor and the guards of `otpGuards` (plus `isResend`).
 */
export function pinWindowStates(opts: { onVerified: string; purpose: string }) {
  const a = assign as unknown as (arg: unknown) => never;
  return {
    sendingSms: {
      tags: ['live', 'busy'],
      invoke: {
        id: 'sendPin',
        src: 'sendPin',
        input: ({ context }: { context: OtpContext & { id: string; phone: string; channel?: string } }) => ({
          id: context.id,
          phone: context.phone,
          sendNo: context.sends + 1,
          purpose: context.channel === 'call' ? 'call' : opts.purpose,
        }),
        onDone: {
          target: 'awaitingPin',
          actions: a(
            ({
              context,
              event,
            }: {
              context: OtpContext & { sms: SmsAttempt[] };
              event: { output: PinSent };
            }) => ({
              pinHash: event.output.pinHash,
              sends: context.sends + 1,
              expiresAt: event.output.sentAt + context.policy.ttlMs,
              resendAt: event.output.sentAt + context.policy.cooldownMs,
              sms: [...context.sms, ...event.output.attempts],
              error: null,
            }),
          ),
        },
        onError: [
          // A failed resend leaves the earlier PIN working.
          { guard: 'isResend', target: 'awaitingPin', actions: a(failedSend) },
          { target: 'failed', actions: a(failedSend) },
        ],
      },
    },
    awaitingPin: {
      tags: ['live', 'timed'],
      on: {
        VERIFY: [
          { guard: 'deadlinePassed', target: 'expired', actions: a({ error: otpErrors.expired }) },
          { guard: 'pinMatches', target: opts.onVerified, actions: a({ error: null, pinHash: null }) },
          {
            guard: 'lastAttempt',
            target: 'locked',
            actions: a({
              attempts: ({ context }: { context: OtpContext }) => context.attempts + 1,
              error: otpErrors.locked,
            }),
          },
          {
            actions: a({
              attempts: ({ context }: { context: OtpContext }) => context.attempts + 1,
              error: ({ context }: { context: OtpContext }) => otpErrors.pinInvalid(context),
            }),
          },
        ],
        RESEND: [
          { guard: 'deadlinePassed', target: 'expired', actions: a({ error: otpErrors.expired }) },
          { guard: 'resendsExhausted', actions: a({ error: otpErrors.resendLimit }) },
          { guard: 'resendTooSoon', actions: a({ error: otpErrors.resendTooSoon }) },
          { guard: 'resendBudgetSpent', actions: a({ error: otpErrors.budgetSpent }) },
          { target: 'sendingSms', actions: a({ error: null }) },
        ],
        EXPIRE: { guard: 'deadlinePassed', target: 'expired', actions: a({ error: otpErrors.expired }) },
        CANCEL: { target: 'cancelled', actions: a({ error: null }) },
      },
    },
  } as const;
}

function failedSend({ context, event }: { context: { sms: SmsAttempt[] }; event: { error: unknown } }) {
  return { error: otpErrors.from(event.error), sms: [...context.sms, ...otpErrors.attempts(event.error)] };
}
