/**
 * The workflow host: runs one XState actor per live workflow, writes every transition (with its
 * timeline entry) to the store, fires absolute deadlines, and brings every live workflow back
 * after a restart.
 *
 * - Every answer that reports a state is given after `store.flush()`: it is on disk.
 * - Events to one workflow are handled one at a time, so two requests never interleave.
 * - Deadlines live in the machine's context as absolute times; the host arms a timer for them,
 *   and on restore fires the ones that passed while the process was down, before serving.
 * - On restore XState runs active invocations again: every effect is idempotent (keyed by
 *   workflow id and send number).
 */
import { createActor, type AnyStateMachine, type AnyActorRef, type Snapshot } from 'xstate';
import type { Logger } from 'pino';
import { AppError, type ErrorData } from '../machines/errors.ts';
import type { Clock, RecordStore, Table } from './ports.ts';
import { newId, dayOfId } from './ids.ts';
import { ArchiveKeys, type KeyField } from './archiveKeys.ts';
import { BoundedMap } from './boundedMap.ts';

export interface TimelineEntry {
  at: string;
  event: string;
  from: string | null;
  to: string;
  by: string;
  detail?: Record<string, unknown>;
}

/** What support and the API see of a workflow; `snapshot` stays inside the store. */
export interface WorkflowRecord {
  id: string;
  kind: string;
  state: string;
  live: boolean;
  createdAt: string;
  updatedAt: string;
  closedAt: string | null;
  terminal: string | null;
  phone: string | null;
  card: string | null;
  /** ISO time the PIN stops working, while one is live. */
  deadline: string | null;
  error: ErrorData | null;
  timeline: TimelineEntry[];
  /** Kind-specific fields for answers (never a PIN or its hash). */
  view: Record<string, unknown>;
  snapshot?: unknown;
}

type MachineSnapshot = Snapshot<unknown> & {
  value: unknown;
  context: Record<string, unknown>;
  hasTag(tag: string): boolean;
};

export interface SearchFilter {
  kinds: string[];
  kind?: string;
  phone?: string;
  card?: string;
  terminal?: string;
  state?: string;
  from?: string;
  to?: string;
}

export interface WorkflowKind {
  kind: string;
  /** Id prefix, e.g. `act`. */
  prefix: string;
  machine: AnyStateMachine;
  /** Public fields of a snapshot: what the record shows. */
  project(context: Record<string, unknown>): {
    terminal: string | null;
    phone: string | null;
    card: string | null;
    deadline: number | null;
    view: Record<string, unknown>;
  };
  /** Called once when a workflow reaches a final state (after it is written). */
  onClosed?(record: WorkflowRecord): void;
  /**
   * Leave effect completions that do not change the state out of the timeline (a campaign's
   * thousand batches would otherwise each add an entry).
   */
  quietEffects?: boolean;
}

interface Cause {
  type: string;
  by?: string;
  reason?: unknown;
}

interface Live {
  actor: AnyActorRef;
  /** The event the host is delivering right now; null while an effect completes on its own. */
  cause: Cause | null;
  last: unknown;
  deadline: number | null;
  /** When the armed timer fires (a far deadline is reached in steps). */
  timerDue?: number | null;
  record: WorkflowRecord;
  timer: NodeJS.Timeout | null;
  queue: Promise<unknown>;
  def: WorkflowKind;
  /** Requests waiting for the workflow to settle (no effect running). */
  settling: Array<() => void>;
}

export interface HostOptions {
  store: RecordStore;
  clock: Clock;
  logger: Logger;
  kinds: WorkflowKind[];
  /** How long a request waits for effects (SMS, directory) before it answers TIMEOUT. */
  settleTimeoutMs: number;
  /** Last touches to a record before it is archived (e.g. the latest delivery statuses). */
  finalize?: (record: WorkflowRecord) => void;
  /** Kinds of records closed from birth (`addClosed`), with their id prefixes. */
  closedKinds?: Array<{ kind: string; prefix: string }>;
}

/** No effect is running: the workflow ended, or its state is not a `busy` one. */
const settled = (s: MachineSnapshot) => s.status !== 'active' || !s.hasTag('busy');

const stateName = (value: unknown): string =>
  typeof value === 'string' ? value : (Object.keys(value as object)[0] ?? String(value));

