/** Runs the DeliveryRows contract against the embedded engine and PostgreSQL. */
import { rmSync } from 'node:fs';
import { JournaledStore } from '../../adapters/store/journaled.ts';
import { EmbeddedDeliveryRows } from '../../adapters/store/deliveryTable.ts';
import { PostgresDeliveryRows } from '../../adapters/postgres/deliveryRows.ts';
import { tempDir } from '../helpers.ts';
import { migratedDatabase, postgresMissing } from '../postgres.ts';
import { deliveryRowsContract } from './deliveryRows.contract.ts';

deliveryRowsContract({
  name: 'embedded',
  async make() {
    const dir = tempDir();
    const store = await JournaledStore.open(dir, ['deliveries']);
    return {
      rows: new EmbeddedDeliveryRows(store),
      async close() {
        await store.close();
        rmSync(dir, { recursive: true, force: true });
      },
    };
  },
});

deliveryRowsContract({
  name: 'PostgreSQL',
  missing: postgresMissing,
  async make() {
    const pg = await migratedDatabase('deliveries');
    return {
      rows: new PostgresDeliveryRows(pg.db),
      second: async () => new PostgresDeliveryRows(await pg.another()),
      close: pg.close,
    };
  },
});
