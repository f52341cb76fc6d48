/**
 * A real PostgreSQL server for the tests, on loopback: `SMSPDS_TEST_DATABASE_URL` when set (a
 * role that may create databases), otherwise a throwaway cluster this process makes with the
 * installed server's `initdb` and `pg_ctl` (Debian's `postgresql` package; `.ci/run` installs
 * it), started once per test run and stopped when the run ends. Each suite gets a database of
 * its own.
 *
 * Without either, the PostgreSQL suites are registered as skipped — `npm test` counts them under
 * "Skipped" in its summary — except under CI, where a missing server is a failure.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { Database } from '../adapters/postgres/database.ts';
import { migrate } from '../adapters/postgres/schema.ts';

const URL_ENV = 'SMSPDS_TEST_DATABASE_URL';

/** The newest installed server's binaries, or null. */
function serverBin(): string | null {
  const base = '/usr/lib/postgresql';
  if (!existsSync(base)) return null;
  const versions = readdirSync(base)
    .filter((v) => existsSync(join(base, v, 'bin', 'initdb')))
    .sort((a, b) => Number(b) - Number(a));
  return versions[0] ? join(base, versions[0], 'bin') : null;
}

/**
 * Whether the PostgreSQL suites can run here (decided without starting anything);
 * `SMSPDS_TEST_NO_POSTGRES=1` leaves them out on a machine that has a server.
 */
export const postgresAvailable =
  !process.env.SMSPDS_TEST_NO_POSTGRES && Boolean(process.env[URL_ENV] || serverBin());
/** Why they cannot, for the skipped suites' notice. */
export const postgresMissing =
  postgresAvailable || process.env.CI
    ? null // under CI a missing server fails the suites that need it
    : process.env.SMSPDS_TEST_NO_POSTGRES
      ? 'SMSPDS_TEST_NO_POSTGRES is set'
      : `no PostgreSQL: set ${URL_ENV} or apt-get install -y postgresql`;

let server: Promise<string> | null = null;
let databases = 0;

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}

/** Start the throwaway cluster; its admin URL. */
async function startCluster(): Promise<string> {
  const bin = serverBin();
  if (!bin) throw new Error(postgresMissing!);
  const dir = mkdtempSync(join(tmpdir(), 'smspds-pg-'));
  const data = join(dir, 'data');
  // The server refuses to run as root: the cluster belongs to the `postgres` user then.
  const asRoot = process.getuid?.() === 0;
  const run = (cmd: string, args: string[]) => {
    const [file, argv] = asRoot
      ? ['runuser', ['-u', 'postgres', '--', join(bin, cmd), ...args]]
      : [join(bin, cmd), args];
    execFileSync(file, argv, { stdio: ['ignore', 'ignore', 'pipe'] });
  };
  if (asRoot) {
    const uid = Number(execFileSync('id', ['-u', 'postgres']).toString());
    const gid = Number(execFileSync('id', ['-g', 'postgres']).toString());
    chownSync(dir, uid, gid);
  }
  run('initdb', ['-D', data, '-A', 'trust', '-U', 'postgres', '-E', 'UTF8', '--no-locale', '--no-sync']);
  const port = await freePort();
  const options = [
    `-p ${port}`,
    `-k ${dir}`,
    '-c listen_addresses=127.0.0.1',
    '-c max_connections=300',
    '-c shared_buffers=64MB',
  ].join(' ');
  run('pg_ctl', ['-D', data, '-o', options, '-l', join(dir, 'server.log'), '-w', '-t', '60', 'start']);
  process.once('exit', () => {
    const stop = asRoot
      ? ['runuser', ['-u', 'postgres', '--', join(bin, 'pg_ctl'), '-D', data, '-m', 'immediate', 'stop']]
      : [join(bin, 'pg_ctl'), ['-D', data, '-m', 'immediate', 'stop']];
    spawnSync(stop[0] as string, stop[1] as string[], { stdio: 'ignore' });
    rmSync(dir, { recursive: true, force: true });
  });
  return `postgres://postgres@127.0.0.1:${port}/postgres`;
}

/** The admin URL of the test server, started on first use. */
export function testServer(): Promise<string> {
  server ??= process.env[URL_ENV] ? Promise.resolve(process.env[URL_ENV]!) : startCluster();
  return server;
}

/** A new, empty database on the test server; its URL. */
export async function newDatabase(label = 'test'): Promise<string> {
  const admin = await testServer();
  const name = `smspds_${label.replace(/\W/g, '_').toLowerCase()}_${process.pid}_${++databases}`;
  const client = new pg.Client({ connectionString: admin });
  await client.connect();
  try {
    await client.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    await client.query(`CREATE DATABASE ${name}`);
  } finally {
    await client.end();
  }
  const url = new URL(admin);
  url.pathname = `/${name}`;
  return url.toString();
}

/** Drop a database made by `newDatabase` (its connections cut). */
export async function dropDatabase(url: string): Promise<void> {
  const name = new URL(url).pathname.slice(1);
  const client = new pg.Client({ connectionString: await testServer() });
  await client.connect();
  try {
    await client.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
  } finally {
    await client.end();
  }
}

/**
 * A new database with the schema applied, for an engine's contract suite: its first connection
 * pool, another one on demand (as another instance, or a restarted one, has), and the teardown
 * that closes them all and drops the database.
 */
export async function migratedDatabase(label: string) {
  const url = await newDatabase(label);
  const pools = [new Database(url)];
  await migrate(pools[0]!);
  return {
    db: pools[0]!,
    async another(): Promise<Database> {
      const db = new Database(url);
      pools.push(db);
      return db;
    },
    async close(): Promise<void> {
      await Promise.all(pools.map((d) => d.close()));
      await dropDatabase(url);
    },
  };
}
