/** Runs the CardDirectory contract against every engine: embedded and PostgreSQL. */
import { rmSync } from 'node:fs';
import { JournaledStore } from '../../adapters/store/journaled.ts';
import { EmbeddedCardDirectory } from '../../adapters/cards/lowdb.ts';
import { tempDir } from '../helpers.ts';
import { cardDirectoryContract } from './cardDirectory.contract.ts';
import { PostgresCardDirectory } from '../../adapters/postgres/cardDirectory.ts';
import { migratedDatabase, postgresMissing } from '../postgres.ts';

cardDirectoryContract({
  name: 'embedded (journaled lowdb store)',
  async make() {
    const dir = tempDir();
    let store = await JournaledStore.open(dir, EmbeddedCardDirectory.tables);
    return {
      directory: new EmbeddedCardDirectory(store),
      async reopen() {
        // A crash, not a clean close: the journal alone must carry every change.
        store = await JournaledStore.open(dir, EmbeddedCardDirectory.tables);
        return new EmbeddedCardDirectory(store);
      },
      async close() {
        await store.close();
        rmSync(dir, { recursive: true, force: true });
      },
    };
  },
});

cardDirectoryContract({
  name: 'PostgreSQL',
  missing: postgresMissing,
  async make() {
    const pg = await migratedDatabase('cards');
    return {
      directory: new PostgresCardDirectory(pg.db),
      // Another connection, as a restarted instance has: only what was committed is there.
      reopen: async () => new PostgresCardDirectory(await pg.another()),
      close: pg.close,
    };
  },
});
