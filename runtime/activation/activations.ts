/**
 * Card activation at the till: validates the holder form, provides the machine's effects over
 * the card directory, the PIN sender and the consent ledger, and maps a workflow's outcome to
 * the answer or the error the cashier sees.
 */
import { z } from 'zod';
import {
  activationMachine,
  type ActivationContext,
  type ActivationInput,
} from '../../machines/activation.ts';
import type { CardDirectory, Card, Clock } from '../ports.ts';
import { workflowKind, type WorkflowHost, type WorkflowRecord } from '../workflows/host.ts';
import { effect } from '../workflows/types.ts';
import type { PinSender } from '../sms/pinSender.ts';
import type { PinVault } from '../pin/vault.ts';
import type { ConsentLedger } from '../consents.ts';
import type { Config } from '../config.ts';
import type { PinGate } from '../pin/gate.ts';
import type { RateLimits } from '../limits.ts';
import { AppError } from '../../machines/errors.ts';
import { normalizePhone, requireMobile } from '../phone.ts';
import { parseBirthday, validationError, flag, optionalText, fullName } from '../validate.ts';
import { CARD_NUMBER } from '../cards/numbers.ts';
import {
  PinWorkflows,
  expectState,
  pinEffects,
  pinWindowView,
  pinWindowEnding,
  type DeliveryStatuses,
} from '../pin/workflows.ts';

export interface ActivationDeps {
  directory: CardDirectory;
  pins: PinSender;
  vault: PinVault;
  consents: ConsentLedger;
  clock: Clock;
  config: Readonly<Config>;
  deliveries: DeliveryStatuses;
}

const summary = (card: Card) => ({
  number: card.number,
  virtual: card.virtual,
  discount: card.discount,
  bonus: card.bonus,
  expiresAt: card.expiresAt,
});

/** What an activation record shows besides the common fields. */
export type ActivationView = {
  confirm: ActivationInput['confirm'];
  holder: { fullName: string; birthday: string | null };
  marketingConsent: boolean;
  /** The guest consented to the processing of personal data at the till. */
  pdConsent: boolean;
  cardInfo: ActivationContext['card'];
} & ReturnType<typeof pinWindowView>;

/** The activation workflow kind, its effects bound to the real ports. */
export function activationKind(deps: ActivationDeps) {
  const iso = () => new Date(deps.clock.now()).toISOString();
  const pin = pinEffects(deps);
  return workflowKind<ActivationContext, Omit<ActivationInput, 'id'>, ActivationView>({
    kind: 'activation',
    prefix: 'act',
    machine: activationMachine.provide({
      actions: {
        // Returned, so the host waits for it before the step is answered: a card released is on
        // disk when the answer says so (at once on the embedded engine, a query on PostgreSQL).
        releaseCard: ({ context }) =>
          context.card ? deps.directory.release(context.card.number, context.id, iso()) : undefined,
      },
      guards: { pinMatches: pin.pinMatches },
    }),
    effects: {
      reserveCard: effect(async (ctx: ActivationContext) =>
        summary(
          await deps.directory.reserve({
            number: ctx.cardNumber,
            activationId: ctx.id,
            phone: ctx.holder.phone,
            onePerPhone: deps.config.cards.onePerPhone,
            at: iso(),
          }),
        ),
      ),
      sendPin: pin.sendPin,
      activateCard: effect(async (ctx: ActivationContext) => {
        const at = iso();
        const card = await deps.directory.activate(
          ctx.card!.number,
          ctx.id,
          { fullName: ctx.holder.fullName, birthday: ctx.holder.birthday, phone: ctx.holder.phone },
          at,
        );
        await deps.consents.record(ctx.holder.phone, {
          at,
          marketing: ctx.marketingConsent,
          ...(ctx.pdConsent ? { pd: true, pdTextVersion: ctx.pdConsent.textVersion } : {}),
          source: ctx.terminal ? `pos:${ctx.terminal}` : 'pos',
          by: ctx.pdConsent?.by ?? ctx.terminal ?? 'terminal',
          ref: ctx.id,
        });
        return summary(card);
      }),
    },
    machineInput: (input, id) => ({ ...input, id }),
    project: (ctx) => ({
      terminal: ctx.terminal,
      phone: ctx.holder.phone,
      card: ctx.card?.number ?? ctx.cardNumber,
      deadline: ctx.expiresAt,
      view: {
        confirm: ctx.confirm,
        holder: { fullName: ctx.holder.fullName, birthday: ctx.holder.birthday },
        marketingConsent: ctx.marketingConsent,
        pdConsent: Boolean(ctx.pdConsent),
        cardInfo: ctx.card,
        ...pinWindowView(ctx),
      },
    }),
    ...pinWindowEnding<ActivationView>(deps),
  });
}

