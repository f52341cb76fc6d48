/** Runs the WorkflowStore contract against the embedded engine and PostgreSQL. */
import { rmSync } from 'node:fs';
import { JournaledStore } from '../../adapters/store/journaled.ts';
import { EmbeddedWorkflowStore } from '../../adapters/store/workflowTable.ts';
import { PostgresWorkflowStore } from '../../adapters/postgres/workflowStore.ts';
import type { WorkflowRecord } from '../../runtime/workflows/types.ts';
import { tempDir } from '../helpers.ts';
import { migratedDatabase, postgresMissing } from '../postgres.ts';
import { workflowStoreContract } from './workflowStore.contract.ts';
import { archiveDay } from '../../runtime/workflows/archiveDay.ts';

workflowStoreContract({
  name: 'embedded',
  async make() {
    const dir = tempDir();
    const store = await JournaledStore.open(dir, EmbeddedWorkflowStore.tables);
    const workflows = new EmbeddedWorkflowStore(store);
    return {
      store: workflows,
      async archived(kind, id) {
        await store.settled();
        const day = archiveDay({ id, createdAt: '' } as WorkflowRecord);
        return store.findArchived<WorkflowRecord>(kind, day, (r) => r.id === id);
      },
      async close() {
        await store.close();
        rmSync(dir, { recursive: true, force: true });
      },
    };
  },
});

workflowStoreContract({
  name: 'PostgreSQL',
  missing: postgresMissing,
  async make() {
    const pg = await migratedDatabase('workflows');
    return {
      store: new PostgresWorkflowStore(pg.db),
      async archived(kind, id) {
        const { rows } = await pg.db.query<{ record: WorkflowRecord }>(
          'SELECT record FROM archive WHERE kind = $1 AND id = $2 ORDER BY seq DESC LIMIT 1',
          [kind, id],
        );
        return rows[0]?.record;
      },
      second: async () => new PostgresWorkflowStore(await pg.another()),
      close: pg.close,
    };
  },
});
