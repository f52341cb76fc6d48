/**
 * A store engine: every port the runtime keeps its data behind, from one place. Two engines:
 *
 * - `embedded` (the default): the journaled store in the data folder. One process owns the
 *   folder; the right choice for one venue.
 * - `postgres`: tables of one PostgreSQL database that any number of instances share (a chain's
 *   head office behind a load balancer). The schema is created and migrated on start; an
 *   instance refuses a database whose schema is newer than it knows.
 */
import type { CardDirectory, NamedBlobs } from '../runtime/ports.ts';
import type { WorkflowStore } from '../runtime/workflows/store.ts';
import type { ConsentRows } from '../runtime/consents.ts';
import type { LimitRows } from '../runtime/limits.ts';
import type { SmsLedgerRows } from '../runtime/sms/pinSender.ts';
import type { DeliveryRows } from '../runtime/sms/delivery.ts';
import type { TokenRows } from '../runtime/tokens.ts';
import type { CampaignRows } from '../runtime/campaigns/rows.ts';
import { JournaledStore } from './store/journaled.ts';
import { EmbeddedWorkflowStore } from './store/workflowTable.ts';
import { EmbeddedCardDirectory } from './cards/lowdb.ts';
import { EmbeddedConsentRows } from './store/consentTable.ts';
import { EmbeddedLimitRows } from './store/limitTable.ts';
import { EmbeddedSmsLedger } from './store/smsLedgerTable.ts';
import { EmbeddedDeliveryRows } from './store/deliveryTable.ts';
import { EmbeddedCampaignRows } from './store/campaignTable.ts';
import { TokenFile } from './store/tokenFile.ts';
import { consentTables } from '../runtime/consents.ts';
import { smsLedgerTables } from '../runtime/sms/pinSender.ts';
import { limitTables } from '../runtime/limits.ts';
import { deliveryTables } from '../runtime/sms/delivery.ts';
import { Database, redactUrl } from './postgres/database.ts';
import { migrate } from './postgres/schema.ts';
import { PostgresWorkflowStore } from './postgres/workflowStore.ts';
import { PostgresCardDirectory } from './postgres/cardDirectory.ts';
import { PostgresConsentRows } from './postgres/consentRows.ts';
import { PostgresLimitRows } from './postgres/limitRows.ts';
import { PostgresSmsLedger } from './postgres/smsLedger.ts';
import { PostgresDeliveryRows } from './postgres/deliveryRows.ts';
import { PostgresTokenRows } from './postgres/tokenRows.ts';
import { PostgresCampaignRows } from './postgres/campaignRows.ts';
import { PostgresBlobs } from './postgres/namedBlobs.ts';

export interface Engine {
  name: 'embedded' | 'postgres';
  /** Where the data is, for the banner and logs (a database URL without its password). */
  where: string;
  workflows: WorkflowStore;
  directory: CardDirectory;
  consentRows: ConsentRows;
  limitRows: LimitRows;
  smsLedger: SmsLedgerRows;
  deliveryRows: DeliveryRows;
  tokenRows: TokenRows;
  campaignRows: CampaignRows;
  blobs: NamedBlobs;
  /**
   * Whether the engine takes writes, and a wait for every change it took to be durable (what an
   * answer waits for before it reports a change).
   */
  state: { readonly healthy: boolean; flush(): Promise<void> };
  /** After an erasure: no earlier copy of a changed value left in the engine's files. */
  purge(): Promise<void>;
  /** Take up data written by earlier versions; how many records. */
  migrateEarlier(): Promise<number>;
  /** The embedded store (backups, tests); undefined on PostgreSQL. */
  journaled?: JournaledStore;
  /** The PostgreSQL connection (moving a venue in); undefined on the embedded engine. */
  database?: Database;
  /** Settles when the engine can no longer write (the embedded store's disk refused). */
  failed: Promise<Error>;
  close(): Promise<void>;
  /** Let go, writing nothing more. */
  abandon(): Promise<void>;
}

export async function openEmbeddedEngine(
  dataDir: string,
  hooks: { onFailure(err: Error): void; onCommit(ms: number): void },
): Promise<Engine> {
  let storeFailed!: (err: Error) => void;
  const failed = new Promise<Error>((resolve) => (storeFailed = resolve));
  const store = await JournaledStore.open(
    dataDir,
    [
      ...EmbeddedWorkflowStore.tables,
      ...EmbeddedCardDirectory.tables,
      ...consentTables,
      ...smsLedgerTables,
      ...limitTables,
      ...deliveryTables,
      ...EmbeddedCampaignRows.tables,
    ],
    {
      onFailure: (err) => {
        hooks.onFailure(err);
        storeFailed(err);
      },
      onCommit: hooks.onCommit,
    },
  );
  const campaignRows = new EmbeddedCampaignRows(store);
  return {
    name: 'embedded',
    where: dataDir,
    workflows: new EmbeddedWorkflowStore(store),
    directory: new EmbeddedCardDirectory(store),
    consentRows: new EmbeddedConsentRows(store),
    limitRows: new EmbeddedLimitRows(store),
    smsLedger: new EmbeddedSmsLedger(store),
    deliveryRows: new EmbeddedDeliveryRows(store),
    tokenRows: new TokenFile(dataDir),
    campaignRows,
    blobs: store,
    state: store,
    purge: async () => {
      await store.flush();
      await store.compact();
    },
    migrateEarlier: () => campaignRows.migrateEarlier(),
    journaled: store,
    failed,
    close: () => store.close(),
    abandon: () => store.abandon(),
  };
}

/** Tables an erasure changes rows of: vacuumed after it, so dead row versions go. */
const ERASED_TABLES = [
  'workflows',
  'archive',
  'cards',
  'consents',
  'limit_windows',
  'limit_days',
  'deliveries',
  'sms_ledger',
  'campaign_lines',
  'campaign_plans',
];

export async function openPostgresEngine(
  url: string,
  options: { pool?: number; log?: (line: string) => void } = {},
): Promise<Engine> {
  const db = new Database(url, { max: options.pool });
  try {
    await migrate(db, options.log);
  } catch (err) {
    await db.close();
    throw err;
  }
  const workflows = new PostgresWorkflowStore(db);
  let vacuuming = Promise.resolve();
  return {
    name: 'postgres',
    where: redactUrl(url),
    workflows,
    directory: new PostgresCardDirectory(db),
    consentRows: new PostgresConsentRows(db),
    limitRows: new PostgresLimitRows(db),
    smsLedger: new PostgresSmsLedger(db),
    deliveryRows: new PostgresDeliveryRows(db),
    tokenRows: new PostgresTokenRows(db),
    campaignRows: new PostgresCampaignRows(db),
    blobs: new PostgresBlobs(db),
    // Every write is committed before it resolves: nothing waits to be made durable.
    state: {
      get healthy() {
        return db.healthy;
      },
      flush: async () => undefined,
    },
    purge: async () => {
      // VACUUM marks the erased rows' old versions dead and their space free (it cannot run
      // inside a transaction). The erasure is committed already: the vacuum runs after the
      // answer, as it may take minutes on a large archive (a shutdown waits for it). See the
      // README's "Chain deployment" on what stays in WAL archives.
      vacuuming = vacuuming
        .then(async () => {
          for (const table of ERASED_TABLES) await db.query(`VACUUM ${table}`);
        })
        .catch((err: Error) => options.log?.(`vacuum after an erasure failed: ${err.message}`));
    },
    migrateEarlier: async () => 0,
    database: db,
    failed: new Promise<Error>(() => undefined),
    close: async () => {
      await vacuuming;
      await db.close();
    },
    abandon: () => db.close(),
  };
}
