/**
 * Abuse limits, because every SMS is paid (OWASP API4: SMS pumping): sliding one-hour windows
 * (per phone, per API token), and daily SMS budgets counted in billed segments by the venue's
 * calendar day: one for the whole service, one per token. Kept in the store, so a restart does
 * not reset them.
 */
import { zoneFormat } from './zoneFormat.ts';
import { AppError } from '../machines/errors.ts';
import type { Clock, RecordStore, Table } from './ports.ts';
import type { Config } from './config.ts';

const HOUR = 3_600_000;

interface Window {
  /** Start times inside the window, oldest first; never more than the limit. */
  hits: number[];
}
interface DayCount {
  day: string;
  count: number;
}

export const limitTables = ['limits'];

export class RateLimits {
  private readonly windows: Table<Window | DayCount>;
  private readonly dayOf: (t: number) => string;

  /** Forget every counter kept under a phone (a guest's erasure): the keys name it. */
  forgetPhone(phone: string): number {
    let n = 0;
    for (const key of [...this.windows.entries()].map(([k]) => k))
      if (key.includes(phone)) {
        this.windows.delete(key);
        n += 1;
      }
    return n;
  }

  constructor(
    store: RecordStore,
    private readonly clock: Clock,
    timeZone: string,
  ) {
    this.windows = store.table<Window | DayCount>('limits');
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

  /**
   * Count one hit against every key, or none: if any key is at its limit, throw RATE_LIMITED
   * with the seconds until its oldest hit leaves the window. A limit of 0 means no limit.
   */
  hit(rules: Array<{ key: string; limit: number; name: string }>): void {
    const now = this.clock.now();
    const active = rules.filter((r) => r.limit > 0);
    const windows = active.map((r) => {
      const w = (this.windows.get(r.key) as Window | undefined)?.hits.filter((t) => t > now - HOUR) ?? [];
      return { rule: r, hits: w };
    });
    for (const { rule, hits } of windows) {
      if (hits.length >= rule.limit) {
        const retryAfter = Math.max(1, Math.ceil((hits[hits.length - rule.limit]! + HOUR - now) / 1000));
        throw new AppError('RATE_LIMITED', { retryAfter, limit: rule.name });
      }
    }
    for (const { rule, hits } of windows) {
      this.windows.put(rule.key, { hits: [...hits, now].slice(-rule.limit) });
    }
  }

  /**
   * Seconds until the day's SMS budget allows `segments` more, or 0 when it does now. A message
   * larger than a whole budget is never allowed (the wait is to the next day).
   */
  smsBudgetWait(perDay: number, segments = 1, owner = ''): number {
    if (perDay <= 0) return 0;
    const now = this.clock.now();
    if (this.dayCount(now, owner) + segments <= perDay) return 0;
    return Math.max(1, Math.ceil((this.nextDayStart(now) - now) / 1000));
  }

  /** Segments left in today's budget (Infinity without a budget). */
  smsLeftToday(perDay: number, owner = ''): number {
    return perDay <= 0 ? Infinity : Math.max(0, perDay - this.dayCount(this.clock.now(), owner));
  }

  /**
   * Spend `segments` of a day's budget (the service's, or with `owner` one token's); throws
   * RATE_LIMITED naming `limit` when they do not fit.
   */
  spendSms(perDay: number, segments = 1, owner = '', limit = 'smsPerDay'): void {
    this.checkSms(perDay, segments, owner, limit);
    this.countSms(segments, owner);
  }

  /** Throw RATE_LIMITED naming `limit` when `segments` do not fit a day's budget; spend nothing. */
  checkSms(perDay: number, segments = 1, owner = '', limit = 'smsPerDay'): void {
    const wait = this.smsBudgetWait(perDay, segments, owner);
    if (wait > 0) throw new AppError('RATE_LIMITED', { retryAfter: wait, limit });
  }

  /** Count segments that left without asking (a longer text than estimated). */
  countSms(segments: number, owner = ''): void {
    if (segments <= 0) return;
    const now = this.clock.now();
    const day = this.dayOf(now);
    this.windows.put(`sms:${owner}${day}`, { day, count: this.dayCount(now, owner) + segments });
  }

  /** Give back segments of today's budget: spent on messages that never left. */
  refundSms(segments: number, owner = ''): void {
    if (segments <= 0) return;
    const now = this.clock.now();
    const day = this.dayOf(now);
    const count = this.dayCount(now, owner);
    if (count > 0) this.windows.put(`sms:${owner}${day}`, { day, count: Math.max(0, count - segments) });
  }

  private dayCount(now: number, owner = ''): number {
    return (this.windows.get(`sms:${owner}${this.dayOf(now)}`) as DayCount | undefined)?.count ?? 0;
  }

  private nextDayStart(now: number): number {
    // Walk forward by the hour to the first instant of the next local day (DST-safe).
    const today = this.dayOf(now);
    let t = now - (now % 60_000);
    while (this.dayOf(t) === today) t += 15 * 60_000;
    return t;
  }

  /** Drop windows whose every hit has left them, and day counters older than yesterday. */
  sweep(): number {
    const now = this.clock.now();
    const yesterday = this.dayOf(now - 24 * HOUR);
    let dropped = 0;
    for (const [key, value] of [...this.windows.entries()]) {
      const stale = 'hits' in value ? value.hits.every((t) => t <= now - HOUR) : value.day < yesterday;
      if (stale) {
        this.windows.delete(key);
        dropped += 1;
      }
    }
    return dropped;
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
