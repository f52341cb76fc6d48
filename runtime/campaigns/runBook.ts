/**
 * A run's books: its plan (an immutable file of phone and card, in order), its counts, the batch
 * in flight, the retry list, and each recipient's outcome lines in the run's append-only file,
 * kept in the engine's campaign rows (`CampaignRows`).
 *
 * A recipient moves queued → sending → sent | failed | skipped | unknown, and its count changes
 * in the same commit as its outcome. `sending` needs no row of its own: the batch's in-flight
 * row (plan positions `[from, to)` and those taken again from the retry list) covers it, so a
 * position of that row with no outcome line was caught in `sending` by a crash.
 */
import type { Card, Clock, DeliveryStatus } from '../ports.ts';
import { Plan } from './plan.ts';
import type { BookChange, CampaignRows, CountsDelta } from './rows.ts';
import { isoStamper } from '../zoneFormat.ts';
import {
  emptyCounts,
  FINAL_DELIVERY,
  internStatus,
  type BatchInFlight,
  type Recipient,
  type RecipientStatus,
  type RetryList,
  type RunCounts,
} from './types.ts';

/** A run's books as changed in this process and not yet committed. */
interface Staged {
  delta: CountsDelta;
  batch?: BatchInFlight | null;
  retries?: RetryList | null;
  lines: Recipient[];
}

export class RunBook {
  /** Each live run's plan; the cursor in its counts says how far it went. */
  private readonly plans = new Map<string, Plan>();
  /** The counts a batch running in this process moves (its cursor decides what is taken next). */
  private readonly working = new Map<string, RunCounts>();
  private readonly staged = new Map<string, Staged>();
  /** Each run's commit in progress: commits of one run are written one after another. */
  private readonly commits = new Map<string, Promise<void>>();

  constructor(
    readonly rows: CampaignRows,
    private readonly clock: Clock,
  ) {}

  private readonly stamp = isoStamper();
  /** ISO time of `t` (now by default). */
  iso(t = this.clock.now()) {
    return this.stamp(t);
  }

  async runCounts(runId: string): Promise<RunCounts> {
    return (await this.rows.counts(runId)) ?? emptyCounts(runId);
  }

  /** Recipients of a run refused with their whole request, waiting for the resume. */
  async awaitingRetry(runId: string): Promise<number> {
    return (await this.rows.retries(runId))?.positions.length ?? 0;
  }

  /**
   * Build the run's plan from its audience and write it, whole and durable, before the run
   * counts as prepared. Re-run after a crash, it writes the same plan again.
   */
  async prepare(
    runId: string,
    audience: (visit: (card: Card) => void) => Promise<Record<string, number>>,
  ): Promise<void> {
    if ((await this.rows.counts(runId))?.prepared) return;
    // The text is joined a thousand lines at a time: while the audience is walked, a million
    // recipients are a thousand flat strings, not a million small ones.
    const chunks: string[] = [];
    let lines: string[] = [];
    const next: RunCounts = emptyCounts(runId);
    next.skippedReasons = await audience((card) => {
      lines.push(`${card.holder!.phone!},${card.number}\n`);
      if (lines.length === 1000) {
        chunks.push(lines.join(''));
        lines = [];
      }
    });
    chunks.push(lines.join(''));
    const plan = new Plan(chunks.join(''));
    chunks.length = 0;
    await this.rows.putPlan(runId, plan.text);
    next.total = plan.length;
    next.queued = plan.length;
    next.prepared = true;
    await this.rows.commit({ runId, counts: next });
    this.plans.set(runId, plan);
  }

  async plan(runId: string): Promise<Plan> {
    let plan = this.plans.get(runId);
    if (!plan) {
      plan = new Plan((await this.rows.plan(runId)) ?? '');
      this.plans.set(runId, plan);
    }
    return plan;
  }

  /**
   * The counts a batch of the run works with, read now: the batch moves its cursor as it takes
   * recipients (the other counts change by deltas at each commit).
   */
  async open(runId: string): Promise<RunCounts> {
    const counts = await this.runCounts(runId);
    this.working.set(runId, counts);
    return counts;
  }

