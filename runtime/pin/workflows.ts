/**
 * What every PIN-confirmed workflow answers to — verify, resend, cancel, read — and how its
 * outcome maps to the answer or error the cashier sees. Authorization and activation both use it.
 */
import { AppError, type ErrorData } from '../../machines/errors.ts';
import type {
  OtpPolicy,
  PinWindowContext,
  PinWindowEvent,
  SendPinInput,
  SmsAttempt,
} from '../../machines/otp.ts';
import type { PinSender } from '../sms/pinSender.ts';
import type { PinVault } from './vault.ts';
import { closedError, workflowRef, type WorkflowHost, type WorkflowRecord } from '../workflows/host.ts';
import type { PinGate } from './gate.ts';
import { effect } from '../workflows/types.ts';
import type { RefusedAttempts } from '../support/attempts.ts';

/** What every PIN workflow's record shows of its window (see `pinWindowView`). */
export type PinWindowView = ReturnType<typeof pinWindowView> & { channel?: string };

/** True when `record` is of `kind`, whose records show `V`: the kind names its view. */
function isOfKind<V extends Record<string, unknown>>(
  record: WorkflowRecord,
  kind: string,
): record is WorkflowRecord<V> {
  return record.kind === kind;
}

export class PinWorkflows<V extends PinWindowView = PinWindowView> {
  /** Where starts refused before a workflow began are noted (support sees them as records). */
  attempts: RefusedAttempts | null = null;

  constructor(
    protected readonly host: WorkflowHost,
    /** The limits every PIN guess and resend passes, and the phone's one live window. */
    protected readonly gate: PinGate,
    private readonly kind: string,
    private readonly doneState: string,
    /** The PIN message this workflow sends (its template, so its segments). */
    private readonly purpose: string,
  ) {}

  /**
   * Run a start: `begin` parses and checks (limits, budgets), then calls `began` right before
   * the workflow starts. An AppError thrown before that — nothing of the start exists yet — is
   * noted as a refused attempt and goes on to the caller.
   */
  protected async refusable(
    body: unknown,
    by: string,
    token: string,
    begin: (
      began: () => void,
      seen: { phone: string | null; channel: string | null },
    ) => Promise<WorkflowRecord<V>>,
  ): Promise<WorkflowRecord<V>> {
    let started = false;
    const seen: { phone: string | null; channel: string | null } = { phone: null, channel: null };
    try {
      return await begin(() => (started = true), seen);
    } catch (err) {
      if (!started && err instanceof AppError && this.attempts) {
        const raw = (body ?? {}) as Record<string, unknown>;
        this.attempts.note(
          {
            for: this.kind,
            phone: seen.phone,
            phoneInput: raw.phone,
            terminal: typeof raw.terminal === 'string' ? raw.terminal.slice(0, 64) || null : null,
            by,
            token,
            channel: seen.channel,
          },
          err,
        );
      }
      throw err;
    }
  }

  async verify(id: string, pin: unknown, by: string): Promise<WorkflowRecord<V>> {
    if (typeof pin !== 'string' && typeof pin !== 'number') {
      throw new AppError('VALIDATION_FAILED', { field: 'pin', reason: 'pin: обязательное поле / required' });
    }
    const text = String(pin).trim();
    if (!/^\d{4,8}$/.test(text)) {
      throw new AppError('VALIDATION_FAILED', { field: 'pin', reason: 'pin: 4–8 цифр / 4–8 digits' });
    }
    // The phone is the window's for life, and the step itself finds a window closed meanwhile.
    const before = await this.current(id);
    if (!before.live) throw closedError(before);
    return this.gate.guess(before.phone, async () => {
      const record = this.typed(await this.host.send(id, (now) => ({ type: 'VERIFY', pin: text, now, by })));
      return expectState(record, [this.doneState], 'awaitingPin');
    });
  }

  /** Send a new PIN; `token` is the calling API token (its limits and day budget pay for it). */
  async resend(id: string, by: string, token: string): Promise<WorkflowRecord<V>> {
    const before = await this.current(id);
    if (!before.live) throw closedError(before);
    const purpose = before.view.channel === 'call' ? 'call' : this.purpose;
    return this.gate.resend(before.phone, token, purpose, async () => {
      let sends = 0;
      const record = await this.host.send(id, (now, current) => {
        // Read at the moment the event is handled: parallel resends each see the one before.
        sends = Number(current.view.sends ?? 0);
        return { type: 'RESEND', now, by };
      });
      const typed = this.typed(record);
      if (typed.state === 'awaitingPin' && typed.view.sends > sends) return { record: typed, sent: true };
      return { record: expectState(typed, [], 'awaitingPin'), sent: false };
    });
  }

