/**
 * SMS news campaigns: definitions, their runs (workflows of machines/campaign.ts), the audience
 * and each recipient's outcome, the batch effect, and the schedule.
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
import { AppError, type ErrorData } from '../../machines/errors.ts';
import type {
  Card,
  CardDirectory,
  Clock,
  DeliveryStatus,
  RecordStore,
  SmsMessage,
  SmsReceipt,
  Table,
} from '../ports.ts';
import type { SmsAttempt } from '../../machines/otp.ts';
import type { Config } from '../config.ts';
import type { ConsentLedger } from '../consents.ts';
import { tokenLimits, type RateLimits } from '../limits.ts';
import type { SmsChain } from '../sms/chain.ts';
import { workflowKind, type WorkflowHost, type WorkflowRecord } from '../workflows/host.ts';
import { effect } from '../workflows/types.ts';

/** What a campaign run's record shows besides the common fields. */
export interface CampaignRunView {
  campaignId: string;
  batches: number;
  startedAt: string | null;
  pauseRequested: boolean;
  cancelRequested: boolean;
}
import { audienceSchema, compileText, inAudience, renderFor, type Audience } from './audience.ts';
import { countSegments } from '../sms/segments.ts';
import { newId } from '../ids.ts';
import { nextOccurrence, sendWindow, validCron, type QuietHours } from './schedule.ts';
import { normalizePhone, maskPhone, requireMobile } from '../phone.ts';
import { flag, validationError } from '../validate.ts';

export type RecipientStatus =
  'queued' | 'sending' | 'sent' | 'delivered' | 'undelivered' | 'expired' | 'failed' | 'skipped' | 'unknown';

export interface Recipient {
  runId: string;
  phone: string;
  card: string;
  status: RecipientStatus;
  reason?: string;
  provider?: string;
  messageId?: string;
  segments?: number;
  cost?: string | null;
  at?: string;
}

export interface RunCounts {
  runId: string;
  total: number;
  queued: number;
  sending: number;
  sent: number;
  delivered: number;
  failed: number;
  skipped: number;
  unknown: number;
  skippedReasons: Record<string, number>;
  segments: number;
  /** Cost in ten-thousandths of the currency unit (exact sums, no float drift). */
  cost: number;
  prepared: boolean;
  /** How many entries of the run's plan have been taken (sent, skipped or in flight). */
  cursor: number;
}

export interface CampaignDef {
  id: string;
  name: string;
  text: string;
  audience: Audience;
  schedule: { at: string } | { cron: string; timezone: string } | null;
  quietHours: QuietHours | false;
  weekdaysOnly: boolean;
  timezone: string;
  ratePerSecond: number;
  provider: string | null;
  budget: number | null;
  cancelled: boolean;
  runs: string[];
  nextRunAt: number | null;
  missedRuns: number;
  createdAt: string;
  updatedAt: string;
}

/** The plan positions `[from, to)` of a run's batch in flight; one row per run at most. */
export interface BatchInFlight {
  runId: string;
  from: number;
  to: number;
  /** Positions before `from` taken again from the run's retry list, in flight as well. */
  again?: number[];
  at: string;
}

/** Plan positions whose request the provider refused as a whole: sent nothing, to be sent again. */
interface RetryList {
  runId: string;
  positions: number[];
  /** Waits for a provider out of reach so far, in a row (`campaigns.providerWaitMinutes`). */
  waits?: number;
}

/** Whether every failed try of a refused request was transient and surely sent nothing. */
const unreachable = (results: Array<{ attempts: SmsAttempt[] }>) =>
  results.every((o) =>
    o.attempts.every((a) => a.outcome !== 'failed' || (a.error?.kind === 'transient' && !a.mayHaveSent)),
  );

/** When a run's delivery statuses are next asked for; one row per run with messages out. */
interface DeliverySweep {
  runId: string;
  /** Sweeps done since the run ended. */
  checks: number;
  nextAt: number;
}

/**
 * `recipients` holds only per-recipient `sending` rows written by earlier versions; a restart
 * reconciles and removes them. Batches in flight are rows of `campaignBatches`.
 */
export const campaignTables = [
  'campaigns',
  'recipients',
  'runCounts',
  'campaignBatches',
  'campaignSweeps',
  'campaignRetries',
];

/**
 * A request whose every message the provider refused (a spent balance, a blocked account, an
 * unreachable provider): what the run pauses with, naming the provider's last answer.
 */
