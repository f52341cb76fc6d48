/**
 * The workflow host. A workflow is a stored record — its machine's snapshot, a version, a due
 * time, the effects its state started — and handling an event is:
 *
 *   read the record → `transition(machine, snapshot, event)` (XState's pure function) → write the
 *   new record if its version is still the one read (compare-and-set; a lost race reads again)
 *   → run the effects the transition started → feed each outcome back as an event, the same way.
 *
 * No actor lives between two events and no process owns a workflow: whichever process reads the
 * record can advance it. The guarantees:
 *
 * - Every answer that reports a state is given after `store.flush()`: it is on disk.
 * - Events to one workflow are applied one at a time (`WorkflowStore.serialize`), and an event
 *   waits while an effect a request must see the end of runs (a `busy` state).
 * - Deadlines are absolute times in the machine's context; the record's due time is indexed by
 *   the store and a ticker fires EXPIRE at it, also for deadlines that passed while no process
 *   ran. Firing is a compare-and-set write: it happens once.
 * - Effects are idempotent (keyed by workflow id and send number): after a restart the effects a
 *   stored record still waits for run again. A lookup (an effect that changes nothing, a card
 *   read) is run before the state that started it is written, and the state it leads to is
 *   written instead: nothing is lost by a crash in between but an unanswered request.
 * - Where processes share the store, each round trip counts: an event is applied to the record
 *   this process last wrote or read (the compare-and-set finds it stale if another process wrote
 *   since), a start and its first event are one write, and the write that starts an effect also
 *   names this process as its runner.
 */
import { randomUUID } from 'node:crypto';
import type { AnyMachineSnapshot, ExecutableActionObject } from 'xstate';
import { stepper, type Stepper } from './pure.ts';
import type { Logger } from 'pino';
import { AppError, type ErrorData } from '../../machines/errors.ts';
import type { Clock } from '../ports.ts';
import { newId, dayOfId } from '../ids.ts';
import { BoundedMap } from '../boundedMap.ts';
import { isoStamper } from '../zoneFormat.ts';
import { archiveDay } from './archiveDay.ts';
import type { ArchiveKey, WorkflowStore } from './store.ts';
import { isEarlier, upgrade } from './migrate.ts';
import type {
  AnyWorkflowKind,
  PendingEffect,
  Projection,
  SearchFilter,
  StoredWorkflow,
  TimelineEntry,
  WorkflowKind,
  WorkflowRecord,
} from './types.ts';

export type { SearchFilter, TimelineEntry, WorkflowRecord } from './types.ts';

/** An event as the host delivers it: `by` is who sent it, `now` when it was handled. */
export type WorkflowEvent = { type: string; by?: string; now?: number; reason?: unknown } & Record<
  string,
  unknown
>;

export interface HostOptions {
  /** The flush every answer waits for (the changes other ports keep in the embedded store). */
  store: { flush(): Promise<void> };
  /**
   * How long a claim on a running effect holds unless renewed (renewed at a third of it): where
   * processes share the store, one that stopped has its effects taken up this long after.
   */
  effectLeaseMs?: number;
  /** Live workflows. */
  workflows: WorkflowStore;
  clock: Clock;
  logger: Logger;
  kinds: Kind[];
  /** How long a request waits for effects (SMS, directory) before it answers TIMEOUT. */
  settleTimeoutMs: number;
  /** Kinds of records closed from birth (`addClosed`), with their id prefixes. */
  closedKinds?: Array<{ kind: string; prefix: string }>;
}

/** A kind with its types erased (`workflowKind`). */
export interface Kind {
  def: AnyWorkflowKind;
  steps: Stepper;
  project(context: object): Projection<Record<string, unknown>>;
  machineInput(input: object, id: string): object;
  onClosed(record: WorkflowRecord): void;
  finalize(record: WorkflowRecord): Promise<WorkflowRecord>;
}

const stateName = (value: unknown): string =>
  typeof value === 'string'
    ? value
    : value && typeof value === 'object'
      ? (Object.keys(value)[0] ?? String(value))
      : String(value);

/** The start of a workflow is recorded as `start`; every other event keeps its name. */
const eventName = (type: string): string => (type === 'xstate.init' ? 'start' : type);

/** The outcome of an effect, as an event: which effect, and whether it failed. */
const DONE = 'xstate.done.actor.';
const ERROR = 'xstate.error.actor.';

const sameError = (a: ErrorData | null, b: ErrorData | null) =>
  a === b || (a !== null && b !== null && JSON.stringify(a) === JSON.stringify(b));

/** The longest single timer (Node's setTimeout takes at most 2^31−1 ms). */
const MAX_TIMER_MS = 6 * 3600_000;
/** How often a request waiting for an effect this process does not run reads the store again. */
const IDLE_POLL_MS = 50;

