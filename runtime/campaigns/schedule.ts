/**
 * Time in the venue's zone: cron occurrences and quiet hours, computed in local wall-clock time
 * and converted to instants, so daylight saving never drops or doubles a day. (node-cron skips
 * local times lost to a DST jump and never runs missed executions: here a time lost to a jump
 * fires at the first instant after it, and missed runs are the caller's to catch up.)
 */
import cron from 'node-cron';

interface Wall {
  y: number;
  m: number;
  d: number;
  h: number;
  min: number;
  /** 0 = Sunday */
  dow: number;
}

const formatters = new Map<string, Intl.DateTimeFormat>();
function formatter(tz: string) {
  let f = formatters.get(tz);
  if (!f) {
    f = new Intl.DateTimeFormat('en-US', {
      timeZone: tz,
      hourCycle: 'h23',
      year: 'numeric',
      month: 'numeric',
      day: 'numeric',
      hour: 'numeric',
      minute: 'numeric',
      weekday: 'short',
    });
    formatters.set(tz, f);
  }
  return f;
}
const DOW: Record<string, number> = { Sun: 0, Mon: 1, Tue: 2, Wed: 3, Thu: 4, Fri: 5, Sat: 6 };

/** The wall clock in `tz` at instant `t`. */
export function wallAt(t: number, tz: string): Wall {
  const p = Object.fromEntries(
    formatter(tz)
      .formatToParts(t)
      .map((x) => [x.type, x.value]),
  );
  return {
    y: Number(p.year),
    m: Number(p.month),
    d: Number(p.day),
    h: Number(p.hour),
    min: Number(p.minute),
    dow: DOW[p.weekday!]!,
  };
}

function offsetAt(t: number, tz: string): number {
  const w = wallAt(t, tz);
  return Date.UTC(w.y, w.m - 1, w.d, w.h, w.min) - (t - (t % 60_000));
}

/** The instant a wall-clock time happens in `tz`; a time lost to a DST jump maps to the jump. */
export function wallToInstant(y: number, m: number, d: number, h: number, min: number, tz: string): number {
  const asUtc = Date.UTC(y, m - 1, d, h, min);
  const key = (w: Wall) => Date.UTC(w.y, w.m - 1, w.d, w.h, w.min);
  const candidates = [
    ...new Set([offsetAt(asUtc - 86_400_000, tz), offsetAt(asUtc, tz), offsetAt(asUtc + 86_400_000, tz)]),
  ]
    .map((o) => asUtc - o)
    .sort((a, b) => a - b);
  const exact = candidates.find((t) => key(wallAt(t, tz)) === asUtc);
  if (exact !== undefined) return exact; // when a time happens twice (fall back), the first
  // Lost to a spring-forward jump: the first minute whose wall clock is past the wanted time.
  let t = candidates[0]!;
  while (key(wallAt(t, tz)) < asUtc) t += 60_000;
  return t;
}

export function validCron(expression: string): boolean {
  return (
    typeof expression === 'string' && expression.trim().split(/\s+/).length === 5 && cron.validate(expression)
  );
}

/** The first occurrence of a 5-field cron expression strictly after `after`, in `tz`. */
export function nextOccurrence(expression: string, tz: string, after: number): number {
  const parsed = cron.parse(expression);
  // node-cron gives days as numbers, or as words it did not turn into numbers: those never match.
  const numbers = (values: Array<number | string>) => values.map(Number).filter((n) => Number.isInteger(n));
  const f = { ...parsed, dayOfMonth: numbers(parsed.dayOfMonth), dayOfWeek: numbers(parsed.dayOfWeek) };
  const allDom = f.dayOfMonth.length >= 31;
  const dows = new Set(f.dayOfWeek.map((d) => (d === 7 ? 0 : d)));
  const allDow = dows.size >= 7;
  const start = wallAt(after, tz);
  for (let i = 0; i < 400 * 4; i++) {
    const day = new Date(Date.UTC(start.y, start.m - 1, start.d + i));
    const y = day.getUTCFullYear();
    const m = day.getUTCMonth() + 1;
    const d = day.getUTCDate();
    const dow = day.getUTCDay();
    if (!f.month.includes(m)) continue;
    const domOk = f.dayOfMonth.includes(d);
    const dowOk = dows.has(dow);
    if (!(allDom && allDow) && !(allDom ? dowOk : allDow ? domOk : domOk || dowOk)) continue;
    for (const h of f.hour) {
      for (const min of f.minute) {
        const t = wallToInstant(y, m, d, h, min, tz);
        if (t > after) return t;
      }
    }
  }
  throw new Error(`no occurrence of "${expression}" within four years`);
}

export interface QuietHours {
  /** HH:MM: quiet from (inclusive) … to (exclusive); may wrap midnight. */
  from: string;
  to: string;
}

const minutesOf = (hhmm: string) => Number(hhmm.slice(0, 2)) * 60 + Number(hhmm.slice(3, 5));

/** Whether advertising may be sent at `t`, and if not, when it may next. */
export function sendWindow(
  t: number,
  tz: string,
  quiet: QuietHours | false,
  weekdaysOnly: boolean,
): { open: boolean; opensAt: number } {
  const allowed = (at: number) => {
    const w = wallAt(at, tz);
    if (weekdaysOnly && (w.dow === 0 || w.dow === 6)) return false;
    if (!quiet) return true;
    const now = w.h * 60 + w.min;
    const from = minutesOf(quiet.from);
    const to = minutesOf(quiet.to);
    const inQuiet = from <= to ? now >= from && now < to : now >= from || now < to;
    return !inQuiet;
  };
  if (allowed(t)) return { open: true, opensAt: t };
  // Walk forward by the minute from the next whole minute (at most 8 days: weekends, long nights).
  let at = t - (t % 60_000) + 60_000;
  for (let i = 0; i < 8 * 24 * 60; i++, at += 60_000) if (allowed(at)) return { open: false, opensAt: at };
  return { open: false, opensAt: Infinity };
}
