/**
 * SMS news campaigns: definitions, their runs (workflows of machines/campaign.ts), the audience,
 * the batch effect (`batch.ts`) over the run's books (`runBook.ts`), the reconciliation after a
 * crash (`reconcile.ts`), delivery sweeps (`deliveries.ts`), and the schedule.
 *
 * Crash safety: a recipient moves queued → sending → sent | failed | skipped | unknown, and
 * `sending` is on disk before the SMS leaves. The run's plan is an immutable file in a fixed
 * order, so a batch in flight is one durable row — the plan positions it covers — written in the
 * same commit as the advanced cursor; each final outcome is a line of the run's append-only
 * file. After a crash, a position of the batch with no outcome line was caught in `sending`: it
 * is reconciled through the provider where it can tell (smsc finds a message by our id),
 * otherwise marked `unknown` and reported — never sent again blindly. Counts change in the same
 * commit as the outcomes they count.
 *
 * A campaign message is sent at most once. A request the provider may have taken without
 * answering (no answer before the deadline, a cut connection) is not tried again, neither at a
 * provider that does not deduplicate nor at the next one: its recipients are `unknown`
 * (smsc, which knows our id, is asked again itself). A request the provider refused as a whole
 * (a spent balance, a blocked account, a provider that cannot be reached) sent nothing: its
 * recipients go back to `queued`, on the run's retry list, and the run pauses; `resume` sends
 * to them first. Taking a recipient from that list widens the batch's in-flight row the way the
 * cursor does, in the same commit. A provider that only cannot be reached for now (every try
 * refused for certain with a transient failure: connection refused, 503, "try later") is waited
 * for (`campaigns.providerWaitMinutes`) before the run pauses: an unattended birthday run
 * outlives a short outage on its own.
 */
import { z } from 'zod';
import type { Logger } from 'pino';
import {
  campaignRunMachine,
  type BatchResult,
  type CampaignRunContext,
  type CampaignRunInput,
} from '../../machines/campaign.ts';
import { AppError } from '../../machines/errors.ts';
import type { Card, CardDirectory, Clock, DeliveryStatus } from '../ports.ts';
import type { Config } from '../config.ts';
import type { ConsentLedger } from '../consents.ts';
import { tokenLimits, type RateLimits } from '../limits.ts';
import type { SmsChain } from '../sms/chain.ts';
import { workflowKind, type WorkflowHost, type WorkflowRecord } from '../workflows/host.ts';
import { effect } from '../workflows/types.ts';
import { audienceSchema, compileText, inAudience, renderFor } from './audience.ts';
import { hasOptOut, type OptOutLinks } from './optOut.ts';
import { countSegments } from '../sms/segments.ts';
import { idFor, newId } from '../ids.ts';
import { nextOccurrence, validCron } from './schedule.ts';
import { normalizePhone, requireMobile } from '../phone.ts';
import { flag, validationError } from '../validate.ts';
import { RunBook } from './runBook.ts';
import { PhoneSet } from './phoneSet.ts';
import { Batch } from './batch.ts';
import { Reconciler } from './reconcile.ts';
import { DeliverySweeps } from './deliveries.ts';
import type { CampaignRows } from './rows.ts';
import type { CampaignDef, CampaignRunView, RunCounts } from './types.ts';

export type { CampaignDef, CampaignRunView, Recipient, RunCounts } from './types.ts';

const hhmm = z.string().regex(/^([01]\d|2[0-3]):[0-5]\d$/, 'HH:MM');
const createSchema = z.object({
  name: z.string().trim().min(1).max(100),
  text: z.string().trim().min(1).max(1000),
  audience: z.preprocess((v) => (v === 'all' || v === undefined ? {} : v), audienceSchema),
  schedule: z
    .union([
      z.object({ at: z.string().refine((s) => !Number.isNaN(Date.parse(s)), 'ISO 8601 time') }).strict(),
      z
        .object({
          cron: z.string().refine(validCron, 'a 5-field cron expression'),
          timezone: z.string().optional(),
        })
        .strict(),
    ])
    .nullable()
    .optional(),
  quietHours: z.union([z.literal(false), z.object({ from: hhmm, to: hhmm }).strict()]).optional(),
  weekdaysOnly: flag.optional(),
  ratePerSecond: z.number().min(0.1).max(100_000).optional(),
  provider: z.string().optional(),
  budget: z.number().min(0).optional(),
});