/** How long a claim on a running effect holds by default; renewed at a third of it while it runs. */
const EFFECT_LEASE_MS = 60_000;

/**
 * The public record of a stored workflow: no snapshot, version or bookkeeping. Built field by
 * field: a spread or a rest pattern over a record takes V8's slow path, and this runs several
 * times an event.
 */
export function publicRecord(w: WorkflowRecord): WorkflowRecord {
  return {
    id: w.id,
    kind: w.kind,
    state: w.state,
    live: w.live,
    createdAt: w.createdAt,
    updatedAt: w.updatedAt,
    closedAt: w.closedAt,
    terminal: w.terminal,
    phone: w.phone,
    card: w.card,
    deadline: w.deadline,
    error: w.error,
    timeline: w.timeline,
    view: w.view,
  };
}

export class WorkflowHost {
  private readonly kinds = new Map<string, Kind>();
  private get leaseMs() {
    return this.opts.effectLeaseMs ?? EFFECT_LEASE_MS;
  }
  /**
   * Records closed lately, newest last: answers for them need no archive read, and a record is
   * readable in the moment between its close and its archive append.
   */
  private readonly recent = new BoundedMap<string, WorkflowRecord>(5_000);
  /**
   * The latest version of a live record this process wrote or read, by id, with its resolved
   * machine snapshot when written here. An event is applied to it without reading the store
   * first: the write is compare-and-set, so a record another process changed meanwhile fails it
   * and is read again; a step that would write nothing is decided again on a fresh read.
   */
  private readonly latest = new BoundedMap<string, { stored: StoredWorkflow; snapshot?: AnyMachineSnapshot }>(
    2_000,
  );
  private readonly closeListeners: Array<(record: WorkflowRecord) => void> = [];
  private readonly startListeners: Array<(record: WorkflowRecord) => void> = [];
  /**
   * Waiters for a workflow to change, by workflow id: each looks at every change (the record,
   * and whether an effect a request waits for runs) until `reached` says yes or it closes.
   */
  private readonly watchers = new Map<
    string,
    Array<{ reached: Reached; done: () => void; nudge: (() => void) | undefined }>
  >();
  /** Effects this process runs now (`id#seq`): a restore does not start them twice. */
  private readonly running = new Set<string>();
  /** This process, as the holder of the effects it runs (where processes share the store). */
  private readonly owner = `${process.pid}-${randomUUID().slice(0, 8)}`;
  private ticker: NodeJS.Timeout | null = null;
  private tickerAt: number | null = null;
  private stopped = false;
  private readonly workflows: WorkflowStore;

  constructor(private readonly opts: HostOptions) {
    this.workflows = opts.workflows;
    for (const k of opts.kinds) this.kinds.set(k.def.kind, k);
  }

  /** Be told of every workflow that starts. */
  onStarted(listener: (record: WorkflowRecord) => void) {
    this.startListeners.push(listener);
  }

  /** Be told of every workflow that closes (after its record is written). */
  onClosed(listener: (record: WorkflowRecord) => void) {
    this.closeListeners.push(listener);
  }

  /**
   * Run `task` once no other task holding `key` runs (a campaign's changes, say); with scope
   * `process`, only among this process's tasks (see `WorkflowStore.serialize`).
   */
  serialize<T>(key: string, task: () => Promise<T>, scope: 'all' | 'process' = 'all'): Promise<T> {
    return this.workflows.serialize(key, task, scope);
  }

  /** Run `task` holding `key`, or answer undefined at once when it is held. */
  exclusive<T>(key: string, task: () => Promise<T>): Promise<{ value: T } | undefined> {
    return this.workflows.exclusive(key, task);
  }

  /**
   * Apply a closed workflow's last touches again (a late delivery status): the archive gets the
   * amended copy, which readers take over the earlier one. Live records are left alone.
   */
  async refinalize(id: string): Promise<void> {
    if (await this.workflows.get(id)) return;
    const record = await this.get(id);
    const k = record && this.kinds.get(record.kind);
    if (!record || record.live || !k) return;
    const next = await k.finalize(record);
    if (this.recent.has(id)) this.recent.set(id, next);
    await this.workflows.archive(next);
  }

  private readonly stamp = isoStamper();
  /** ISO time of `ms` (now by default). */
  private iso(ms = this.opts.clock.now()) {
    return this.stamp(ms);
  }

  private kindOf(kind: string): Kind {
    const k = this.kinds.get(kind);
    if (!k) throw new Error(`unknown workflow kind ${kind}`);
    return k;
  }

