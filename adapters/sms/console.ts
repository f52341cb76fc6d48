/**
 * The `console` SMS provider: the embedded default, so the service runs with no account. It
 * shows each message to whoever runs the service (one console line) and appends it to a
 * development outbox under the data folder. It is the one place a PIN appears in clear, which is
 * why the service warns at start that it is not for production.
 */
import { existsSync, openSync, readFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import type { SmsMessage, SmsReceipt, SmsSender } from '../../runtime/ports.ts';
import { maskPhone } from '../../runtime/phone.ts';

export class ConsoleSmsSender implements SmsSender {
  readonly name = 'console';
  readonly warnings = ['SMS provider "console" only prints messages: not for production'];
  private readonly outbox: string;
  private readonly sent = new Map<string, SmsReceipt>();
  /** The outbox, opened once for appending (the process keeps it while it runs). */
  private fd: number | null = null;

  constructor(
    dataDir: string,
    private readonly write: (line: string) => void = (line) => process.stdout.write(line + '\n'),
  ) {
    this.outbox = join(dataDir, 'outbox.jsonl');
    if (existsSync(this.outbox)) {
      for (const line of readFileSync(this.outbox, 'utf8').split('\n')) {
        if (!line) continue;
        try {
          const entry = JSON.parse(line) as { key: string; receipt: SmsReceipt };
          this.sent.set(entry.key, entry.receipt);
        } catch {
          /* torn last line */
        }
      }
    }
  }

  async send(message: SmsMessage): Promise<SmsReceipt> {
    const known = this.sent.get(message.idempotencyKey);
    if (known) return known; // the same key is the same message: never print it twice
    const receipt: SmsReceipt = {
      provider: this.name,
      messageId: randomUUID(),
      segments: message.segments,
      cost: '0',
      status: 'delivered',
      acceptedAt: new Date().toISOString(),
    };
    this.fd ??= openSync(this.outbox, 'a', 0o600);
    writeSync(
      this.fd,
      JSON.stringify({ key: message.idempotencyKey, to: message.to, text: message.text, receipt }) + '\n',
    );
    this.sent.set(message.idempotencyKey, receipt);
    this.write(
      `SMS → ${maskPhone(message.to)} [${message.templateId}, ${message.segments} SMS]: ${message.text}`,
    );
    return receipt;
  }
}
