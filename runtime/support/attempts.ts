/**
 * Refused attempts: a start at the till refused before any workflow began (a bad or foreign
 * phone, a landline, a channel the venue has off, a limit or the day's SMS budget) leaves a
 * short record, so support finds the attempt a guest complains about with the same search as
 * sessions: kind `attempt`, state `refused`, the reason as its error, who (token label and
 * station) and when. Records are archived at once, day by day, like closed sessions.
 *
 * A caller hammering the same refusal (a script in a loop, a rate-limited till) adds one record
 * per phone (or token), reason and minute; every refusal is counted in the metrics.
 */
import { toErrorData, type AppError } from '../../machines/errors.ts';
import { BoundedMap } from '../boundedMap.ts';
import type { WorkflowHost, WorkflowRecord } from '../workflows/host.ts';
import { newId } from '../ids.ts';
import type { Metrics } from '../metrics.ts';
import type { Clock } from '../ports.ts';

export const ATTEMPT_KIND = { kind: 'attempt', prefix: 'att' } as const;

/** One record per key (phone or token, reason) in this window. */
const REPEAT_MS = 60_000;

export interface RefusedStart {
  /** The workflow that was asked for: `auth` or `activation`. */
  for: string;
  /** The phone as normalised, when it could be. */
  phone: string | null;
  /** What was typed, when it could not be normalised (kept masked). */
  phoneInput: unknown;
  terminal: string | null;
  /** Who: role, station and token label (as timelines write it). */
  by: string;
  /** The calling token's id: the key of a refusal without a phone. */
  token: string;
  channel: string | null;
}

/** A typed phone that could not be read: its digits, all but the last two hidden. */
export function maskTyped(input: unknown): string | null {
  if (typeof input !== 'string' && typeof input !== 'number') return null;
  const digits = String(input).replace(/\D/g, '').slice(0, 20);
  if (!digits) return null;
  return digits.length <= 2 ? '*'.repeat(digits.length) : '*'.repeat(digits.length - 2) + digits.slice(-2);
}

export class RefusedAttempts {
  private readonly lastKept = new BoundedMap<string, number>(10_000);

  constructor(
    private readonly host: WorkflowHost,
    private readonly clock: Clock,
    private readonly metrics: Metrics,
  ) {}

  /** Note a refused start; the error goes on to the caller unchanged. */
  note(start: RefusedStart, err: AppError): void {
    this.metrics.startRefused(start.for, err.code);
    const now = this.clock.now();
    const key = `${start.for}:${err.code}:${start.phone ?? `token:${start.token}`}`;
    const last = this.lastKept.get(key);
    if (last !== undefined && now - last < REPEAT_MS) return;
    this.lastKept.set(key, now);
    const at = new Date(now).toISOString();
    const record: WorkflowRecord = {
      id: newId(ATTEMPT_KIND.prefix, now),
      kind: ATTEMPT_KIND.kind,
      state: 'refused',
      live: false,
      createdAt: at,
      updatedAt: at,
      closedAt: at,
      terminal: start.terminal,
      phone: start.phone,
      card: null,
      deadline: null,
      error: toErrorData(err),
      timeline: [{ at, event: 'start', from: null, to: 'refused', by: start.by, detail: { code: err.code } }],
      view: {
        for: start.for,
        channel: start.channel,
        ...(start.phone ? {} : { phoneInput: maskTyped(start.phoneInput) }),
      },
    };
    void this.host.addClosed(record).catch(() => undefined); // the refusal is answered either way
  }
}
