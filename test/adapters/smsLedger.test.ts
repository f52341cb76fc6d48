/** Runs the SMS ledger contract against the embedded engine and PostgreSQL. */
import { rmSync } from 'node:fs';
import { JournaledStore } from '../../adapters/store/journaled.ts';
import { EmbeddedSmsLedger } from '../../adapters/store/smsLedgerTable.ts';
import { Database } from '../../adapters/postgres/database.ts';
import { migrate } from '../../adapters/postgres/schema.ts';
import { PostgresSmsLedger } from '../../adapters/postgres/smsLedger.ts';
import { tempDir } from '../helpers.ts';
import { dropDatabase, newDatabase, postgresMissing } from '../postgres.ts';
import { smsLedgerContract } from './smsLedger.contract.ts';

smsLedgerContract({
  name: 'embedded',
  async make() {
    const dir = tempDir();
    const stores = [await JournaledStore.open(dir, ['smsLedger'])];
    return {
      ledger: new EmbeddedSmsLedger(stores[0]!),
      async reopen() {
        // A crash: the first store is dropped without a close, the journal alone carries it.
        const store = await JournaledStore.open(dir, ['smsLedger']);
        stores.push(store);
        return new EmbeddedSmsLedger(store);
      },
      async close() {
        for (const store of stores) await store.abandon();
        rmSync(dir, { recursive: true, force: true });
      },
    };
  },
});

smsLedgerContract({
  name: 'PostgreSQL',
  missing: postgresMissing,
  async make() {
    const url = await newDatabase('ledger');
    const dbs = [new Database(url)];
    await migrate(dbs[0]!);
    return {
      ledger: new PostgresSmsLedger(dbs[0]!),
      async reopen() {
        const db = new Database(url);
        dbs.push(db);
        return new PostgresSmsLedger(db);
      },
      async close() {
        await Promise.all(dbs.map((d) => d.close()));
        await dropDatabase(url);
      },
    };
  },
});
