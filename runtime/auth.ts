/**
 * Authorization sessions: the guest's phone → their card → a PIN by SMS → the card number for
 * the order, or the card at once where the venue allows phone-only authorization. Applies the
 * abuse limits before anything is sent, and supersedes a phone's earlier live session so a
 * phone never has two PIN windows open.
 */
import { z } from 'zod';
import { fromPromise } from 'xstate';
import { authMachine, type AuthCard, type AuthContext, type AuthInput } from '../machines/auth.ts';
import { AppError } from '../machines/errors.ts';
import type { CardDirectory, Clock } from './ports.ts';
import type { WorkflowHost, WorkflowKind, WorkflowRecord } from './host.ts';
import type { PinSender } from './sms.ts';
import type { PinVault } from './pin.ts';
import type { Config } from './config.ts';
import type { RateLimits } from './limits.ts';
import { normalizePhone } from './phone.ts';
import { optionalText, validationError } from './validate.ts';
import { PinWorkflows, expectState, pinEffects, pinWindowView } from './pinWorkflows.ts';
import { otpPolicy } from './activations.ts';

export interface AuthDeps {
  directory: CardDirectory;
  pins: PinSender;
  vault: PinVault;
  clock: Clock;
  config: Readonly<Config>;
}

/** The card a phone authorizes: its newest active card. */
async function findCard(directory: CardDirectory, phone: string): Promise<AuthCard> {
  const cards = await directory.byPhone(phone);
  const card = cards.find((c) => c.state === 'active');
  if (!card) {
    if (cards.some((c) => c.state === 'blocked')) throw new AppError('CARD_BLOCKED');
    throw new AppError('CARD_NOT_FOUND');
  }
  return {
    number: card.number,
    holder: card.holder?.fullName ?? '',
    discount: card.discount,
    bonus: card.bonus,
  };
}

/** The authorization workflow kind, its effects bound to the real ports. */
export function authKind(deps: AuthDeps): WorkflowKind {
  const pin = pinEffects(deps);
  const machine = authMachine.provide({
    actors: {
      findCard: fromPromise(({ input }: { input: { phone: string } }) =>
        findCard(deps.directory, input.phone),
      ),
      sendPin: pin.sendPin,
    },
    guards: { pinMatches: pin.pinMatches },
  } as never);
  return {
    kind: 'auth',
    prefix: 'ses',
    machine,
    project(raw) {
      const ctx = raw as unknown as AuthContext;
      return {
        terminal: ctx.terminal,
        phone: ctx.phone,
        card: ctx.card?.number ?? null,
        deadline: ctx.expiresAt,
        view: {
          channel: ctx.channel,
          cardInfo: ctx.card,
          ...pinWindowView(ctx),
        },
      };
    },
    onClosed(record) {
      deps.pins.forget(record.id, Number(record.view.sends ?? 0));
    },
  };
}

export const startSchema = z.object({
  phone: z.unknown(),
  terminal: optionalText(64),
  channel: z.preprocess((v) => (v === '' || v === undefined ? 'sms' : v), z.enum(['sms', 'none', 'call'])),
});

export class AuthService extends PinWorkflows {
  /** Each phone's live session, so a new start can supersede it. */
  private readonly liveByPhone = new Map<string, string>();

  constructor(
    host: WorkflowHost,
    private readonly deps: { config: Readonly<Config>; clock: Clock; limits: RateLimits },
  ) {
    super(host, 'auth', 'verified', () => this.checkSmsBudget());
    for (const record of host.liveRecords()) {
      if (record.kind === 'auth' && record.phone) this.liveByPhone.set(record.phone, record.id);
    }
  }

  parse(body: unknown): Omit<AuthInput, 'id'> {
    const parsed = startSchema.safeParse(body ?? {});
    if (!parsed.success) throw validationError(parsed.error);
    const { config } = this.deps;
    const phone = normalizePhone(parsed.data.phone, config.phones);
    const terminal = parsed.data.terminal ?? null;
    const channel = parsed.data.channel;
    if (channel === 'call' && !config.otp.call) throw new AppError('CHANNEL_DISABLED', { channel });
    if (channel === 'none') {
      const allowed =
        config.otp.phoneOnly &&
        (!config.otp.phoneOnlyTerminals ||
          (terminal !== null && config.otp.phoneOnlyTerminals.includes(terminal)));
      if (!allowed) throw new AppError('CHANNEL_DISABLED', { channel });
    }
    return { phone, terminal, channel, policy: otpPolicy(config) };
  }

  private checkSmsBudget() {
    const wait = this.deps.limits.smsBudgetWait(this.deps.config.limits.smsPerDay);
    if (wait > 0) throw new AppError('RATE_LIMITED', { retryAfter: wait, limit: 'smsPerDay' });
  }

  /**
   * Start a session: validate, apply the limits (per phone, per terminal, the day's SMS
   * budget), supersede the phone's live session, then run the workflow to its first stop.
   */
  async start(body: unknown, by: string): Promise<WorkflowRecord> {
    const input = this.parse(body);
    const { limits: l } = this.deps.config;
    if (input.channel !== 'none') this.checkSmsBudget();
    this.deps.limits.hit([
      { key: `phone:${input.phone}`, limit: l.perPhonePerHour, name: 'perPhonePerHour' },
      { key: `terminal:${input.terminal ?? '-'}`, limit: l.perTerminalPerHour, name: 'perTerminalPerHour' },
    ]);
    const previous = this.liveByPhone.get(input.phone);
    if (previous) {
      await this.host
        .send(previous, (now) => ({ type: 'CANCEL', now, by: 'system', reason: 'superseded' }))
        .catch(() => undefined); // already closed: nothing to supersede
    }
    const record = await this.host.start('auth', input as unknown as Record<string, unknown>, by);
    if (record.live) this.liveByPhone.set(input.phone, record.id);
    return expectState(record, ['awaitingPin', 'verified']);
  }

  /** Forget a closed session's phone (called by the host when a session closes). */
  closed(record: WorkflowRecord) {
    if (record.phone && this.liveByPhone.get(record.phone) === record.id)
      this.liveByPhone.delete(record.phone);
  }
}