/** The start of a workflow is recorded as `start`; every other event keeps its name. */
const eventName = (type: string): string => (type === 'xstate.init' ? 'start' : type);

/** The archive day a record belongs to: the day in its id, else the day it was created. */
const archiveDay = (r: WorkflowRecord): string => dayOfId(r.id) ?? r.createdAt.slice(0, 10);

/** The longest single timer (Node's setTimeout takes at most 2^31−1 ms). */
const MAX_TIMER_MS = 6 * 3600_000;

export class WorkflowHost {
  private readonly live = new Map<string, Live>();
  /**
   * Records closed lately, newest last: answers for them need no archive read, and a record is
   * readable in the moment between its close and its archive append.
   */
  private readonly recent = new BoundedMap<string, WorkflowRecord>(5_000);
  private readonly table: Table<WorkflowRecord>;
  private readonly kinds: Map<string, WorkflowKind>;
  /** Which archive days may hold a phone, card or terminal: search skips the others. */
  private readonly keys: ArchiveKeys;
  private stopped = false;
  private readonly closeListeners: Array<(record: WorkflowRecord) => void> = [];
  private readonly startListeners: Array<(record: WorkflowRecord) => void> = [];

  constructor(private readonly opts: HostOptions) {
    this.table = opts.store.table<WorkflowRecord>('workflows');
    this.kinds = new Map(opts.kinds.map((k) => [k.kind, k]));
    this.keys = new ArchiveKeys(opts.store);
  }

  static readonly tables = ['workflows'];

  /** Be told of every workflow that starts. */
  onStarted(listener: (record: WorkflowRecord) => void) {
    this.startListeners.push(listener);
  }

  /**
   * Change a closed workflow's record (a late delivery status): the archive gets the amended
   * copy, which readers take over the earlier one. Live records are left alone.
   */
  async amendClosed(id: string, amend: (record: WorkflowRecord) => WorkflowRecord): Promise<void> {
    if (this.live.has(id)) return;
    const record = await this.get(id);
    if (!record || record.live) return;
    const next = amend(record);
    if (this.recent.has(id)) this.recent.set(id, next);
    this.archive(next);
  }

  /** Be told of every workflow that closes (after its record is written). */
  onClosed(listener: (record: WorkflowRecord) => void) {
    this.closeListeners.push(listener);
  }

  private lastIso = { ms: NaN, text: '' };
  /** ISO time of `ms`; several stamps of one transition share the same millisecond. */
  private iso(ms = this.opts.clock.now()) {
    if (ms !== this.lastIso.ms) this.lastIso = { ms, text: new Date(ms).toISOString() };
    return this.lastIso.text;
  }

  /** Start a workflow, feed it its first event, and answer once it settled and is on disk. */
  async start(
    kind: string,
    input: Record<string, unknown>,
    by: string,
    first: { type: string; [key: string]: unknown } = { type: 'SUBMIT' },
  ) {
    const def = this.kinds.get(kind);
    if (!def) throw new Error(`unknown workflow kind ${kind}`);
    const now = this.opts.clock.now();
    const id = newId(def.prefix, now);
    const record: WorkflowRecord = {
      id,
      kind,
      state: 'requested',
      live: true,
      createdAt: this.iso(now),
      updatedAt: this.iso(now),
      closedAt: null,
      terminal: null,
      phone: null,
      card: null,
      deadline: null,
      error: null,
      timeline: [],
      view: {},
    };
    const entry = this.spawn(def, record, { input: { ...input, id } }, by);
    for (const listener of this.startListeners) listener(record);
    return this.enqueue(entry, async () => {
      this.deliver(entry, { ...first, by, now: this.opts.clock.now() });
      return this.settle(entry);
    });
  }

  /**
   * Send an event made at the moment it is handled (so `now` is exact). A closed workflow gets
   * no event: its record is answered as it is, and the caller maps its state to an error.
   */
  async send(id: string, make: (now: number) => Record<string, unknown> & { type: string }) {
    const entry = this.live.get(id);
    if (!entry) {
      const record = await this.get(id);
      if (!record) throw new AppError('SESSION_NOT_FOUND');
      throw closedError(record);
    }
    return this.enqueue(entry, async () => {
      if (!this.live.has(id)) throw closedError(entry.record);
      await this.waitSettled(entry);
      if (!this.live.has(id)) throw closedError(entry.record);
      this.deliver(entry, make(this.opts.clock.now()));
      return this.settle(entry);
    });
  }