  /** Start a workflow, feed it its first event, and answer once it settled and is on disk. */
  async start(
    kind: string,
    input: object,
    by: string,
    first: WorkflowEvent = { type: 'SUBMIT' },
    /**
     * The id to start it under (one made by `idFor`): a start that was made already under it,
     * by this process or another, is not made again, and answers that workflow.
     */
    given?: string,
  ): Promise<WorkflowRecord> {
    const k = this.kindOf(kind);
    const now = this.opts.clock.now();
    const id = given ?? newId(k.def.prefix, now);
    const [snapshot, actions] = k.steps.initial(k.machineInput(input, id));
    const blank: StoredWorkflow = {
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
      version: 0,
      snapshot: { value: 'requested', context: {} },
      effects: [],
      effectSeq: 0,
      busy: false,
      due: null,
    };
    const born = this.record(k, blank, snapshot, actions, { type: 'xstate.init', by }, null);
    // The first event is applied before anything is written: a start is one write.
    let step = born;
    if (born.stored) {
      const event = { ...first, by, now: this.opts.clock.now() };
      const { next, actions: more } = this.transition(k, born.stored, born.resolved!, event);
      if (next !== born.resolved)
        step = this.joined(born, this.record(k, born.stored, next, more, event, null));
    }
    step = await this.lookups(k, step);
    const earlier = given && step.closed ? await this.get(given) : undefined;
    if (earlier) return earlier;
    if (!(await this.commit(k, step, null))) {
      const made = given && (await this.get(given));
      if (made) return made;
      throw new Error(`workflow ${id} neither started nor found`);
    }
    for (const listener of this.startListeners) listener(publicRecord(born.stored ?? blank));
    return this.settle(id);
  }

  /**
   * Run the lookups a step started (effects that change nothing, `lookup`) before it is written,
   * and go on with their outcomes: the step written is the one they lead to. Only while every
   * effect pending is a lookup; the first other effect is started by the write, as always.
   */
  private async lookups(k: Kind, step: Step): Promise<Step> {
    for (;;) {
      const stored = step.stored;
      const e = stored?.effects[0];
      if (!stored || !e || !stored.effects.every((p) => k.def.effects[p.src]?.readOnly)) return step;
      const event = { ...(await this.outcome(k, e)), now: this.opts.clock.now(), by: 'system' };
      const { next, actions } = this.transition(k, stored, step.resolved!, event);
      step = this.joined(step, this.record(k, stored, next, actions, event, e.seq));
    }
  }

  /** Run an effect: its outcome as the event that feeds it back (done or error, and its number). */
  private outcome(k: Kind, e: PendingEffect): Promise<WorkflowEvent & { seq: number }> {
    const run = k.def.effects[e.src];
    return (
      run
        ? Promise.resolve().then(() => run(e.input))
        : Promise.reject(new AppError('INTERNAL', { effect: e.src }))
    ).then(
      (output) => ({ type: `${DONE}${e.id}`, output, seq: e.seq }),
      (error: unknown) => ({ type: `${ERROR}${e.id}`, error, seq: e.seq }),
    );
  }

  /** Two steps written as one: the second's record, the effects of both still pending, every action. */
  private joined(first: Step, second: Step): Step {
    const pending = new Set(second.stored?.effects.map((e) => e.seq));
    return {
      ...second,
      spawned: [...(first.spawned ?? []), ...(second.spawned ?? [])].filter((e) => pending.has(e.seq)),
      custom: [...first.custom, ...second.custom],
    };
  }

  /**
   * The machine's step for an event, from the record's snapshot: a machine that throws ends its
   * workflow (recorded as an error, never left half-applied).
   */
  private transition(
    k: Kind,
    stored: StoredWorkflow,
    from: AnyMachineSnapshot,
    event: WorkflowEvent,
  ): { next: AnyMachineSnapshot; actions: ExecutableActionObject[] } {
    try {
      const [next, actions] = k.steps.step(from, event);
      return { next, actions };
    } catch (err) {
      this.opts.logger.error({ err, workflow: stored.id, event: event.type }, 'workflow transition failed');
      return { next: { ...from, status: 'error', error: err } as AnyMachineSnapshot, actions: [] };
    }
  }

  /**
   * Send an event made at the moment it is handled (so `now` is exact), from the record as it is
   * then. A closed workflow gets no event: the caller learns why it closed.
   */
  async send(
    id: string,
    make: (now: number, current: WorkflowRecord) => WorkflowEvent,
  ): Promise<WorkflowRecord> {
    for (;;) {
      const outcome = await this.apply(id, (now, stored) =>
        stored.busy ? 'busy' : make(now, publicRecord(stored)),
      );
      if (outcome === 'busy') {
        await this.idle(id); // an effect runs: the event waits for its outcome
        continue;
      }
      if (outcome === 'closed') return this.refuseClosed(id);
      return this.settle(id);
    }
  }

  /** An event for a workflow that is no longer live: why it closed, or that there is none. */
  private async refuseClosed(id: string): Promise<never> {
    const record = await this.get(id);
    if (!record) throw new AppError('SESSION_NOT_FOUND');
    throw closedError(record);
  }