/** Cards read from the directory at a time while an audience is walked. */
const PREPARE_PAGE = 1000;

export interface CampaignDeps {
  /** Where definitions and runs' books are kept (the engine's). */
  rows: CampaignRows;
  /** Resolves when every change the engine took before is durable (counters, ledgers). */
  flush(): Promise<void>;
  directory: CardDirectory;
  consents: ConsentLedger;
  limits: RateLimits;
  chain: SmsChain;
  clock: Clock;
  logger: Logger;
  config: Readonly<Config>;
  sleep?: (ms: number) => Promise<void>;
  /** Opt-out links for `{optOut}` (null: no `publicUrl`). */
  optOut: OptOutLinks | null;
}

export class CampaignService {
  /** Definitions and runs' books, as the engine keeps them. */
  readonly rows: CampaignRows;
  private readonly book: RunBook;
  private readonly sweeps: DeliverySweeps;
  private readonly reconciler: Reconciler;
  private readonly inflight = new Set<Promise<BatchResult>>();
  private stopping = false;
  private readonly sleep: (ms: number) => Promise<void>;
  /** Set once the host exists (the host is built with this service's workflow kind). */
  host!: WorkflowHost;

  constructor(private readonly deps: CampaignDeps) {
    this.rows = deps.rows;
    this.book = new RunBook(deps.rows, deps.clock);
    const { chain, clock, logger, config } = deps;
    this.sweeps = new DeliverySweeps({
      book: this.book,
      chain,
      clock,
      logger,
      timeoutMs: config.sms.timeoutMs,
      enabled: config.sms.statusPollSeconds > 0,
      isLive: (runId) => this.host.isLive(runId),
      exclusive: (key, task) => this.host.exclusive(key, task),
    });
    this.reconciler = new Reconciler({
      book: this.book,
      chain,
      logger,
      timeoutMs: config.sms.timeoutMs,
    });
    this.sleep = deps.sleep ?? ((ms) => new Promise((r) => setTimeout(r, ms)));
  }

  private now() {
    return this.deps.clock.now();
  }
  private iso(t = this.now()) {
    return this.book.iso(t);
  }

  // ---- the workflow kind --------------------------------------------------------------------

  kind() {
    return workflowKind<CampaignRunContext, Omit<CampaignRunInput, 'id'>, CampaignRunView>({
      kind: 'campaignRun',
      prefix: 'run',
      machine: campaignRunMachine,
      effects: {
        sendBatch: effect((input: { runId: string; batchNo: number }) => this.batch(input.runId)),
      },
      machineInput: (input, id) => ({ ...input, id }),
      quietEffects: true,
      project: (ctx) => ({
        terminal: null,
        phone: null,
        card: null,
        deadline: ctx.wakeAt ?? ctx.startAt,
        view: {
          campaignId: ctx.campaignId,
          batches: ctx.batches,
          startedAt: ctx.startedAt ? this.iso(ctx.startedAt) : null,
          pauseRequested: ctx.pauseRequested,
          cancelRequested: ctx.cancelRequested,
        },
      }),
      onClosed: (record) => this.runClosed(record),
    });
  }

  // ---- definitions ---------------------------------------------------------------------------

