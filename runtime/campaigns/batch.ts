/**
 * One batch of a campaign run: wait for the window, send up to a second's worth, persist every
 * outcome.
 *
 * The batch streams: each of a few senders takes the next request's worth of recipients
 * (consent checked again, the day's budget spent), marks them `sending` by widening the batch's
 * in-flight row, waits for that commit, and only then sends. A sender readies its next group
 * while its request is out, so commits and rendering overlap the requests in flight and the
 * provider is not kept waiting between requests. At most two groups per sender are `sending` at
 * once: what a crash can leave `unknown`.
 *
 * A campaign message is sent at most once. A request the provider may have taken without
 * answering is not tried again: its recipients are `unknown`. A request the provider refused as
 * a whole sent nothing: its recipients go back to `queued`, on the run's retry list, and the
 * run pauses (or, when the provider only cannot be reached for now, waits for it first).
 */
import type { Logger } from 'pino';
import type { BatchResult } from '../../machines/campaign.ts';
import type { ErrorData } from '../../machines/errors.ts';
import type { SmsAttempt } from '../../machines/otp.ts';
import type { Card, CardDirectory, SmsMessage, SmsReceipt, SmsSender } from '../ports.ts';
import type { Config } from '../config.ts';
import type { ConsentLedger, NewsStatus } from '../consents.ts';
import type { RateLimits } from '../limits.ts';
import type { SmsChain } from '../sms/chain.ts';
import { countSegments } from '../sms/segments.ts';
import { compileText, type RenderInput } from './audience.ts';
import type { OptOutLinks } from './optOut.ts';
import { sendWindow } from './schedule.ts';
import type { Plan } from './plan.ts';
import type { RunBook } from './runBook.ts';
import type { BatchInFlight, CampaignDef, Recipient, RetryList, RunCounts } from './types.ts';

/**
 * Recipients per batch at most, whatever the rate: a second's worth at the highest rate a
 * provider takes. A pause or cancel does not wait for the batch: no request leaves after it.
 */
const MAX_BATCH = 10_000;
/**
 * Requests to the provider at once within a batch. More only holds more requests in memory:
 * a provider answers a few thousand a second either way (smsc blocks 15+ concurrent connections).
 */
const SEND_CONCURRENCY = 12;
/** Positions beyond a group whose consent is read with it (those who opted out are skipped). */
const CONSENT_AHEAD = 32;

/** What a batch works with, shared by every batch of every run. */
export interface BatchContext {
  book: RunBook;
  directory: CardDirectory;
  consents: ConsentLedger;
  limits: RateLimits;
  chain: SmsChain;
  logger: Logger;
  config: Readonly<Config>;
  now(): number;
  sleep(ms: number): Promise<void>;
  /** Campaign SMS segments a day (0: no budget). */
  smsPerDay: number;
  /** The providers the campaign may use (undefined: the whole chain). */
  providers: SmsSender[] | undefined;
  /** A shutdown started: no new request leaves. */
  stopping(): boolean;
  /** Whether a pause or cancel was asked for the run since (read before each group). */
  stopAsked(runId: string): Promise<boolean>;
  /** A message left: its delivery status will be asked for. */
  sent(runId: string): void;
  /** Opt-out links for `{optOut}` (null: the venue has no public address). */
  optOut: OptOutLinks | null;
}

type Outcome = { receipt: SmsReceipt | null; attempts: SmsAttempt[] };

/** Whether every failed try of a refused request was transient and surely sent nothing. */
const unreachable = (results: Outcome[]) =>
  results.every((o) =>
    o.attempts.every((a) => a.outcome !== 'failed' || (a.error?.kind === 'transient' && !a.mayHaveSent)),
  );

/**
 * A request whose every message the provider refused (a spent balance, a blocked account, an
 * unreachable provider): what the run pauses with, naming the provider's last answer.
 */
function haltFor(results: Outcome[]): ErrorData {
  const last = results.flatMap((o) => o.attempts).at(-1);
  return {
    code: 'SMS_FAILED',
    extra: {
      provider: last?.provider ?? null,
      reason: last?.error
        ? `${last.error.code}: ${last.error.text}`.slice(0, 200)
        : 'no provider took the messages',
    },
  };
}

