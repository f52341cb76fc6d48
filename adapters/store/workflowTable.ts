/**
 * The embedded engine's workflow store: live workflows in the journaled store's `workflows`
 * table, closed ones in its archive (a file per kind and day, with a summary of the keys each
 * day holds, `ArchiveKeys`, so a search reads only the days that may match). One process owns a
 * data folder (`lock.ts`), so its version checks, due-time index and key serialization live in
 * this process and are exact.
 *
 * The due-time index is a binary heap of (due, id) that is corrected lazily: an entry whose
 * workflow has closed or moved its due time is dropped when it reaches the top.
 */
import type { RecordStore, Table } from '../../runtime/ports.ts';
import type { ArchiveKey, WorkflowStore } from '../../runtime/workflows/store.ts';
import { ArchiveKeys } from '../../runtime/workflows/archiveKeys.ts';
import type { StoredWorkflow, WorkflowRecord } from '../../runtime/workflows/types.ts';
import { archiveDay } from '../../runtime/workflows/archiveDay.ts';
import { KeyedQueue } from '../../runtime/keyedQueue.ts';

type Due = { at: number; id: string };

export class EmbeddedWorkflowStore implements WorkflowStore {
  static readonly tables = ['workflows'];
  private readonly table: Table<StoredWorkflow>;
  private readonly heap: Due[] = [];
  private readonly byPhone = new Map<string, Set<string>>();
  private readonly queues = new KeyedQueue();
  private readonly keys: ArchiveKeys;

  constructor(private readonly store: RecordStore) {
    this.table = store.table<StoredWorkflow>('workflows');
    this.keys = new ArchiveKeys(store);
    for (const w of this.table.values()) this.index(undefined, w);
  }

  async get(id: string): Promise<StoredWorkflow | undefined> {
    return this.table.get(id);
  }

  /** The stored row as it is now, without a wait (this process is the only writer). */
  peek(id: string): StoredWorkflow | undefined {
    return this.table.get(id);
  }

  async put(next: StoredWorkflow, expected: number | null): Promise<boolean> {
    const current = this.table.get(next.id);
    if ((current?.version ?? null) !== expected) return false;
    this.table.put(next.id, next);
    this.index(current, next);
    return true;
  }

  async close(closed: WorkflowRecord, expected: number | null): Promise<boolean> {
    const current = this.table.get(closed.id);
    if (current && (current.version ?? null) !== expected) return false;
    if (current) {
      this.table.delete(closed.id);
      this.index(current, undefined);
    }
    await this.archive(closed);
    return true;
  }

  /** One process runs every effect of the folder: a claim always holds. */
  async claimEffects(): Promise<boolean> {
    return true;
  }

  async archive(closed: WorkflowRecord): Promise<void> {
    const day = archiveDay(closed);
    this.store.archive(closed.kind, day, closed);
    this.keys.added(closed.kind, day, closed);
  }

  findArchived(kind: string, day: string, id: string): Promise<WorkflowRecord | undefined> {
    return this.store.findArchived<WorkflowRecord>(
      kind,
      day,
      (r) => r.id === id,
      `"id":${JSON.stringify(id)}`,
    );
  }

  async archiveDays(kind: string): Promise<string[]> {
    return this.store.archiveDays(kind);
  }

  async scanArchive(kind: string, day: string, visit: (r: WorkflowRecord) => void, only?: ArchiveKey) {
    if (only && !(await this.keys.mayHold(kind, day, only.field, only.value))) return; // surely not there
    // Text every matching line contains (records are written by JSON.stringify): only those are parsed.
    const needle = only ? `"${only.field}":${JSON.stringify(only.value)}` : undefined;
    await this.store.scanArchive<WorkflowRecord>(kind, day, visit, needle);
  }

  async rewriteArchive(
    kind: string,
    day: string,
    change: (r: WorkflowRecord) => WorkflowRecord,
    { only, dryRun = false }: { only?: ArchiveKey; dryRun?: boolean } = {},
  ): Promise<number> {
    if (only && !(await this.keys.mayHold(kind, day, only.field, only.value))) return 0;
    return (await this.store.rewriteArchive<WorkflowRecord>(kind, day, change, dryRun)).changed;
  }

  warmArchive(kinds: string[]): Promise<number> {
    return this.keys.warm(kinds);
  }

  saveArchive(): Promise<void> {
    return this.keys.save();
  }

  async due(now: number): Promise<StoredWorkflow[]> {
    const found: StoredWorkflow[] = [];
    const later: Due[] = [];
    while (this.heap.length && this.heap[0]!.at <= now) {
      const top = this.pop()!;
      const w = this.table.get(top.id);
      if (!w || w.due !== top.at) continue; // closed, or its due time moved: a stale entry
      found.push(w);
      later.push(top); // stays until the workflow's due time changes
    }
    for (const d of later) this.push(d);
    return found;
  }

  async nextDue(): Promise<number | null> {
    for (;;) {
      const top = this.heap[0];
      if (!top) return null;
      if (this.table.get(top.id)?.due === top.at) return top.at;
      this.pop();
    }
  }

  async *live(): AsyncIterable<StoredWorkflow> {
    yield* [...this.table.values()];
  }

  async liveOfPhone(phone: string): Promise<StoredWorkflow[]> {
    const ids = this.byPhone.get(phone);
    if (!ids) return [];
    return [...ids].map((id) => this.table.get(id)).filter((w): w is StoredWorkflow => w !== undefined);
  }

  async count(): Promise<number> {
    return this.table.size;
  }

  serialize<T>(key: string, task: () => Promise<T>): Promise<T> {
    return this.queues.run(key, task);
  }

  async exclusive<T>(key: string, task: () => Promise<T>): Promise<{ value: T } | undefined> {
    if (this.queues.busy(key)) return undefined;
    return { value: await this.queues.run(key, task) };
  }

  /** Keep the phone index and the due heap in step with a row that changed. */
  private index(before: StoredWorkflow | undefined, after: StoredWorkflow | undefined) {
    if (before?.phone && before.phone !== after?.phone) {
      const ids = this.byPhone.get(before.phone);
      ids?.delete(before.id);
      if (ids?.size === 0) this.byPhone.delete(before.phone);
    }
    if (after?.phone) {
      let ids = this.byPhone.get(after.phone);
      if (!ids) this.byPhone.set(after.phone, (ids = new Set()));
      ids.add(after.id);
    }
    if (after && typeof after.due === 'number' && after.due !== before?.due)
      this.push({ at: after.due, id: after.id });
  }

  private push(d: Due) {
    const h = this.heap;
    h.push(d);
    for (let i = h.length - 1; i > 0;) {
      const p = (i - 1) >> 1;
      if (h[p]!.at <= h[i]!.at) break;
      [h[p], h[i]] = [h[i]!, h[p]!];
      i = p;
    }
  }

  private pop(): Due | undefined {
    const h = this.heap;
    const top = h[0];
    const last = h.pop();
    if (h.length && last) {
      h[0] = last;
      for (let i = 0; ;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < h.length && h[l]!.at < h[m]!.at) m = l;
        if (r < h.length && h[r]!.at < h[m]!.at) m = r;
        if (m === i) break;
        [h[m], h[i]] = [h[i]!, h[m]!];
        i = m;
      }
    }
    return top;
  }
}