  /** Validate and store a campaign; a schedule makes it scheduled at once. */
  async create(body: unknown, by: string): Promise<CampaignDef> {
    const parsed = createSchema.safeParse(body ?? {});
    if (!parsed.success) throw validationError(parsed.error);
    const b = parsed.data;
    this.checkText(b.text);
    const { campaigns, sms } = this.deps.config;
    if (b.provider !== undefined && !this.deps.chain.sender(b.provider)) {
      throw new AppError('VALIDATION_FAILED', {
        field: 'provider',
        reason: `provider: one of ${sms.providers.join(', ')}`,
      });
    }
    let schedule: CampaignDef['schedule'] = null;
    if (b.schedule && 'cron' in b.schedule) {
      const tz = b.schedule.timezone ?? campaigns.timezone;
      try {
        new Intl.DateTimeFormat('en-US', { timeZone: tz });
      } catch {
        throw new AppError('VALIDATION_FAILED', {
          field: 'schedule.timezone',
          reason: 'schedule.timezone: unknown IANA time zone',
        });
      }
      schedule = { cron: b.schedule.cron.trim(), timezone: tz };
    } else if (b.schedule) {
      schedule = { at: new Date(Date.parse(b.schedule.at)).toISOString() };
    }
    const now = this.now();
    const def: CampaignDef = {
      id: newId('cmp', now),
      name: b.name,
      text: b.text,
      audience: b.audience,
      schedule,
      quietHours: b.quietHours ?? campaigns.quietHours,
      weekdaysOnly: b.weekdaysOnly ?? campaigns.weekdaysOnly,
      timezone: schedule && 'timezone' in schedule ? schedule.timezone : campaigns.timezone,
      ratePerSecond: b.ratePerSecond ?? campaigns.ratePerSecond,
      provider: b.provider ?? null,
      budget: b.budget ?? null,
      cancelled: false,
      runs: [],
      nextRunAt:
        schedule && 'cron' in schedule ? nextOccurrence(schedule.cron, schedule.timezone, now) : null,
      missedRuns: 0,
      createdAt: this.iso(now),
      updatedAt: this.iso(now),
    };
    await this.rows.putDef(def);
    if (schedule && 'at' in schedule) await this.newRun(def, by, { at: Date.parse(schedule.at) });
    return this.def(def.id);
  }

  /**
   * A text that can go out as written: `{optOut}` needs the venue's public address, and where
   * `campaigns.requireOptOut` is on every campaign carries the link (each goes to guests who
   * gave consent to news, which they may take back at once: 38-FZ art. 18).
   */
  checkText(text: string) {
    if (hasOptOut(text) && !this.deps.optOut?.base) {
      throw new AppError('VALIDATION_FAILED', {
        field: 'text',
        reason: 'text: {optOut} needs "publicUrl" in the configuration',
      });
    }
    if (this.deps.config.campaigns.requireOptOut && !hasOptOut(text)) {
      throw new AppError('OPT_OUT_REQUIRED', { field: 'text' });
    }
  }

  /** Why a text cannot go out now (the configuration changed since it was written), or null. */
  private refusedText(text: string): string | null {
    try {
      this.checkText(text);
      return null;
    } catch (err) {
      return err instanceof AppError ? err.code : String(err);
    }
  }

  /**
   * The size of one message of a text before any holder is known: the opt-out link at its full
   * length, names and card numbers empty (they only add). A warning when it takes more than one SMS.
   */
  messageSize(text: string) {
    const rendered = compileText(text, this.deps.optOut)({ number: '', holder: null });
    const size = countSegments(rendered);
    const perSms = size.encoding === 'gsm7' ? 160 : 70;
    return {
      ...size,
      warning:
        size.segments > 1
          ? `длина ${size.units}${hasOptOut(text) ? ' со ссылкой отказа' : ''}: ${size.segments} SMS на сообщение (в одном SMS ${perSms} знаков) / ` +
            `${size.units} characters${hasOptOut(text) ? ' with the opt-out link' : ''}: ${size.segments} SMS each (one SMS holds ${perSms})`
          : null,
    };
  }