export class Batch {
  private readonly started: number;
  /** Positions whose request was refused as a whole: they go first. */
  private readonly again: number[];
  private waits: number;
  /** The cursor when the batch began: the start of its in-flight row. */
  private readonly from: number;
  /** Positions of the retry list in flight in this batch (before `from`). */
  private readonly againInFlight = new Set<number>();
  /** A message left in this batch: the provider is reachable. */
  private anySent = false;
  /** Every request refused in this batch was refused because the provider is out of reach. */
  private outOfReach = true;
  /** SMS of the day's budget spent on requests refused as a whole: given back. */
  private refunds = 0;
  private taken = 0;
  /** Budget changes of sent and refused messages, settled before the batch's last commit. */
  private readonly counting: Promise<void>[] = [];
  /** News consent of the phones ahead, as read just before they are taken. */
  private readonly news = new Map<string, NewsStatus>();
  /** Set when the provider refused a whole request: no further request leaves in this batch. */
  private halt: ErrorData | null = null;
  /** A pause or cancel was asked (read before each group). */
  private asked = false;
  private readonly size: number;
  /** Segments of the text with no holder data: what each message is charged before it leaves. */
  private readonly base: number;
  private readonly render: (card: RenderInput, phone?: string) => string;
  private readonly templateId: string;

  constructor(
    private readonly ctx: BatchContext,
    private readonly runId: string,
    private readonly def: CampaignDef,
    private readonly plan: Plan,
    private readonly counts: RunCounts,
    retry: RetryList | undefined,
  ) {
    this.again = [...(retry?.positions ?? [])];
    this.waits = retry?.waits ?? 0;
    this.from = counts.cursor;
    this.started = ctx.now();
    this.size = Math.max(1, Math.min(MAX_BATCH, Math.floor(def.ratePerSecond)));
    this.render = compileText(def.text, ctx.optOut);
    // The day's budget counts billed segments: each message is charged the text's segments with
    // no holder data before it leaves, and the rest (a long name) once its receipt says so.
    this.base = countSegments(this.render({ number: '', holder: null })).segments;
    this.templateId = `campaign:${def.id}`;
  }

  private finished() {
    return this.counts.cursor >= this.plan.length && this.again.length === 0;
  }

  private stopAsked() {
    return this.ctx.stopping() || this.halt !== null || this.asked;
  }

  private keepRetries() {
    this.ctx.book.setRetries(
      this.runId,
      this.again.length
        ? { runId: this.runId, positions: [...this.again], ...(this.waits ? { waits: this.waits } : {}) }
        : null,
    );
  }

  async run(): Promise<BatchResult> {
    const { ctx, def } = this;
    if (this.finished()) return { done: true, waitUntil: null };
    const window = sendWindow(this.started, def.timezone, def.quietHours, def.weekdaysOnly);
    if (!window.open) return { done: false, waitUntil: window.opensAt, reason: 'quietHours' };
    // Multi-recipient requests take up to `per` numbers, each with its own text, 4 at a time;
    // otherwise a dozen senders take a few messages each.
    const per = ctx.chain.batches(ctx.providers);
    const [senders, groupSize] = per > 1 ? [4, per] : [SEND_CONCURRENCY, 8];
    await Promise.all(Array.from({ length: senders }, () => this.sender(groupSize, per)));
    return this.finish();
  }

  /**
   * One sender: readies its next group while its request is out, and sends it before recording
   * the answer it just got: the provider is not kept waiting on our books.
   */
  private async sender(groupSize: number, per: number) {
    let current = await this.ready(groupSize);
    let out = current ? this.request(current.messages, per) : null;
    while (current && out) {
      const next = this.ready(groupSize);
      next.catch(() => undefined); // a failed commit is thrown below, not left unhandled
      const results = await out;
      const following = await next;
      out = following ? this.request(following.messages, per) : null;
      // Refused as a whole: no number taken, and not because of the numbers themselves.
      const refused =
        results.every((o) => !o.receipt) &&
        results.some((o) => !o.attempts.some((a) => a.error?.kind === 'permanent'));
      const { positions } = current;
      current.group.forEach((r, j) => this.settle(r, positions[j]!, results[j]!, refused));
      if (refused) {
        this.keepRetries(); // the refused are back on the list, in the commit of their outcomes
        this.halt ??= haltFor(results);
        if (!unreachable(results)) this.outOfReach = false;
      }
      current = following;
    }
  }

