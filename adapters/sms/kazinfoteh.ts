/**
 * kazinfoteh (Kazakhstan). The JSON API (Basic auth; `extra_id` carries our idempotency key) is
 * the default; the legacy Ozeki-style HTTP API is an option for accounts that only have it.
 * Delivery status comes from the XML status interface. kazinfoteh has no dry-run mode, so a dry
 * run does not call it at all.
 */
import type { DeliveryStatus, SmsMessage, SmsReceipt, SmsSender } from '../../runtime/ports.ts';
import { smsFailure } from '../../runtime/sms/failure.ts';
import { call, digits, json, refuseServerError } from './http.ts';

export interface KazinfotehOptions {
  login: string;
  password: string;
  /** JSON API base (https://so.kazinfoteh.org) or, with api=legacy, the legacy base (http://kazinfoteh.org:9507). */
  url: string;
  /** XML status interface base (http://kazinfoteh.org:809). */
  statusUrl: string;
  api: 'json' | 'legacy';
  sender: string;
  dryRun: boolean;
}

interface JsonAnswer {
  message_id?: string | number;
  sms_count?: string | number;
  status?: string;
  err?: unknown;
  error_code?: number | string;
  error_message?: string;
}

const XML_STATUS: Record<string, DeliveryStatus> = {
  '100': 'queued',
  '101': 'sent',
  '102': 'delivered',
  '103': 'expired',
  '104': 'undelivered',
  '105': 'undelivered',
  '106': 'sent',
  '107': 'unknown',
  '108': 'undelivered',
  '109': 'undelivered',
};

const tag = (xml: string, name: string) => new RegExp(`<${name}>\\s*([^<]*?)\\s*</${name}>`).exec(xml)?.[1];
const escapeXml = (s: string) => s.replace(/[<>&"']/g, (c) => `&#${c.charCodeAt(0)};`);

export class KazinfotehSender implements SmsSender {
  readonly name = 'kazinfoteh';
  readonly idempotent: boolean;
  constructor(private readonly opts: KazinfotehOptions) {
    this.idempotent = opts.api === 'json';
  }

  async send(message: SmsMessage, signal: AbortSignal): Promise<SmsReceipt> {
    if (this.opts.dryRun) {
      return {
        provider: this.name,
        messageId: `dry-${message.idempotencyKey}`,
        segments: message.segments,
        cost: null,
        status: 'unknown',
        acceptedAt: new Date().toISOString(),
      };
    }
    return this.opts.api === 'legacy' ? this.sendLegacy(message, signal) : this.sendJson(message, signal);
  }

  private async sendJson(message: SmsMessage, signal: AbortSignal): Promise<SmsReceipt> {
    const reply = await call(
      this.name,
      {
        method: 'POST',
        url: `${this.opts.url}/api/sms/send`,
        auth: { username: this.opts.login, password: this.opts.password },
        headers: { 'Content-Type': 'application/json' },
        data: JSON.stringify({
          from: this.opts.sender,
          to: digits(message.to),
          text: message.text,
          extra_id: message.idempotencyKey.slice(0, 50),
        }),
      },
      signal,
    );
    const answer = json<JsonAnswer>(this.name, reply);
    if (reply.status === 401 || reply.status === 403) {
      throw smsFailure(
        'account',
        this.name,
        answer.error_code ?? reply.status,
        answer.error_message ?? 'unauthorized',
      );
    }
    if (reply.status === 429)
      throw smsFailure(
        'transient',
        this.name,
        answer.error_code ?? 429,
        answer.error_message ?? 'too many requests',
      );
    if (reply.status >= 400) {
      // A refused number is the phone's problem; anything else about the request is ours.
      const text = String(answer.error_message ?? `HTTP ${reply.status}`);
      throw smsFailure(
        /phone|number|recipient|номер/i.test(text) ? 'permanent' : 'account',
        this.name,
        answer.error_code ?? reply.status,
        text,
      );
    }
    if (answer.err !== null && answer.err !== undefined) {
      throw smsFailure(
        'account',
        this.name,
        'ERR',
        typeof answer.err === 'string' ? answer.err : JSON.stringify(answer.err),
      );
    }
    if (answer.message_id === undefined || answer.status === 'undelivered') {
      throw smsFailure(
        'account',
        this.name,
        'NO_ID',
        `unexpected answer: ${reply.text.slice(0, 200)}`,
        answer.message_id === undefined, // an answer that names no message may still have sent one
      );
    }
    return {
      provider: this.name,
      messageId: String(answer.message_id),
      segments: Number(answer.sms_count ?? message.segments) || message.segments,
      cost: null,
      status: answer.status === 'delivered' ? 'delivered' : 'queued',
      acceptedAt: new Date().toISOString(),
    };
  }

  private async sendLegacy(message: SmsMessage, signal: AbortSignal): Promise<SmsReceipt> {
    const reply = await call(
      this.name,
      {
        method: 'GET',
        url: `${this.opts.url}/api`,
        params: {
          action: 'sendmessage',
          username: this.opts.login,
          password: this.opts.password,
          recipient: digits(message.to),
          messagetype: 'SMS:TEXT',
          originator: this.opts.sender,
          messagedata: message.text,
        },
      },
      signal,
    );
    refuseServerError(this.name, reply);
    if (tag(reply.text, 'action') === 'error') {
      throw smsFailure(
        'account',
        this.name,
        tag(reply.text, 'errorcode') ?? 'ERROR',
        tag(reply.text, 'errormessage') ?? 'error',
      );
    }
    const code = tag(reply.text, 'statuscode');
    const id = tag(reply.text, 'messageid');
    if (code !== '0' || !id) {
      throw smsFailure(
        code ? 'permanent' : 'account',
        this.name,
        code ?? 'UNREADABLE',
        tag(reply.text, 'statusmessage') ?? reply.text.slice(0, 200),
        !code, // an answer we cannot read may still have been a sent message
      );
    }
    return {
      provider: this.name,
      messageId: id,
      segments: message.segments,
      cost: null,
      status: 'queued',
      acceptedAt: new Date().toISOString(),
    };
  }

  async status(messages: Array<{ messageId: string; to: string }>, signal: AbortSignal) {
    const body =
      `<?xml version="1.0" encoding="utf-8" ?><package login="${escapeXml(this.opts.login)}" password="${escapeXml(this.opts.password)}"><status>` +
      messages.map((m) => `<msg sms_id="${escapeXml(m.messageId)}"/>`).join('') +
      `</status></package>`;
    const reply = await call(
      this.name,
      {
        method: 'POST',
        url: `${this.opts.statusUrl}/api`,
        headers: { 'Content-Type': 'text/xml; charset=utf-8' },
        data: body,
      },
      signal,
    );
    if (reply.status >= 400)
      throw smsFailure(
        reply.status >= 500 ? 'transient' : 'account',
        this.name,
        `HTTP_${reply.status}`,
        reply.text.slice(0, 200),
      );
    const result = new Map<string, DeliveryStatus>();
    for (const m of reply.text.matchAll(/<msg[^>]*sms_id="([^"]+)"[^>]*>\s*(\d+)\s*<\/msg>/g)) {
      result.set(m[1]!, XML_STATUS[m[2]!] ?? 'unknown');
    }
    return result;
  }
}
