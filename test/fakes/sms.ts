/** A fake SMS sender: records every message (the tests read PINs from it) and fails on demand. */
import { smsFailure, type SmsFailureKind } from '../../runtime/sms/failure.ts';
import type { SmsMessage, SmsReceipt, SmsSender } from '../../runtime/ports.ts';

export class FakeSmsSender implements SmsSender {
  readonly sent: SmsMessage[] = [];
  /** Fail the next N sends (SMS_FAILED), as a provider that refuses. */
  failNext = 0;
  /** How those failures are classified. */
  failKind: SmsFailureKind = 'account';
  /** Hold every send until released (to catch a workflow mid-flight). */
  hold: Promise<void> | null = null;
  /** Take this long to accept each message (a provider's round trip). */
  delayMs = 0;
  private count = 0;

  constructor(readonly name = 'fake') {}

  async send(message: SmsMessage): Promise<SmsReceipt> {
    if (this.hold) await this.hold;
    if (this.delayMs > 0) await new Promise((r) => setTimeout(r, this.delayMs));
    if (this.failNext > 0) {
      this.failNext -= 1;
      throw smsFailure(this.failKind, this.name, 'FAKE_DOWN', 'fake provider refused');
    }
    this.sent.push(message);
    this.count += 1;
    return {
      provider: this.name,
      messageId: `fake-${this.count}`,
      segments: message.segments,
      cost: '1.85',
      status: 'queued',
      acceptedAt: new Date().toISOString(),
    };
  }

  /** The PIN in the last message sent to a phone. */
  lastPin(phone?: string): string {
    const msg = [...this.sent].reverse().find((m) => !phone || m.to === phone);
    const pin = msg?.text.match(/\d{4,8}/)?.[0];
    if (!pin) throw new Error(`no PIN sent${phone ? ` to ${phone}` : ''}`);
    return pin;
  }
}
