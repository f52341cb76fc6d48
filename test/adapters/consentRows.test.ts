/** Runs the ConsentRows contract against the embedded engine and PostgreSQL. */
import { rmSync } from 'node:fs';
import { JournaledStore } from '../../adapters/store/journaled.ts';
import { EmbeddedConsentRows } from '../../adapters/store/consentTable.ts';
import { consentTables } from '../../runtime/consents.ts';
import { Database } from '../../adapters/postgres/database.ts';
import { migrate } from '../../adapters/postgres/schema.ts';
import { PostgresConsentRows } from '../../adapters/postgres/consentRows.ts';
import { tempDir } from '../helpers.ts';
import { dropDatabase, newDatabase, postgresMissing } from '../postgres.ts';
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
    const url = await newDatabase('consents');
    const dbs = [new Database(url)];
    await migrate(dbs[0]!);
    const another = async () => {
      const db = new Database(url);
      dbs.push(db);
      return new PostgresConsentRows(db);
    };
    return {
      rows: new PostgresConsentRows(dbs[0]!),
      reopen: another,
      second: another,
      async close() {
        await Promise.all(dbs.map((d) => d.close()));
        await dropDatabase(url);
      },
    };
  },
});