  async cancel(id: string, by: string, reason?: string): Promise<WorkflowRecord<V>> {
    const current = await this.get(id);
    if (current.state === 'cancelled') return current; // cancelling twice is harmless
    const record = await this.host.send(id, (now) => ({ type: 'CANCEL', now, by, reason }));
    return expectState(this.typed(record), ['cancelled']);
  }

  async get(id: string): Promise<WorkflowRecord<V>> {
    const record = await this.host.get(id);
    if (!record) throw new AppError('SESSION_NOT_FOUND');
    return this.typed(record);
  }

  /** The record as this process last knew it (`WorkflowHost.current`). */
  private async current(id: string): Promise<WorkflowRecord<V>> {
    const record = await this.host.current(id);
    if (!record) throw new AppError('SESSION_NOT_FOUND');
    return this.typed(record);
  }

  /** A record of this kind, with its view's type; another kind's is not found here. */
  protected typed(record: WorkflowRecord): WorkflowRecord<V> {
    if (!isOfKind<V>(record, this.kind)) throw new AppError('SESSION_NOT_FOUND');
    return record;
  }
}

/**
 * Answer a record if it reached one of the `ok` states; otherwise throw the error it carries:
 * the refusal of the last event (wrong PIN, resend too soon) while it stays in `waiting`, or
 * the reason it ended (expired, locked, closed).
 */
export function expectState<R extends WorkflowRecord<Record<string, unknown>>>(
  record: R,
  ok: string[],
  waiting?: string,
): R {
  if (ok.includes(record.state)) return record;
  const err: ErrorData | null = record.error;
  const refused = waiting && record.state === waiting;
  if (refused && !err) return record;
  if (err && (refused || record.state === 'rejected' || record.state === 'failed'))
    throw new AppError(err.code, { ...err.extra, ...workflowRef(record) });
  throw closedError(record);
}

/** The effects every PIN window needs: sending a PIN, and checking one against its keyed hash. */
export function pinEffects(deps: { pins: PinSender; vault: PinVault }) {
  return {
    sendPin: effect((input: SendPinInput) => deps.pins.send(input)),
    pinMatches: ({ context, event }: { context: PinWindowContext & { id: string }; event: PinWindowEvent }) =>
      event.type === 'VERIFY' && deps.vault.matches(context.pinHash, context.id, event.pin),
  };
}

/** The latest delivery status of each SMS, joined into a closed record before it is archived. */
export function withDeliveries<V extends { sms: SmsAttempt[] }>(deliveries: DeliveryStatuses) {
  return async (record: WorkflowRecord<V>): Promise<WorkflowRecord<V>> => ({
    ...record,
    view: { ...record.view, sms: await deliveries.join(record.view.sms) },
  });
}

/**
 * What both PIN workflow kinds do as a workflow closes: the PIN sender forgets its sends, and
 * the archived record carries each SMS's latest delivery status.
 */
export function pinWindowEnding<V extends PinWindowView>(deps: {
  pins: Pick<PinSender, 'forget'>;
  deliveries: DeliveryStatuses;
}) {
  return {
    // An entry left behind (the database out of reach) guards nothing and harms nothing.
    onClosed: (record: WorkflowRecord<V>) =>
      void deps.pins.forget(record.id, record.view.sends).catch(() => undefined),
    finalize: withDeliveries<V>(deps.deliveries),
  };
}

/** Where the delivery statuses of PIN messages are known (`DeliveryTracker`). */
export interface DeliveryStatuses {
  join(sms: SmsAttempt[]): Promise<SmsAttempt[]>;
}

/** What a record shows of its PIN window. */
export function pinWindowView(ctx: PinWindowContext & { policy: OtpPolicy }) {
  return {
    attempts: ctx.attempts,
    attemptsLeft: Math.max(0, ctx.policy.maxAttempts - ctx.attempts),
    sends: ctx.sends,
    resendAvailableAt: ctx.resendAt === null ? null : new Date(ctx.resendAt).toISOString(),
    sms: ctx.sms,
  };
}