  /** The next group, marked `sending`, on disk and rendered: ready to leave at once. */
  private async ready(groupSize: number) {
    this.asked = await this.ctx.stopAsked(this.runId);
    // Consent read just now for the positions ahead (another sender may have moved past them
    // meanwhile: then read again from where the books are now, and take on into the same group:
    // what was taken already is marked `sending` and goes out with it).
    const budget = { left: 0 };
    const group: Recipient[] = [];
    const positions: number[] = [];
    try {
      let short: boolean;
      do {
        await this.readConsent(groupSize - group.length);
        await this.reserveBudget(groupSize - group.length, budget);
        short = this.take(groupSize, budget, group, positions);
      } while (short && group.length < groupSize);
    } finally {
      await this.returnBudget(budget); // in the commit of the group's marks
    }
    if (group.length === 0) return null;
    await this.ctx.book.commit(this.runId); // `sending` is on disk before these SMS leave
    const cards = await this.ctx.directory.getMany(group.map((r) => r.card));
    const messages = group.map((r) => this.message(r, cards.get(r.card)));
    return { group, positions, messages };
  }

  /**
   * Read the news consent of the phones at the positions a sender takes next (the retry list's
   * first, then the plan's from the cursor), in one read: `take` decides on these.
   */
  private async readConsent(n: number) {
    const ahead = n + CONSENT_AHEAD;
    const positions = this.again.slice(0, ahead);
    const end = Math.min(this.plan.length, this.counts.cursor + ahead);
    for (let i = this.counts.cursor; i < end; i++) positions.push(i);
    const news = await this.ctx.consents.news(positions.map((i) => this.plan.phone(i)));
    for (const [phone, status] of news) this.news.set(phone, status);
  }

  /**
   * Take the day's budget for a group in one step (`n` messages at the text's segments), before
   * the group is taken: `take` spends it message by message, and what it leaves (opted-out
   * phones, a short plan) goes back at once with `returnBudget`.
   */
  private async reserveBudget(n: number, budget: { left: number }) {
    const { smsPerDay, limits } = this.ctx;
    if (smsPerDay <= 0) return;
    const want = n * this.base - budget.left;
    if (want > 0) budget.left += await limits.reserveSms(smsPerDay, want);
  }

  private async returnBudget(budget: { left: number }) {
    const left = budget.left;
    budget.left = 0;
    if (left > 0) await this.ctx.limits.refundSms(left);
  }

  /**
   * Take recipients into `group` (with their plan positions) until it holds `n`, marked
   * `sending` (skipping those who opted out): the retry list first, then the plan from the
   * cursor. Synchronous, so senders never take the same position. True (short) when it stopped
   * at a phone whose consent was not read yet: `readConsent`, then take on into the same group.
   */
  private take(n: number, budget: { left: number }, group: Recipient[], positions: number[]): boolean {
    if (this.stopAsked()) return false;
    const { book } = this.ctx;
    const { runId, plan, counts } = this;
    let short = false;
    /** Plan position `i` skipped (its phone opted out) or taken, unless the day's budget is spent. */
    const takeAt = (i: number, fromPlan: boolean): 'skipped' | 'taken' | 'budgetSpent' | 'unread' => {
      const r: Recipient = { runId, phone: plan.phone(i), card: plan.card(i), status: 'queued' };
      const news = this.news.get(r.phone);
      if (news === undefined) {
        short = true;
        return 'unread';
      }
      // Consent is checked again before each send: an opt-out after the start still counts.
      if (news !== 'yes') {
        book.move(r, 'skipped', { reason: 'optedOut' }, fromPlan);
        return 'skipped';
      }
      if (this.ctx.smsPerDay > 0) {
        if (budget.left < this.base) return 'budgetSpent';
        budget.left -= this.base;
      }
      group.push(book.move(r, 'sending', {}, fromPlan));
      positions.push(i);
      this.taken += 1;
      return 'taken';
    };
    let retried = false;
    while (group.length < n && this.taken < this.size && this.again.length > 0) {
      const i = this.again[0]!;
      const got = takeAt(i, false);
      if (got === 'budgetSpent' || got === 'unread') break;
      this.again.shift();
      retried = true;
      if (got === 'taken') this.againInFlight.add(i);
    }
    // The retry list goes first: the plan waits while a position of it is still unread.
    while (!short && group.length < n && this.taken < this.size && counts.cursor < plan.length) {
      const got = takeAt(counts.cursor, true);
      if (got === 'budgetSpent' || got === 'unread') break;
    }
    if (group.length > 0) {
      const row: BatchInFlight = { runId, from: this.from, to: counts.cursor, at: book.iso() };
      if (this.againInFlight.size) row.again = [...this.againInFlight];
      book.setInFlight(runId, row);
    }
    if (retried) this.keepRetries(); // in the same commit as the row that now covers them
    return short;
  }

