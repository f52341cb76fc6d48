/**
 * The PostgreSQL schema, versioned by node-pg-migrate: SQL files in `migrations/`, applied in
 * order on start (under the tool's advisory lock, so instances starting together apply each
 * once), recorded in `smspds_migrations`. An instance refuses to start against a schema newer
 * than it knows — one that a later version migrated — rather than write rows it does not
 * understand.
 */
import { readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { runner } from 'node-pg-migrate';
import { projectRoot } from '../../runtime/projectRoot.ts';
import type { Database } from './database.ts';

export const MIGRATIONS_TABLE = 'smspds_migrations';
const dir = fileURLToPath(new URL('adapters/postgres/migrations/', projectRoot));

/** The migrations this version knows, in order (file names without `.sql`). */
export function knownMigrations(): string[] {
  return readdirSync(dir)
    .filter((f) => f.endsWith('.sql'))
    .map((f) => f.slice(0, -4))
    .sort();
}

export class SchemaTooNewError extends Error {
  constructor(readonly unknown: string[]) {
    super(
      `the database schema is newer than this version of SMS PDS knows (${unknown.join(', ')}): ` +
        'run the newer version, or restore a backup taken before the upgrade',
    );
    this.name = 'SchemaTooNewError';
  }
}

/** Migrations already applied to the database, in order (none on an empty one). */
export async function appliedMigrations(db: Database): Promise<string[]> {
  const { rows } = await db.query<{ exists: boolean }>('SELECT to_regclass($1) IS NOT NULL AS exists', [
    MIGRATIONS_TABLE,
  ]);
  if (!rows[0]?.exists) return [];
  const applied = await db.query<{ name: string }>(
    `SELECT name FROM ${MIGRATIONS_TABLE} ORDER BY run_on, id`,
  );
  return applied.rows.map((r) => r.name);
}

/**
 * Bring the schema up to this version; the migrations applied now. Throws SchemaTooNewError
 * when the database carries a migration this version does not have.
 */
export async function migrate(
  db: Database,
  log: (line: string) => void = () => undefined,
): Promise<string[]> {
  const known = new Set(knownMigrations());
  const unknown = (await appliedMigrations(db)).filter((name) => !known.has(name));
  if (unknown.length) throw new SchemaTooNewError(unknown);
  const client = await db.pool.connect();
  try {
    const ran = await runner({
      dbClient: client,
      dir,
      migrationsTable: MIGRATIONS_TABLE,
      direction: 'up',
      checkOrder: true,
      singleTransaction: true,
      advisoryLockMode: 'wait',
      log: () => undefined,
      logger: { debug: () => undefined, info: () => undefined, warn: log, error: log },
    });
    for (const m of ran) log(`schema: applied ${m.name}`);
    return ran.map((m) => m.name);
  } finally {
    client.release();
  }
}