export const activateSchema = z.object({
  cardNumber: z.preprocess(
    (v) => (v === '' || v === null ? undefined : typeof v === 'number' ? String(v) : v),
    z.string().trim().regex(CARD_NUMBER, 'от 1 до 20 цифр / 1 to 20 digits').optional(),
  ),
  fullName,
  birthday: z.unknown(),
  phone: z.unknown(),
  marketingConsent: flag.default(false),
  pdConsent: flag.default(false),
  terminal: optionalText(64),
  confirm: z.preprocess((v) => (v === '' || v === null ? undefined : v), z.enum(['none', 'sms']).optional()),
});

export class ActivationService extends PinWorkflows<ActivationView> {
  constructor(
    host: WorkflowHost,
    gate: PinGate,
    private readonly deps: Pick<ActivationDeps, 'config' | 'clock'> & { limits: RateLimits },
  ) {
    super(host, gate, 'activation', 'activated', 'activation');
  }

  /**
   * The start's input, checked (VALIDATION_FAILED names the field); `seen` learns the phone as
   * soon as it is known; `by` (role, station, token label) is who records the guest's consents.
   */
  parse(
    body: unknown,
    seen: { phone: string | null; channel: string | null } = { phone: null, channel: null },
    by = 'terminal',
  ): Omit<ActivationInput, 'id'> {
    const raw = (body ?? {}) as Record<string, unknown>;
    const { config, clock } = this.deps;
    // The phone first: a refusal for any other field is still noted under the guest's phone.
    const phone = normalizePhone(raw.phone, config.phones);
    seen.phone = phone;
    const parsed = activateSchema.safeParse(raw);
    if (!parsed.success) throw validationError(parsed.error);
    seen.channel = parsed.data.confirm ?? null;
    if (config.cards.requirePdConsent && !parsed.data.pdConsent)
      throw new AppError('PD_CONSENT_REQUIRED', { field: 'pdConsent' });
    const birthday = parseBirthday(parsed.data.birthday, clock.now(), config.cards);
    requireMobile(phone, config.phones); // the holder gets PINs and news by SMS
    return {
      cardNumber: parsed.data.cardNumber ?? null,
      holder: { fullName: parsed.data.fullName, birthday, phone },
      marketingConsent: parsed.data.marketingConsent,
      pdConsent: parsed.data.pdConsent ? { textVersion: config.consents.pdTextVersion, by } : null,
      terminal: parsed.data.terminal ?? null,
      confirm: confirmOf(parsed.data.confirm, config.cards.confirmPhone),
      policy: otpPolicy(config),
    };
  }

  /**
   * Start an activation; a refusal (card taken, pool empty…) throws with the activation's id.
   * Every activation counts against its token's hourly limit; one confirmed by SMS opens a PIN
   * window under the same rules as an authorization.
   */
  async start(body: unknown, by: string, token: string): Promise<WorkflowRecord<ActivationView>> {
    return this.refusable(body, by, token, async (began, seen) => {
      const input = this.parse(body, seen, by);
      const perHour = this.deps.config.limits.activationsPerTerminalPerHour;
      const rule = { key: `act:${token}`, limit: perHour, name: 'activationsPerTerminalPerHour' };
      const run = async () => {
        began();
        return expectState(this.typed(await this.host.start('activation', input, by)), [
          'activated',
          'awaitingPin',
        ]);
      };
      if (input.confirm === 'sms')
        return this.gate.open(input.holder.phone, token, 'activation', run, [rule]);
      await this.deps.limits.hit([rule]);
      return run();
    });
  }
}

/**
 * How the guest's phone is confirmed, from the till's `confirm` and the venue's
 * `cards.confirmPhone`: `always` confirms by SMS (and refuses `none`: no one registers a
 * stranger's phone), `never` refuses `sms`, `optional` takes the till's choice (default `none`).
 */
function confirmOf(
  asked: 'none' | 'sms' | undefined,
  rule: Readonly<Config>['cards']['confirmPhone'],
): 'none' | 'sms' {
  if (rule === 'always') {
    if (asked === 'none') throw new AppError('CONFIRMATION_REQUIRED', { field: 'confirm' });
    return 'sms';
  }
  if (rule === 'never') {
    if (asked === 'sms') throw new AppError('CHANNEL_DISABLED', { channel: 'sms' });
    return 'none';
  }
  return asked ?? 'none';
}

/** The PIN window's policy from the configuration. */
export function otpPolicy(config: Readonly<Config>) {
  return {
    ttlMs: config.otp.ttlSeconds * 1000,
    cooldownMs: config.otp.resendCooldownSeconds * 1000,
    maxAttempts: config.otp.maxAttempts,
    maxResends: config.otp.maxResends,
  };
}
