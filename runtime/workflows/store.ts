/**
 * The workflow store port: everything the host needs to keep workflows as data, so that any
 * process sharing the store can serve any workflow. An engine (the embedded journaled store,
 * a database) implements it; the host never holds a workflow between two requests.
 *
 * - Writes are compare-and-set on a version: of two writers that read the same version, one
 *   wins and the other reads again.
 * - Due times form an index a ticker reads; firing a deadline is itself a compare-and-set write,
 *   so a deadline fires once however many tickers see it.
 * - Serialization by key (a workflow, a phone) is a store operation: it holds for every process
 *   the store serves.
 */
import type { StoredWorkflow, WorkflowRecord } from './types.ts';

/** A field a search names, and the value every record it wants has there. */
export interface ArchiveKey {
  field: 'phone' | 'card' | 'terminal';
  value: string;
}

/** Who runs a workflow's pending effects, and until when (ms). */
export interface EffectLease {
  owner: string;
  until: number;
}

export interface WorkflowStore {
  /** A live workflow as stored; undefined once it has closed, or when there is none. */
  get(id: string): Promise<StoredWorkflow | undefined>;
  /**
   * Write `next` if the stored version is `expected` (null: no such workflow yet). With `lease`,
   * the same write names the process that runs the workflow's pending effects, and until when
   * (`claimEffects`); without, the lease stays as it was.
   */
  put(next: StoredWorkflow, expected: number | null, lease?: EffectLease): Promise<boolean>;
  /**
   * End a workflow: remove its live row (if at version `expected`) and append `closed` to its
   * kind's archive, as one change.
   */
  close(closed: WorkflowRecord, expected: number | null): Promise<boolean>;
  /** Live workflows whose due time is at or before `now`. */
  due(now: number): Promise<StoredWorkflow[]>;
  /** The earliest due time of any live workflow, or null. */
  nextDue(): Promise<number | null>;
  /** Every live workflow. */
  live(): AsyncIterable<StoredWorkflow>;
  /** Live workflows of one phone. */
  liveOfPhone(phone: string): Promise<StoredWorkflow[]>;
  /** The number of live workflows. */
  count(): Promise<number>;
  /**
   * Run `task` once no other task holding `key` runs, in any process this store serves; with
   * scope `process`, only among this process's tasks (where compare-and-set already settles a
   * race with other processes, and a lock held across them would only cost a connection).
   */
  serialize<T>(key: string, task: () => Promise<T>, scope?: 'all' | 'process'): Promise<T>;
  /** Run `task` holding `key`, or answer `undefined` at once when another task holds it. */
  exclusive<T>(key: string, task: () => Promise<T>): Promise<{ value: T } | undefined>;
  // ---- effects: run once at a time across processes --------------------------------------------

  /**
   * Claim a workflow's pending effects for `owner` until `until` (ms): true when nobody held
   * them, their holder's lease ran out at `now`, or `owner` holds them already (a renewal).
   * Processes sharing the store run a workflow's effects in one process at a time; one that
   * stops lets its lease run out. The write that starts an effect claims it itself (`put`).
   */
  claimEffects(id: string, owner: string, now: number, until: number): Promise<boolean>;
  /**
   * Live workflows with a pending effect that no process holds (its runner stopped), to be taken
   * up here. Undefined: this process is the only runner (pending effects are taken up at start).
   */
  orphanedEffects?(now: number): Promise<StoredWorkflow[]>;

  // ---- the archive of closed records ----------------------------------------------------------

  /**
   * Append a closed record to its kind's archive for its day: one closed at its birth, or a later
   * copy of one (a late delivery status), which readers take over the earlier.
   */
  archive(closed: WorkflowRecord): Promise<void>;
  /** A closed record by id, from its kind's archive day (the latest copy). */
  findArchived(kind: string, day: string, id: string): Promise<WorkflowRecord | undefined>;
  /** The days (YYYY-MM-DD) of a kind's archive, in any order. */
  archiveDays(kind: string): Promise<string[]>;
  /**
   * The archived records of a kind and day, in the order written; with `only`, at least every
   * record that has that value (an engine may skip the others, or a day that surely holds none).
   */
  scanArchive(
    kind: string,
    day: string,
    visit: (record: WorkflowRecord) => void,
    only?: ArchiveKey,
  ): Promise<void>;
  /**
   * Change archived records of a kind and day (a guest's erasure, retention): `change` answers
   * each record as it is to be; with `only`, at least the records with that value are offered.
   * How many changed — with `dryRun`, would change, nothing written.
   */
  rewriteArchive(
    kind: string,
    day: string,
    change: (record: WorkflowRecord) => WorkflowRecord,
    options?: { only?: ArchiveKey; dryRun?: boolean },
  ): Promise<number>;
  /** Make the archive ready for searches after a start (in the background); how many days it read. */
  warmArchive?(kinds: string[]): Promise<number>;
  /** Keep what the archive learned for searches (at shutdown, before the store closes). */
  saveArchive?(): Promise<void>;

  /**
   * Other processes write to this store too: the ticker reads the next due time again at least
   * this often, so a deadline another process wrote (and cannot fire, having stopped) is fired
   * here. Undefined: this process is the only writer.
   */
  readonly pollMs?: number;
}
