/**
 * smsc.ru (and smsc.kz): `send.php` with `fmt=3` (JSON) and `charset=utf-8`. Our idempotency
 * key becomes smsc's numeric message `id`, so a retried request is not sent twice.
 */
import { createHash } from 'node:crypto';
import type { DeliveryStatus, SmsMessage, SmsReceipt, SmsSender } from '../../runtime/ports.ts';
import { smsFailure, type SmsFailureKind } from '../../runtime/sms/failure.ts';
import { call, digits, form, json, money } from './http.ts';

export interface SmscOptions {
  login?: string;
  password?: string;
  apiKey?: string;
  url: string;
  sender: string;
  dryRun: boolean;
}

interface SmscAnswer {
  /** With op=1: one result per number. */
  phones?: Array<{
    phone: string;
    status?: number | string;
    error?: number | string;
    cost?: string | number;
    cnt?: number | string;
  }>;
  id?: number | string;
  cnt?: number | string;
  cost?: number | string;
  balance?: number | string;
  status?: number | string;
  error?: string;
  error_code?: number | string;
}

/** smsc error codes → what failed. */
export function classifySmsc(code: number): SmsFailureKind {
  if (code === 4 || code === 9) return 'transient';
  if (code === 7 || code === 8) return 'permanent';
  return 'account'; // 1 parameters, 2 credentials/IP, 3 money, 5 date, 6 text or sender, unknown
}

const STATUS: Record<string, DeliveryStatus> = {
  '-3': 'unknown',
  '-2': 'undelivered',
  '-1': 'queued',
  '0': 'sent',
  '1': 'delivered',
  '2': 'delivered',
  '3': 'expired',
  '20': 'undelivered',
  '22': 'undelivered',
  '23': 'undelivered',
  '24': 'undelivered',
  '25': 'undelivered',
};

/** smsc's `id` is a number from 1 to 2^31−1: derived from our key, so the same key gives the same id. */
export function smscId(key: string): number {
  return (createHash('sha256').update(key).digest().readUInt32BE(0) % 2_147_483_646) + 1;
}

export class SmscSender implements SmsSender {
  readonly name = 'smsc';
  readonly idempotent = true;
  constructor(private readonly opts: SmscOptions) {}

  private auth() {
    return this.opts.apiKey
      ? { apikey: this.opts.apiKey }
      : { login: this.opts.login, psw: this.opts.password };
  }

  private check(answer: SmscAnswer): SmscAnswer {
    if (answer.error_code !== undefined || answer.error !== undefined) {
      const code = Number(answer.error_code ?? 0);
      throw smsFailure(classifySmsc(code), this.name, code, String(answer.error ?? 'error'));
    }
    return answer;
  }

  /** POST send.php (form, so long texts fit) with the common parameters; the answer checked. */
  private async postSend(params: Record<string, string | number | undefined>, signal: AbortSignal) {
    const reply = await call(
      this.name,
      {
        method: 'POST',
        url: `${this.opts.url}/sys/send.php`,
        headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
        data: form({
          ...this.auth(),
          sender: this.opts.sender,
          fmt: 3,
          charset: 'utf-8',
          cost: this.opts.dryRun ? 1 : 2,
          ...params,
        }),
      },
      signal,
    );
    return { reply, answer: this.check(json<SmscAnswer>(this.name, reply)) };
  }

  async send(message: SmsMessage, signal: AbortSignal): Promise<SmsReceipt> {
    const id = smscId(message.idempotencyKey);
    const { reply, answer } = await this.postSend(
      { phones: digits(message.to), mes: message.text, id },
      signal,
    );
    if (!this.opts.dryRun && answer.id === undefined) {
      throw smsFailure(
        'account',
        this.name,
        'NO_ID',
        `an answer without a message id: ${reply.text.slice(0, 200)}`,
        true,
      );
    }
    return {
      provider: this.name,
      messageId: this.opts.dryRun ? `dry-${id}` : String(answer.id),
      segments: Number(answer.cnt ?? message.segments) || message.segments,
      cost: money(answer.cost),
      status: this.opts.dryRun ? 'unknown' : 'queued',
      acceptedAt: new Date().toISOString(),
    };
  }

  readonly maxBatch = 100;

  /**
   * Several numbers in one request with `list` (one `phone:text` line each) and `op=1` for a
   * result per number. smsc gives the request one id; a number's message is found by id and phone.
   */
  async sendMany(messages: SmsMessage[], signal: AbortSignal): Promise<Array<SmsReceipt | Error>> {
    const id = smscId(messages.map((m) => m.idempotencyKey).join('|'));
    const list = messages.map((m) => `${digits(m.to)}:${m.text.replace(/\n/g, '\\n')}`).join('\n');
    const { answer } = await this.postSend({ list, id, op: 1 }, signal);
    const byPhone = new Map((answer.phones ?? []).map((p) => [String(p.phone).replace(/^\+/, ''), p]));
    const acceptedAt = new Date().toISOString();
    return messages.map((m) => {
      const p = byPhone.get(digits(m.to));
      // The request was taken, but says nothing of this number: it may have left.
      if (!p) return smsFailure('account', this.name, 'NO_ANSWER', 'no answer for this number', true);
      const error = Number(p.error ?? 0);
      if (error) return smsFailure(classifySmsc(error), this.name, error, `error ${error} for this number`);
      return {
        provider: this.name,
        messageId: this.opts.dryRun ? `dry-${id}` : `${answer.id}:${digits(m.to)}`,
        segments: Number(p.cnt ?? m.segments) || m.segments,
        cost: money(p.cost),
        status: this.opts.dryRun ? 'unknown' : 'queued',
        acceptedAt,
      };
    });
  }

  /** smsc finds a message by our id, which derives from the idempotency key (`smscId`). */
  async statusByKey(key: string, to: string, signal: AbortSignal) {
    const messageId = String(smscId(key));
    const status = (await this.status([{ messageId, to }], signal)).get(messageId);
    return status === undefined ? undefined : { messageId, status };
  }

  async status(messages: Array<{ messageId: string; to: string }>, signal: AbortSignal) {
    const result = new Map<string, DeliveryStatus>();
    for (const m of messages) {
      const reply = await call(
        this.name,
        {
          method: 'GET',
          url: `${this.opts.url}/sys/status.php`,
          // A list send has one id for the request (`id:phone` here); smsc finds it with the phone.
          params: { ...this.auth(), phone: digits(m.to), id: m.messageId.split(':')[0], fmt: 3 },
        },
        signal,
      );
      const answer = this.check(json<SmscAnswer>(this.name, reply));
      result.set(m.messageId, STATUS[String(answer.status)] ?? 'unknown');
    }
    return result;
  }

  async balance(signal: AbortSignal): Promise<string> {
    const reply = await call(
      this.name,
      { method: 'GET', url: `${this.opts.url}/sys/balance.php`, params: { ...this.auth(), fmt: 3 } },
      signal,
    );
    const answer = this.check(json<SmscAnswer>(this.name, reply));
    const balance = money(answer.balance);
    if (balance === null) throw smsFailure('account', this.name, 'NO_BALANCE', reply.text.slice(0, 200));
    return balance;
  }
}
