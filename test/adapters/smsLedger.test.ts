/** Runs the SMS ledger contract against the embedded engine and PostgreSQL. */
import { rmSync } from 'node:fs';
import { JournaledStore } from '../../adapters/store/journaled.ts';
import { EmbeddedSmsLedger } from '../../adapters/store/smsLedgerTable.ts';
import { PostgresSmsLedger } from '../../adapters/postgres/smsLedger.ts';
import { tempDir } from '../helpers.ts';
import { migratedDatabase, postgresMissing } from '../postgres.ts';
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
    const pg = await migratedDatabase('ledger');
    return {
      ledger: new PostgresSmsLedger(pg.db),
      reopen: async () => new PostgresSmsLedger(await pg.another()),
      close: pg.close,
    };
  },
});
