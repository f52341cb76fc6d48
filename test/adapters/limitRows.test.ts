/** Runs the LimitRows contract against the embedded engine and PostgreSQL. */
import { rmSync } from 'node:fs';
import { JournaledStore } from '../../adapters/store/journaled.ts';
import { EmbeddedLimitRows } from '../../adapters/store/limitTable.ts';
import { PostgresLimitRows } from '../../adapters/postgres/limitRows.ts';
import { tempDir } from '../helpers.ts';
import { migratedDatabase, postgresMissing } from '../postgres.ts';
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
    const pg = await migratedDatabase('limits');
    return {
      rows: new PostgresLimitRows(pg.db),
      second: async () => new PostgresLimitRows(await pg.another()),
      close: pg.close,
    };
  },
});