  async get(id: string): Promise<WorkflowRecord | undefined> {
    // Closed is final: a record closed lately needs no read.
    const recent = this.recent.get(id);
    if (recent) return recent;
    const stored = await this.workflows.get(id);
    if (stored) return publicRecord(stored);
    const day = dayOfId(id);
    if (!day) return undefined;
    const prefixes = [...[...this.kinds.values()].map((k) => k.def), ...(this.opts.closedKinds ?? [])];
    for (const { kind, prefix } of prefixes) {
      if (!id.startsWith(prefix + '_')) continue;
      const found = await this.workflows.findArchived(kind, day, id);
      if (found) return found;
    }
    return undefined;
  }

  /**
   * The record as this process last knew it — its own latest write or read — or as stored when
   * it knows none: for what a workflow keeps all its life (its kind, phone, channel), and for a
   * check its step makes again (that it is live).
   */
  async current(id: string): Promise<WorkflowRecord | undefined> {
    // Read into what this process knows: the step that follows applies to it without a read.
    const known = await this.known(id);
    return known ? publicRecord(known) : this.get(id);
  }

  /**
   * The live record as this process last wrote or read it, or read now — unless it closed here
   * lately (then undefined: closed is final).
   */
  private async known(id: string): Promise<StoredWorkflow | undefined> {
    return this.latest.get(id)?.stored ?? (this.recent.has(id) ? undefined : await this.read(id));
  }

  machineOf(kind: string) {
    return this.kinds.get(kind)?.def.machine;
  }

  async isLive(id: string): Promise<boolean> {
    return (await this.workflows.get(id)) !== undefined;
  }