  async get(id: string): Promise<WorkflowRecord | undefined> {
    const live = this.live.get(id)?.record ?? this.table.get(id) ?? this.recent.get(id);
    if (live) return live;
    const day = dayOfId(id);
    if (!day) return undefined;
    const prefixes = [...this.kinds.values(), ...(this.opts.closedKinds ?? [])];
    for (const { kind, prefix } of prefixes) {
      if (!id.startsWith(prefix + '_')) continue;
      const found = await this.opts.store.findArchived<WorkflowRecord>(
        kind,
        day,
        (r) => r.id === id,
        `"id":${JSON.stringify(id)}`,
      );
      if (found) return found;
    }
    return undefined;
  }

  machineOf(kind: string) {
    return this.kinds.get(kind)?.machine;
  }

  isLive(id: string): boolean {
    return this.live.has(id);
  }

  /** A live workflow's record as it is this moment (no archive read). */
  peek(id: string): WorkflowRecord | undefined {
    return this.live.get(id)?.record;
  }

  /**
   * Records newest first, live and archived, matching a filter; paged by the last item seen.
   * The archive is read a day at a time from the newest, and only as far as the page needs.
   */
  async search(filter: SearchFilter, limit: number, after: { createdAt: string; id: string } | null) {
    const kinds = filter.kind ? [filter.kind] : filter.kinds;
    const fromDay = filter.from?.slice(0, 10) ?? '0000-00-00';
    const toDay = filter.to?.slice(0, 10) ?? '9999-99-99';
    const matches = (r: WorkflowRecord) =>
      kinds.includes(r.kind) &&
      (!filter.phone || r.phone === filter.phone) &&
      (!filter.card || r.card === filter.card) &&
      (!filter.terminal || r.terminal === filter.terminal) &&
      (!filter.state || r.state === filter.state) &&
      (!filter.from || r.createdAt >= filter.from) &&
      (!filter.to || r.createdAt <= filter.to) &&
      (!after || r.createdAt < after.createdAt || (r.createdAt === after.createdAt && r.id < after.id));
    // Text every matching record's archive line contains (records are written by JSON.stringify):
    // only those lines are parsed.
    const [field, value]: [KeyField, string] | [null, null] = filter.phone
      ? ['phone', filter.phone]
      : filter.card
        ? ['card', filter.card]
        : filter.terminal
          ? ['terminal', filter.terminal]
          : [null, null];
    const needle = field ? `"${field}":${JSON.stringify(value)}` : undefined;
    const byDay = new Map<string, Map<string, WorkflowRecord>>();
    const put = (r: WorkflowRecord) => {
      const day = archiveDay(r);
      let m = byDay.get(day);
      if (!m) byDay.set(day, (m = new Map()));
      m.set(r.id, r);
    };
    const days = new Set<string>();
    for (const kind of kinds) for (const day of this.opts.store.archiveDays(kind)) days.add(day);
    const fresh = [
      ...this.table.values(),
      ...[...this.live.values()].map((e) => e.record),
      ...this.recent.values(),
    ];
    for (const r of fresh) days.add(archiveDay(r));
    const items: WorkflowRecord[] = [];
    for (const day of [...days].sort().reverse()) {
      if (day < fromDay || day > toDay) continue;
      for (const kind of kinds) {
        if (field && !(await this.keys.mayHold(kind, day, field, value))) continue; // surely not there
        await this.opts.store.scanArchive<WorkflowRecord>(kind, day, put, needle);
      }
      for (const r of fresh) if (archiveDay(r) === day) put(r);
      const found = [...(byDay.get(day)?.values() ?? [])].filter(matches);
      items.push(...found.sort((a, b) => b.createdAt.localeCompare(a.createdAt) || b.id.localeCompare(a.id)));
      byDay.delete(day);
      if (items.length >= limit) break;
    }
    const page = items.slice(0, limit);
    const last = page.at(-1);
    return {
      items: page,
      next: items.length > limit && last ? { createdAt: last.createdAt, id: last.id } : null,
    };
  }