  async def(id: string): Promise<CampaignDef> {
    const def = await this.rows.def(id);
    if (!def) throw new AppError('CAMPAIGN_NOT_FOUND');
    return def;
  }

  async list(): Promise<CampaignDef[]> {
    return (await this.rows.defs()).sort((a, b) => b.createdAt.localeCompare(a.createdAt));
  }

  /**
   * Change a definition, one change at a time across every process sharing the rows: `change`
   * gets it as stored and answers the next one (null: leave it).
   */
  private updateDef(id: string, change: (def: CampaignDef) => CampaignDef | null): Promise<CampaignDef> {
    return this.host.serialize(`campaign:${id}`, async () => {
      const def = await this.def(id);
      const next = change(def);
      if (!next) return def;
      await this.rows.putDef(next);
      return next;
    });
  }

  /**
   * Start a run of the campaign and list it among the campaign's runs. `id`: the run's id made
   * from the firing it is for, so a firing started twice (by two processes, or again after a
   * crash between the start and the listing) is one run.
   */
  private async newRun(
    def: CampaignDef,
    by: string,
    how: { at: number } | { now: true },
    id?: string,
  ): Promise<WorkflowRecord> {
    const record = await this.host.start(
      'campaignRun',
      { campaignId: def.id, startAt: 'at' in how ? how.at : null },
      by,
      'at' in how ? { type: 'SCHEDULE', at: how.at } : { type: 'START' },
      id,
    );
    await this.updateDef(def.id, (d) =>
      d.runs.includes(record.id) ? null : { ...d, runs: [...d.runs, record.id], updatedAt: this.iso() },
    );
    return record;
  }

  /** The run the campaign's controls act on: the newest. */
  private async currentRun(def: CampaignDef): Promise<WorkflowRecord | undefined> {
    const id = def.runs.at(-1);
    return id ? this.host.get(id) : undefined;
  }

  /** The campaign's state: its current run's while one is live or for a one-off; else scheduled. */
  async stateOf(def: CampaignDef): Promise<string> {
    if (def.cancelled) return 'cancelled';
    const run = await this.currentRun(def);
    const recurring = def.schedule !== null && 'cron' in def.schedule;
    if (recurring) return run?.live && run.state !== 'draft' ? run.state : 'scheduled';
    return run?.state ?? 'draft';
  }

  runCounts(runId: string): Promise<RunCounts> {
    return this.book.runCounts(runId);
  }

  /** Recipients of a run refused with their whole request, waiting for the resume. */
  awaitingRetry(runId: string): Promise<number> {
    return this.book.awaitingRetry(runId);
  }

  /** Recipients of a run, by status, paged by position (see `RunBook.recipientsOf`). */
  async recipientsOf(runId: string, status: string | undefined, offset: number, limit: number) {
    return this.book.recipientsOf(runId, status, offset, limit, await this.host.isLive(runId));
  }

  /** A final delivery status of a campaign message: on disk when it resolves. */
  delivered(runId: string, phone: string, status: DeliveryStatus): Promise<void> {
    this.book.delivered(runId, phone, status);
    return this.book.commit(runId);
  }

  /** Ask the providers how the messages of campaign runs did (see `DeliverySweeps`). */
  sweepDeliveries(): Promise<number> {
    return this.sweeps.sweep();
  }

  // ---- estimate and start ----------------------------------------------------------------------

  /** Recipients with consent, segments per message (the longest rendering), estimated cost. */
  async estimate(id: string) {
    const def = await this.def(id);
    let recipients = 0;
    const render = compileText(def.text, this.deps.optOut);
    let maxSegments = countSegments(render({ number: '', holder: null })).segments;
    let segments = 0;
    const skipped = await this.audience(def, (card) => {
      recipients += 1;
      const n = countSegments(render(card)).segments;
      segments += n;
      maxSegments = Math.max(maxSegments, n);
    });
    const cost = (segments * this.deps.config.campaigns.pricePerSegment).toFixed(2);
    return { recipients, segmentsPerMessage: maxSegments, segments, cost, skipped };
  }

