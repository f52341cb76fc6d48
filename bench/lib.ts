/** Shared pieces of the benchmarks: child servers, a keep-alive HTTP client, percentiles, RSS, an archive fill. */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, mkdirSync, readFileSync } from 'node:fs';
import { once } from 'node:events';
import http from 'node:http';
import { availableParallelism, cpus } from 'node:os';
import { join, resolve } from 'node:path';
import { newId } from '../runtime/ids.ts';

export const ROOT = resolve(import.meta.dirname, '..');

export const agent = new http.Agent({ keepAlive: true, maxSockets: 256 });

export interface Reply {
  status: number;
  body: string;
  headers: http.IncomingHttpHeaders;
}

/** One request on the keep-alive agent; the body is read whole. */
export function request(
  port: number,
  method: string,
  path: string,
  headers: Record<string, string> = {},
  body?: string,
): Promise<Reply> {
  return new Promise((ok, fail) => {
    const req = http.request({ host: '127.0.0.1', port, method, path, headers, agent }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () =>
        ok({
          status: res.statusCode ?? 0,
          body: Buffer.concat(chunks).toString('utf8'),
          headers: res.headers,
        }),
      );
    });
    req.on('error', fail);
    if (body !== undefined) req.end(body);
    else req.end();
  });
}

/**
 * The service's command line as `npm start` runs it (the compiled build, the same node flags),
 * built first. `SERVER_NODE_ARGS` adds node flags, e.g. `--cpu-prof` to profile the server.
 */
export function serverArgs(): string[] {
  execFileSync('npm', ['run', '-s', 'build'], { cwd: ROOT, stdio: 'inherit' });
  const pkg = JSON.parse(readFileSync(resolve(ROOT, 'package.json'), 'utf8')) as {
    scripts: { start: string };
  };
  const [, ...args] = pkg.scripts.start.split(/\s+/); // after `node`
  return [...(process.env.SERVER_NODE_ARGS?.split(/\s+/).filter(Boolean) ?? []), ...args];
}

/**
 * The service as `npm start` runs it (`args` from `serverArgs()`), on a data folder and config
 * under `dir`, listening on 127.0.0.1:`port`; resolves once it listens.
 */
export async function startService(
  args: string[],
  dir: string,
  port: number,
  /** Wait for this text in the output too. */
  until?: string,
): Promise<ChildProcess> {
  const { child } = await startChild(
    args,
    {
      SMSPDS_CONFIG: join(dir, 'config.json'),
      SMSPDS_DATA_DIR: join(dir, 'data'),
      SMSPDS_PORT: String(port),
      SMSPDS_HOST: '127.0.0.1',
      // The default level of `npm start`, in every phase: a phase logging more than another
      // would pay for its log lines in the ratio between them.
      LOG_LEVEL: 'info',
    },
    (o) => o.includes('listening on') && (!until || o.includes(until)),
  );
  return child;
}

/** A benchmark's own server script (it prints `listening <port>`), started; its process and port. */
export async function startScript(script: string): Promise<{ child: ChildProcess; port: number }> {
  const { child, output } = await startChild([script], {}, (o) => /listening \d+/.test(o));
  return { child, port: Number(/listening (\d+)/.exec(output)![1]) };
}

/** Start a child process and wait until `ready(output)` says so. */
export async function startChild(
  args: string[],
  env: Record<string, string>,
  ready: (out: string) => boolean,
): Promise<{ child: ChildProcess; output: string }> {
  // Compiled JavaScript runs as it is; TypeScript sources through tsx.
  const loader = args.some((a) => a.endsWith('.ts')) ? ['--import', 'tsx'] : [];
  const child = spawn(process.execPath, [...loader, ...args], {
    cwd: ROOT,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  const check = (d: Buffer) => {
    out += d;
    if (ready(out)) started();
  };
  const keep = (d: Buffer) => (out += d);
  let started = () => {};
  await new Promise<void>((ok, fail) => {
    started = ok;
    child.stdout!.on('data', check);
    child.stderr!.on('data', keep);
    child.once('exit', (code) => fail(new Error(`child exited (${code}): ${out}`)));
  });
  // From here the output is read and dropped: the phase's log lines are not kept or searched.
  child.stdout!.off('data', check);
  child.stderr!.off('data', keep);
  child.stdout!.resume();
  child.stderr!.resume();
  child.removeAllListeners('exit');
  return { child, output: out };
}

export async function stopChild(child: ChildProcess) {
  if (child.exitCode !== null) return;
  const done = new Promise((ok) => child.once('exit', ok));
  child.kill('SIGTERM');
  await done;
}

/** Resident memory of a process now and at its peak, in MB (Linux). */
export function rssOf(pid: number): { rss: number; peak: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (name: string) => Number(new RegExp(`${name}:\\s+(\\d+)`).exec(status)?.[1] ?? 0);
  return { rss: kb('VmRSS') / 1024, peak: kb('VmHWM') / 1024 };
}

/** CPU time a process has used so far (user + system), in ms (Linux). */
export function cpuMsOf(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / 100; // clock ticks of 10 ms
}

export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

/** Run `worker` on `concurrency` lanes until `seconds` pass; returns per-call latencies in ms. */
export async function drive(
  concurrency: number,
  seconds: number,
  worker: (lane: number, i: number) => Promise<void>,
) {
  const latencies: number[] = [];
  const until = performance.now() + seconds * 1000;
  let errors = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async (_, lane) => {
      for (let i = 0; performance.now() < until; i++) {
        const t = performance.now();
        try {
          await worker(lane, i);
          latencies.push(performance.now() - t);
        } catch (err) {
          errors += 1;
          if (errors === 1) process.stderr.write(`first error: ${(err as Error).message}\n`);
          if (errors > 100) throw err;
        }
      }
    }),
  );
  latencies.sort((a, b) => a - b);
  return {
    latencies,
    count: latencies.length,
    perSecond: latencies.length / seconds,
    p50: percentile(latencies, 50),
    p99: percentile(latencies, 99),
    errors,
  };
}