  /** A run ended (or is not this process's to keep): nothing of it stays in memory. */
  forget(runId: string) {
    this.plans.delete(runId);
    this.working.delete(runId);
  }

  private stage(runId: string): Staged {
    let s = this.staged.get(runId);
    if (!s) this.staged.set(runId, (s = { delta: {}, lines: [] }));
    return s;
  }

  /** The batch in flight, written at the run's next commit (null: none). */
  setInFlight(runId: string, row: BatchInFlight | null) {
    this.stage(runId).batch = row;
  }

  /** The retry list, written at the run's next commit (null: empty). */
  setRetries(runId: string, row: RetryList | null) {
    this.stage(runId).retries = row;
  }

  /**
   * Write what was staged for a run, as one change, durable when it resolves. Commits of a run
   * are written in order; one that waits takes everything staged meanwhile (a group commit).
   */
  commit(runId: string): Promise<void> {
    const prev = this.commits.get(runId);
    const next = (prev ?? Promise.resolve())
      .catch(() => undefined)
      .then(() => {
        const s = this.staged.get(runId);
        if (!s) return;
        this.staged.delete(runId);
        const change: BookChange = { runId, lines: s.lines };
        if (Object.keys(s.delta).length) change.delta = s.delta;
        if (s.batch !== undefined) change.batch = s.batch;
        if (s.retries !== undefined) change.retries = s.retries;
        return this.rows.commit(change);
      });
    this.commits.set(runId, next);
    void next
      .finally(() => {
        if (this.commits.get(runId) === next) this.commits.delete(runId);
      })
      .catch(() => undefined);
    return next;
  }

  /**
   * Change one recipient's status and the run's counts together (staged for the run's next
   * commit). `sending` needs no line of its own (the batch's row covers it); a final outcome is
   * a line of the run's append-only file.
   */
  move(
    r: Recipient,
    to: RecipientStatus,
    extra: Partial<Recipient> = {},
    /** False for a recipient taken again from the retry list: the cursor passed it already. */
    fromPlan = true,
  ): Recipient {
    const s = this.stage(r.runId);
    const d = s.delta as Record<string, number>;
    const c = this.working.get(r.runId);
    d[r.status] = (d[r.status] ?? 0) - 1;
    d[to] = (d[to] ?? 0) + 1;
    if (r.status === 'queued' && fromPlan) {
      d.cursor = (d.cursor ?? 0) + 1;
      if (c) c.cursor += 1;
    }
    if (to === 'skipped' && extra.reason) {
      const reasons = (s.delta.skippedReasons ??= {});
      reasons[extra.reason] = (reasons[extra.reason] ?? 0) + 1;
    }
    if (to === 'sent' && extra.segments) d.segments = (d.segments ?? 0) + extra.segments;
    if (to === 'sent' && extra.cost) d.cost = (d.cost ?? 0) + Math.round(Number(extra.cost) * 10_000);
    if (to === 'sending' || to === 'queued') {
      r.status = to; // no line: the batch's row covers `sending`, the retry list `queued`
      return r;
    }
    // Built field by field: `{ ...r, ...extra }` takes V8's slow path here, 4 µs a recipient.
    const next: Recipient = Object.assign(
      { runId: r.runId, phone: r.phone, card: r.card, status: to },
      extra,
    );
    next.at = this.iso();
    s.lines.push(next);
    return next;
  }

  /** A final delivery status of a campaign message: a line in the run's file, and the counts. */
  delivered(runId: string, phone: string, status: DeliveryStatus) {
    if (!FINAL_DELIVERY.has(status)) return;
    const s = this.stage(runId);
    if (status === 'delivered') {
      const d = s.delta as Record<string, number>;
      d.sent = (d.sent ?? 0) - 1;
      d.delivered = (d.delivered ?? 0) + 1;
    }
    s.lines.push({ runId, phone, status, at: this.iso() } as Recipient);
  }

