/** Runs the ConsentRows contract against the embedded engine and PostgreSQL. */
import { rmSync } from 'node:fs';
import { JournaledStore } from '../../adapters/store/journaled.ts';
import { EmbeddedConsentRows } from '../../adapters/store/consentTable.ts';
import { consentTables } from '../../runtime/consents.ts';
import { PostgresConsentRows } from '../../adapters/postgres/consentRows.ts';
import { tempDir } from '../helpers.ts';
import { migratedDatabase, postgresMissing } from '../postgres.ts';
import { consentRowsContract } from './consentRows.contract.ts';

consentRowsContract({
  name: 'embedded',
  async make() {
    const dir = tempDir();
    const stores = [await JournaledStore.open(dir, consentTables)];
    return {
      rows: new EmbeddedConsentRows(stores[0]!),
      async reopen() {
        // One process owns the folder: a reopen is the same process after a crash.
        const store = await JournaledStore.open(dir, consentTables);
        stores.push(store);
        return new EmbeddedConsentRows(store);
      },
      async close() {
        for (const store of stores) await store.abandon();
        rmSync(dir, { recursive: true, force: true });
      },
    };
  },
});

consentRowsContract({
  name: 'PostgreSQL',
  missing: postgresMissing,
  async make() {
    const pg = await migratedDatabase('consents');
    const another = async () => new PostgresConsentRows(await pg.another());
    return { rows: new PostgresConsentRows(pg.db), reopen: another, second: another, close: pg.close };
  },
});
