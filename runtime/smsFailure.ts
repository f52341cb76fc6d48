/**
 * How an SMS attempt failed, so the chain knows what to do next:
 * - `permanent`: this phone cannot get it (wrong number, stop list): stop, do not fail over;
 * - `account`: our account or configuration (credentials, money, sender): fail over, alert;
 * - `transient`: network, timeout, 5xx, rate limit: retry with backoff, then fail over.
 */
import { AppError } from '../machines/errors.ts';

export type SmsFailureKind = 'permanent' | 'account' | 'transient';

export function smsFailure(
  kind: SmsFailureKind,
  provider: string,
  providerCode: string | number,
  text: string,
): AppError {
  return new AppError('SMS_FAILED', { kind, provider, providerCode: String(providerCode) }, text);
}

export function failureKind(err: unknown): SmsFailureKind {
  const kind = (err as { extra?: { kind?: unknown } })?.extra?.kind;
  return kind === 'permanent' || kind === 'account' || kind === 'transient' ? kind : 'transient';
}
