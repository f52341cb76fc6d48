/**
 * The PIN window shared by every workflow that confirms a phone by SMS: guards over the
 * absolute deadline, attempts and resends, and the errors the window answers with.
 */
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
  error?: { code: string; text: string };
  /** A retried send whose first try may have reached the guest. */
  duplicatePossible?: boolean;
}

/** What a PIN-sending effect hands back: the keyed hash, never the PIN. */
export interface PinSent {
  pinHash: string;
  sentAt: number;
  attempts: SmsAttempt[];
}

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
  pinInvalid: (context: OtpContext): ErrorData => ({
    code: 'PIN_INVALID',
    extra: { attemptsLeft: context.policy.maxAttempts - (context.attempts + 1) },
  }),
  resendTooSoon: ({ context, event }: { context: OtpContext; event: unknown }): ErrorData => ({
    code: 'RESEND_TOO_SOON',
    extra: { retryAfter: Math.max(1, Math.ceil(((context.resendAt ?? 0) - (nowOf(event) ?? 0)) / 1000)) },
  }),
};
