/**
 * A run's books: its plan (an immutable file of phone and card, in order), its counts, the batch
 * in flight, the retry list, and each recipient's outcome lines in the run's append-only file.
 *
 * A recipient moves queued → sending → sent | failed | skipped | unknown, and its count changes
 * in the same commit as its outcome. `sending` needs no row of its own: the batch's in-flight
 * row (plan positions `[from, to)` and those taken again from the retry list) covers it, so a
 * position of that row with no outcome line was caught in `sending` by a crash.
 */
import type { Card, Clock, DeliveryStatus, RecordStore, Table } from '../ports.ts';
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

/** A run's plan, kept compact: two arrays of strings, not a hundred thousand row objects. */
export interface Plan {
  phones: string[];
  cards: string[];
}

export class RunBook {
  readonly counts: Table<RunCounts>;
  readonly batches: Table<BatchInFlight>;
  readonly retries: Table<RetryList>;
  /** Each live run's plan; the cursor in its counts says how far it went. */
  private readonly plans = new Map<string, Plan>();

  constructor(
    private readonly store: RecordStore,
    private readonly clock: Clock,
  ) {
    this.counts = store.table<RunCounts>('runCounts');
    this.batches = store.table<BatchInFlight>('campaignBatches');
    this.retries = store.table<RetryList>('campaignRetries');
  }

  private readonly stamp = isoStamper();
  /** ISO time of `t` (now by default). */
  iso(t = this.clock.now()) {
    return this.stamp(t);
  }

  runCounts(runId: string): RunCounts {
    return this.counts.get(runId) ?? emptyCounts(runId);
  }

  /** Recipients of a run refused with their whole request, waiting for the resume. */
  awaitingRetry(runId: string): number {
    return this.retries.get(runId)?.positions.length ?? 0;
  }

  /**
   * Build the run's plan from its audience and write it as one durable, immutable file before
   * the run counts as prepared. Re-run after a crash, it writes the same plan again.
   */
  async prepare(
    runId: string,
    audience: (visit: (card: Card) => void) => Promise<Record<string, number>>,
  ): Promise<void> {
    if (this.runCounts(runId).prepared) return;
    const phones: string[] = [];
    const cards: string[] = [];
    const next: RunCounts = emptyCounts(runId);
    next.skippedReasons = await audience((card) => {
      phones.push(card.holder!.phone!);
      cards.push(card.number);
    });
    await this.store.putBlob(`plan-${runId}.csv`, phones.map((p, i) => `${p},${cards[i]}\n`).join(''));
    next.total = phones.length;
    next.queued = phones.length;
    next.prepared = true;
    this.counts.put(runId, next);
    this.plans.set(runId, { phones, cards });
    await this.store.flush();
  }

  async plan(runId: string): Promise<Plan> {
    let plan = this.plans.get(runId);
    if (!plan) {
      const text = (await this.store.getBlob(`plan-${runId}.csv`)) ?? '';
      plan = { phones: [], cards: [] };
      for (const line of text.split('\n')) {
        if (!line) continue;
        const [phone, card] = line.split(',');
        plan.phones.push(phone!);
        plan.cards.push(card!);
      }
      this.plans.set(runId, plan);
    }
    return plan;
  }

  /** A run ended (or is not this process's to keep): nothing of it stays in memory. */
  forget(runId: string) {
    this.plans.delete(runId);
  }

  /**
   * Change one recipient's status and the run's counts together (one commit). The counts are
   * updated in place: the store serialises a changed row once, at its next commit. `sending`
   * needs no row of its own (the batch's row covers it); a final outcome is a line of the
   * run's append-only file.
   */
  move(
    r: Recipient,
    to: RecipientStatus,
    extra: Partial<Recipient> = {},
    /** False for a recipient taken again from the retry list: the cursor passed it already. */
    fromPlan = true,
  ): Recipient {
    let c = this.counts.get(r.runId);
    if (!c) this.counts.put(r.runId, (c = emptyCounts(r.runId)));
    c[r.status as 'queued'] -= 1;
    c[to as 'queued'] += 1;
    if (r.status === 'queued' && fromPlan) c.cursor += 1;
    if (to === 'skipped' && extra.reason)
      c.skippedReasons[extra.reason] = (c.skippedReasons[extra.reason] ?? 0) + 1;
    if (to === 'sent' && extra.segments) c.segments += extra.segments;
    if (to === 'sent' && extra.cost) c.cost += Math.round(Number(extra.cost) * 10_000);
    this.counts.put(r.runId, c);
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
    this.store.archive('recipients', r.runId, next);
    return next;
  }

