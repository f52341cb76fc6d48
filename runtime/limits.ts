/**
 * Abuse limits, because every SMS is paid (OWASP API4: SMS pumping): sliding one-hour windows
 * (per phone, per API token), and daily SMS budgets counted in billed segments by the venue's
 * calendar day: one for the whole service, one per token. Kept by the store engine
 * (`LimitRows`), so a restart does not reset them, and exact across instances that share it:
 * every check-and-count is one atomic step of the engine.
 */
import { zoneFormat } from './zoneFormat.ts';
import { AppError } from '../machines/errors.ts';
import type { Clock } from './ports.ts';
import type { Config } from './config.ts';

export const HOUR = 3_600_000;

export const limitTables = ['limits'];

/** Where the counters live: the embedded store's table, or PostgreSQL's rows. */
export interface LimitRows {
  /**
   * Count one hit at `now` against every rule's window of `windowMs`, or none: when a rule is at
   * its limit, nothing is counted and the answer names it, with the time of the hit that must
   * leave its window first.
   */
  hit(
    rules: ReadonlyArray<{ key: string; limit: number }>,
    now: number,
    windowMs: number,
  ): Promise<{ index: number; leaves: number } | null>;
  /** A day counter (0 when there is none). */
  dayCount(key: string): Promise<number>;
  /**
   * Add up to `want` to a day counter, at most what keeps it within `cap` (0: no cap), in one
   * step; with `whole`, all of `want` or nothing. How much was added.
   */
  addDay(key: string, day: string, want: number, cap: number, whole?: boolean): Promise<number>;
  /** Take `n` off a day counter, never below 0. */
  subtractDay(key: string, n: number): Promise<void>;
  /** Forget every counter whose key contains `text`; how many. */
  forget(text: string): Promise<number>;
  /** Drop windows with no hit after `before`, and day counters of days before `oldestDay`. */
  sweep(before: number, oldestDay: string): Promise<number>;
}

/**
 * One hit against windows as stored (each key's hit times): the rule at its limit and the hit
 * that must leave first, or the windows to write with the hit counted. Both engines decide by it.
 */
export function countHit(
  rules: ReadonlyArray<{ key: string; limit: number }>,
  stored: (key: string) => number[] | undefined,
  now: number,
  windowMs: number,
): { refused: { index: number; leaves: number } } | { write: Array<{ key: string; hits: number[] }> } {
  const windows = rules.map((rule) => ({
    rule,
    hits: (stored(rule.key) ?? []).filter((t) => t > now - windowMs),
  }));
  for (const [index, { rule, hits }] of windows.entries())
    if (hits.length >= rule.limit) return { refused: { index, leaves: hits[hits.length - rule.limit]! } };
  return {
    write: windows.map(({ rule, hits }) => ({ key: rule.key, hits: [...hits, now].slice(-rule.limit) })),
  };
}

/** How much of `want` a day counter at `count` takes under `cap` (0: no cap); `whole`: all or nothing. */
export function dayRoom(count: number, want: number, cap: number, whole: boolean): number {
  const room = cap > 0 ? Math.max(0, cap - count) : Infinity;
  return whole ? (want <= room ? want : 0) : Math.min(want, room);
}

export class RateLimits {
  private readonly dayOf: (t: number) => string;

  constructor(
    private readonly rows: LimitRows,
    private readonly clock: Clock,
    timeZone: string,
  ) {
    const fmt = zoneFormat(timeZone, 'day');
    // A local day begins on a whole minute in every zone: one formatting per minute is enough.
    let minute = NaN;
    let day = '';
    this.dayOf = (t) => {
      const m = Math.floor(t / 60_000);
      if (m !== minute) {
        minute = m;
        day = fmt.format(t);
      }
      return day;
    };
  }

  /** Forget every counter kept under a phone (a guest's erasure): the keys name it. */
  forgetPhone(phone: string): Promise<number> {
    return this.rows.forget(phone);
  }

  /**
   * Count one hit against every key, or none: if any key is at its limit, throw RATE_LIMITED
   * with the seconds until its oldest hit leaves the window. A limit of 0 means no limit.
   */
  async hit(rules: Array<{ key: string; limit: number; name: string }>): Promise<void> {
    const now = this.clock.now();
    const active = rules.filter((r) => r.limit > 0);
    const refused = await this.rows.hit(active, now, HOUR);
    if (refused) {
      const retryAfter = Math.max(1, Math.ceil((refused.leaves + HOUR - now) / 1000));
      throw new AppError('RATE_LIMITED', { retryAfter, limit: active[refused.index]!.name });
    }
  }

