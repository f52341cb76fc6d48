/** Shared test set-up: a service in this process on 127.0.0.1 with a temporary data folder. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { parseConfig, type ConfigInput } from '../runtime/config.ts';
import { buildService, listen, logRedact } from '../compose.ts';
import type { Clock, SmsSender } from '../runtime/ports.ts';
import { FakeSmsSender } from './fakes/sms.ts';

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
      if (!keepData && !opts.dataDir) rmSync(dataDir, { recursive: true, force: true });
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