  /**
   * Every record of the given kinds whose archive day (UTC) is in [fromDay, toDay], live and
   * archived, each once: what a report counts. Reads the archive a day at a time.
   */
  async forEachRecord(
    kinds: string[],
    fromDay: string,
    toDay: string,
    visit: (r: WorkflowRecord) => void,
  ): Promise<void> {
    const fresh = [
      ...this.table.values(),
      ...[...this.live.values()].map((e) => e.record),
      ...this.recent.values(),
    ].filter((r) => kinds.includes(r.kind));
    const days = new Set<string>();
    for (const kind of kinds) for (const day of this.opts.store.archiveDays(kind)) days.add(day);
    for (const r of fresh) days.add(archiveDay(r));
    for (const day of [...days].sort()) {
      if (day < fromDay || day > toDay) continue;
      const seen = new Map<string, WorkflowRecord>();
      for (const kind of kinds)
        await this.opts.store.scanArchive<WorkflowRecord>(kind, day, (r) => seen.set(r.id, r));
      for (const r of fresh) if (archiveDay(r) === day) seen.set(r.id, r);
      for (const r of seen.values()) visit(r);
    }
  }

  /** Summarise the archive days that have no summary yet, in the background (after a start). */
  warmArchiveKeys(): Promise<number> {
    return this.keys.warm([...this.kinds.keys()]);
  }

  /** Keep the archive day summaries beside their days (at shutdown, before the store closes). */
  saveArchiveKeys(): Promise<void> {
    return this.keys.save();
  }

  /** Live records, for inspection. */
  liveRecords(): IterableIterator<WorkflowRecord> {
    return this.table.values();
  }

  /** Bring back every live workflow from the store; fire deadlines that passed meanwhile. */
  async restore(): Promise<number> {
    const records = [...this.table.values()];
    for (const stored of records) {
      const def = this.kinds.get(stored.kind);
      if (!def || !stored.snapshot) continue;
      const record = { ...stored };
      // A data folder written by a stop that came too late may say `stopped`: a live record is live.
      const snapshot = { ...(stored.snapshot as object), status: 'active' };
      const entry = this.spawn(def, record, { snapshot }, 'system');
      this.opts.logger.info(
        { workflow: record.id, kind: record.kind, state: record.state },
        'workflow restored',
      );
      void this.enqueue(entry, () => this.waitSettled(entry).catch(() => undefined));
    }
    await this.opts.store.flush();
    return records.length;
  }

  /** Send an event; the snapshots it causes are recorded under its name (XState runs it synchronously). */
  private deliver(entry: Live, event: Cause & Record<string, unknown>) {
    entry.cause = event;
    try {
      entry.actor.send(event);
    } finally {
      entry.cause = null;
    }
  }

  /**
   * A snapshot nobody sent an event for comes from an effect of the state it leaves:
   * `sendPin.done`, or `sendPin.error` when the machine recorded an error.
   */
  private effectCause(entry: Live, snapshot: MachineSnapshot): Cause {
    const node = (entry.def.machine.states as Record<string, { invoke?: Array<{ id: string }> }>)[
      entry.record.state
    ];
    const effect = node?.invoke?.[0]?.id ?? entry.record.state;
    const error = snapshot.context?.error;
    const failed =
      snapshot.status === 'error' || (error !== null && error !== undefined && error !== entry.record.error);
    return { type: `${effect}.${failed ? 'error' : 'done'}`, by: 'system' };
  }

  private spawn(def: WorkflowKind, record: WorkflowRecord, options: object, by: string): Live {
    const actor = createActor(def.machine, options);
    const entry: Live = {
      actor,
      record,
      cause: null,
      last: null,
      deadline: null,
      timer: null,
      queue: Promise.resolve(),
      def,
      settling: [],
    };
    const observe = (snapshot: MachineSnapshot) => {
      if (snapshot === entry.last) return;
      this.onSnapshot(entry, entry.cause ?? this.effectCause(entry, snapshot), snapshot);
      if (entry.settling.length && settled(snapshot)) {
        const waiting = entry.settling;
        entry.settling = [];
        for (const wake of waiting) wake();
      }
    };
    actor.subscribe({
      next: observe,
      error: () => observe(actor.getSnapshot() as MachineSnapshot),
    });
    this.live.set(record.id, entry);
    entry.cause = { type: 'xstate.init', by };
    try {
      actor.start();
    } finally {
      entry.cause = null;
    }
    // A restored actor emits no snapshot for its restored state: arm its deadline here.
    this.onSnapshot(entry, { type: 'xstate.init', by }, actor.getSnapshot() as MachineSnapshot);
    return entry;
  }

