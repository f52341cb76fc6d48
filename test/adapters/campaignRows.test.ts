/** Runs the CampaignRows contract against the embedded engine and PostgreSQL. */
import { rmSync } from 'node:fs';
import { JournaledStore } from '../../adapters/store/journaled.ts';
import { EmbeddedCampaignRows } from '../../adapters/store/campaignTable.ts';
import { PostgresCampaignRows } from '../../adapters/postgres/campaignRows.ts';
import { tempDir } from '../helpers.ts';
import { migratedDatabase, postgresMissing } from '../postgres.ts';
import { campaignRowsContract } from './campaignRows.contract.ts';

campaignRowsContract({
  name: 'embedded',
  async make() {
    const dir = tempDir();
    const stores = [await JournaledStore.open(dir, EmbeddedCampaignRows.tables)];
    return {
      rows: new EmbeddedCampaignRows(stores[0]!),
      async reopen() {
        // One process owns the folder: a reopen is the same process started again.
        await stores.at(-1)!.close();
        const store = await JournaledStore.open(dir, EmbeddedCampaignRows.tables);
        stores.push(store);
        return new EmbeddedCampaignRows(store);
      },
      async close() {
        await stores.at(-1)!.close();
        rmSync(dir, { recursive: true, force: true });
      },
    };
  },
});

campaignRowsContract({
  name: 'PostgreSQL',
  missing: postgresMissing,
  async make() {
    const pg = await migratedDatabase('campaigns');
    const another = async () => new PostgresCampaignRows(await pg.another());
    return { rows: new PostgresCampaignRows(pg.db), reopen: another, second: another, close: pg.close };
  },
});