  private message(r: Recipient, found: Card | undefined): SmsMessage {
    const card = found ?? { number: r.card, holder: null };
    const text = this.render(card, r.phone);
    return {
      to: r.phone,
      text,
      purpose: 'marketing',
      idempotencyKey: `${this.runId}:${r.phone}`,
      templateId: this.templateId,
      segments: countSegments(text).segments,
    };
  }

  /** One request of `per` numbers, or the group's messages one request each. */
  private async request(messages: SmsMessage[], per: number): Promise<Outcome[]> {
    const { chain, providers } = this.ctx;
    const once = { atMostOnce: true };
    if (per > 1) return chain.sendMany(messages, providers, once);
    const out: Outcome[] = [];
    for (const m of messages) {
      try {
        out.push(await chain.send(m, 1, providers, once));
      } catch (err) {
        out.push({ receipt: null, attempts: (err as { attempts?: SmsAttempt[] }).attempts ?? [] });
      }
    }
    return out;
  }

  /** One recipient's outcome; `refused`: the provider refused their whole request. */
  private settle(r: Recipient, position: number, { receipt, attempts }: Outcome, refused: boolean) {
    const { book, limits } = this.ctx;
    this.againInFlight.delete(position);
    if (receipt) {
      this.anySent = true;
      this.counting.push(limits.countSms(receipt.segments - this.base));
      book.move(r, 'sent', {
        provider: receipt.provider,
        messageId: receipt.messageId,
        segments: receipt.segments,
        cost: receipt.cost,
      });
      this.ctx.sent(this.runId);
      return;
    }
    const last = attempts.at(-1);
    const why = last?.error ? `${last.provider} ${last.error.code}: ${last.error.text}`.slice(0, 200) : null;
    if (attempts.some((a) => a.mayHaveSent)) {
      // The provider may have taken it without answering: reported, never sent again.
      book.move(r, 'unknown', { reason: `${why ?? 'no answer'}; may have been sent, not sent again` });
      return;
    }
    if (refused && !attempts.some((a) => a.error?.kind === 'permanent')) {
      // Refused with the whole request: nothing left. Back in the queue, for the resume.
      book.move(r, 'queued', {}, false);
      this.again.push(position); // written with the group's outcomes
      this.refunds += 1;
      return;
    }
    book.move(r, 'failed', { reason: why ?? 'SMS_FAILED' });
  }

  /** Every position has its outcome line or waits in the retry list: the batch's end. */
  private async finish(): Promise<BatchResult> {
    const { ctx, runId } = this;
    const halted = this.halt;
    const minutes =
      halted && this.outOfReach ? ctx.config.campaigns.providerWaitMinutes[this.waits] : undefined;
    const waitFor = minutes === undefined ? undefined : Math.round(minutes * 60_000);
    if (this.anySent || waitFor !== undefined) {
      this.waits = this.anySent ? 0 : this.waits + 1;
      this.keepRetries();
    }
    // Every position has its outcome line or waits in the retry list, in this same commit.
    ctx.book.setInFlight(runId, null);
    this.counting.push(ctx.limits.refundSms(this.refunds * this.base));
    await Promise.all(this.counting);
    await ctx.book.commit(runId);
    if (halted && waitFor !== undefined) {
      ctx.logger.warn(
        { run: runId, ...halted.extra, waitMinutes: waitFor / 60_000, wait: this.waits },
        'campaign waits for the provider',
      );
      return { done: false, waitUntil: ctx.now() + waitFor, reason: 'providerUnavailable', halt: halted };
    }
    if (halted) {
      ctx.logger.warn(
        { run: runId, ...halted.extra },
        'campaign paused: the provider refused whole requests',
      );
      return { done: false, waitUntil: null, halt: halted };
    }
    if (this.finished()) return { done: true, waitUntil: null };
    const wait = await ctx.limits.smsBudgetWait(ctx.smsPerDay, this.base);
    if (wait > 0) return { done: false, waitUntil: ctx.now() + wait * 1000, reason: 'dailyBudget' };
    // Throttle: a batch of `ratePerSecond` messages takes at least a second.
    const spent = ctx.now() - this.started;
    const slot = (this.taken / this.def.ratePerSecond) * 1000;
    if (spent < slot) await ctx.sleep(slot - spent);
    return { done: false, waitUntil: null };
  }
}