/** Run a benchmark's main and exit (its child servers and agents would keep the process up). */
export function runMain(main: () => Promise<void>) {
  main().then(
    () => process.exit(0),
    (err) => {
      process.stderr.write(`${err?.stack ?? err}\n`);
      process.exit(1);
    },
  );
}

/** Put `count` closed sessions, shaped like real ones, into the archive, spread over 30 days. */
export async function fillArchive(dataDir: string, count: number, phoneOf: (i: number) => string) {
  const dir = join(dataDir, 'archive', 'auth');
  mkdirSync(dir, { recursive: true });
  const days = 30;
  const start = Date.now() - days * 86_400_000;
  for (let d = 0; d < days; d++) {
    const dayMs = start + d * 86_400_000;
    const out = createWriteStream(join(dir, `${new Date(dayMs).toISOString().slice(0, 10)}.jsonl`));
    const n = Math.floor(count / days) + (d < count % days ? 1 : 0);
    for (let i = 0; i < n; i++) {
      const t = dayMs + i;
      const at = (ms: number) => new Date(t + ms).toISOString();
      const record = {
        id: newId('ses', t),
        kind: 'auth',
        state: 'verified',
        live: false,
        createdAt: at(0),
        updatedAt: at(40_000),
        closedAt: at(40_000),
        terminal: `T${i % 20}`,
        phone: phoneOf(i),
        card: String(100000 + (i % 10000)),
        deadline: null,
        error: null,
        timeline: [
          { at: at(0), event: 'start', from: null, to: 'requested', by: 'terminal:T1' },
          { at: at(1), event: 'SUBMIT', from: 'requested', to: 'lookingUp', by: 'terminal:T1' },
          { at: at(2), event: 'findCard.done', from: 'lookingUp', to: 'sendingSms', by: 'system' },
          { at: at(300), event: 'sendPin.done', from: 'sendingSms', to: 'awaitingPin', by: 'system' },
          { at: at(40_000), event: 'VERIFY', from: 'awaitingPin', to: 'verified', by: 'terminal:T1' },
        ],
        view: {
          channel: 'sms',
          cardInfo: { number: '100000', holder: 'Гость', discount: 5, bonus: 0 },
          attempts: 0,
          attemptsLeft: 3,
          sends: 1,
          resendAvailableAt: null,
          sms: [
            {
              sendNo: 1,
              at: at(10),
              provider: 'smsru',
              outcome: 'accepted',
              messageId: '000000-10000000',
              segments: 1,
              cost: '2.10',
              status: 'delivered',
            },
          ],
        },
      };
      if (!out.write(JSON.stringify(record) + '\n')) await once(out, 'drain');
    }
    out.end();
    await once(out, 'finish');
  }
}

/** The machine a run measured, for the first line of each benchmark's report. */
export function machine(): string {
  return `node ${process.version}, ${availableParallelism()} CPUs (${cpus()[0]?.model.trim() ?? 'unknown'})`;
}

/**
 * What a fake sms.ru takes when sent to directly, in the service's shape: 100 numbers a request,
 * 4 requests at a time, for `seconds`; messages a second. Its request log is cleared after.
 */
export async function providerAlone(
  fake: { url: string; requests: unknown[] },
  seconds: number,
): Promise<number> {
  const body = (i: number) =>
    `api_id=API-ID-1&json=1&` +
    Array.from(
      { length: 100 },
      (_, j) =>
        `to[7916${String((i * 100 + j) % 10_000_000).padStart(7, '0')}]=${encodeURIComponent(`Гость ${j}, у нас новое меню!`)}`,
    ).join('&');
  const port = Number(new URL(fake.url).port);
  const direct = await drive(4, seconds, async (lane, i) => {
    const r = await request(
      port,
      'POST',
      '/sms/send',
      { 'Content-Type': 'application/x-www-form-urlencoded' },
      body(lane * 100_000 + i),
    );
    if (r.status !== 200) throw new Error(`fake ${r.status}`);
  });
  fake.requests.length = 0;
  return direct.perSecond * 100;
}