  /**
   * Walk a campaign's audience now, a directory page at a time: `visit` gets each card that
   * will get the message (one per phone, consent given); the others are counted by reason.
   */
  private async audience(def: CampaignDef, visit: (card: Card) => void): Promise<Record<string, number>> {
    const now = this.now();
    const seen = new PhoneSet();
    const skipped: Record<string, number> = {};
    for await (const page of this.deps.directory.pages(PREPARE_PAGE)) {
      const cards = page.filter((card) => inAudience(card, def.audience, now, def.timezone));
      // The consent of a page's phones, in one read.
      const news = await this.deps.consents.news(cards.map((card) => card.holder!.phone!));
      for (const card of cards) {
        const phone = card.holder!.phone!;
        const reason = seen.has(phone)
          ? 'duplicatePhone'
          : { yes: null, optedOut: 'optedOut', none: 'noConsent' }[news.get(phone) ?? 'none'];
        if (reason) {
          skipped[reason] = (skipped[reason] ?? 0) + 1;
          continue;
        }
        seen.add(phone);
        visit(card);
      }
    }
    return skipped;
  }

  async start(id: string, by: string, override: boolean): Promise<WorkflowRecord> {
    const def = await this.def(id);
    if (def.cancelled) throw new AppError('CAMPAIGN_STATE', { action: 'start', state: 'cancelled' });
    const current = await this.currentRun(def);
    if (current?.live && current.state !== 'draft' && current.state !== 'scheduled') {
      throw new AppError('CAMPAIGN_STATE', { action: 'start', state: current.state });
    }
    this.checkText(def.text);
    if (!override) await this.checkBudget(def);
    if (current?.live) return this.host.send(current.id, (now) => ({ type: 'START', now, by }));
    return this.newRun(def, by, { now: true });
  }

  private async checkBudget(def: CampaignDef) {
    const est = await this.estimate(def.id);
    if (def.budget !== null && Number(est.cost) > def.budget) {
      throw new AppError('BUDGET_EXCEEDED', {
        reason: `оценка ${est.cost} > бюджет ${def.budget} / estimate ${est.cost} over budget ${def.budget}`,
        estimate: est.cost,
        budget: def.budget,
      });
    }
    const perDay = this.campaignSmsPerDay();
    if (perDay > 0) {
      const left = await this.deps.limits.smsLeftToday(perDay);
      if (est.segments > left) {
        throw new AppError('BUDGET_EXCEEDED', {
          reason: `${est.segments} SMS > остаток дня ${left} / ${est.segments} SMS segments over today's ${left}`,
          recipients: est.recipients,
          segments: est.segments,
          smsLeftToday: left,
        });
      }
    }
  }

  /**
   * The part of the day's SMS budget campaigns may spend: `limits.smsPerDay` less the PIN
   * reserve (0: no budget). Campaign messages count in the same daily total as PINs.
   */
  private campaignSmsPerDay(): number {
    const perDay = this.deps.config.limits.smsPerDay;
    if (perDay <= 0) return 0;
    return Math.max(1, Math.floor(perDay * (1 - this.deps.config.campaigns.pinReserve)));
  }

