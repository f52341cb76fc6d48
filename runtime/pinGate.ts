/**
 * One rule for every path that sends a PIN SMS — authorization start and resend, activation with
 * SMS confirmation and its resend — and for every PIN guess:
 *
 * - `limits.perPhonePerHour`: PIN windows a phone may open, both workflows together.
 * - `limits.perTerminalPerHour`: SMS-sending starts and resends per API token.
 * - `limits.perTerminalPerDay`: segments per token a day, and never the PIN reserve: one token
 *   alone cannot spend the part of `limits.smsPerDay` kept for the other tills.
 * - `limits.guessesPerPhonePerHour`: PIN codes tried for a phone, through either workflow.
 * - `limits.smsPerDay`: billed segments for the whole service (checked here before anything
 *   starts, spent by the PIN sender as each message leaves).
 *
 * Limits are keyed on the authenticated token, never on a field the caller chooses.
 *
 * A phone has at most one live PIN window, whatever the concurrency: starts for one phone are
 * decided one at a time (a start while another is being decided is refused, `409 PHONE_BUSY`),
 * and a new window supersedes the phone's earlier one of either kind.
 */
import { AppError } from '../machines/errors.ts';
import type { Config } from './config.ts';
import { tokenLimits, type RateLimits } from './limits.ts';
import type { WorkflowHost, WorkflowRecord } from './host.ts';

/** A rate-limit rule (`RateLimits.hit`). */
type Rule = { key: string; limit: number; name: string };

/** Kinds of workflow with a PIN window, and the state in which the window is open. */
const windowKinds = new Set(['auth', 'activation']);
const openStates = new Set(['sendingSms', 'awaitingPin']);

export class PinGate {
  /** Each phone's live PIN window (workflow id). */
  private readonly liveByPhone = new Map<string, string>();
  /** Phones whose start is being decided now. */
  private readonly deciding = new Set<string>();
  /** Per phone: the tail of its queue of resends and guesses. */
  private readonly queues = new Map<string, Promise<unknown>>();

  constructor(
    private readonly host: WorkflowHost,
    private readonly deps: {
      config: Readonly<Config>;
      limits: RateLimits;
      /** Segments of one PIN message of a purpose (`auth`, `activation`). */
      pinSegments: (purpose: string) => number;
    },
  ) {
    for (const record of host.liveRecords()) this.track(record);
    host.onClosed((record) => this.closed(record));
  }

  /** Refuse at once when the service's day budget cannot take one more PIN. */
  private checkServiceBudget(segments: number) {
    this.deps.limits.checkSms(this.deps.config.limits.smsPerDay, segments);
  }

  /** Count a sending call against its token's hour, and reserve its segments of the token's day. */
  private spendToken(token: string, segments: number, rules: Rule[] = []) {
    const { config, limits } = this.deps;
    limits.hit([...rules, tokenLimits.hourRule(token, config)]);
    limits.spendSms(tokenLimits.dayCap(config), segments, tokenLimits.owner(token), 'perTerminalPerDay');
  }

  /**
   * Open a PIN window for `phone` on behalf of `token`: refused when another start for the phone
   * is being decided, or when a limit says no; otherwise the phone's earlier window is
   * superseded and `open` runs (it starts the workflow). The token's day budget is reserved
   * first and given back if no SMS left.
   */
  async open(
    phone: string,
    token: string,
    purpose: string,
    open: () => Promise<WorkflowRecord>,
    extraRules: Rule[] = [],
  ): Promise<WorkflowRecord> {
    if (this.deciding.has(phone)) throw new AppError('PHONE_BUSY', { retryAfter: 1 });
    this.deciding.add(phone);
    try {
      const segments = this.deps.pinSegments(purpose);
      this.checkServiceBudget(segments);
      const perPhone = this.deps.config.limits.perPhonePerHour;
      this.spendToken(token, segments, [
        ...extraRules,
        { key: `phone:${phone}`, limit: perPhone, name: 'perPhonePerHour' },
      ]);
      const owner = tokenLimits.owner(token);
      let sent = 0;
      try {
        const previous = this.liveByPhone.get(phone);
        if (previous) await this.supersede(previous);
        const record = await open();
        sent = Number(record.view.sends ?? 0);
        this.track(record);
        return record;
      } catch (err) {
        const ref = (err as AppError).extra?.sessionId ?? (err as AppError).extra?.activationId;
        const record = typeof ref === 'string' ? this.host.peek(ref) : undefined;
        sent = Number(record?.view.sends ?? 0);
        throw err;
      } finally {
        if (sent === 0) this.deps.limits.refundSms(segments, owner);
      }
    } finally {
      this.deciding.delete(phone);
    }
  }

  /** Count a start that sends no SMS against its token's hourly limit (phone-only authorization). */
  hitToken(token: string, extraRules: Rule[] = []) {
    this.deps.limits.hit([...extraRules, tokenLimits.hourRule(token, this.deps.config)]);
  }

  /**
   * A resend of a window: queued behind the phone's other resends and guesses, checked against
   * the token's limits and the day budgets, and the token's segments given back when the
   * machine refused it (too soon, none left).
   */
  resend(
    phone: string | null,
    token: string,
    purpose: string,
    run: () => Promise<{ record: WorkflowRecord; sent: boolean }>,
  ): Promise<WorkflowRecord> {
    return this.serial(phone, async () => {
      const segments = this.deps.pinSegments(purpose);
      this.checkServiceBudget(segments);
      this.spendToken(token, segments);
      const owner = tokenLimits.owner(token);
      let sent = false;
      try {
        const outcome = await run();
        sent = outcome.sent;
        return outcome.record;
      } finally {
        if (!sent) this.deps.limits.refundSms(segments, owner);
      }
    });
  }

  /** A PIN guess for a phone: counted, through either workflow, before it is checked. */
  guess<T>(phone: string | null, run: () => Promise<T>): Promise<T> {
    return this.serial(phone, async () => {
      if (phone) {
        const limit = this.deps.config.limits.guessesPerPhonePerHour;
        this.deps.limits.hit([{ key: `guess:${phone}`, limit, name: 'guessesPerPhonePerHour' }]);
      }
      return run();
    });
  }

  /** Run `task` after the phone's earlier resends and guesses (one at a time per phone). */
  private serial<T>(phone: string | null, task: () => Promise<T>): Promise<T> {
    if (!phone) return task();
    const tail = this.queues.get(phone) ?? Promise.resolve();
    const run = tail.then(task, task);
    const settled = run.catch(() => undefined);
    this.queues.set(phone, settled);
    void settled.then(() => {
      if (this.queues.get(phone) === settled) this.queues.delete(phone);
    });
    return run;
  }

  private async supersede(id: string) {
    await this.host
      .send(id, (now) => ({ type: 'CANCEL', now, by: 'system', reason: 'superseded' }))
      .catch(() => undefined); // already closed: nothing to supersede
  }

  /** Note a record's window while it is open. */
  track(record: WorkflowRecord) {
    if (!windowKinds.has(record.kind) || !record.phone) return;
    if (record.live && openStates.has(record.state)) this.liveByPhone.set(record.phone, record.id);
  }

  /** Forget a closed workflow's window. */
  closed(record: WorkflowRecord) {
    if (record.phone && this.liveByPhone.get(record.phone) === record.id)
      this.liveByPhone.delete(record.phone);
  }

  /** The phone's live PIN window, if any (tests, support). */
  liveWindow(phone: string): string | undefined {
    return this.liveByPhone.get(phone);
  }
}
