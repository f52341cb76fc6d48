/** Runs the real service as a child process (for crash and restart tests). */
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { writeFileSync, readFileSync, existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { TOKENS, sleep } from './helpers.ts';

const ROOT = resolve(import.meta.dirname, '..');

export async function freePort(): Promise<number> {
  return new Promise((ok, fail) => {
    const srv = createServer();
    srv.listen(0, '127.0.0.1', () => {
      const port = (srv.address() as { port: number }).port;
      srv.close(() => ok(port));
    });
    srv.once('error', fail);
  });
}

export function writeConfig(dir: string, extra: Record<string, unknown> = {}): string {
  const path = join(dir, 'smspds.config.json');
  writeFileSync(
    path,
    JSON.stringify({
      auth: {
        terminalTokens: [TOKENS.terminal],
        supportTokens: [TOKENS.support],
        adminTokens: [TOKENS.admin],
      },
      ...extra,
    }),
  );
  return path;
}

export interface ServiceProcess {
  child: ChildProcess;
  url: string;
  output: () => string;
  exited: Promise<number | null>;
}

/**
 * Start the service on a data folder (`main.ts` through tsx, unless `args` name another entry);
 * resolves once /healthz answers.
 */
export async function spawnService(
  configPath: string,
  dataDir: string,
  port: number,
  args: string[] = ['--import', 'tsx', 'main.ts'],
): Promise<ServiceProcess> {
  const child = spawn(process.execPath, args, {
    cwd: ROOT,
    env: {
      ...process.env,
      SMSPDS_CONFIG: configPath,
      SMSPDS_DATA_DIR: dataDir,
      SMSPDS_PORT: String(port),
      SMSPDS_HOST: '127.0.0.1',
      LOG_LEVEL: 'warn',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout!.on('data', (d) => (out += d));
  child.stderr!.on('data', (d) => (out += d));
  const exited = new Promise<number | null>((ok) => child.once('exit', (code) => ok(code)));
  const url = `http://127.0.0.1:${port}`;
  // Up to a minute: a start that loads a large data folder on a busy machine is slow, not broken.
  for (const until = Date.now() + 60_000; Date.now() < until;) {
    if (child.exitCode !== null) throw new Error(`the service exited: ${out}`);
    try {
      if ((await fetch(url + '/healthz')).ok) return { child, url, output: () => out, exited };
    } catch {
      /* not yet */
    }
    await sleep(50);
  }
  child.kill('SIGKILL');
  throw new Error(`the service did not start: ${out}`);
}

/** PINs the console provider wrote to its development outbox, in order. */
export function outboxPins(dataDir: string): string[] {
  const path = join(dataDir, 'outbox.jsonl');
  if (!existsSync(path)) return [];
  return readFileSync(path, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => (JSON.parse(l) as { text: string }).text.match(/\d{4,8}/)![0]);
}