  /** Live workflows of a phone (its PIN windows). */
  async liveOfPhone(phone: string): Promise<WorkflowRecord[]> {
    return (await this.workflows.liveOfPhone(phone)).map(publicRecord);
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
    const only: ArchiveKey | undefined = filter.phone
      ? { field: 'phone', value: filter.phone }
      : filter.card
        ? { field: 'card', value: filter.card }
        : filter.terminal
          ? { field: 'terminal', value: filter.terminal }
          : undefined;
    const byDay = new Map<string, Map<string, WorkflowRecord>>();
    const put = (r: WorkflowRecord) => {
      const day = archiveDay(r);
      let m = byDay.get(day);
      if (!m) byDay.set(day, (m = new Map()));
      m.set(r.id, r);
    };
    const days = new Set<string>();
    for (const kind of kinds) for (const day of await this.workflows.archiveDays(kind)) days.add(day);
    const fresh = await this.fresh(kinds);
    for (const r of fresh) days.add(archiveDay(r));
    const items: WorkflowRecord[] = [];
    for (const day of [...days].sort().reverse()) {
      if (day < fromDay || day > toDay) continue;
      for (const kind of kinds) await this.workflows.scanArchive(kind, day, put, only);
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

  /** Live records and the ones closed lately (which may not be in their archive file yet). */
  private async fresh(kinds: string[]): Promise<WorkflowRecord[]> {
    const out: WorkflowRecord[] = [];
    for await (const w of this.workflows.live()) if (kinds.includes(w.kind)) out.push(publicRecord(w));
    for (const r of this.recent.values()) if (kinds.includes(r.kind)) out.push(r);
    return out;
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
    const fresh = await this.fresh(kinds);
    const days = new Set<string>();
    for (const kind of kinds) for (const day of await this.workflows.archiveDays(kind)) days.add(day);
    for (const r of fresh) days.add(archiveDay(r));
    for (const day of [...days].sort()) {
      if (day < fromDay || day > toDay) continue;
      const seen = new Map<string, WorkflowRecord>();
      for (const kind of kinds) await this.workflows.scanArchive(kind, day, (r) => seen.set(r.id, r));
      for (const r of fresh) if (archiveDay(r) === day) seen.set(r.id, r);
      for (const r of seen.values()) visit(r);
    }
  }

  /**
   * Rewrite every closed record of a phone (a guest's erasure): those closed lately, and in each
   * archive day that may hold the phone. Answers how many records changed.
   */
  async rewriteClosedOf(phone: string, change: (r: WorkflowRecord) => WorkflowRecord): Promise<number> {
    for (const [id, r] of this.recent) if (r.phone === phone) this.recent.set(id, change(r));
    const kinds = [...this.kinds.keys(), ...(this.opts.closedKinds ?? []).map((k) => k.kind)];
    let changed = 0;
    for (const kind of kinds)
      for (const day of await this.workflows.archiveDays(kind))
        changed += await this.workflows.rewriteArchive(
          kind,
          day,
          (r) => (r.phone === phone ? change(r) : r),
          {
            only: { field: 'phone', value: phone },
          },
        );
    return changed;
  }

  /** Summarise the archive days that have no summary yet, in the background (after a start). */
  warmArchiveKeys(): Promise<number> {
    return this.workflows.warmArchive?.([...this.kinds.keys()]) ?? Promise.resolve(0);
  }

  /** Keep the archive day summaries beside their days (at shutdown, before the store closes). */
  saveArchiveKeys(): Promise<void> {
    return this.workflows.saveArchive?.() ?? Promise.resolve();
  }

  /** Live records, for inspection. */
  async liveRecords(): Promise<WorkflowRecord[]> {
    const out: WorkflowRecord[] = [];
    for await (const w of this.workflows.live()) out.push(publicRecord(w));
    return out;
  }

  /**
   * Take up the stored workflows: fire the deadlines that passed while nothing ran, start the
   * ticker, and run again the effects stored records still wait for (idempotent by key).
   */
  async restore(): Promise<number> {
    let count = 0;
    const waiting: StoredWorkflow[] = [];
    for await (const row of this.workflows.live()) {
      count += 1;
      const k = this.kinds.get(row.kind);
      if (!k) continue;
      let w = row;
      if (isEarlier(row)) {
        const upgraded = upgrade(row, k.def.machine, k.project);
        if (!upgraded) {
          // Nothing to go on from: closed as it stands, kept in the archive.
          const closedAt = this.iso();
          await this.workflows.close({ ...publicRecord(row), live: false, closedAt }, null);
          continue;
        }
        if (!(await this.workflows.put(upgraded, null))) continue;
        w = upgraded;
      }
      this.opts.logger.info({ workflow: w.id, kind: w.kind, state: w.state }, 'workflow restored');
      if (w.effects.length) waiting.push(w);
    }
    for (const w of waiting) this.runEffects(this.kindOf(w.kind), w.id, w.effects);
    await this.fireDeadlines();
    await this.opts.store.flush();
    return count;
  }

  // ---- handling an event -----------------------------------------------------------------------

  /**
   * Apply one event: read, transition, compare-and-set, then run the effects it started. `make`
   * answers the event from the stored record, or a word for why none applies.
   */
  private apply(
    id: string,
    make: (now: number, stored: StoredWorkflow) => WorkflowEvent | 'busy' | null,
  ): Promise<'applied' | 'unchanged' | 'busy' | 'closed'> {
    // Across processes the compare-and-set below settles a race; a lock would only cost.
    return this.workflows.serialize(
      `workflow:${id}`,
      async () => {
        for (let fresh = false; ; fresh = true) {
          const known = fresh ? undefined : this.latest.get(id);
          const stored = known?.stored ?? (await this.read(id));
          if (!stored) return 'closed';
          const k = this.kindOf(stored.kind);
          const event = make(this.opts.clock.now(), stored);
          // Nothing to write: decided again on the stored record when this one was remembered.
          if (event === null || event === 'busy') {
            if (known) continue;
            return event ?? 'unchanged';
          }
          const from = known?.snapshot ?? this.resolve(k, stored);
          const { next, actions } = this.transition(k, stored, from, event);
          const outcome = event.type.startsWith(DONE) || event.type.startsWith(ERROR);
          const seq = typeof event.seq === 'number' ? event.seq : null;
          if (next === from && !outcome) {
            if (known) continue;
            return 'unchanged';
          }
          const step = await this.lookups(k, this.record(k, stored, next, actions, event, seq));
          if (await this.commit(k, step, stored.version)) return 'applied';
          this.latest.delete(id); // another process came first: read again
        }
      },
      'process',
    );
  }

  /** The stored record, remembered as the latest this process knows. */
  private async read(id: string): Promise<StoredWorkflow | undefined> {
    const stored = await this.workflows.get(id);
    if (stored) this.latest.set(id, { stored });
    else this.latest.delete(id);
    return stored;
  }

  /** The machine snapshot of a stored record. */
  private resolve(k: Kind, stored: StoredWorkflow): AnyMachineSnapshot {
    const { value, context } = stored.snapshot;
    return k.def.machine.resolveState({ value, context });
  }

  /**
   * The record after a transition: state, timeline entry, projection, due time, and the effects
   * still pending (those of states left are dropped; the outcome applied now is done).
   */
  private record(
    k: Kind,
    stored: StoredWorkflow,
    next: AnyMachineSnapshot,
    actions: ExecutableActionObject[],
    event: WorkflowEvent,
    appliedSeq: number | null,
  ): Step {
    const now = this.opts.clock.now();
    const failed = next.status === 'error';
    const to = failed ? 'error' : stateName(next.value);
    const context: Record<string, unknown> = next.context ?? {};
    const error: ErrorData | null = failed
      ? { code: 'INTERNAL' }
      : ((context.error as ErrorData | null | undefined) ?? null);
    const isOutcome = event.type.startsWith(DONE) || event.type.startsWith(ERROR);
    let cause = eventName(event.type);
    if (isOutcome) {
      const effect = event.type.slice(event.type.startsWith(DONE) ? DONE.length : ERROR.length);
      const bad = event.type.startsWith(ERROR) || (error !== null && !sameError(error, stored.error));
      cause = `${effect}.${bad ? 'error' : 'done'}`;
    }
    const quiet =
      k.def.quietEffects && isOutcome && to === stored.state && !failed && sameError(error, stored.error);
    const timeline: TimelineEntry[] = quiet ? stored.timeline : [...stored.timeline];
    let updatedAt = stored.updatedAt;
    let shownError = stored.error;
    if (!quiet) {
      const from = stored.timeline.length ? stored.state : null;
      const detail: Record<string, unknown> = {};
      if (error && (!sameError(error, stored.error) || from === to))
        Object.assign(detail, { code: error.code, ...error.extra });
      if (typeof event.reason === 'string') detail.reason = event.reason;
      timeline.push({
        at: this.iso(now),
        event: cause,
        from,
        to,
        by: isOutcome ? 'system' : (event.by ?? 'system'),
        ...(Object.keys(detail).length ? { detail } : {}),
      });
      updatedAt = this.iso(now);
      shownError = error;
    }
    // Effects: those of states left are over; the one whose outcome this is, too.
    const activeNodes = new Set(next._nodes.map((n) => n.id));
    const spawned: PendingEffect[] = [];
    const custom: Array<() => unknown> = [];
    let effectSeq = stored.effectSeq;
    for (const action of actions) {
      if (action.type === 'xstate.spawnChild') {
        const params = action.params as { id: string; src: unknown; input: unknown };
        const src = typeof params.src === 'string' ? params.src : params.id;
        const node = next._nodes.find((n) => n.invoke.some((i) => i.id === params.id))?.id ?? '';
        spawned.push({ seq: ++effectSeq, id: params.id, src, input: params.input, node });
      } else if (!action.type.startsWith('xstate.')) {
        const run = action.exec;
        if (run) custom.push(() => run(action.info, action.params));
      }
    }
    const respawned = new Set(spawned.map((e) => e.id));
    const effects = [
      ...stored.effects.filter(
        (e) => e.seq !== appliedSeq && activeNodes.has(e.node) && !respawned.has(e.id),
      ),
      ...spawned,
    ];
    const projected = failed ? null : k.project(context);
    const timed = !failed && next.status === 'active' && next.hasTag('timed');
    const deadline = timed && projected ? projected.deadline : null;
    const closing = next.status !== 'active';
    const base: WorkflowRecord = {
      id: stored.id,
      kind: stored.kind,
      state: to,
      live: !closing,
      createdAt: stored.createdAt,
      updatedAt,
      closedAt: closing ? updatedAt : null,
      terminal: projected?.terminal ?? stored.terminal,
      phone: projected?.phone ?? stored.phone,
      card: projected ? projected.card : stored.card,
      deadline: deadline === null ? null : this.iso(deadline),
      error: shownError,
      timeline,
      view: projected?.view ?? stored.view,
    };
    if (closing) return { closed: base, custom };
    const live: StoredWorkflow = Object.assign(base, {
      version: stored.version + 1,
      snapshot: { value: next.value, context },
      effects,
      effectSeq,
      busy: next.hasTag('busy'),
      due: deadline,
    });
    return {
      stored: live,
      resolved: next,
      spawned,
      custom,
    };
  }

  /** Write a step (compare-and-set on `expected`), then tell watchers and run what it started. */
  private async commit(k: Kind, step: Step, expected: number | null): Promise<boolean> {
    // A closed record gets its last touches (the latest delivery statuses) before it is archived.
    if (step.closed) step = { ...step, closed: await k.finalize(step.closed) };
    if (step.closed) {
      if (expected === null) {
        // Closed at its birth: nothing live was ever written.
        await this.workflows.archive(step.closed);
      } else if (!(await this.workflows.close(step.closed, expected))) return false;
      const record = step.closed;
      this.latest.delete(record.id);
      this.recent.set(record.id, record);
      await this.runActions(record.id, step.custom);
      k.onClosed(record);
      for (const listener of this.closeListeners) listener(record);
      this.wake(record);
      return true;
    }
    const stored = step.stored!;
    // A step that starts effects names this process as their runner in the same write.
    const starts = Boolean(step.spawned?.length);
    const lease = starts ? { owner: this.owner, until: this.opts.clock.now() + this.leaseMs } : undefined;
    if (!(await this.workflows.put(stored, expected, lease))) return false;
    this.latest.set(stored.id, { stored, snapshot: step.resolved! });
    await this.runActions(stored.id, step.custom);
    if (starts) this.runEffects(k, stored.id, step.spawned!, true);
    if (this.watchers.has(stored.id)) this.wake(publicRecord(stored), stored.busy);
    if (stored.due !== null) this.armTicker(stored.due);
    return true;
  }

  /**
   * The machine's own actions of a written step, one after another, each finished (on disk, for
   * an engine that writes at once) before the step is answered. One that fails is logged: the
   * step is written, and its answer stands.
   */
  private async runActions(id: string, actions: Array<() => unknown>) {
    for (const run of actions) {
      try {
        await run();
      } catch (err) {
        this.opts.logger.error({ err, workflow: id }, 'workflow action failed');
      }
    }
  }

  /**
   * Run effects; each outcome comes back as an event, applied only while its effect is pending.
   * `claimed`: the write that started them named this process their runner; otherwise they are
   * claimed first (effects taken up after a restart, or from a process that stopped), and left
   * alone when another process holds them. The claim is renewed while an effect runs.
   */
  private runEffects(k: Kind, id: string, effects: PendingEffect[], claimed = false) {
    const { workflows } = this;
    const { clock } = this.opts;
    const claim = () => {
      const now = clock.now();
      return workflows.claimEffects(id, this.owner, now, now + this.leaseMs);
    };
    for (const e of effects) {
      const key = `${id}#${e.seq}`;
      if (this.running.has(key)) continue;
      this.running.add(key);
      let renew: NodeJS.Timeout | undefined;
      void (claimed ? Promise.resolve(true) : claim())
        .then(async (mine) => {
          // Another process runs it (and applies its outcome): nothing to do here.
          if (!mine) return;
          renew = setInterval(() => void claim().catch(() => undefined), this.leaseMs / 3);
          renew.unref();
          const outcome = await this.outcome(k, e);
          await this.apply(id, (now, stored) =>
            stored.effects.some((p) => p.seq === e.seq) ? { ...outcome, now, by: 'system' } : null,
          );
        })
        .catch((err) => this.opts.logger.error({ err, workflow: id, effect: e.src }, 'effect outcome lost'))
        .finally(() => {
          clearInterval(renew);
          this.running.delete(key);
          this.nudge(id);
        });
    }
  }

  /** Take up the effects whose runner stopped (where several processes share the store). */
  private async adoptOrphans(): Promise<void> {
    if (!this.workflows.orphanedEffects) return;
    for (const w of await this.workflows.orphanedEffects(this.opts.clock.now())) {
      const k = this.kinds.get(w.kind);
      if (k) this.runEffects(k, w.id, w.effects);
    }
  }

  // ---- waiting ---------------------------------------------------------------------------------

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
    await this.watch(id, (record) => test(record), timeoutMs);
    return this.get(id);
  }

  /**
   * Whether `reached` held for a change of the workflow within `timeoutMs`; with `nudged`, the
   * wait also ends when an effect of this process on the workflow ends, so the caller looks
   * again.
   */
  private watch(
    id: string,
    reached: Reached,
    timeoutMs: number,
    nudged = false,
  ): Promise<'reached' | 'nudged' | 'timeout'> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => finish('timeout'), timeoutMs);
      const finish = (reached: 'reached' | 'nudged' | 'timeout') => {
        clearTimeout(timer);
        const list = this.watchers.get(id)?.filter((w) => w !== waiter) ?? [];
        if (list.length) this.watchers.set(id, list);
        else this.watchers.delete(id);
        resolve(reached);
      };
      const waiter = {
        reached,
        done: () => finish('reached'),
        nudge: nudged ? () => finish('nudged') : undefined,
      };
      this.watchers.set(id, [...(this.watchers.get(id) ?? []), waiter]);
    });
  }

  /** An effect of this process on the workflow ended: the waits that asked to look again. */
  private nudge(id: string) {
    for (const w of this.watchers.get(id) ?? []) w.nudge?.();
  }

  /** Tell the waiters of a workflow it changed. */
  private wake(record: WorkflowRecord, busy = false) {
    const list = this.watchers.get(record.id);
    if (!list) return;
    for (const w of list) if (!record.live || w.reached(record, busy)) w.done();
  }

  /**
   * Resolves once no effect a request waits for runs (a `busy` state); TIMEOUT after the limit.
   * An effect of this process wakes the wait when its outcome is applied; where processes share
   * the store, the effect may run in another, so the store is read again every `IDLE_POLL_MS`.
   */
  private async idle(id: string): Promise<void> {
    // A real-time wait (the answer's own time limit), whatever clock the workflows keep.
    const deadline = performance.now() + this.opts.settleTimeoutMs;
    for (let known = true; ;) {
      // As this process knows it — its own effects' outcomes are written from here — unless a
      // wait for an effect running elsewhere ran out: then as stored.
      const stored = (known ? this.latest.get(id)?.stored : undefined) ?? (await this.read(id));
      if (!stored?.busy) return;
      const left = deadline - performance.now();
      if (left <= 0) throw new AppError('TIMEOUT');
      // Effects this process runs wake the wait as they end; one that runs elsewhere (another
      // process sharing the store), or ended in the moment of the read, is looked for in the
      // store every IDLE_POLL_MS.
      const ours = stored.effects.every((e) => this.running.has(`${id}#${e.seq}`));
      const wait = ours ? left : Math.min(left, IDLE_POLL_MS);
      const woke = await this.watch(id, (_record, busy) => !busy, wait, true);
      if (woke === 'reached') return;
      known = woke === 'nudged';
    }
  }

  /** The record once it is idle, flushed to disk: what an answer reports. */
  private async settle(id: string): Promise<WorkflowRecord> {
    if ((await this.known(id))?.busy) await this.idle(id);
    await this.opts.store.flush();
    // The latest record this process knows, or the closed one (read only when neither is here).
    const latest = this.latest.get(id)?.stored;
    const record = latest && !latest.busy ? publicRecord(latest) : await this.get(id);
    if (!record) throw new AppError('SESSION_NOT_FOUND');
    return record;
  }

  // ---- closed-from-birth records and the archive -------------------------------------------------

  /**
   * Keep a record that is closed from its birth (a start refused before any workflow began):
   * archived like a closed workflow, found by the same `search` and `get`.
   */
  addClosed(record: WorkflowRecord): Promise<void> {
    this.recent.set(record.id, record);
    return this.workflows.archive(record);
  }

  // ---- deadlines ---------------------------------------------------------------------------------

  /**
   * Fire every deadline that is due by the clock now (the ticker does this by itself; a clock
   * moved by hand, in tests, or a machine waking from sleep may want it at once).
   */
  async fireDeadlines(): Promise<number> {
    await this.adoptOrphans();
    const now = this.opts.clock.now();
    const due = await this.workflows.due(now);
    await Promise.all(
      due.map((w) =>
        this.send(w.id, (t) => ({ type: 'EXPIRE', now: t, by: 'system' })).catch(() => undefined),
      ),
    );
    await this.rearm();
    return due.length;
  }

  /** When the ticker next wakes for this workflow's deadline (null: it has none). */
  async timerDue(id: string): Promise<number | null> {
    const stored = await this.workflows.get(id);
    return stored?.due === null || stored === undefined ? null : this.tickerAt;
  }

  /** Make sure the ticker wakes by `due` (a far deadline is reached in steps). */
  private armTicker(due: number) {
    if (this.stopped) return;
    const now = this.opts.clock.now();
    // setTimeout fires early by up to a millisecond; the machine's guard re-checks `now`.
    const at =
      now + Math.min(MAX_TIMER_MS, this.workflows.pollMs ?? MAX_TIMER_MS, Math.max(0, due - now) + 5);
    if (this.ticker && this.tickerAt !== null && this.tickerAt <= at) return;
    if (this.ticker) clearTimeout(this.ticker);
    this.tickerAt = at;
    this.ticker = setTimeout(() => {
      this.ticker = null;
      this.tickerAt = null;
      void this.fireDeadlines().catch((err) => this.opts.logger.error({ err }, 'deadlines failed'));
    }, at - now);
  }

  private async rearm() {
    const next = await this.workflows.nextDue();
    // Where other processes write deadlines too, look again even when none is known here.
    const poll = this.workflows.pollMs;
    if (next !== null || poll !== undefined) this.armTicker(next ?? this.opts.clock.now() + poll!);
  }

  /** Stop the ticker; stored workflows stay live, to be taken up again by `restore`. */
  stop() {
    this.stopped = true;
    if (this.ticker) clearTimeout(this.ticker);
    this.ticker = null;
    this.tickerAt = null;
  }
}

/** Whether a change of a workflow is what a waiter waits for (`busy`: an awaited effect runs). */
type Reached = (record: WorkflowRecord, busy: boolean) => boolean;

/** What one transition writes: the live record, or the closed one. */
interface Step {
  stored?: StoredWorkflow;
  resolved?: AnyMachineSnapshot;
  spawned?: PendingEffect[];
  closed?: WorkflowRecord;
  /**
   * The machine's own actions (a card released), run once the step is written and before the
   * step is answered (an action that returns a promise is waited for).
   */
  custom: Array<() => unknown>;
}

/**
 * A workflow kind as the host holds it, its types erased: the one place a stored context is read
 * as its own machine's context, and a start's input as the kind's.
 */
export function workflowKind<C extends object, I extends object, V extends Record<string, unknown>>(
  def: WorkflowKind<C, I, V>,
): Kind {
  return {
    def,
    steps: stepper(def.machine),
    project: (context) => def.project(context as C),
    machineInput: (input, id) => def.machineInput(input as I, id),
    onClosed: (record) => def.onClosed?.(record as WorkflowRecord<V>),
    finalize: async (record) => (def.finalize ? def.finalize(record as WorkflowRecord<V>) : record),
  };
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