  /** A final delivery status of a campaign message: a line in the run's file, and the counts. */
  delivered(runId: string, phone: string, status: DeliveryStatus) {
    const c = this.counts.get(runId);
    if (!c || !FINAL_DELIVERY.has(status)) return;
    if (status === 'delivered') {
      c.sent -= 1;
      c.delivered += 1;
      this.counts.put(runId, c);
    }
    this.store.archive('recipients', runId, { runId, phone, status, at: this.iso() });
  }

  /**
   * The plan positions of a run's batch in flight, in plan order: those taken again from the
   * retry list, then its range; less those refused with their whole request, back on the list.
   * Those with no outcome line yet are `sending`.
   */
  inFlightPositions(runId: string): number[] {
    const b = this.batches.get(runId);
    if (!b) return [];
    const waiting = new Set(this.retries.get(runId)?.positions ?? []);
    const positions = [...(b.again ?? [])];
    for (let i = b.from; i < b.to; i++) positions.push(i);
    return positions.filter((i) => !waiting.has(i));
  }

  /** The positions of a batch in flight that have no outcome line: caught in `sending`. */
  async unsettled(runId: string): Promise<Recipient[]> {
    const plan = await this.plan(runId);
    const open = new Map<string, string>();
    for (const i of this.inFlightPositions(runId)) open.set(plan.phones[i]!, plan.cards[i]!);
    await this.store.scanArchive<Recipient>('recipients', runId, (r) => {
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
    await this.store.flush(); // lines of a moment ago may still be pending
    const plan = await this.plan(runId);
    const latest = new Map<string, string>(); // phone → latest status, in order of first line
    const records = new Map<string, Recipient>(); // the page's phones → their merged lines
    const unfilteredPage = (index: number) => !status && index >= offset && index < offset + limit;
    const merge = (r: Recipient) => {
      const known = records.get(r.phone);
      if (known) records.set(r.phone, { ...known, ...r });
    };
    await this.store.scanArchive<Recipient>('recipients', runId, (r) => {
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
    for (const i of this.inFlightPositions(runId))
      if (!latest.has(plan.phones[i]!)) consider(plan.phones[i]!, i, 'sending');
    for (const i of this.retries.get(runId)?.positions ?? []) consider(plan.phones[i]!, i, 'queued');
    for (let i = this.runCounts(runId).cursor; i < plan.phones.length; i++)
      consider(plan.phones[i]!, i, 'queued');
    // With a status filter, the page's records are read now that the page is known.
    const fromFile = page.filter((p) => p.position === null && !records.has(p.phone));
    if (fromFile.length) {
      for (const p of fromFile) records.set(p.phone, { runId, phone: p.phone, card: '', status: 'queued' });
      await this.store.scanArchive<Recipient>('recipients', runId, merge);
    }
    if (!live) this.plans.delete(runId);
    return {
      items: page.map((p) =>
        p.position === null
          ? records.get(p.phone)!
          : { runId, phone: p.phone, card: plan.cards[p.position]!, status: p.status as RecipientStatus },
      ),
      next: offset + limit < matched ? offset + limit : null,
    };
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
      const plan = await this.plan(runId);
      const position = new Map(plan.phones.map((p, i) => [p, i]));
      const cursor = this.runCounts(runId).cursor;
      const row = this.batches.get(runId) ?? { runId, from: cursor, to: cursor, at: this.iso() };
      const again = new Set(row.again ?? []);
      for (const r of list) {
        const i = position.get(r.phone);
        if (i !== undefined && (i < row.from || i >= row.to)) again.add(i);
        rows.delete(`${r.runId}:${r.phone}`);
        moved += 1;
      }
      this.batches.put(runId, again.size ? { ...row, again: [...again].sort((a, b) => a - b) } : row);
      this.plans.delete(runId);
    }
    if (moved) await this.store.flush();
    return moved;
  }
}
