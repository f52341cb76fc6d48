/**
 * HTTP for SMS adapters: axios with a hard total deadline (AbortSignal: axios's own `timeout`
 * is an idle timeout, so a trickling answer would never end), the raw text kept (providers
 * answer errors with HTTP 200, sometimes in a non-JSON body), and network failures turned into
 * transient SMS failures.
 */
import axios, { type AxiosRequestConfig } from 'axios';
import { networkUncertain, smsFailure, statusUncertain } from '../../runtime/sms/failure.ts';

const client = axios.create({
  validateStatus: () => true,
  responseType: 'text',
  transformResponse: [(data) => data],
  maxRedirects: 0,
  headers: { 'User-Agent': 'smspds' },
});

export interface RawReply {
  status: number;
  text: string;
}

export async function call(
  provider: string,
  config: AxiosRequestConfig,
  signal: AbortSignal,
): Promise<RawReply> {
  try {
    const res = await client.request<string>({ ...config, signal });
    return { status: res.status, text: typeof res.data === 'string' ? res.data : String(res.data ?? '') };
  } catch (err) {
    const e = err as { code?: string; message?: string; name?: string };
    const aborted = signal.aborted || e.code === 'ERR_CANCELED' || e.name === 'CanceledError';
    const code = aborted ? 'TIMEOUT' : (e.code ?? 'NETWORK');
    throw smsFailure(
      'transient',
      provider,
      code,
      aborted ? 'no answer before the deadline' : String(e.message),
      // Without an answer the request may have arrived: only a connection never made is sure.
      aborted || networkUncertain(code),
    );
  }
}

/**
 * An `application/x-www-form-urlencoded` body; empty and undefined values are left out. Built
 * with `encodeURIComponent` (spaces as `%20`, which every form parser reads like `+`): a
 * campaign request carries 100 numbers, and `URLSearchParams` cost three times as much.
 */
export function form(params: Record<string, string | number | undefined>): string {
  let body = '';
  for (const k in params) {
    const v = params[k];
    if (v === undefined || v === '') continue;
    body += `${body ? '&' : ''}${encodeURIComponent(k)}=${encodeURIComponent(v)}`;
  }
  return body;
}

/** A 5xx answer is a transient failure, whatever its body says (a 503 surely sent nothing). */
export function refuseServerError(provider: string, reply: RawReply): void {
  if (reply.status >= 500)
    throw smsFailure(
      'transient',
      provider,
      `HTTP_${reply.status}`,
      reply.text.slice(0, 200),
      statusUncertain(reply.status),
    );
}

/** Parse a JSON answer; anything else is an error the adapter cannot classify. */
export function json<T>(provider: string, reply: RawReply): T {
  refuseServerError(provider, reply);
  try {
    return JSON.parse(reply.text) as T;
  } catch {
    throw smsFailure(
      reply.status >= 400 ? 'account' : 'transient',
      provider,
      `HTTP_${reply.status}`,
      `unreadable answer: ${reply.text.slice(0, 200)}`,
      statusUncertain(reply.status),
    );
  }
}

/** Money as a decimal string, from a string or a number, never via float equality. */
export function money(value: unknown): string | null {
  if (typeof value === 'number' && Number.isFinite(value)) return String(Math.round(value * 10_000) / 10_000);
  if (typeof value === 'string' && /^-?\d+(\.\d+)?$/.test(value.trim())) return value.trim();
  return null;
}

/** Digits of an E.164 number without the plus, as providers want it. */
export const digits = (e164: string) => e164.replace(/^\+/, '');
