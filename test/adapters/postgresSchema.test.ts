/** The PostgreSQL schema: migrations applied once, in order, and a newer schema refused. */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { Database } from '../../adapters/postgres/database.ts';
import {
  knownMigrations,
  migrate,
  MIGRATIONS_TABLE,
  SchemaTooNewError,
} from '../../adapters/postgres/schema.ts';
import { dropDatabase, newDatabase, postgresMissing } from '../postgres.ts';

const Schema = suite<{ url: string; db: Database }>('PostgreSQL schema');

if (postgresMissing) {
  Schema.skip('migrations apply once and a newer schema is refused', () => undefined);
} else {
  Schema.before.each(async (ctx) => {
    ctx.url = await newDatabase('schema');
    ctx.db = new Database(ctx.url);
  });
  Schema.after.each(async (ctx) => {
    await ctx.db.close();
    await dropDatabase(ctx.url);
  });

  Schema('migrations apply once, in order, from several instances at once', async ({ db, url }) => {
    const others = [new Database(url), new Database(url)];
    try {
      const applied = await Promise.all([db, ...others].map((d) => migrate(d)));
      // The tool's lock lets one instance apply each migration; the others find nothing to do.
      assert.equal(applied.flat().sort(), knownMigrations());
      assert.equal(await migrate(db), []);
      const { rows } = await db.query<{ name: string }>(`SELECT name FROM ${MIGRATIONS_TABLE} ORDER BY id`);
      assert.equal(
        rows.map((r) => r.name),
        knownMigrations(),
      );
    } finally {
      await Promise.all(others.map((d) => d.close()));
    }
  });

  Schema('a schema migrated by a newer version is refused, naming the migration', async ({ db }) => {
    await migrate(db);
    await db.query(`INSERT INTO ${MIGRATIONS_TABLE} (name, run_on) VALUES ('9999_from_the_future', now())`);
    let error: unknown;
    await migrate(db).catch((err) => (error = err));
    assert.instance(error, SchemaTooNewError);
    assert.match(String((error as Error).message), /9999_from_the_future/);
  });
}

Schema.run();