function haltFor(results: Array<{ attempts: SmsAttempt[] }>): ErrorData {
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

/** Delivery sweeps of a running campaign: every ten minutes. */
const SWEEP_WHILE_RUNNING_MS = 10 * 60_000;
/** After the run ends: 1 minute, then 10 minutes, 1, 6 and 24 hours apart; then statuses stay as known. */
const SWEEPS_AFTER_MS = [60_000, 10 * 60_000, 3600_000, 6 * 3600_000, 24 * 3600_000];
const FINAL_DELIVERY = new Set<DeliveryStatus>(['delivered', 'undelivered', 'expired']);
const STATUSES: RecipientStatus[] = [
  'queued',
  'sending',
  'sent',
  'delivered',
  'undelivered',
  'expired',
  'failed',
  'skipped',
  'unknown',
];
/** One shared string per status, not one per line read. */
const internStatus = (status: string): string => STATUSES.find((s) => s === status) ?? status;

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

const emptyCounts = (runId: string): RunCounts => ({
  runId,
  total: 0,
  queued: 0,
  sending: 0,
  sent: 0,
  delivered: 0,
  failed: 0,
  skipped: 0,
  unknown: 0,
  skippedReasons: {},
  segments: 0,
  cost: 0,
  prepared: false,
  cursor: 0,
});

const PREPARE_PAGE = 1000;
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

export interface CampaignDeps {
  store: RecordStore;
  directory: CardDirectory;
  consents: ConsentLedger;
  limits: RateLimits;
  chain: SmsChain;
  clock: Clock;
  logger: Logger;
  config: Readonly<Config>;
  sleep?: (ms: number) => Promise<void>;
}

export class CampaignService {
  private readonly defs: Table<CampaignDef>;
  private readonly recipients: Table<Recipient>;
  private readonly counts: Table<RunCounts>;
  private readonly batches: Table<BatchInFlight>;
  private readonly sweeps: Table<DeliverySweep>;
  private readonly retries: Table<RetryList>;
  private sweeping = false;
  /**
   * Each live run's plan (phone and card, in order), kept compact: two arrays of strings, not a
   * hundred thousand row objects. The plan is an immutable file; the cursor says how far it went.
   */
  private readonly plans = new Map<string, { phones: string[]; cards: string[] }>();
  private readonly reconciled = new Set<string>();
  private readonly inflight = new Set<Promise<BatchResult>>();
  private stopping = false;
  private readonly sleep: (ms: number) => Promise<void>;
  /** Set once the host exists (the host is built with this service's workflow kind). */
  host!: WorkflowHost;

  constructor(private readonly deps: CampaignDeps) {
    this.defs = deps.store.table<CampaignDef>('campaigns');
    this.recipients = deps.store.table<Recipient>('recipients');
    this.counts = deps.store.table<RunCounts>('runCounts');
    this.batches = deps.store.table<BatchInFlight>('campaignBatches');
    this.sweeps = deps.store.table<DeliverySweep>('campaignSweeps');
    this.retries = deps.store.table<RetryList>('campaignRetries');
    this.sleep = deps.sleep ?? ((ms) => new Promise((r) => setTimeout(r, ms)));
  }

  private now() {
    return this.deps.clock.now();
  }
  private lastIso = { ms: NaN, text: '' };
  /** ISO time of `t`; the outcomes of one batch mostly share a millisecond. */
  private iso(t = this.now()) {
    if (t !== this.lastIso.ms) this.lastIso = { ms: t, text: new Date(t).toISOString() };
    return this.lastIso.text;
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
    this.defs.put(def.id, def);
    if (schedule && 'at' in schedule) await this.newRun(def, by, { at: Date.parse(schedule.at) });
    await this.deps.store.flush();
    return this.def(def.id);
  }

  def(id: string): CampaignDef {
    const def = this.defs.get(id);
    if (!def) throw new AppError('CAMPAIGN_NOT_FOUND');
    return def;
  }

  list(): CampaignDef[] {
    return [...this.defs.values()].sort((a, b) => b.createdAt.localeCompare(a.createdAt));
  }

  private async newRun(
    def: CampaignDef,
    by: string,
    how: { at: number } | { now: true },
  ): Promise<WorkflowRecord> {
    const record = await this.host.start(
      'campaignRun',
      { campaignId: def.id, startAt: 'at' in how ? how.at : null },
      by,
      'at' in how ? { type: 'SCHEDULE', at: how.at } : { type: 'START' },
    );
    this.defs.put(def.id, {
      ...this.defs.get(def.id)!,
      runs: [...this.defs.get(def.id)!.runs, record.id],
      updatedAt: this.iso(),
    });
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

  runCounts(runId: string): RunCounts {
    return this.counts.get(runId) ?? emptyCounts(runId);
  }

  /** Recipients of a run refused with their whole request, waiting for the resume. */
  awaitingRetry(runId: string): number {
    return this.retries.get(runId)?.positions.length ?? 0;
  }

  // ---- estimate and start ----------------------------------------------------------------------

  /** Recipients with consent, segments per message (the longest rendering), estimated cost. */
  async estimate(id: string) {
    const def = this.def(id);
    let recipients = 0;
    let maxSegments = countSegments(def.text).segments;
    let segments = 0;
    const skipped = await this.audience(def, (card) => {
      recipients += 1;
      const n = countSegments(renderFor(def.text, card)).segments;
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
    const seen = new Set<string>();
    const skipped: Record<string, number> = {};
    for await (const page of this.deps.directory.pages(PREPARE_PAGE)) {
      for (const card of page) {
        if (!inAudience(card, def.audience, now, def.timezone)) continue;
        const phone = card.holder!.phone!;
        const reason = this.skipReason(phone, seen);
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

  private skipReason(phone: string, seen: Set<string>): string | null {
    if (seen.has(phone)) return 'duplicatePhone';
    const consent = this.deps.consents.get(phone);
    if (!consent) return 'noConsent';
    if (!consent.marketing) return consent.history.some((h) => h.marketing) ? 'optedOut' : 'noConsent';
    return null;
  }

  async start(id: string, by: string, override: boolean): Promise<WorkflowRecord> {
    const def = this.def(id);
    if (def.cancelled) throw new AppError('CAMPAIGN_STATE', { action: 'start', state: 'cancelled' });
    const current = await this.currentRun(def);
    if (current?.live && current.state !== 'draft' && current.state !== 'scheduled') {
      throw new AppError('CAMPAIGN_STATE', { action: 'start', state: current.state });
    }
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
      const left = this.deps.limits.smsLeftToday(perDay);
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
    const def = this.def(id);
    const run = await this.currentRun(def);
    if (!run || !run.live) {
      if (action === 'cancel') {
        this.defs.put(def.id, { ...def, cancelled: true, nextRunAt: null, updatedAt: this.iso() });
        await this.deps.store.flush();
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
    const retry = this.retries.get(run.id);
    if (action === 'resume' && retry?.waits) {
      // A person resumed it: a provider still out of reach is waited for again before a pause.
      this.retries.put(run.id, { runId: run.id, positions: retry.positions });
    }
    const type = action.toUpperCase();
    let record = await this.host.send(run.id, (now) => ({ type, now, by }));
    // The requests already out finish first: wait for them (a request or two per sender).
    const want = { pause: 'paused', resume: 'running', cancel: 'cancelled' }[action];
    if (record.state !== want && record.live)
      record = (await this.host.until(run.id, (r) => r.state === want, 5_000)) ?? record;
    if (action === 'cancel' && def.schedule && 'cron' in def.schedule) {
      this.defs.put(def.id, { ...this.def(def.id), cancelled: true, nextRunAt: null, updatedAt: this.iso() });
      await this.deps.store.flush();
    }
    return record;
  }

  /**
   * Send the rendered text to one phone only: in no run, but paid like any SMS, so it counts in
   * the day's budget and in the calling token's (`token`).
   */
  async test(id: string, phoneInput: unknown, token: string) {
    const def = this.def(id);
    const phone = normalizePhone(phoneInput, this.deps.config.phones);
    requireMobile(phone, this.deps.config.phones);
    const card = (await this.deps.directory.byPhone(phone))[0] ?? {
      number: '0000000000',
      holder: { fullName: 'Иванов Иван Иванович' },
    };
    const text = renderFor(def.text, card);
    const segments = countSegments(text).segments;
    const { config } = this.deps;
    const owner = tokenLimits.owner(token);
    this.deps.limits.hit([tokenLimits.hourRule(token, config)]);
    this.deps.limits.spendSms(tokenLimits.dayCap(config), segments, owner, 'perTerminalPerDay');
    try {
      this.deps.limits.spendSms(config.limits.smsPerDay, segments);
    } catch (err) {
      this.deps.limits.refundSms(segments, owner);
      throw err;
    }
    await this.deps.store.flush(); // the spending is on disk before the message can leave
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
    const { receipt, attempts } = await sent.catch((err) => {
      // Refused by every provider: nothing left, nothing paid.
      this.deps.limits.refundSms(segments);
      this.deps.limits.refundSms(segments, owner);
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
   * Build the run's plan from the directory, a page at a time, and write it as one durable,
   * immutable file before the run counts as prepared. Re-run after a crash, it writes the same
   * plan again.
   */
  private async prepare(runId: string, def: CampaignDef) {
    if (this.runCounts(runId).prepared) return;
    const phones: string[] = [];
    const cards: string[] = [];
    const next: RunCounts = emptyCounts(runId);
    next.skippedReasons = await this.audience(def, (card) => {
      phones.push(card.holder!.phone!);
      cards.push(card.number);
    });
    await this.deps.store.putBlob(`plan-${runId}.csv`, phones.map((p, i) => `${p},${cards[i]}\n`).join(''));
    next.total = phones.length;
    next.queued = phones.length;
    next.prepared = true;
    this.counts.put(runId, next);
    this.plans.set(runId, { phones, cards });
    await this.deps.store.flush();
  }

  private async plan(runId: string) {
    let plan = this.plans.get(runId);
    if (!plan) {
      const text = (await this.deps.store.getBlob(`plan-${runId}.csv`)) ?? '';
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

  /**
   * Change one recipient's status and the run's counts together (one commit). The counts are
   * updated in place: the store serialises a changed row once, at its next commit. `sending`
   * needs no row of its own (the batch's row covers it); a final outcome is a line of the
   * run's append-only file.
   */
  private move(
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
    // A row of an earlier version's per-recipient `sending` leaves with its outcome.
    if (r.status === 'sending') this.recipients.delete(`${r.runId}:${r.phone}`);
    this.deps.store.archive('recipients', r.runId, next);
    return next;
  }

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

  /**
   * One batch: wait for the window, send up to a second's worth, persist every outcome.
   *
   * The batch streams: each of a few senders takes the next request's worth of recipients
   * (consent checked again, the day's budget spent), marks them `sending` by widening the
   * batch's in-flight row, waits for that commit, and only then sends. A sender readies its
   * next group while its request is out, so commits and rendering overlap the requests in
   * flight and the provider is not kept waiting between requests. At most two groups per
   * sender are `sending` at once: what a crash can leave `unknown`.
   */
  private async runBatch(runId: string): Promise<BatchResult> {
    const record = await this.host.get(runId);
    const def = this.def(String(record!.view.campaignId));
    await this.prepare(runId, def);
    await this.reconcile(runId);
    const plan = await this.plan(runId);
    const counts = this.runCounts(runId);
    const retry = this.retries.get(runId);
    /** Positions whose request was refused as a whole: they go first. */
    const again = [...(retry?.positions ?? [])];
    let waits = retry?.waits ?? 0;
    const finished = () => counts.cursor >= plan.phones.length && again.length === 0;
    if (finished()) return { done: true, waitUntil: null };
    const started = this.now();
    const render = compileText(def.text);
    // The day's budget counts billed segments: each message is charged the text's segments with
    // no holder data before it leaves, and the rest (a long name) once its receipt says so.
    const base = countSegments(render({ number: '', holder: null })).segments;
    const window = sendWindow(started, def.timezone, def.quietHours, def.weekdaysOnly);
    if (!window.open) return { done: false, waitUntil: window.opensAt, reason: 'quietHours' };
    const size = Math.max(1, Math.min(MAX_BATCH, Math.floor(def.ratePerSecond)));
    const perDay = this.campaignSmsPerDay();
    const from = counts.cursor;
    /** Positions of the retry list in flight in this batch (before `from`). */
    const againInFlight = new Set<number>();
    const keepRetries = () => {
      if (again.length)
        this.retries.put(runId, { runId, positions: [...again], ...(waits ? { waits } : {}) });
      else this.retries.delete(runId);
    };
    /** A message left in this batch: the provider is reachable. */
    let anySent = false;
    /** Every request refused in this batch was refused because the provider is out of reach. */
    let outOfReach = true;
    /** SMS of the day's budget spent on requests refused as a whole: given back. */
    let refunds = 0;
    let taken = 0;
    /** Set when the provider refused a whole request: no further request leaves in this batch. */
    let halt: ErrorData | null = null;
    /**
     * Pause, cancel and shutdown take effect before the next request, not at the end of the
     * batch: a shutdown waits only for the requests already out.
     */
    /** Read before each group: a pause or cancel written by any request since. */
    let asked = false;
    const stopAsked = () => this.stopping || halt !== null || asked;
    const readAsked = async () => {
      const view = (await this.host.get(runId))?.view;
      asked = Boolean(view?.pauseRequested || view?.cancelRequested);
    };
    /**
     * The next `n` recipients to send to, marked `sending` (skipping those who opted out): the
     * retry list first, then the plan from the cursor. Each with its plan position.
     */
    const take = (n: number) => {
      const group: Recipient[] = [];
      const positions: number[] = [];
      if (stopAsked()) return { group, positions };
      /** Plan position `i` skipped (its phone opted out) or taken, unless the day's budget is spent. */
      const takeAt = (i: number, fromPlan: boolean): 'skipped' | 'taken' | 'budgetSpent' => {
        const r: Recipient = { runId, phone: plan.phones[i]!, card: plan.cards[i]!, status: 'queued' };
        // Consent is checked again before each send: an opt-out after the start still counts.
        if (!this.deps.consents.get(r.phone)?.marketing) {
          this.move(r, 'skipped', { reason: 'optedOut' }, fromPlan);
          return 'skipped';
        }
        if (this.deps.limits.smsBudgetWait(perDay, base) > 0) return 'budgetSpent';
        this.deps.limits.spendSms(perDay, base);
        group.push(this.move(r, 'sending', {}, fromPlan));
        positions.push(i);
        taken += 1;
        return 'taken';
      };
      let retried = false;
      while (group.length < n && taken < size && again.length > 0) {
        const i = again[0]!;
        const got = takeAt(i, false);
        if (got === 'budgetSpent') break;
        again.shift();
        retried = true;
        if (got === 'taken') againInFlight.add(i);
      }
      while (group.length < n && taken < size && counts.cursor < plan.phones.length) {
        if (takeAt(counts.cursor, true) === 'budgetSpent') break;
      }
      if (group.length > 0) {
        const row: BatchInFlight = { runId, from, to: counts.cursor, at: this.iso() };
        if (againInFlight.size) row.again = [...againInFlight];
        this.batches.put(runId, row);
      }
      if (retried) keepRetries(); // in the same commit as the row that now covers them
      return { group, positions };
    };
    const only = this.providersOf(def);
    const templateId = `campaign:${def.id}`;
    const message = async (r: Recipient): Promise<SmsMessage> => {
      const card = (await this.deps.directory.get(r.card)) ?? { number: r.card, holder: null };
      const text = render(card);
      return {
        to: r.phone,
        text,
        purpose: 'marketing',
        idempotencyKey: `${runId}:${r.phone}`,
        templateId,
        segments: countSegments(text).segments,
      };
    };
    type Outcome = { receipt: SmsReceipt | null; attempts: SmsAttempt[] };
    /** One recipient's outcome; `refused`: the provider refused their whole request. */
    const settle = (r: Recipient, position: number, { receipt, attempts }: Outcome, refused: boolean) => {
      againInFlight.delete(position);
      if (receipt) {
        anySent = true;
        this.deps.limits.countSms(receipt.segments - base);
        this.move(r, 'sent', {
          provider: receipt.provider,
          messageId: receipt.messageId,
          segments: receipt.segments,
          cost: receipt.cost,
        });
        if (!this.sweeps.has(runId) && this.deps.config.sms.statusPollSeconds > 0) {
          this.sweeps.put(runId, { runId, checks: 0, nextAt: this.now() + SWEEP_WHILE_RUNNING_MS });
        }
        return;
      }
      const last = attempts.at(-1);
      const why = last?.error
        ? `${last.provider} ${last.error.code}: ${last.error.text}`.slice(0, 200)
        : null;
      if (attempts.some((a) => a.mayHaveSent)) {
        // The provider may have taken it without answering: reported, never sent again.
        this.move(r, 'unknown', { reason: `${why ?? 'no answer'}; may have been sent, not sent again` });
        return;
      }
      if (refused && !attempts.some((a) => a.error?.kind === 'permanent')) {
        // Refused with the whole request: nothing left. Back in the queue, for the resume.
        this.move(r, 'queued', {}, false);
        again.push(position); // written with the group's outcomes, below
        refunds += 1;
        return;
      }
      this.move(r, 'failed', { reason: why ?? 'SMS_FAILED' });
    };
    // Multi-recipient requests take up to `per` numbers, each with its own text, 4 at a time;
    // otherwise a dozen senders take a few messages each.
    const per = this.deps.chain.batches(only);
    const [senders, groupSize] = per > 1 ? [4, per] : [SEND_CONCURRENCY, 8];
    /** The next group, marked `sending`, on disk and rendered: ready to leave at once. */
    const ready = async () => {
      await readAsked();
      const { group, positions } = take(groupSize);
      if (group.length === 0) return null;
      await this.deps.store.flush(); // `sending` is on disk before these SMS leave
      const messages: SmsMessage[] = [];
      for (const r of group) messages.push(await message(r));
      return { group, positions, messages };
    };
    const once = { atMostOnce: true };
    /** One request of `per` numbers, or the group's messages one request each. */
    const request = async (messages: SmsMessage[]): Promise<Outcome[]> => {
      if (per > 1) return this.deps.chain.sendMany(messages, only, once);
      const out: Outcome[] = [];
      for (const m of messages) {
        try {
          out.push(await this.deps.chain.send(m, 1, only, once));
        } catch (err) {
          out.push({ receipt: null, attempts: (err as { attempts?: SmsAttempt[] }).attempts ?? [] });
        }
      }
      return out;
    };
    await Promise.all(
      Array.from({ length: senders }, async () => {
        // Each sender readies its next group while its request is out, and sends it before
        // recording the answer it just got: the provider is not kept waiting on our books.
        let current = await ready();
        let out = current ? request(current.messages) : null;
        while (current && out) {
          const next = ready();
          next.catch(() => undefined); // a failed commit is thrown below, not left unhandled
          const results = await out;
          const following = await next;
          out = following ? request(following.messages) : null;
          // Refused as a whole: no number taken, and not because of the numbers themselves.
          const refused =
            results.every((o) => !o.receipt) &&
            results.some((o) => !o.attempts.some((a) => a.error?.kind === 'permanent'));
          const { positions } = current;
          current.group.forEach((r, j) => settle(r, positions[j]!, results[j]!, refused));
          if (refused) {
            keepRetries(); // the refused are back on the list, in the commit of their outcomes
            halt ??= haltFor(results);
            if (!unreachable(results)) outOfReach = false;
          }
          current = following;
        }
      }),
    );
    const halted = halt as ErrorData | null; // set by the senders above
    const minutes = halted && outOfReach ? this.deps.config.campaigns.providerWaitMinutes[waits] : undefined;
    const waitFor = minutes === undefined ? undefined : Math.round(minutes * 60_000);
    if (anySent || waitFor !== undefined) {
      waits = anySent ? 0 : waits + 1;
      keepRetries();
    }
    // Every position has its outcome line or waits in the retry list, in this same commit.
    this.batches.delete(runId);
    this.deps.limits.refundSms(refunds * base);
    await this.deps.store.flush();
    if (halted && waitFor !== undefined) {
      this.deps.logger.warn(
        { run: runId, ...halted.extra, waitMinutes: waitFor / 60_000, wait: waits },
        'campaign waits for the provider',
      );
      return { done: false, waitUntil: this.now() + waitFor, reason: 'providerUnavailable', halt: halted };
    }
    if (halted) {
      this.deps.logger.warn(
        { run: runId, ...halted.extra },
        'campaign paused: the provider refused whole requests',
      );
      return { done: false, waitUntil: null, halt: halted };
    }
    if (finished()) return { done: true, waitUntil: null };
    const wait = this.deps.limits.smsBudgetWait(perDay, base);
    if (wait > 0) return { done: false, waitUntil: this.now() + wait * 1000, reason: 'dailyBudget' };
    // Throttle: a batch of `ratePerSecond` messages takes at least a second.
    const spent = this.now() - started;
    const slot = (taken / def.ratePerSecond) * 1000;
    if (spent < slot) await this.sleep(slot - spent);
    return { done: false, waitUntil: null };
  }

  /**
   * Recipients left in `sending` by a crash: the positions of the batch in flight with no
   * outcome line (and per-recipient rows of earlier versions). A provider that finds a message by
   * our key (`SmsSender.statusByKey`) is asked; anything else is `unknown` and reported, never
   * sent again.
   */
  private async reconcile(runId: string) {
    // Only a restart can leave recipients in `sending`: look once per run per process.
    if (this.reconciled.has(runId)) return;
    this.reconciled.add(runId);
    const stuck = [...this.recipients.values()].filter((r) => r.runId === runId && r.status === 'sending');
    const inFlight = this.batches.get(runId);
    if (inFlight) stuck.push(...(await this.unsettled(runId)));
    if (stuck.length > 0) {
      // Providers that can find a message by our key (smsc.ru) are asked, in the chain's order.
      const finders = this.deps.chain.senders.filter((s) => s.statusByKey);
      for (const r of stuck) {
        const key = `${runId}:${r.phone}`;
        let found: { provider: string; messageId: string } | undefined;
        for (const sender of finders) {
          const answer = await sender.statusByKey!(
            key,
            r.phone,
            AbortSignal.timeout(this.deps.config.sms.timeoutMs),
          ).catch(() => undefined);
          if (answer && answer.status !== 'unknown') {
            found = { provider: sender.name, messageId: answer.messageId };
            break;
          }
        }
        if (found) {
          this.move(r, 'sent', { ...found, reason: 'reconciled after restart' });
          continue;
        }
        this.move(r, 'unknown', { reason: 'interrupted while sending; not resent' });
        this.deps.logger.warn(
          { run: runId, phone: maskPhone(r.phone) },
          'campaign recipient outcome unknown after restart',
        );
      }
    }
    if (inFlight) this.batches.delete(runId);
    await this.deps.store.flush();
  }

  /**
   * The plan positions of a run's batch in flight, in plan order: those taken again from the
   * retry list, then its range; less those refused with their whole request, back on the list.
   * Those with no outcome line yet are `sending`.
   */
  private inFlightPositions(runId: string): number[] {
    const b = this.batches.get(runId);
    if (!b) return [];
    const waiting = new Set(this.retries.get(runId)?.positions ?? []);
    const positions = [...(b.again ?? [])];
    for (let i = b.from; i < b.to; i++) positions.push(i);
    return positions.filter((i) => !waiting.has(i));
  }

  /** The positions of a batch in flight that have no outcome line: caught in `sending`. */
  private async unsettled(runId: string): Promise<Recipient[]> {
    const plan = await this.plan(runId);
    const open = new Map<string, string>();
    for (const i of this.inFlightPositions(runId)) open.set(plan.phones[i]!, plan.cards[i]!);
    await this.deps.store.scanArchive<Recipient>('recipients', runId, (r) => {
      if (r.status !== 'sending' && r.status !== 'queued') open.delete(r.phone);
    });
    return [...open].map(([phone, card]) => ({ runId, phone, card, status: 'sending' }));
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
    this.deps.store.archive('recipients', runId, { runId, phone, status, at: this.iso() });
  }

  /**
   * Ask the providers how the messages of campaign runs did, a run at a time. A run's messages
   * are not tracked one by one in memory (a 100,000-message run would hold 100,000 rows for a
   * day): each sweep reads the run's file for the messages sent and not yet final, asks in
   * requests of 100, and appends the final statuses. Sweeps run every ten minutes while the run
   * sends, then 1 minute after it ends and again after 10 minutes, 1, 6 and 24 hours. Returns
   * statuses read.
   */
  async sweepDeliveries(): Promise<number> {
    if (this.sweeping) return 0;
    this.sweeping = true;
    let read = 0;
    try {
      for (const sweep of [...this.sweeps.values()]) {
        if (sweep.nextAt > this.now()) continue;
        const pending = await this.undelivered(sweep.runId);
        read += await this.askStatuses(sweep.runId, pending);
        const live = await this.host.isLive(sweep.runId);
        const checks = live ? 0 : sweep.checks + 1;
        const wait = live ? SWEEP_WHILE_RUNNING_MS : SWEEPS_AFTER_MS[checks];
        if (wait === undefined || (!live && pending.size === 0)) this.sweeps.delete(sweep.runId);
        else this.sweeps.put(sweep.runId, { ...sweep, checks, nextAt: this.now() + wait });
        await this.deps.store.flush();
      }
    } finally {
      this.sweeping = false;
    }
    return read;
  }

  /** A run's messages sent and not yet final: phone → `provider messageId`. */
  private async undelivered(runId: string): Promise<Map<string, string>> {
    await this.deps.store.flush(); // lines of a moment ago may still be pending
    const pending = new Map<string, string>();
    await this.deps.store.scanArchive<Recipient>('recipients', runId, (r) => {
      if (r.status === 'sent' && r.provider && r.messageId && !r.messageId.startsWith('dry-'))
        pending.set(r.phone, `${r.provider} ${r.messageId}`);
      else if (FINAL_DELIVERY.has(r.status as DeliveryStatus)) pending.delete(r.phone);
    });
    return pending;
  }

  /**
   * Ask each provider about its pending messages, 100 to a request, writing the final statuses
   * as they come (committed every 2,000): a 100,000-message run never has all its answers in
   * memory at once.
   */
  private async askStatuses(runId: string, pending: Map<string, string>): Promise<number> {
    const providers = new Set<string>();
    for (const ref of pending.values()) providers.add(ref.slice(0, ref.indexOf(' ')));
    let read = 0;
    let asked = 0;
    for (const provider of providers) {
      const sender = this.deps.chain.sender(provider);
      if (!sender?.status) continue;
      const ask = async (part: Array<{ messageId: string; to: string }>) => {
        const statuses = await sender.status!(
          part,
          AbortSignal.timeout(this.deps.config.sms.timeoutMs),
        ).catch((err: Error) => {
          this.deps.logger.warn({ provider, run: runId, err: err.message }, 'delivery status query failed');
          return new Map<string, DeliveryStatus>();
        });
        for (const m of part) {
          const status = statuses.get(m.messageId);
          if (!status) continue;
          read += 1;
          if (FINAL_DELIVERY.has(status)) {
            this.delivered(runId, m.to, status);
            pending.delete(m.to);
          }
        }
        if (++asked % 20 === 0) await this.deps.store.flush();
      };
      const prefix = `${provider} `;
      let part: Array<{ messageId: string; to: string }> = [];
      for (const [phone, ref] of pending) {
        if (!ref.startsWith(prefix)) continue;
        part.push({ messageId: ref.slice(prefix.length), to: phone });
        if (part.length === 100) {
          await ask(part);
          part = [];
        }
      }
      if (part.length) await ask(part);
    }
    return read;
  }

  /** A run ended: nothing of it stays in memory; its delivery sweeps go on the after-run schedule. */
  private runClosed(record: WorkflowRecord<CampaignRunView>) {
    this.plans.delete(record.id);
    this.reconciled.delete(record.id);
    const sweep = this.sweeps.get(record.id);
    if (sweep) this.sweeps.put(record.id, { ...sweep, checks: 0, nextAt: this.now() + SWEEPS_AFTER_MS[0]! });
  }

  /**
   * Recipients of a run, by status, paged by position: final outcomes from the run's file (the
   * last line of a phone wins), those in flight, the rest queued in the plan.
   *
   * Memory stays small for a large run: the file is read for each phone's latest status only (a
   * word, not a record), and whole records are kept for the page alone. Without a status filter
   * the page is known as phones first appear, so one read does; with one, a second read fetches
   * the page's records.
   */
  async recipientsOf(runId: string, status: string | undefined, offset: number, limit: number) {
    await this.deps.store.flush(); // lines of a moment ago may still be pending
    const plan = await this.plan(runId);
    const latest = new Map<string, string>(); // phone → latest status, in order of first line
    const records = new Map<string, Recipient>(); // the page's phones → their merged lines
    const unfilteredPage = (index: number) => !status && index >= offset && index < offset + limit;
    const merge = (r: Recipient) => {
      const known = records.get(r.phone);
      if (known) records.set(r.phone, { ...known, ...r });
    };
    await this.runLines(runId, (r) => {
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
      await this.runLines(runId, merge);
    }
    if (!(await this.host.isLive(runId))) this.plans.delete(runId);
    return {
      items: page.map((p) =>
        p.position === null
          ? records.get(p.phone)!
          : { runId, phone: p.phone, card: plan.cards[p.position]!, status: p.status as RecipientStatus },
      ),
      next: offset + limit < matched ? offset + limit : null,
    };
  }

  /** Every line a run's recipients have: its file in order, then `sending` rows of an earlier version. */
  private async runLines(runId: string, visit: (r: Recipient) => void) {
    await this.deps.store.scanArchive<Recipient>('recipients', runId, visit);
    for (const r of this.recipients.values()) if (r.runId === runId) visit(r);
  }

  // ---- the schedule ----------------------------------------------------------------------------

  /**
   * Start the recurring runs that are due. Called every minute by node-cron, at start-up, and
   * directly by tests with a moved clock. A run missed while the service was down runs once if
   * it is still within `campaigns.catchUpMinutes`; older misses are counted and skipped.
   */
  async tick(): Promise<number> {
    const now = this.now();
    let started = 0;
    for (const def of [...this.defs.values()]) {
      if (
        def.cancelled ||
        !def.schedule ||
        !('cron' in def.schedule) ||
        def.nextRunAt === null ||
        def.nextRunAt > now
      )
        continue;
      const late = now - def.nextRunAt;
      const next = nextOccurrence(def.schedule.cron, def.schedule.timezone, now);
      const current = await this.currentRun(def);
      if (late <= this.deps.config.campaigns.catchUpMinutes * 60_000 && !current?.live) {
        this.defs.put(def.id, { ...def, nextRunAt: next, updatedAt: this.iso() });
        await this.newRun(this.def(def.id), 'schedule', { now: true });
        started += 1;
      } else {
        this.defs.put(def.id, {
          ...def,
          nextRunAt: next,
          missedRuns: def.missedRuns + 1,
          updatedAt: this.iso(),
        });
        this.deps.logger.warn(
          { campaign: def.id, scheduledFor: this.iso(def.nextRunAt) },
          current?.live ? 'previous run still going: firing skipped' : 'missed run too old to catch up',
        );
      }
    }
    await this.deps.store.flush();
    return started;
  }
}
