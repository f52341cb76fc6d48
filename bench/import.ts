/**
 * `npm run bench:import -- [--cards N] [--http N]` — the card base on its way in.
 *
 * 1. The command line imports N generated cards (default 1,000,000: number, name, phone,
 *    birthday, discount): cards a second and the process's peak RSS (VmHWM), against the time
 *    the same machine takes to read the file's bytes once (the baseline, same run); then the
 *    same file again, every row merged into a stored card. `--cli-only` stops here (a service
 *    does not start on 5,000,000 cards in the embedded engine: they would not fit its heap).
 * 2. The service, as `npm start` runs it, starts on the resulting data folder: time to its
 *    first `/healthz` answer, and its RSS.
 * 3. An HTTP import of `--http` lines (default 400,000) into a fresh service while a till
 *    probes `/healthz` and an authorization start (20 a second): their p50 and p99 during the
 *    import, against the same probes on the idle service just before.
 */
import { spawn } from 'node:child_process';
import { createWriteStream, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { once } from 'node:events';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { machine, percentile, request, ROOT, rssOf, serverArgs, startService, stopChild } from './lib.ts';
import { freePort } from '../test/process.ts';

const { values: args } = parseArgs({
  options: {
    cards: { type: 'string', default: '1000000' },
    http: { type: 'string', default: '400000' },
    'cli-only': { type: 'boolean', default: false },
  },
});
const CARDS = Number(args.cards);
const HTTP_LINES = Number(args.http);
const CLI_ONLY = args['cli-only'];
const ADMIN = 'bench-admin-token-000000000';
const TERMINAL = 'bench-terminal-token-00000000';
/** The node flags of `npm run cli` (package.json). */
const CLI_FLAGS = (
  JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { scripts: { cli: string } }
).scripts.cli
  .split(/\s+/)
  .filter((a) => a.startsWith('--max') || a.startsWith('--heap'));
const fmt = (n: number) => Math.round(n).toLocaleString('en-US');

async function writeCsv(path: string, count: number) {
  const out = createWriteStream(path);
  out.write('number,name,phone,birthday,discount\n');
  for (let i = 0; i < count; i++) {
    const line = `${10_000_000 + i},Гость Номер ${i % 977},+7916${String(i).padStart(7, '0')},0${1 + (i % 9)}.0${1 + (i % 9)}.19${50 + (i % 50)},${i % 10}\n`;
    if (!out.write(line)) await once(out, 'drain');
  }
  out.end();
  await once(out, 'finish');
}

/** Run the CLI import, sampling the child's RSS; wall seconds and peak MB. */
async function cliImport(dir: string, file: string): Promise<{ seconds: number; peak: number; out: string }> {
  const t0 = performance.now();
  const child = spawn(
    process.execPath,
    [...CLI_FLAGS, '--import', 'tsx', 'cli.ts', 'cards', 'import', file],
    {
      cwd: ROOT,
      env: { ...process.env, SMSPDS_DATA_DIR: join(dir, 'data'), SMSPDS_CONFIG: join(dir, 'config.json') },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let out = '';
  child.stdout.on('data', (d) => (out += d));
  child.stderr.on('data', () => undefined);
  let peak = 0;
  const timer = setInterval(() => {
    try {
      peak = Math.max(peak, rssOf(child.pid!).peak);
    } catch {
      /* exited */
    }
  }, 100);
  const [code] = (await once(child, 'exit')) as [number];
  clearInterval(timer);
  if (code !== 0) throw new Error(`import exited ${code}: ${out}`);
  return { seconds: (performance.now() - t0) / 1000, peak, out: out.trim().split('\n').at(-1)! };
}

/** Probe `/healthz` and an authorization start, 10 a second each, until `stop()`; latencies in ms. */
function probes(port: number) {
  const health: number[] = [];
  const auth: number[] = [];
  let running = true;
  const loop = async (into: number[], fire: () => Promise<unknown>) => {
    while (running) {
      const t = performance.now();
      await fire().catch(() => undefined);
      into.push(performance.now() - t);
      await new Promise((r) => setTimeout(r, 100));
    }
  };
  const form = { 'Content-Type': 'application/x-www-form-urlencoded', Authorization: `Bearer ${TERMINAL}` };
  const done = Promise.all([
    loop(health, () => request(port, 'GET', '/healthz')),
    loop(auth, () => request(port, 'POST', '/api/v1/auth', form, 'phone=%2B79990000001&terminal=BENCH')),
  ]);
  return {
    async stop() {
      running = false;
      await done;
      const asc = (a: number, b: number) => a - b;
      return { health: health.sort(asc), auth: auth.sort(asc) };
    },
  };
}

const line = (label: string, xs: number[]) =>
  `${label.padEnd(22)} p50 ${percentile(xs, 50).toFixed(1).padStart(6)} ms   p99 ${percentile(xs, 99).toFixed(1).padStart(6)} ms   (${xs.length})`;

async function main() {
  const dir = mkdtempSync(join(tmpdir(), 'smspds-bench-import-'));
  try {
    process.stdout.write(
      `SMS PDS import benchmark — ${fmt(CARDS)} cards by CLI, ${fmt(HTTP_LINES)} lines by HTTP, ${machine()}\n\n`,
    );
    writeFileSync(
      join(dir, 'config.json'),
      JSON.stringify({
        auth: { adminTokens: [ADMIN], terminalTokens: [TERMINAL] },
        limits: { perPhonePerHour: 0, perTerminalPerHour: 0, smsPerDay: 0 },
        server: { importMaxLines: Math.max(HTTP_LINES + 1, 500_000) },
      }),
    );
    const file = join(dir, 'base.csv');
    await writeCsv(file, CARDS);
    const t0 = performance.now();
    readFileSync(file);
    const readS = (performance.now() - t0) / 1000;
    const mb = statSync(file).size / 1048576;

    const cli = await cliImport(dir, file);
    process.stdout.write(`CLI import     ${cli.out}\n`);
    process.stdout.write(
      `               ${fmt(CARDS / cli.seconds)} cards/s (${cli.seconds.toFixed(1)} s; reading the ${mb.toFixed(0)} MB file once: ${readS.toFixed(2)} s, ×${(cli.seconds / readS).toFixed(0)}), peak RSS ${fmt(cli.peak)} MB\n`,
    );
    // The same file again: every card is stored, so every row is merged into one.
    const again = await cliImport(dir, file);
    process.stdout.write(`CLI re-import  ${again.out}\n`);
    process.stdout.write(
      `               ${fmt(CARDS / again.seconds)} cards/s (${again.seconds.toFixed(1)} s), peak RSS ${fmt(again.peak)} MB\n\n`,
    );
    if (CLI_ONLY) return;

    const args = serverArgs();
    const port = await freePort();
    const s0 = performance.now();
    let child = await startService(args, dir, port).catch((err: Error) => {
      const oom = /heap out of memory/.test(err.message);
      process.stdout.write(
        `service start  failed on ${fmt(CARDS)} cards${oom ? ': out of memory under the start flags (--max-old-space-size=512)' : `: ${err.message.slice(0, 200)}`}\n\n`,
      );
      return null;
    });
    if (child) {
      const startS = (performance.now() - s0) / 1000;
      const rss = rssOf(child.pid!).rss;
      process.stdout.write(
        `service start  ${startS.toFixed(1)} s on ${fmt(CARDS)} cards, RSS ${fmt(rss)} MB (${((rss * 1048576) / CARDS).toFixed(0)} bytes a card, process included)\n\n`,
      );
      await stopChild(child);
    }
    rmSync(join(dir, 'data'), { recursive: true, force: true });

    child = await startService(args, dir, port);
    const headers = { 'Content-Type': 'text/csv', Authorization: `Bearer ${ADMIN}` };
    await request(port, 'POST', '/api/v1/cards/import', headers, 'number,name,phone\n1,Гость,+79990000001\n');
    const idle = probes(port);
    await new Promise((r) => setTimeout(r, 5000));
    const before = await idle.stop();
    const body = ['number', ...Array.from({ length: HTTP_LINES }, (_, i) => String(20_000_000 + i))].join(
      '\n',
    );
    const during = probes(port);
    const i0 = performance.now();
    const res = await request(port, 'POST', '/api/v1/cards/import', headers, body);
    const importS = (performance.now() - i0) / 1000;
    const busy = await during.stop();
    process.stdout.write(
      `HTTP import    ${fmt(HTTP_LINES)} lines: ${res.status} in ${importS.toFixed(1)} s (${fmt(HTTP_LINES / importS)} lines/s), service RSS after ${fmt(rssOf(child.pid!).rss)} MB\n`,
    );
    process.stdout.write(
      `${line('  /healthz idle', before.health)}\n${line('  /healthz importing', busy.health)}\n`,
    );
    process.stdout.write(
      `${line('  auth start idle', before.auth)}\n${line('  auth start importing', busy.auth)}\n`,
    );
    process.stdout.write(
      `  p99 ratio importing/idle: /healthz ×${(percentile(busy.health, 99) / percentile(before.health, 99)).toFixed(1)}, auth start ×${(percentile(busy.auth, 99) / percentile(before.auth, 99)).toFixed(1)}\n`,
    );
    await stopChild(child);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