  /** Pause, resume or cancel the current run; answers once the run has taken the change. */
  async control(
    id: string,
    action: 'pause' | 'resume' | 'cancel',
    by: string,
  ): Promise<WorkflowRecord | null> {
    const def = await this.def(id);
    const run = await this.currentRun(def);
    if (!run || !run.live) {
      if (action === 'cancel') {
        await this.updateDef(def.id, (d) => ({
          ...d,
          cancelled: true,
          nextRunAt: null,
          updatedAt: this.iso(),
        }));
        return run ?? null;
      }
      throw new AppError('CAMPAIGN_STATE', { action, state: await this.stateOf(def) });
    }
    const allowed = {
      pause: ['running'],
      resume: ['paused'],
      cancel: ['draft', 'scheduled', 'running', 'paused'],
    }[action];
    if (!allowed.includes(run.state)) throw new AppError('CAMPAIGN_STATE', { action, state: run.state });
    const retry = await this.rows.retries(run.id);
    if (action === 'resume' && retry?.waits) {
      // A person resumed it: a provider still out of reach is waited for again before a pause.
      await this.rows.commit({ runId: run.id, retries: { runId: run.id, positions: retry.positions } });
    }
    const type = action.toUpperCase();
    let record = await this.host.send(run.id, (now) => ({ type, now, by }));
    // The requests already out finish first: wait for them (a request or two per sender).
    const want = { pause: 'paused', resume: 'running', cancel: 'cancelled' }[action];
    if (record.state !== want && record.live)
      record = (await this.host.until(run.id, (r) => r.state === want, 5_000)) ?? record;
    if (action === 'cancel' && def.schedule && 'cron' in def.schedule)
      await this.updateDef(def.id, (d) => ({
        ...d,
        cancelled: true,
        nextRunAt: null,
        updatedAt: this.iso(),
      }));
    return record;
  }

  /**
   * Send the rendered text to one phone only: in no run, but paid like any SMS, so it counts in
   * the day's budget and in the calling token's (`token`).
   */
  async test(id: string, phoneInput: unknown, token: string) {
    const def = await this.def(id);
    const phone = normalizePhone(phoneInput, this.deps.config.phones);
    requireMobile(phone, this.deps.config.phones);
    const card = (await this.deps.directory.byPhone(phone))[0] ?? {
      number: '0000000000',
      holder: { fullName: 'Иванов Иван Иванович' },
    };
    const text = renderFor(def.text, card, this.deps.optOut, phone);
    const segments = countSegments(text).segments;
    const { config } = this.deps;
    const owner = tokenLimits.owner(token);
    await this.deps.limits.hit([tokenLimits.hourRule(token, config)]);
    await this.deps.limits.spendSms(tokenLimits.dayCap(config), segments, owner, 'perTerminalPerDay');
    try {
      await this.deps.limits.spendSms(config.limits.smsPerDay, segments);
    } catch (err) {
      await this.deps.limits.refundSms(segments, owner);
      throw err;
    }
    await this.deps.flush(); // the spending is on disk before the message can leave
    const sendNo = Date.now();
    const sent = this.deps.chain.send(
      {
        to: phone,
        text,
        purpose: 'test',
        idempotencyKey: `${def.id}:test:${sendNo}`,
        templateId: `campaign-test:${def.id}`,
        segments,
      },
      1,
      this.providersOf(def),
    );
    const { receipt, attempts } = await sent.catch(async (err) => {
      // Refused by every provider: nothing left, nothing paid.
      await this.deps.limits.refundSms(segments);
      await this.deps.limits.refundSms(segments, owner);
      throw err;
    });
    return { text, receipt, attempts };
  }

  /** The provider a campaign names, alone; otherwise the whole chain (undefined). */
  private providersOf(def: CampaignDef) {
    return def.provider ? [this.deps.chain.sender(def.provider)!] : undefined;
  }

  // ---- the batch effect ---------------------------------------------------------------------

  /**
   * Shutdown: start no new batch and no new request, and wait (bounded) for the requests already
   * out, so a restart does not leave their recipients `unknown`.
   */
  async drain(timeoutMs = 8000) {
    this.stopping = true;
    await Promise.race([
      Promise.allSettled([...this.inflight]),
      new Promise((r) => setTimeout(r, timeoutMs).unref()),
    ]);
  }

  private batch(runId: string): Promise<BatchResult> {
    if (this.stopping)
      return Promise.resolve({ done: false, waitUntil: this.now() + 1000, reason: 'shutdown' });
    const run = this.runBatch(runId);
    this.inflight.add(run);
    void run.finally(() => this.inflight.delete(run)).catch(() => undefined);
    return run;
  }

