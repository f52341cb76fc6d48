/**
 * Authorization sessions: the guest's phone → their card → a PIN by SMS → the card number for
 * the order, or the card at once where the venue allows phone-only authorization. Applies the
 * abuse limits before anything is sent, and supersedes a phone's earlier live session so a
 * phone never has two PIN windows open.
 */
import { z } from 'zod';
import { zoneFormat } from '../zoneFormat.ts';
import { authMachine, type AuthCard, type AuthContext, type AuthInput } from '../../machines/auth.ts';
import { AppError } from '../../machines/errors.ts';
import type { Card, CardDirectory, Clock } from '../ports.ts';
import { workflowKind, type WorkflowHost, type WorkflowRecord } from '../workflows/host.ts';
import { lookup } from '../workflows/types.ts';
import type { PinSender } from '../sms/pinSender.ts';
import type { PinVault } from '../pin/vault.ts';
import type { Config } from '../config.ts';
import type { PinGate } from '../pin/gate.ts';
import { normalizePhone, requireMobile } from '../phone.ts';
import { optionalText, validationError } from '../validate.ts';
import {
  PinWorkflows,
  expectState,
  pinEffects,
  pinWindowView,
  pinWindowEnding,
  type DeliveryStatuses,
} from '../pin/workflows.ts';
import { otpPolicy } from '../activation/activations.ts';

export interface AuthDeps {
  directory: CardDirectory;
  pins: PinSender;
  vault: PinVault;
  clock: Clock;
  config: Readonly<Config>;
  deliveries: DeliveryStatuses;
}

/** The venue's calendar day of `now` (YYYY-MM-DD), for card expiry. */
const dayIn = (timeZone: string, now: number): string => zoneFormat(timeZone, 'day').format(now);

const cardOf = (card: Card): AuthCard => ({
  number: card.number,
  holder: card.holder?.fullName ?? '',
  discount: card.discount,
  bonus: card.bonus,
});

/** A card past its last day (`expiresAt` is the last day it works, in the venue's time zone). */
const expired = (card: Card, today: string) => card.expiresAt !== null && card.expiresAt < today;

/** The card a phone authorizes: its newest active card that has not expired. */
async function findCard(directory: CardDirectory, phone: string, today: string): Promise<AuthCard> {
  const cards = await directory.byPhone(phone);
  const card = cards.find((c) => c.state === 'active' && !expired(c, today));
  if (!card) {
    if (cards.some((c) => c.state === 'active')) throw new AppError('CARD_EXPIRED');
    if (cards.some((c) => c.state === 'blocked')) throw new AppError('CARD_BLOCKED');
    throw new AppError('CARD_NOT_FOUND');
  }
  return cardOf(card);
}

/**
 * The card again, at the moment it is handed out: blocked, expired, or no longer this phone's
 * (moved, returned) during the PIN window, it is refused.
 */
async function recheckCard(directory: CardDirectory, phone: string, number: string, today: string) {
  const card = await directory.get(number);
  if (!card || card.holder?.phone !== phone) throw new AppError('CARD_NOT_FOUND');
  if (card.state === 'blocked') throw new AppError('CARD_BLOCKED');
  if (card.state !== 'active') throw new AppError('CARD_NOT_FOUND');
  if (expired(card, today)) throw new AppError('CARD_EXPIRED');
  return cardOf(card);
}

/** What an authorization record shows besides the common fields. */
export type AuthView = { channel: AuthInput['channel']; cardInfo: AuthCard | null } & ReturnType<
  typeof pinWindowView
>;

/** The authorization workflow kind, its effects bound to the real ports. */
export function authKind(deps: AuthDeps) {
  const pin = pinEffects(deps);
  const today = () => dayIn(deps.config.timezone, deps.clock.now());
  return workflowKind<AuthContext, Omit<AuthInput, 'id'>, AuthView>({
    kind: 'auth',
    prefix: 'ses',
    machine: authMachine.provide({ guards: { pinMatches: pin.pinMatches } }),
    effects: {
      findCard: lookup((input: { phone: string }) => findCard(deps.directory, input.phone, today())),
      recheckCard: lookup((input: { phone: string; number: string }) =>
        recheckCard(deps.directory, input.phone, input.number, today()),
      ),
      sendPin: pin.sendPin,
    },
    machineInput: (input, id) => ({ ...input, id }),
    project: (ctx) => ({
      terminal: ctx.terminal,
      phone: ctx.phone,
      card: ctx.card?.number ?? null,
      deadline: ctx.expiresAt,
      view: {
        channel: ctx.channel,
        cardInfo: ctx.card,
        ...pinWindowView(ctx),
      },
    }),
    ...pinWindowEnding<AuthView>(deps),
  });
}

export const startSchema = z.object({
  phone: z.unknown(),
  terminal: optionalText(64),
  channel: z.preprocess((v) => (v === '' || v === undefined ? 'sms' : v), z.enum(['sms', 'none', 'call'])),
});

export class AuthService extends PinWorkflows<AuthView> {
  constructor(
    host: WorkflowHost,
    gate: PinGate,
    private readonly deps: { config: Readonly<Config>; clock: Clock },
  ) {
    super(host, gate, 'auth', 'verified', 'auth');
  }

  /** The start's input, checked; `seen` learns the phone and channel as soon as they are known. */
  parse(
    body: unknown,
    seen: { phone: string | null; channel: string | null } = { phone: null, channel: null },
  ): Omit<AuthInput, 'id'> {
    const parsed = startSchema.safeParse(body ?? {});
    if (!parsed.success) throw validationError(parsed.error);
    const { config } = this.deps;
    const channel = parsed.data.channel;
    seen.channel = channel;
    const phone = normalizePhone(parsed.data.phone, config.phones);
    seen.phone = phone;
    const terminal = parsed.data.terminal ?? null;
    if (channel === 'call' && !config.otp.call) throw new AppError('CHANNEL_DISABLED', { channel });
    if (channel === 'none') {
      const allowed =
        config.otp.phoneOnly &&
        (!config.otp.phoneOnlyTerminals ||
          (terminal !== null && config.otp.phoneOnlyTerminals.includes(terminal)));
      if (!allowed) throw new AppError('CHANNEL_DISABLED', { channel });
    } else {
      requireMobile(phone, config.phones); // an SMS or a call to it costs money
    }
    return { phone, terminal, channel, policy: otpPolicy(config) };
  }

  /**
   * Start a session: validate, apply the limits (per phone, per token, the day's SMS budgets),
   * supersede the phone's live PIN window, then run the workflow to its first stop. `token` is
   * the id of the calling API token: the key of its limits.
   */
  async start(body: unknown, by: string, token: string): Promise<WorkflowRecord<AuthView>> {
    return this.refusable(body, by, token, async (began, seen) => {
      const input = this.parse(body, seen);
      const run = async () => {
        began();
        return expectState(this.typed(await this.host.start('auth', input, by)), ['awaitingPin', 'verified']);
      };
      if (input.channel !== 'none') {
        return this.gate.open(input.phone, token, input.channel === 'call' ? 'call' : 'auth', run);
      }
      const { limits } = this.deps.config;
      await this.gate.hitToken(token, [
        { key: `phone:${input.phone}`, limit: limits.perPhonePerHour, name: 'perPhonePerHour' },
      ]);
      return run();
    });
  }
}
