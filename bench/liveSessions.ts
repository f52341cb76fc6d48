/**
 * `npm run bench:live` — what open PIN windows cost in memory. A workflow is a stored record
 * (snapshot as data, version, due time), not a live actor: this opens N authorization sessions
 * (each with its card found and its PIN sent, waiting for the code) in a service built in this
 * process, and prints the heap they hold per session beside the bytes of the stored record
 * itself (its JSON in the journal), so "in proportion to their records only" is a figure.
 *
 * Measured as heap in use after a full GC: before the sessions (cards imported, service up) and
 * with all of them open. The SMS provider is an in-process stand-in that accepts at once; limits
 * and delivery polling are off (they are not what is measured).
 *
 * Options: --sessions N (default 100000), --batch N (sessions started at once, default 200).
 * Needs `--expose-gc` (the npm script passes it).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import pino from 'pino';
import { parseConfig } from '../runtime/config.ts';
import { buildService } from '../compose.ts';
import type { SmsMessage, SmsReceipt, SmsSender } from '../runtime/ports.ts';
import { machine, runMain } from './lib.ts';

const { values: args } = parseArgs({
  options: {
    sessions: { type: 'string', default: '100000' },
    batch: { type: 'string', default: '200' },
  },
});
const SESSIONS = Number(args.sessions);
const BATCH = Number(args.batch);

/** Accepts every message at once, remembering nothing. */
class InstantSender implements SmsSender {
  readonly name = 'instant';
  private count = 0;
  async send(message: SmsMessage): Promise<SmsReceipt> {
    this.count += 1;
    return {
      provider: this.name,
      messageId: `m${this.count}`,
      segments: message.segments,
      cost: null,
      status: 'queued',
      acceptedAt: new Date().toISOString(),
    };
  }
}

const gc = globalThis.gc;
function heapUsed(): number {
  if (!gc) throw new Error('run with --expose-gc (npm run bench:live does)');
  gc();
  gc();
  return process.memoryUsage().heapUsed;
}

const phoneOf = (i: number) => `+7916${String(i).padStart(7, '0')}`;
const mb = (bytes: number) => (bytes / 1024 / 1024).toFixed(1);

async function main() {
  const dir = mkdtempSync(join(tmpdir(), 'smspds-live-'));
  const config = parseConfig({
    dataDir: dir,
    auth: { terminalTokens: ['live-bench-terminal-token-0'] },
    limits: { perPhonePerHour: 0, perTerminalPerHour: 0, perTerminalPerDay: 0, smsPerDay: 0 },
    otp: { ttlSeconds: 600 },
    sms: { statusPollSeconds: 0 },
  });
  const service = await buildService(config, {
    logger: pino({ level: 'silent' }),
    senders: [new InstantSender()],
    defaultMetrics: false,
    cron: false,
  });
  try {
    process.stdout.write(
      `SMS PDS live PIN windows — ${SESSIONS.toLocaleString('en-US')} sessions, ${machine()}\n`,
    );
    const rows = Array.from({ length: SESSIONS }, (_, i) => ({
      line: i + 2,
      number: String(10_000_000 + i),
      expiresAt: null,
      discount: 5,
      bonus: 0,
      holder: { fullName: `Гость ${i}`, birthday: null, phone: phoneOf(i) },
      blocked: false,
    }));
    await service.directory.import(rows, { partial: false, at: new Date().toISOString() });
    rows.length = 0;
    await service.store.flush();
    const before = heapUsed();
    const started = performance.now();
    const cpu = process.cpuUsage();
    for (let i = 0; i < SESSIONS; i += BATCH) {
      const n = Math.min(BATCH, SESSIONS - i);
      await Promise.all(
        Array.from({ length: n }, (_, j) =>
          service.auth.start({ phone: phoneOf(i + j), terminal: 'T1' }, 'terminal', 'live-bench'),
        ),
      );
    }
    const seconds = (performance.now() - started) / 1000;
    const used = process.cpuUsage(cpu);
    const cpuPerStart = (used.user + used.system) / SESSIONS;
    await service.store.flush();
    const after = heapUsed();
    const live = await service.host.liveRecords();
    if (live.length !== SESSIONS) throw new Error(`${live.length} live sessions, expected ${SESSIONS}`);
    const stored = service.journaled!.table<object>('workflows');
    let recordBytes = 0;
    for (const row of stored.values()) recordBytes += Buffer.byteLength(JSON.stringify(row));
    const perSession = (after - before) / SESSIONS;
    const perRecord = recordBytes / SESSIONS;
    process.stdout.write(
      `\nopened in ${seconds.toFixed(1)} s (${Math.round(SESSIONS / seconds).toLocaleString('en-US')} sessions/s)\n` +
        `CPU per start                ${Math.round(cpuPerStart).toLocaleString('en-US')} µs (card found, PIN sent, on disk)\n` +
        `heap in use: ${mb(before)} MB before, ${mb(after)} MB with every window open\n` +
        `heap per live session        ${Math.round(perSession).toLocaleString('en-US')} B\n` +
        `stored record (JSON) each    ${Math.round(perRecord).toLocaleString('en-US')} B\n` +
        `heap ÷ record bytes          ${(perSession / perRecord).toFixed(2)}\n` +
        `RSS ${mb(process.memoryUsage().rss)} MB\n`,
    );
  } finally {
    await service.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

runMain(main);