  /** One batch of a run: its plan made (once), a crash's leftovers settled, then `Batch`. */
  private async runBatch(runId: string): Promise<BatchResult> {
    const record = await this.host.get(runId);
    const def = await this.def(String(record!.view.campaignId));
    await this.book.prepare(runId, (visit) => this.audience(def, visit));
    await this.reconciler.settle(runId);
    const plan = await this.book.plan(runId);
    const counts = await this.book.open(runId);
    const retry = await this.rows.retries(runId);
    const { directory, consents, limits, chain, logger, config } = this.deps;
    const batch = new Batch(
      {
        book: this.book,
        directory,
        consents,
        limits,
        chain,
        logger,
        config,
        now: () => this.now(),
        sleep: this.sleep,
        smsPerDay: this.campaignSmsPerDay(),
        providers: this.providersOf(def),
        stopping: () => this.stopping,
        stopAsked: async (id) => {
          const view = (await this.host.get(id))?.view;
          return Boolean(view?.pauseRequested || view?.cancelRequested);
        },
        sent: (id) =>
          void this.sweeps
            .noteSent(id)
            .catch((err) => logger.warn({ err, run: id }, 'delivery sweep not scheduled')),
        optOut: this.deps.optOut,
      },
      runId,
      def,
      plan,
      counts,
      retry,
    );
    return batch.run();
  }

  /** A run ended: nothing of it stays in memory; its delivery sweeps go on the after-run schedule. */
  private runClosed(record: WorkflowRecord<CampaignRunView>) {
    this.book.forget(record.id);
    void this.sweeps
      .runEnded(record.id)
      .catch((err) => this.deps.logger.warn({ err, run: record.id }, 'delivery sweeps not rescheduled'));
  }

  // ---- the schedule ----------------------------------------------------------------------------

  /**
   * Start the recurring runs that are due. Called every minute by node-cron, at start-up, and
   * directly by tests with a moved clock. A run missed while the service was down runs once if
   * it is still within `campaigns.catchUpMinutes`; older misses are counted and skipped.
   */
  async tick(): Promise<number> {
    // One process decides at a time; one that finds another deciding leaves it to it.
    const decided = await this.host.exclusive('campaigns:schedule', () => this.fireDue());
    return decided?.value ?? 0;
  }

  private async fireDue(): Promise<number> {
    const now = this.now();
    let started = 0;
    for (const def of await this.rows.defs()) {
      if (
        def.cancelled ||
        !def.schedule ||
        !('cron' in def.schedule) ||
        def.nextRunAt === null ||
        def.nextRunAt > now
      )
        continue;
      const firing = def.nextRunAt;
      const late = now - firing;
      const next = nextOccurrence(def.schedule.cron, def.schedule.timezone, now);
      const current = await this.currentRun(def);
      const refused = this.refusedText(def.text);
      if (late <= this.deps.config.campaigns.catchUpMinutes * 60_000 && !current?.live && !refused) {
        // The run first, under the firing's own id; then the definition moves on. A crash between
        // the two starts nothing twice: the next check finds the firing still due and its run made.
        await this.newRun(def, 'schedule', { now: true }, idFor('run', firing, `${def.id}@${firing}`));
        await this.updateDef(def.id, (d) =>
          d.nextRunAt === firing ? { ...d, nextRunAt: next, updatedAt: this.iso() } : null,
        );
        started += 1;
      } else {
        await this.updateDef(def.id, (d) =>
          d.nextRunAt === firing
            ? { ...d, nextRunAt: next, missedRuns: d.missedRuns + 1, updatedAt: this.iso() }
            : null,
        );
        this.deps.logger.warn(
          { campaign: def.id, scheduledFor: this.iso(firing) },
          refused
            ? `campaign text refused (${refused}): firing skipped`
            : current?.live
              ? 'previous run still going: firing skipped'
              : 'missed run too old to catch up',
        );
      }
    }
    return started;
  }
}