  /**
   * The plan positions of a run's batch in flight, in plan order: those taken again from the
   * retry list, then its range; less those refused with their whole request, back on the list.
   * Those with no outcome line yet are `sending`.
   */
  async inFlightPositions(runId: string): Promise<number[]> {
    const b = await this.rows.inFlight(runId);
    if (!b) return [];
    const waiting = new Set((await this.rows.retries(runId))?.positions ?? []);
    const positions = [...(b.again ?? [])];
    for (let i = b.from; i < b.to; i++) positions.push(i);
    return positions.filter((i) => !waiting.has(i));
  }

  /** The positions of a batch in flight that have no outcome line: caught in `sending`. */
  async unsettled(runId: string): Promise<Recipient[]> {
    const plan = await this.plan(runId);
    const open = new Map<string, string>();
    for (const i of await this.inFlightPositions(runId)) open.set(plan.phone(i), plan.card(i));
    await this.rows.scanLines(runId, (r) => {
      if (r.status !== 'sending' && r.status !== 'queued') open.delete(r.phone);
    });
    return [...open].map(([phone, card]) => ({ runId, phone, card, status: 'sending' }));
  }

  /**
   * Recipients of a run, by status, paged by position: final outcomes from the run's file (the
   * last line of a phone wins), those in flight, the rest queued in the plan.
   *
   * Memory stays small for a large run: the file is read for each phone's latest status only (a
   * word, not a record), and whole records are kept for the page alone. Without a status filter
   * the page is known as phones first appear, so one read does; with one, a second read fetches
   * the page's records. `live`: whether the run still runs (its plan then stays in memory).
   */
  async recipientsOf(
    runId: string,
    status: string | undefined,
    offset: number,
    limit: number,
    live: boolean,
  ) {
    const plan = await this.plan(runId);
    const latest = new Map<string, string>(); // phone → latest status, in order of first line
    const records = new Map<string, Recipient>(); // the page's phones → their merged lines
    const unfilteredPage = (index: number) => !status && index >= offset && index < offset + limit;
    const merge = (r: Recipient) => {
      const known = records.get(r.phone);
      if (known) records.set(r.phone, { ...known, ...r });
    };
    await this.rows.scanLines(runId, (r) => {
      if (!latest.has(r.phone) && unfilteredPage(latest.size)) records.set(r.phone, r);
      else merge(r);
      latest.set(r.phone, internStatus(r.status));
    });
    // The sequence: the file's phones, then positions in flight with no line yet, then those
    // waiting on the retry list, then the queue.
    const page: Array<{ phone: string; position: number | null; status: string }> = [];
    let matched = 0;
    const consider = (phone: string, position: number | null, state: string) => {
      if (status && state !== status) return;
      if (matched >= offset && matched < offset + limit) page.push({ phone, position, status: state });
      matched += 1;
    };
    for (const [phone, state] of latest) consider(phone, null, state);
    for (const i of await this.inFlightPositions(runId))
      if (!latest.has(plan.phone(i))) consider(plan.phone(i), i, 'sending');
    for (const i of (await this.rows.retries(runId))?.positions ?? []) consider(plan.phone(i), i, 'queued');
    // The queue is the plan from the cursor: only the page's part of it is read.
    const cursor = (await this.runCounts(runId)).cursor;
    if (!status || status === 'queued') {
      for (let i = cursor + Math.max(0, offset - matched); i < plan.length && page.length < limit; i++)
        page.push({ phone: plan.phone(i), position: i, status: 'queued' });
      matched += Math.max(0, plan.length - cursor);
    }
    // With a status filter, the page's records are read now that the page is known.
    const fromFile = page.filter((p) => p.position === null && !records.has(p.phone));
    if (fromFile.length) {
      for (const p of fromFile) records.set(p.phone, { runId, phone: p.phone, card: '', status: 'queued' });
      await this.rows.scanLines(runId, merge);
    }
    if (!live) this.plans.delete(runId);
    return {
      items: page.map((p) =>
        p.position === null
          ? records.get(p.phone)!
          : { runId, phone: p.phone, card: plan.card(p.position), status: p.status as RecipientStatus },
      ),
      next: offset + limit < matched ? offset + limit : null,
    };
  }
}