  private onSnapshot(entry: Live, event: Cause, snapshot: MachineSnapshot) {
    const { record, def } = entry;
    entry.last = snapshot;
    const to = snapshot.status === 'error' ? 'error' : stateName(snapshot.value);
    const context = snapshot.context ?? {};
    const restoring = event.type === 'xstate.init' && record.timeline.length > 0;
    const error = (context.error as ErrorData | null) ?? null;
    // A quiet effect's completion leaves no entry unless it changes the error shown.
    const quiet =
      def.quietEffects &&
      !entry.cause &&
      to === record.state &&
      snapshot.status === 'active' &&
      error === record.error;
    if (!restoring && !quiet) {
      const now = this.opts.clock.now();
      const from = record.timeline.length ? record.state : null;
      const detail: Record<string, unknown> = {};
      if (error && (error !== record.error || from === to))
        Object.assign(detail, { code: error.code, ...error.extra });
      if (typeof event.reason === 'string') detail.reason = event.reason;
      record.timeline.push({
        at: this.iso(now),
        event: eventName(event.type),
        from,
        to,
        by: event.by ?? 'system',
        ...(Object.keys(detail).length ? { detail } : {}),
      });
      record.updatedAt = this.iso(now);
      record.error = error;
    }
    record.state = to;
    const projected = def.project(context);
    record.terminal = projected.terminal;
    record.phone = projected.phone;
    record.card = projected.card;
    record.view = projected.view;
    const deadline = snapshot.hasTag?.('timed') ? projected.deadline : null;
    record.deadline = deadline === null ? null : this.iso(deadline);
    this.arm(entry, deadline);
    if (snapshot.status === 'done' || snapshot.status === 'error') {
      this.close(entry);
      this.wake(record);
      return;
    }
    this.wake(record);
    if (!Object.hasOwn(record, 'toJSON')) {
      // The actor's persisted snapshot is taken when the store writes the record (once per
      // commit), not at every transition.
      Object.defineProperty(record, 'toJSON', {
        configurable: true,
        enumerable: false,
        value: () => ({ ...record, snapshot: entry.actor.getPersistedSnapshot() }),
      });
    }
    this.table.put(record.id, record);
  }

  /** Waiters for a workflow to reach a state (see `until`), by workflow id. */
  private readonly watchers = new Map<
    string,
    Array<{ test: (r: WorkflowRecord) => boolean; done: () => void }>
  >();

