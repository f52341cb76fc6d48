/** Shared test set-up: a service in this process on 127.0.0.1 with a temporary data folder. */
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import type { Test } from 'uvu';
import { parseConfig, type ConfigInput } from '../runtime/config.ts';
import { buildService, listen, logRedact } from '../compose.ts';
import type { Clock, SmsSender } from '../runtime/ports.ts';
import { FakeSmsSender } from './fakes/sms.ts';
import { dropDatabase, newDatabase } from './postgres.ts';

/**
 * The engine test services run on: `embedded`, or `postgres` with SMSPDS_TEST_ENGINE=postgres
 * (the HTTP suites' second pass, see `test/run.ts`): each service then gets a database of its
 * own on the test server, kept with its data folder for a restart on the same folder.
 */
export const TEST_ENGINE = process.env.SMSPDS_TEST_ENGINE === 'postgres' ? 'postgres' : 'embedded';
const databaseOf = new Map<string, string>();

/**
 * For a test of the embedded engine's own files (its tables, journal, folder): skipped, and
 * counted as skipped, when the suites run on PostgreSQL.
 */
export const embeddedOnly = <T>(s: Test<T>): Test<T> | Test<T>['skip'] =>
  TEST_ENGINE === 'embedded' ? s : s.skip;

/** For a test of several instances on one database: run on the PostgreSQL pass only. */
export const postgresOnly = <T>(s: Test<T>): Test<T> | Test<T>['skip'] =>
  TEST_ENGINE === 'postgres' ? s : s.skip;

/** The store settings of a test service on the test engine (a database for a new folder). */
async function testStore(dataDir: string): Promise<ConfigInput> {
  if (TEST_ENGINE === 'embedded') return {};
  let url = databaseOf.get(dataDir);
  if (!url) databaseOf.set(dataDir, (url = await newDatabase('svc')));
  const secretFile = join(dataDir, 'shared-secret.key');
  if (!existsSync(secretFile)) writeFileSync(secretFile, randomBytes(32).toString('hex'), { mode: 0o600 });
  return { store: { engine: 'postgres', url }, secretFile };
}

/** Drop the database of a test service's folder (once its folder is let go of). */
async function dropTestStore(dataDir: string) {
  const url = databaseOf.get(dataDir);
  if (!url) return;
  databaseOf.delete(dataDir);
  await dropDatabase(url);
}

export const TOKENS = {
  terminal: 'terminal-token-0123456789',
  /** A second till: its own limits and budgets. */
  till2: 'terminal-token-2-abcdefgh',
  support: 'support-token-0123456789',
  admin: 'admin-token-0123456789ab',
};

export function tempDir(prefix = 'smspds-test-'): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

export interface TestServiceOptions {
  config?: ConfigInput;
  clock?: Clock;
  senders?: SmsSender[];
  dataDir?: string;
  /** Build the providers of `config.sms` (pointed at fakes) instead of the in-process fake. */
  realProviders?: boolean;
  /** Collect the service's log lines (debug level) here. */
  logs?: string[];
}

export async function startService(opts: TestServiceOptions = {}) {
  const dataDir = opts.dataDir ?? tempDir();
  const sms = new FakeSmsSender();
  const config = parseConfig({
    dataDir,
    ...(await testStore(dataDir)),
    auth: {
      terminalTokens: [TOKENS.terminal, TOKENS.till2],
      supportTokens: [TOKENS.support],
      adminTokens: [TOKENS.admin],
    },
    ...opts.config,
  });
  const service = await buildService(config, {
    logger: opts.logs
      ? pino({ level: 'debug', redact: logRedact }, { write: (line: string) => void opts.logs!.push(line) })
      : pino({ level: 'silent' }),
    clock: opts.clock,
    senders: opts.realProviders ? undefined : (opts.senders ?? [sms]),
    defaultMetrics: false,
    cron: false,
    smsBackoffMs: [10],
  });
  const { server, stop } = await listen(service, '127.0.0.1', 0);
  const address = server.address();
  const url = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
  return {
    url,
    sms,
    service,
    dataDir,
    call: (method: string, path: string, init: CallInit = {}) => call(url, method, path, init),
    async stop({ keepData = false } = {}) {
      await stop();
      if (!keepData && !opts.dataDir) {
        rmSync(dataDir, { recursive: true, force: true });
        await dropTestStore(dataDir);
      }
    },
  };
}

export type TestService = Awaited<ReturnType<typeof startService>>;

export interface CallInit {
  as?: keyof typeof TOKENS | null;
  json?: unknown;
  form?: Record<string, string>;
  body?: string | Buffer;
  headers?: Record<string, string>;
}

export interface CallResult {
  status: number;
  headers: Headers;
  text: string;
  json: any;
  kv: Record<string, string>;
}

/** One HTTP call; the answer parsed as JSON (when it is) and as key=value lines. */
export async function call(
  url: string,
  method: string,
  path: string,
  init: CallInit = {},
): Promise<CallResult> {
  const headers: Record<string, string> = { ...(init.headers ?? {}) };
  const as = init.as === undefined ? 'admin' : init.as;
  if (as) headers.Authorization = `Bearer ${TOKENS[as]}`;
  let body: string | Buffer | undefined = init.body;
  if (init.json !== undefined) {
    body = JSON.stringify(init.json);
    headers['Content-Type'] ??= 'application/json';
  } else if (init.form) {
    body = new URLSearchParams(init.form).toString();
    headers['Content-Type'] ??= 'application/x-www-form-urlencoded';
  }
  const res = await fetch(url + path, { method, headers, body: body as unknown as string | undefined });
  const text = await res.text();
  let json: unknown = null;
  try {
    json = JSON.parse(text);
  } catch {
    /* not JSON */
  }
  const kv = Object.fromEntries(
    text
      .split(/\r?\n/)
      .filter((l) => l.includes('='))
      .map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]),
  );
  return { status: res.status, headers: res.headers, text, json, kv };
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
