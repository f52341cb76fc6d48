/**
 * sms.ru: POST form with `api_id` and `json=1`. Errors come with HTTP 200, at the request level
 * (`status: "ERROR"`) or per number. sms.ru has no idempotency key: a retry after a timeout may
 * send twice, which the attempt records as `duplicatePossible`. Also the code-by-call channel.
 */
import type { CallSender, DeliveryStatus, SmsMessage, SmsReceipt, SmsSender } from '../../runtime/ports.ts';
import { smsFailure, type SmsFailureKind } from '../../runtime/sms/failure.ts';
import { call, digits, form, json, money } from './http.ts';

export interface SmsruOptions {
  apiId: string;
  url: string;
  sender: string;
  dryRun: boolean;
}

interface Item {
  status?: string;
  status_code?: number | string;
  status_text?: string;
  sms_id?: string;
  cost?: number | string;
  sms?: number | string;
}
interface Answer extends Omit<Item, 'sms'> {
  sms?: Record<string, Item> | number | string;
  balance?: number | string;
  code?: string | number;
  call_id?: string;
}

const PERMANENT = new Set([202, 207, 209, 214, 215, 230, 232, 233, 550]);
const TRANSIENT = new Set([220, 231, 500]);

/** sms.ru status codes → what failed (unknown codes count as account problems, never success). */
export function classifySmsru(code: number): SmsFailureKind {
  if (PERMANENT.has(code)) return 'permanent';
  if (TRANSIENT.has(code)) return 'transient';
  return 'account';
}

const DELIVERY: Record<string, DeliveryStatus> = {
  '-1': 'unknown',
  '100': 'queued',
  '101': 'sent',
  '102': 'sent',
  '103': 'delivered',
  '104': 'expired',
  '105': 'undelivered',
  '106': 'undelivered',
  '107': 'undelivered',
  '108': 'undelivered',
  '150': 'undelivered',
};

export class SmsruSender implements SmsSender, CallSender {
  readonly name = 'smsru';
  readonly idempotent = false;
  constructor(private readonly opts: SmsruOptions) {}

  private async post(
    path: string,
    params: Record<string, string | number | undefined>,
    signal: AbortSignal,
    /** Encoded fields to append (a batch's 100 `to[…]` fields, built without an object). */
    more = '',
  ): Promise<Answer> {
    const reply = await call(
      this.name,
      {
        method: 'POST',
        url: `${this.opts.url}${path}`,
        headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
        data: form(Object.assign({ api_id: this.opts.apiId, json: 1 }, params)) + more,
      },
      signal,
    );
    const answer = json<Answer>(this.name, reply);
    if (answer.status !== 'OK') this.fail(answer, reply.text);
    return answer;
  }

  private fail(item: Omit<Item, 'sms'>, raw: string): never {
    const code = Number(item.status_code ?? 0);
    throw smsFailure(
      classifySmsru(code),
      this.name,
      code || 'ERROR',
      item.status_text ?? `unexpected answer: ${raw.slice(0, 200)}`,
    );
  }

  async send(message: SmsMessage, signal: AbortSignal): Promise<SmsReceipt> {
    const to = digits(message.to);
    const answer = await this.post(
      '/sms/send',
      { to, msg: message.text, from: this.opts.sender, test: this.opts.dryRun ? 1 : undefined },
      signal,
    );
    const item = typeof answer.sms === 'object' ? answer.sms[to] : undefined;
    if (!item) this.fail({ status_text: 'no per-number answer' }, JSON.stringify(answer));
    if (item!.status !== 'OK' || !item!.sms_id) this.fail(item!, JSON.stringify(item));
    return {
      provider: this.name,
      messageId: item!.sms_id!,
      segments: Number(item!.sms ?? message.segments) || message.segments,
      cost: money(item!.cost),
      status: this.opts.dryRun ? 'unknown' : 'queued',
      acceptedAt: new Date().toISOString(),
    };
  }

  readonly maxBatch = 100;

  /** Up to 100 numbers in one request, each with its own text (`to[79…]=text`). */
  async sendMany(messages: SmsMessage[], signal: AbortSignal): Promise<Array<SmsReceipt | Error>> {
    const params = { from: this.opts.sender, test: this.opts.dryRun ? 1 : undefined };
    const numbers = messages.map((m) => digits(m.to));
    let fields = '';
    messages.forEach((m, i) => (fields += `&to%5B${numbers[i]}%5D=${encodeURIComponent(m.text)}`));
    const answer = await this.post('/sms/send', params, signal, fields);
    const items = (typeof answer.sms === 'object' ? answer.sms : {}) as Record<string, Item>;
    const acceptedAt = new Date().toISOString();
    return messages.map((m, i) => {
      const item = items[numbers[i]!];
      // The request was taken, but says nothing of this number: it may have left.
      if (!item) return smsFailure('account', this.name, 'NO_ANSWER', 'no answer for this number', true);
      if (item.status !== 'OK' || !item.sms_id) {
        const code = Number(item.status_code ?? 0);
        return smsFailure(classifySmsru(code), this.name, code || 'ERROR', item.status_text ?? 'error');
      }
      return {
        provider: this.name,
        messageId: item.sms_id,
        segments: Number(item.sms ?? m.segments) || m.segments,
        cost: money(item.cost),
        status: this.opts.dryRun ? 'unknown' : 'queued',
        acceptedAt,
      };
    });
  }

  async status(messages: Array<{ messageId: string; to: string }>, signal: AbortSignal) {
    const result = new Map<string, DeliveryStatus>();
    for (let i = 0; i < messages.length; i += 100) {
      const batch = messages.slice(i, i + 100);
      const answer = await this.post(
        '/sms/status',
        { sms_id: batch.map((m) => m.messageId).join(',') },
        signal,
      );
      const items = (typeof answer.sms === 'object' ? answer.sms : {}) as Record<string, Item>;
      for (const m of batch)
        result.set(m.messageId, DELIVERY[String(items[m.messageId]?.status_code)] ?? 'unknown');
    }
    return result;
  }

  async balance(signal: AbortSignal): Promise<string> {
    const answer = await this.post('/my/balance', {}, signal);
    const balance = money(answer.balance);
    if (balance === null) throw smsFailure('account', this.name, 'NO_BALANCE', 'no balance in the answer');
    return balance;
  }

  /** Code by call: sms.ru calls the guest; the last 4 digits of the calling number are the code. */
  async call(phone: string, signal: AbortSignal) {
    const answer = await this.post('/code/call', { phone: digits(phone) }, signal);
    const code = String(answer.code ?? '');
    if (!/^\d{4}$/.test(code) || !answer.call_id) {
      throw smsFailure('account', this.name, 'NO_CODE', 'a call answer without a 4-digit code');
    }
    const receipt: SmsReceipt = {
      provider: 'smsru-call',
      messageId: answer.call_id,
      segments: 0,
      cost: money(answer.cost),
      status: 'sent',
      acceptedAt: new Date().toISOString(),
    };
    return { code, receipt };
  }
}
