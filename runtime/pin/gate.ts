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
import { AppError } from '../../machines/errors.ts';
import type { Config } from '../config.ts';
import { tokenLimits, type RateLimits } from '../limits.ts';
import type { WorkflowHost, WorkflowRecord } from '../workflows/host.ts';

/** A rate-limit rule (`RateLimits.hit`). */
type Rule = { key: string; limit: number; name: string };

/** Kinds of workflow with a PIN window, and the state in which the window is open. */
const windowKinds = new Set(['auth', 'activation']);
const openStates = new Set(['sendingSms', 'awaitingPin']);

export class PinGate {
  constructor(
    private readonly host: WorkflowHost,
    private readonly deps: {
      config: Readonly<Config>;
      limits: RateLimits;
      /** Segments of one PIN message of a purpose (`auth`, `activation`). */
      pinSegments: (purpose: string) => number;
    },
  ) {}

  /** Refuse at once when the service's day budget cannot take one more PIN. */
  private checkServiceBudget(segments: number) {
    return this.deps.limits.checkSms(this.deps.config.limits.smsPerDay, segments);
  }

  /** Count a sending call against its token's hour, and reserve its segments of the token's day. */
  private async spendToken(token: string, segments: number, rules: Rule[] = []) {
    const { config, limits } = this.deps;
    await limits.hit([...rules, tokenLimits.hourRule(token, config)]);
    await limits.spendSms(
      tokenLimits.dayCap(config),
      segments,
      tokenLimits.owner(token),
      'perTerminalPerDay',
    );
  }

  /**
   * Open a PIN window for `phone` on behalf of `token`: refused when another start for the phone
   * is being decided, or when a limit says no; otherwise the phone's earlier window is
   * superseded and `open` runs (it starts the workflow). The token's day budget is reserved
   * first and given back if no SMS left.
   */
  async open<R extends WorkflowRecord>(
    phone: string,
    token: string,
    purpose: string,
    open: () => Promise<R>,
    extraRules: Rule[] = [],
  ): Promise<R> {
    // Starts for one phone are decided one at a time, whichever process takes them.
    const decided = await this.host.exclusive(`start:${phone}`, async () => {
      const segments = this.deps.pinSegments(purpose);
      await this.checkServiceBudget(segments);
      const perPhone = this.deps.config.limits.perPhonePerHour;
      await this.spendToken(token, segments, [
        ...extraRules,
        { key: `phone:${phone}`, limit: perPhone, name: 'perPhonePerHour' },
      ]);
      const owner = tokenLimits.owner(token);
      let sent = 0;
      try {
        for (const previous of await this.liveWindows(phone)) await this.supersede(previous.id);
        const record = await open();
        sent = Number(record.view.sends ?? 0);
        return record;
      } catch (err) {
        const ref = (err as AppError).extra?.sessionId ?? (err as AppError).extra?.activationId;
        const record = typeof ref === 'string' ? await this.host.get(ref) : undefined;
        sent = Number(record?.view.sends ?? 0);
        throw err;
      } finally {
        if (sent === 0) await this.deps.limits.refundSms(segments, owner);
      }
    });
    if (!decided) throw new AppError('PHONE_BUSY', { retryAfter: 1 });
    return decided.value;
  }

  /** Count a start that sends no SMS against its token's hourly limit (phone-only authorization). */
  hitToken(token: string, extraRules: Rule[] = []): Promise<void> {
    return this.deps.limits.hit([...extraRules, tokenLimits.hourRule(token, this.deps.config)]);
  }

  /**
   * A resend of a window: queued behind the phone's other resends and guesses, checked against
   * the token's limits and the day budgets, and the token's segments given back when the
   * machine refused it (too soon, none left).
   */
  resend<R extends WorkflowRecord>(
    phone: string | null,
    token: string,
    purpose: string,
    run: () => Promise<{ record: R; sent: boolean }>,
  ): Promise<R> {
    return this.serial(phone, async () => {
      const segments = this.deps.pinSegments(purpose);
      await this.checkServiceBudget(segments);
      await this.spendToken(token, segments);
      const owner = tokenLimits.owner(token);
      let sent = false;
      try {
        const outcome = await run();
        sent = outcome.sent;
        return outcome.record;
      } finally {
        if (!sent) await this.deps.limits.refundSms(segments, owner);
      }
    });
  }

  /** A PIN guess for a phone: counted, through either workflow, before it is checked. */
  guess<T>(phone: string | null, run: () => Promise<T>): Promise<T> {
    return this.serial(phone, async () => {
      if (phone) {
        const limit = this.deps.config.limits.guessesPerPhonePerHour;
        await this.deps.limits.hit([{ key: `guess:${phone}`, limit, name: 'guessesPerPhonePerHour' }]);
      }
      return run();
    });
  }

  /**
   * Run `task` after the phone's earlier resends and guesses in this process (one at a time per
   * phone). Across processes no lock is taken: each guess and resend is counted by an atomic
   * counter before it is tried, and the window's compare-and-set write applies concurrent ones
   * one after the other — a lock would only cost each guess two more round trips.
   */
  private serial<T>(phone: string | null, task: () => Promise<T>): Promise<T> {
    return phone ? this.host.serialize(`phone:${phone}`, task, 'process') : task();
  }

  private async supersede(id: string) {
    await this.host
      .send(id, (now) => ({ type: 'CANCEL', now, by: 'system', reason: 'superseded' }))
      .catch(() => undefined); // already closed: nothing to supersede
  }

  /** The phone's open PIN windows (one, or none, outside the moment a new one supersedes it). */
  private async liveWindows(phone: string): Promise<WorkflowRecord[]> {
    return (await this.host.liveOfPhone(phone)).filter(
      (r) => windowKinds.has(r.kind) && openStates.has(r.state),
    );
  }

  /** The phone's live PIN window, if any (tests, support). */
  async liveWindow(phone: string): Promise<string | undefined> {
    return (await this.liveWindows(phone))[0]?.id;
  }
}
