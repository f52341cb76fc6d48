/**
 * The PIN window shared by every workflow that confirms a phone by SMS: guards over the
 * absolute deadline, attempts and resends, and the errors the window answers with.
 */
import { fromPromise } from 'xstate';
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

/** The context a PIN window's states read and change. */
type PinMachineContext = OtpContext & PinWindowContext & { id: string; phone: string; channel?: string };
/** What an update of a PIN window sees: the context, and an event or an effect's outcome. */
type PinUpdateArgs = {
  context: PinMachineContext;
  event: { type: string; output?: PinSent; error?: unknown; now?: number };
};
type PinUpdate = (args: PinUpdateArgs) => Partial<PinWindowContext>;

/** The changes a PIN window makes to its context, as plain functions (named in its states). */
const pinUpdates = {
  pinSent: ({ context, event }: PinUpdateArgs) => {
    const sent = event.output!;
    return {
      pinHash: sent.pinHash,
      sends: context.sends + 1,
      expiresAt: sent.sentAt + context.policy.ttlMs,
      resendAt: sent.sentAt + context.policy.cooldownMs,
      sms: [...context.sms, ...sent.attempts],
      error: null,
    };
  },
  sendFailed: ({ context, event }: PinUpdateArgs) => ({
    error: otpErrors.from(event.error),
    sms: [...context.sms, ...otpErrors.attempts(event.error)],
  }),
  windowExpired: () => ({ error: otpErrors.expired() }),
  pinAccepted: () => ({ error: null, pinHash: null }),
  lastWrongPin: ({ context }: PinUpdateArgs) => ({
    attempts: context.attempts + 1,
    error: otpErrors.locked(),
  }),
  wrongPin: ({ context }: PinUpdateArgs) => ({
    attempts: context.attempts + 1,
    error: otpErrors.pinInvalid(context),
  }),
  resendLimit: () => ({ error: otpErrors.resendLimit() }),
  resendTooSoon: ({ context, event }: PinUpdateArgs) => ({
    error: otpErrors.resendTooSoon({ context, event }),
  }),
  budgetSpent: () => ({ error: otpErrors.budgetSpent() }),
  clearError: () => ({ error: null }),
} satisfies Record<string, PinUpdate>;

/**
 * The PIN window's actions for one machine, from that machine's own `assign` (`setup(…).assign`,
 * typed to its context and events): `machine.extend({ actions: pinWindowActions(base.assign) })`.
 */
export function pinWindowActions<A extends (update: PinUpdate) => unknown>(assign: A) {
  const out: Record<string, unknown> = {};
  for (const [name, update] of Object.entries(pinUpdates)) out[name] = assign(update);
  // Each entry is `assign(update)` for this machine: the action type its `assign` returns.
  return out as { [K in keyof typeof pinUpdates]: ReturnType<A> };
}

/**
 * The two states of a PIN window, shared by every machine that confirms a phone: `sendingSms`
 * invokes `sendPin` and `awaitingPin` takes VERIFY, RESEND, EXPIRE and CANCEL. A right PIN goes
 * to `onVerified`; the window's own endings are `expired`, `locked`, `cancelled`, `failed`.
 * The machine declares the `sendPin` actor, the guards of `otpGuards` (plus `isResend`) and the
 * actions of `pinWindowActions`.
 */
export function pinWindowStates(opts: { onVerified: string; purpose: string }) {
  return {
    sendingSms: {
      tags: ['live', 'busy'],
      invoke: {
        id: 'sendPin',
        src: 'sendPin',
        input: ({ context }: { context: PinMachineContext }) => ({
          id: context.id,
          phone: context.phone,
          sendNo: context.sends + 1,
          purpose: context.channel === 'call' ? 'call' : opts.purpose,
        }),
        onDone: { target: 'awaitingPin', actions: 'pinSent' },
        onError: [
          // A failed resend leaves the earlier PIN working.
          { guard: 'isResend', target: 'awaitingPin', actions: 'sendFailed' },
          { target: 'failed', actions: 'sendFailed' },
        ],
      },
    },
    awaitingPin: {
      tags: ['live', 'timed'],
      on: {
        VERIFY: [
          { guard: 'deadlinePassed', target: 'expired', actions: 'windowExpired' },
          { guard: 'pinMatches', target: opts.onVerified, actions: 'pinAccepted' },
          { guard: 'lastAttempt', target: 'locked', actions: 'lastWrongPin' },
          { actions: 'wrongPin' },
        ],
        RESEND: [
          { guard: 'deadlinePassed', target: 'expired', actions: 'windowExpired' },
          { guard: 'resendsExhausted', actions: 'resendLimit' },
          { guard: 'resendTooSoon', actions: 'resendTooSoon' },
          { guard: 'resendBudgetSpent', actions: 'budgetSpent' },
          { target: 'sendingSms', actions: 'clearError' },
        ],
        EXPIRE: { guard: 'deadlinePassed', target: 'expired', actions: 'windowExpired' },
        CANCEL: { target: 'cancelled', actions: 'clearError' },
      },
    },
  } as const;
}
