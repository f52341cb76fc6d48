/**
 * How an SMS attempt failed, so the chain knows what to do next:
 * - `permanent`: this phone cannot get it (wrong number, stop list): stop, do not fail over;
 * - `account`: our account or configuration (credentials, money, sender): fail over, alert;
 * - `transient`: network, timeout, 5xx, rate limit: retry with backoff, then fail over.
 *
 * Apart from the kind, a failure says whether the provider may have taken the message all the
 * same (`uncertain`): no answer before the deadline, a connection cut after the request left,
 * an answer we cannot read, or one that names no message. A provider's own refusal, a
 * connection never made, and `429`/`503` are certain: nothing was sent.
 */
import { AppError } from '../../machines/errors.ts';

export type SmsFailureKind = 'permanent' | 'account' | 'transient';

export function smsFailure(
  kind: SmsFailureKind,
  provider: string,
  providerCode: string | number,
  text: string,
  uncertain = false,
): AppError {
  return new AppError(
    'SMS_FAILED',
    { kind, provider, providerCode: String(providerCode), ...(uncertain ? { mayHaveSent: true } : {}) },
    text,
  );
}

export function failureKind(err: unknown): SmsFailureKind {
  const kind = (err as { extra?: { kind?: unknown } })?.extra?.kind;
  return kind === 'permanent' || kind === 'account' || kind === 'transient' ? kind : 'transient';
}

/**
 * Whether the provider may have sent the message although the attempt failed. Anything that is
 * not a failure we classified (a bug, an unexpected throw) counts as uncertain.
 */
export function mayHaveSent(err: unknown): boolean {
  const extra = (err as { extra?: { kind?: unknown; mayHaveSent?: unknown } })?.extra;
  return extra?.kind === undefined || extra.mayHaveSent === true;
}

/** Errors of a connection that was never made: the request did not leave. */
const NOT_CONNECTED = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH']);

/** Whether a network error code (Node's, or axios's) leaves the request's fate unknown. */
export const networkUncertain = (code: string): boolean => !NOT_CONNECTED.has(code);

/** Whether an HTTP status that came with an unusable answer leaves the request's fate unknown. */
export const statusUncertain = (status: number): boolean => status < 400 || (status >= 500 && status !== 503);
