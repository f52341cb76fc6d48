/** Runs the DeliveryRows contract against the embedded engine and PostgreSQL. */
import { rmSync } from 'node:fs';
import { JournaledStore } from '../../adapters/store/journaled.ts';
import { EmbeddedDeliveryRows } from '../../adapters/store/deliveryTable.ts';
import { Database } from '../../adapters/postgres/database.ts';
import { migrate } from '../../adapters/postgres/schema.ts';
import { PostgresDeliveryRows } from '../../adapters/postgres/deliveryRows.ts';
import { tempDir } from '../helpers.ts';
import { dropDatabase, newDatabase, postgresMissing } from '../postgres.ts';
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
    const url = await newDatabase('deliveries');
    const dbs = [new Database(url)];
    await migrate(dbs[0]!);
    return {
      rows: new PostgresDeliveryRows(dbs[0]!),
      async second() {
        const db = new Database(url);
        dbs.push(db);
        return new PostgresDeliveryRows(db);
      },
      async close() {
        await Promise.all(dbs.map((d) => d.close()));
        await dropDatabase(url);
      },
    };
  },
});
