/** Runs the LimitRows contract against the embedded engine and PostgreSQL. */
import { rmSync } from 'node:fs';
import { JournaledStore } from '../../adapters/store/journaled.ts';
import { EmbeddedLimitRows } from '../../adapters/store/limitTable.ts';
import { Database } from '../../adapters/postgres/database.ts';
import { migrate } from '../../adapters/postgres/schema.ts';
import { PostgresLimitRows } from '../../adapters/postgres/limitRows.ts';
import { tempDir } from '../helpers.ts';
import { dropDatabase, newDatabase, postgresMissing } from '../postgres.ts';
import { limitRowsContract } from './limitRows.contract.ts';

limitRowsContract({
  name: 'embedded',
  async make() {
    const dir = tempDir();
    const store = await JournaledStore.open(dir, ['limits']);
    return {
      rows: new EmbeddedLimitRows(store),
      async close() {
        await store.close();
        rmSync(dir, { recursive: true, force: true });
      },
    };
  },
});

limitRowsContract({
  name: 'PostgreSQL',
  missing: postgresMissing,
  async make() {
    const url = await newDatabase('limits');
    const dbs = [new Database(url)];
    await migrate(dbs[0]!);
    return {
      rows: new PostgresLimitRows(dbs[0]!),
      async second() {
        const db = new Database(url);
        dbs.push(db);
        return new PostgresLimitRows(db);
      },
      async close() {
        await Promise.all(dbs.map((d) => d.close()));
        await dropDatabase(url);
      },
    };
  },
});
