/**
 * `npm test`: every suite on the embedded engine, then the HTTP suites again with the service on
 * PostgreSQL (`SMSPDS_TEST_ENGINE=postgres`), each pass a uvu run of its own; one summary at the
 * end adds them up. Both passes share one PostgreSQL test server (`test/postgres.ts`), started
 * here. Without a server the second pass does not run, and the summary says so.
 *
 * Arguments narrow the first pass as uvu's do (`npm test -- test/http auth`); the second pass
 * then runs only when they name HTTP suites.
 */
import { spawn } from 'node:child_process';
import { postgresMissing, testServer } from './postgres.ts';

const UVU = ['node_modules/uvu/bin.js'];
/** Suites of the embedded folder itself (backups of the data folder): not run on PostgreSQL. */
const HTTP_ON_POSTGRES = '^(?!backup\\.)[a-zA-Z]+\\.test\\.ts$';

interface Pass {
  /** Tests run (uvu counts the skipped apart): failed = total − passed. */
  total: number;
  passed: number;
  skipped: number;
  ms: number;
  code: number;
}

function run(args: string[], env: NodeJS.ProcessEnv): Promise<Pass> {
  return new Promise((resolve) => {
    const started = performance.now();
    const child = spawn(process.execPath, ['--import', 'tsx', ...UVU, ...args], {
      env,
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let tail = '';
    child.stdout.on('data', (chunk: Buffer) => {
      process.stdout.write(chunk);
      tail = (tail + chunk.toString()).slice(-2000);
    });
    child.on('close', (code) => {
      const plain = tail.replace(/\x1b\[[0-9;]*m/g, '');
      const count = (label: string) => Number(new RegExp(`${label}:\\s+(\\d+)`).exec(plain)?.[1] ?? 0);
      resolve({
        total: count('Total'),
        passed: count('Passed'),
        skipped: count('Skipped'),
        ms: performance.now() - started,
        code: code ?? 1,
      });
    });
  });
}

const args = process.argv.slice(2);
const [dir = 'test', pattern = '\\.test\\.ts$'] = args;
const env = { ...process.env };
if (!postgresMissing && !env.SMSPDS_TEST_DATABASE_URL) env.SMSPDS_TEST_DATABASE_URL = await testServer();

const passes: Array<{ name: string; result: Pass }> = [];
process.stdout.write('\n== every suite, embedded engine ==\n');
passes.push({ name: 'embedded', result: await run([dir, pattern], env) });

const httpNamed = dir === 'test' || dir.startsWith('test/http');
let notRun: string | null = null;
if (postgresMissing) notRun = postgresMissing;
else if (!httpNamed) notRun = 'the arguments name no HTTP suite';
if (!notRun) {
  process.stdout.write('\n== HTTP suites, postgres engine ==\n');
  const second = dir.startsWith('test/http') && args[1] ? args[1] : HTTP_ON_POSTGRES;
  passes.push({
    name: 'postgres',
    result: await run(['test/http', second], { ...env, SMSPDS_TEST_ENGINE: 'postgres' }),
  });
}

const sum = (key: keyof Pass) => passes.reduce((n, p) => n + p.result[key], 0);
process.stdout.write(
  [
    '',
    '== all passes ==',
    ...passes.map(
      ({ name, result: r }) =>
        `  ${name}: ${r.passed} passed, ${r.total - r.passed} failed, ${r.skipped} skipped (${Math.round(r.ms / 1000)} s)`,
    ),
    ...(notRun ? [`  postgres: HTTP suites not run (${notRun})`] : []),
    '',
    `  Total:     ${sum('total')}`,
    `  Passed:    ${sum('passed')}`,
    `  Skipped:   ${sum('skipped')}${notRun ? ` (and the HTTP suites on PostgreSQL: ${notRun})` : ''}`,
    `  Duration:  ${Math.round(sum('ms'))}ms`,
    '',
  ].join('\n'),
);
process.exit(passes.some((p) => p.result.code !== 0) ? 1 : 0);