  /**
   * The workflow's record once `test` holds for it, or once it has closed, or after `timeoutMs`
   * (its record as it is then): no polling, each change of the workflow looks once.
   */
  async until(
    id: string,
    test: (r: WorkflowRecord) => boolean,
    timeoutMs: number,
  ): Promise<WorkflowRecord | undefined> {
    const now = await this.get(id);
    if (!now || !now.live || test(now)) return now;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => finish(), timeoutMs);
      const finish = () => {
        clearTimeout(timer);
        const list = this.watchers.get(id)?.filter((w) => w !== waiter) ?? [];
        if (list.length) this.watchers.set(id, list);
        else this.watchers.delete(id);
        resolve();
      };
      const waiter = { test, done: finish };
      this.watchers.set(id, [...(this.watchers.get(id) ?? []), waiter]);
    });
    return this.get(id);
  }

  private wake(record: WorkflowRecord) {
    const list = this.watchers.get(record.id);
    if (!list) return;
    for (const w of list) if (!record.live || w.test(record)) w.done();
  }

  /**
   * Keep a record that is closed from its birth (a start refused before any workflow began):
   * archived like a closed workflow, found by the same `search` and `get`.
   */
  addClosed(record: WorkflowRecord): void {
    this.recent.set(record.id, record);
    this.archive(record);
  }

  /** Append a closed record to its kind's archive for its day, and to that day's summary. */
  private archive(record: WorkflowRecord) {
    const day = archiveDay(record);
    this.opts.store.archive(record.kind, day, record);
    this.keys.added(record.kind, day, record);
  }

  private close(entry: Live) {
    const { record } = entry;
    record.live = false;
    record.closedAt = record.updatedAt;
    delete record.snapshot;
    delete (record as { toJSON?: unknown }).toJSON;
    this.live.delete(record.id);
    this.table.delete(record.id);
    this.opts.finalize?.(record);
    this.recent.set(record.id, record);
    this.archive(record);
    if (entry.timer) clearTimeout(entry.timer);
    entry.timer = null;
    queueMicrotask(() => entry.actor.stop());
    entry.def.onClosed?.(record);
    for (const listener of this.closeListeners) listener(record);
  }

  /**
   * Fire every deadline that is due by the clock now (timers do this by themselves; a clock
   * moved by hand, in tests, or a machine waking from sleep may want it at once).
   */
  async fireDeadlines(): Promise<number> {
    const now = this.opts.clock.now();
    const due = [...this.live.values()].filter((e) => e.deadline !== null && e.deadline <= now);
    await Promise.all(
      due.map((e) =>
        this.send(e.record.id, (t) => ({ type: 'EXPIRE', now: t, by: 'system' })).catch(() => undefined),
      ),
    );
    return due.length;
  }

  private arm(entry: Live, deadline: number | null) {
    entry.deadline = deadline;
    if (entry.timer) clearTimeout(entry.timer);
    entry.timer = null;
    if (deadline === null || this.stopped) return;
    const fire = () => {
      entry.timerDue = null;
      // A deadline further away than one timer step (setTimeout overflows past ~24.8 days and
      // would fire at once) is reached in steps.
      if (deadline - this.opts.clock.now() > MAX_TIMER_MS) return this.arm(entry, deadline);
      void this.send(entry.record.id, (now) => ({ type: 'EXPIRE', now, by: 'system' })).catch((err) =>
        this.opts.logger.error({ err, workflow: entry.record.id }, 'deadline failed'),
      );
    };
    const delay = deadline - this.opts.clock.now();
    // setTimeout fires early by up to a millisecond; the machine's guard re-checks `now`.
    const step = Math.min(MAX_TIMER_MS, Math.max(0, delay) + 5);
    entry.timerDue = this.opts.clock.now() + step;
    entry.timer = setTimeout(fire, step);
  }

  /** When the workflow's deadline timer will next wake (null: none pending). */
  timerDue(id: string): number | null {
    return this.live.get(id)?.timerDue ?? null;
  }

  private enqueue<T>(entry: Live, task: () => Promise<T>): Promise<T> {
    const run = entry.queue.then(task, task);
    entry.queue = run.catch(() => undefined);
    return run;
  }

  /** Resolves once no effect is running (at once if none is); TIMEOUT after the settle limit. */
  private waitSettled(entry: Live): Promise<void> {
    if (settled(entry.actor.getSnapshot() as MachineSnapshot)) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const wake = () => {
        clearTimeout(timer);
        resolve();
      };
      const timer = setTimeout(() => {
        entry.settling = entry.settling.filter((w) => w !== wake);
        reject(new AppError('TIMEOUT'));
      }, this.opts.settleTimeoutMs);
      entry.settling.push(wake);
    });
  }

  private async settle(entry: Live): Promise<WorkflowRecord> {
    await this.waitSettled(entry);
    await this.opts.store.flush();
    return entry.record;
  }

  /**
   * Stop every timer and actor; the records stay live in the store, to be restored. Each
   * record keeps the snapshot its actor had while running: a snapshot taken after stop() would
   * say `stopped`, and the workflow would come back dead.
   */
  stop() {
    this.stopped = true;
    for (const entry of this.live.values()) {
      if (entry.timer) clearTimeout(entry.timer);
      const { record } = entry;
      record.snapshot = entry.actor.getPersistedSnapshot();
      delete (record as { toJSON?: unknown }).toJSON;
      this.table.put(record.id, record);
      entry.actor.stop();
    }
    this.live.clear();
  }
}

/** How an error names the workflow it is about: `activationId` or `sessionId`. */
export const workflowRef = (record: WorkflowRecord): Record<string, string> => ({
  [record.kind === 'activation' ? 'activationId' : 'sessionId']: record.id,
});

/** The error an event to a closed workflow answers with: why it is closed. */
export function closedError(record: WorkflowRecord): AppError {
  const extra = workflowRef(record);
  if (record.state === 'expired') return new AppError('SESSION_EXPIRED', extra);
  if (record.state === 'locked') return new AppError('SESSION_LOCKED', { attemptsLeft: 0, ...extra });
  return new AppError('SESSION_CLOSED', { ...extra, state: record.state });
}
