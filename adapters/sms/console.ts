/**
 * The `console` SMS provider: the embedded default, so the service runs with no account. It
 * shows each message to whoever runs the service (one console line) and appends it to a
 * development outbox under the data folder. It is the one place a PIN appears in clear, which is
 * why the service warns at start that it is not for production.
 */
import { closeSync, existsSync, openSync, readFileSync, readSync, statSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import type { SmsMessage, SmsReceipt, SmsSender } from '../../runtime/ports.ts';
import { maskPhone } from '../../runtime/phone.ts';
import { BoundedMap } from '../../runtime/boundedMap.ts';
import { writeDurably } from '../store/durableJsonFile.ts';

/** One message in the outbox. */
interface OutboxLine {
  to?: string;
  receipt?: { acceptedAt?: string };
}

export class ConsoleSmsSender implements SmsSender {
  readonly name = 'console';
  readonly warnings = ['SMS provider "console" only prints messages: not for production'];
  private readonly outbox: string;
  /**
   * Receipts of the latest messages, by idempotency key: a re-run after a restart (a live
   * session's PIN, at most minutes old) gets the receipt back instead of a second message.
   * Bounded, like the part of the outbox read at start: the outbox itself keeps growing.
   */
  private readonly sent = new BoundedMap<string, SmsReceipt>(10_000);
  private static readonly TAIL_BYTES = 4 * 1024 * 1024;
  /** The outbox, opened once for appending (the process keeps it while it runs). */
  private fd: number | null = null;

  constructor(
    dataDir: string,
    private readonly write: (line: string) => void = (line) => process.stdout.write(line + '\n'),
  ) {
    this.outbox = join(dataDir, 'outbox.jsonl');
    if (existsSync(this.outbox)) {
      const size = statSync(this.outbox).size;
      const from = Math.max(0, size - ConsoleSmsSender.TAIL_BYTES);
      const tail = Buffer.alloc(size - from);
      const fd = openSync(this.outbox, 'r');
      try {
        readSync(fd, tail, 0, tail.length, from);
      } finally {
        closeSync(fd);
      }
      const lines = tail.toString('utf8').split('\n');
      if (from > 0) lines.shift(); // the first line read is cut
      for (const line of lines) {
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

  /**
   * Drop outbox lines of messages accepted before `before` (ms): the outbox holds phones and
   * message texts in clear. The file is written anew beside the old one and renamed; the append
   * descriptor is reopened at the next message. With `dryRun`, only counts.
   */
  async prune(before: number, dryRun = false): Promise<number> {
    return this.rewrite((entry) => {
      const at = Date.parse(entry?.receipt?.acceptedAt ?? '');
      return Number.isNaN(at) || at < before; // a torn line goes with the old ones
    }, dryRun);
  }

  /** Write the outbox anew without the lines `drop` picks (null: a line that does not parse). */
  private async rewrite(drop: (entry: OutboxLine | null) => boolean, dryRun = false): Promise<number> {
    if (!existsSync(this.outbox)) return 0;
    const kept: string[] = [];
    let dropped = 0;
    for (const line of readFileSync(this.outbox, 'utf8').split('\n')) {
      if (!line) continue;
      let entry: OutboxLine | null = null;
      try {
        entry = JSON.parse(line) as OutboxLine;
      } catch {
        /* a torn line */
      }
      if (drop(entry)) dropped += 1;
      else kept.push(line);
    }
    if (dryRun || dropped === 0) return dropped;
    if (this.fd !== null) {
      closeSync(this.fd);
      this.fd = null;
    }
    await writeDurably(this.outbox, kept.length ? kept.join('\n') + '\n' : '');
    return dropped;
  }

  /** Drop every outbox line of messages to `phone` (a guest's erasure); answers how many. */
  async erase(phone: string): Promise<number> {
    return this.rewrite((entry) => entry?.to === phone);
  }
}
