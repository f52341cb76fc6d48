/**
 * The embedded engine's campaign rows: tables of the journaled store (definitions, run counts,
 * batches in flight, retry lists, delivery sweeps), each run's outcome lines as the `recipients`
 * archive under the run's id, and each run's plan as a file `plan-<run>.csv`. One process owns
 * the folder; a change is applied before its first `await` and on disk when it resolves (the
 * store's group commit).
 */
import type { RecordStore, Table } from '../../runtime/ports.ts';
import { addCounts, type BookChange, type CampaignRows } from '../../runtime/campaigns/rows.ts';
import { replacePlanPhone } from '../../runtime/campaigns/plan.ts';
import {
  emptyCounts,
  type BatchInFlight,
  type CampaignDef,
  type DeliverySweep,
  type Recipient,
  type RetryList,
  type RunCounts,
} from '../../runtime/campaigns/types.ts';

const LINES = 'recipients';
const planFile = (runId: string) => `plan-${runId}.csv`;

export class EmbeddedCampaignRows implements CampaignRows {
  /**
   * The store's tables: `recipients` holds only per-recipient `sending` rows written by earlier
   * versions, taken up once at start (`migrateEarlier`).
   */
  static readonly tables = [
    'campaigns',
    'recipients',
    'runCounts',
    'campaignBatches',
    'campaignSweeps',
    'campaignRetries',
  ];
  private readonly defsTable: Table<CampaignDef>;
  private readonly countsTable: Table<RunCounts>;
  private readonly batches: Table<BatchInFlight>;
  private readonly retryLists: Table<RetryList>;
  private readonly sweepTable: Table<DeliverySweep>;

  constructor(private readonly store: RecordStore) {
    this.defsTable = store.table<CampaignDef>('campaigns');
    this.countsTable = store.table<RunCounts>('runCounts');
    this.batches = store.table<BatchInFlight>('campaignBatches');
    this.retryLists = store.table<RetryList>('campaignRetries');
    this.sweepTable = store.table<DeliverySweep>('campaignSweeps');
  }

  async def(id: string) {
    return this.defsTable.get(id);
  }
  async defs() {
    return [...this.defsTable.values()];
  }
  async putDef(def: CampaignDef) {
    this.defsTable.put(def.id, def);
    await this.store.flush();
  }

  async counts(runId: string) {
    const c = this.countsTable.get(runId);
    return c && { ...c, skippedReasons: { ...c.skippedReasons } };
  }
  async inFlight(runId: string) {
    return this.batches.get(runId);
  }
  async retries(runId: string) {
    return this.retryLists.get(runId);
  }

  async commit(change: BookChange) {
    this.apply(change);
    await this.store.flush();
  }

  /** A change applied to the tables, to be on disk at the store's next commit. */
  private apply({ runId, counts, delta, batch, retries, lines }: BookChange) {
    if (counts || delta) {
      const next = counts
        ? { ...counts, skippedReasons: { ...counts.skippedReasons } }
        : (this.countsTable.get(runId) ?? emptyCounts(runId));
      if (delta) addCounts(next, delta);
      this.countsTable.put(runId, next);
    }
    if (batch === null) this.batches.delete(runId);
    else if (batch) this.batches.put(runId, batch);
    if (retries === null) this.retryLists.delete(runId);
    else if (retries) this.retryLists.put(runId, retries);
    for (const line of lines ?? []) this.store.archive(LINES, runId, line);
  }

  plan(runId: string) {
    return this.store.getBlob(planFile(runId));
  }
  putPlan(runId: string, text: string) {
    return this.store.putBlob(planFile(runId), text);
  }

  async scanLines(runId: string, visit: (line: Recipient) => void, phone?: string) {
    await this.store.flush(); // lines of a moment ago may still be pending
    await this.store.scanArchive<Recipient>(
      LINES,
      runId,
      visit,
      phone === undefined ? undefined : `"phone":${JSON.stringify(phone)}`,
    );
  }

  async runsKept() {
    return this.store.archiveDays(LINES);
  }

  async dropRun(runId: string) {
    await this.store.removeArchive(LINES, runId);
    await this.store.removeBlob(planFile(runId));
  }

  async erasePhone(phone: string, subject: string) {
    let changed = 0;
    for (const runId of this.store.archiveDays(LINES)) {
      const c = await this.store.rewriteArchive<Recipient>(LINES, runId, (r) =>
        r.phone === phone ? { ...r, phone: subject } : r,
      );
      changed += c.changed;
      const plan = await this.store.getBlob(planFile(runId));
      if (plan?.includes(`${phone},`))
        await this.store.putBlob(planFile(runId), replacePlanPhone(plan, phone, subject));
    }
    return changed;
  }

  async sweeps() {
    return [...this.sweepTable.values()];
  }
  async putSweep(sweep: DeliverySweep) {
    this.sweepTable.put(sweep.runId, sweep);
    await this.store.flush();
  }
  async dropSweep(runId: string) {
    this.sweepTable.delete(runId);
    await this.store.flush();
  }

  /**
   * Earlier versions kept a row per recipient in `sending` (table `recipients`) instead of the
   * batch's in-flight row. Once, when the service opens the store: each such row becomes a
   * position of its run's in-flight row (taken again, like a retry), so the reconciliation after
   * a restart settles it the one way, and the old rows go.
   */
  async migrateEarlier(): Promise<number> {
    const rows = this.store.table<Recipient>('recipients');
    const byRun = new Map<string, Recipient[]>();
    for (const r of rows.values()) byRun.set(r.runId, [...(byRun.get(r.runId) ?? []), r]);
    let moved = 0;
    for (const [runId, list] of byRun) {
      const position = new Map<string, number>();
      for (const line of ((await this.plan(runId)) ?? '').split('\n'))
        if (line) position.set(line.slice(0, line.indexOf(',')), position.size);
      const cursor = this.countsTable.get(runId)?.cursor ?? 0;
      const row = this.batches.get(runId) ?? {
        runId,
        from: cursor,
        to: cursor,
        at: new Date().toISOString(),
      };
      const again = new Set(row.again ?? []);
      for (const r of list) {
        const i = position.get(r.phone);
        if (i !== undefined && (i < row.from || i >= row.to)) again.add(i);
        rows.delete(`${r.runId}:${r.phone}`);
        moved += 1;
      }
      this.batches.put(runId, again.size ? { ...row, again: [...again].sort((a, b) => a - b) } : row);
    }
    if (moved) await this.store.flush();
    return moved;
  }
}