  /**
   * Seconds until the day's SMS budget allows `segments` more, or 0 when it does now. A message
   * larger than a whole budget is never allowed (the wait is to the next day).
   */
  async smsBudgetWait(perDay: number, segments = 1, owner = ''): Promise<number> {
    if (perDay <= 0) return 0;
    const now = this.clock.now();
    if ((await this.dayCount(now, owner)) + segments <= perDay) return 0;
    return this.untilTomorrow(now);
  }

  /** Segments left in today's budget (Infinity without a budget). */
  async smsLeftToday(perDay: number, owner = ''): Promise<number> {
    return perDay <= 0 ? Infinity : Math.max(0, perDay - (await this.dayCount(this.clock.now(), owner)));
  }

  /**
   * Spend `segments` of a day's budget (the service's, or with `owner` one token's); throws
   * RATE_LIMITED naming `limit` when they do not fit. Checked and counted in one step.
   */
  async spendSms(perDay: number, segments = 1, owner = '', limit = 'smsPerDay'): Promise<void> {
    if (segments <= 0) return;
    const now = this.clock.now();
    const day = this.dayOf(now);
    if (perDay > 0 && segments > perDay) throw this.overBudget(now, limit);
    const added = await this.rows.addDay(this.dayKey(owner, day), day, segments, perDay, true);
    if (added < segments) throw this.overBudget(now, limit);
  }

  /**
   * Take up to `want` segments of today's budget at once, for messages about to be marked
   * (a campaign batch); how many were taken. What is not used goes back with `refundSms`.
   */
  async reserveSms(perDay: number, want: number, owner = ''): Promise<number> {
    if (want <= 0) return 0;
    const day = this.dayOf(this.clock.now());
    return this.rows.addDay(this.dayKey(owner, day), day, want, perDay);
  }

  /** Throw RATE_LIMITED naming `limit` when `segments` do not fit a day's budget; spend nothing. */
  async checkSms(perDay: number, segments = 1, owner = '', limit = 'smsPerDay'): Promise<void> {
    const wait = await this.smsBudgetWait(perDay, segments, owner);
    if (wait > 0) throw new AppError('RATE_LIMITED', { retryAfter: wait, limit });
  }

  /** Count segments that left without asking (a longer text than estimated). */
  async countSms(segments: number, owner = ''): Promise<void> {
    if (segments <= 0) return;
    const day = this.dayOf(this.clock.now());
    await this.rows.addDay(this.dayKey(owner, day), day, segments, 0);
  }

  /** Give back segments of today's budget: spent on messages that never left. */
  async refundSms(segments: number, owner = ''): Promise<void> {
    if (segments <= 0) return;
    await this.rows.subtractDay(this.dayKey(owner, this.dayOf(this.clock.now())), segments);
  }

  /** Drop windows whose every hit has left them, and day counters older than yesterday. */
  sweep(): Promise<number> {
    const now = this.clock.now();
    return this.rows.sweep(now - HOUR, this.dayOf(now - 24 * HOUR));
  }

  private dayKey(owner: string, day: string) {
    return `sms:${owner}${day}`;
  }

  private dayCount(now: number, owner = ''): Promise<number> {
    return this.rows.dayCount(this.dayKey(owner, this.dayOf(now)));
  }

  private overBudget(now: number, limit: string) {
    return new AppError('RATE_LIMITED', { retryAfter: this.untilTomorrow(now), limit });
  }

  /** Seconds to the first instant of the next local day (DST-safe: found by walking forward). */
  private untilTomorrow(now: number): number {
    const today = this.dayOf(now);
    let t = now - (now % 60_000);
    while (this.dayOf(t) === today) t += 15 * 60_000;
    return Math.max(1, Math.ceil((t - now) / 1000));
  }
}

/**
 * A token's own limits, the same wherever it spends SMS (PIN windows, campaign test sends):
 * its hourly count of sending calls, and its day budget under `limits.perTerminalPerDay` and
 * never into the PIN reserve of `limits.smsPerDay`.
 */
export const tokenLimits = {
  /** The rule of its hourly count. */
  hourRule: (token: string, config: Readonly<Config>) => ({
    key: `token:${token}`,
    limit: config.limits.perTerminalPerHour,
    name: 'perTerminalPerHour',
  }),
  /** The owner key of its day budget. */
  owner: (token: string) => `tok:${token}:`,
  /** Its day budget in segments. */
  dayCap(config: Readonly<Config>): number {
    const { smsPerDay, perTerminalPerDay } = config.limits;
    if (smsPerDay <= 0) return perTerminalPerDay;
    const open = smsPerDay - Math.ceil(smsPerDay * config.campaigns.pinReserve);
    return perTerminalPerDay <= 0 ? open : Math.min(perTerminalPerDay, open);
  },
};
