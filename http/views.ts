/**
 * Records and cards as answers: phones in full for admin only, masked for every other role;
 * never a PIN or its hash (records carry neither outside the store's snapshot).
 */
import type { Card } from '../runtime/ports.ts';
import type { WorkflowRecord } from '../runtime/workflows/host.ts';
import type { SmsAttempt } from '../machines/otp.ts';
import type { Role } from '../runtime/tokens.ts';
import { maskPhone } from '../runtime/phone.ts';
import { clock } from '../runtime/support/catalog.ts';
import type { KvFields } from './respond.ts';
import type { PinWindowView } from '../runtime/pin/workflows.ts';
import type { AuthView } from '../runtime/auth/sessions.ts';
import type { ActivationView } from '../runtime/activation/activations.ts';

export const phoneFor = (phone: string | null | undefined, role: Role) =>
  phone ? (role === 'admin' ? phone : maskPhone(phone)) : null;

export function cardView(card: Card, role: Role) {
  return {
    number: card.number,
    state: card.state,
    virtual: card.virtual,
    discount: card.discount,
    bonus: card.bonus,
    expiresAt: card.expiresAt,
    holder: card.holder
      ? {
          fullName: card.holder.fullName,
          birthday: card.holder.birthday,
          phone: phoneFor(card.holder.phone, role),
          ...(card.holder.email ? { email: card.holder.email } : {}),
        }
      : null,
    activatedAt: card.activatedAt,
    createdAt: card.createdAt,
    updatedAt: card.updatedAt,
  };
}

export function cardKv(card: Card): KvFields {
  return {
    card: card.number,
    holder: card.holder?.fullName ?? '',
    cardState: card.state,
    discount: card.discount,
    bonus: card.bonus,
  };
}

/** While a workflow waits for its PIN: the deadline, the resend time, attempts left, PIN length. */
function pinWindowFields(record: WorkflowRecord<PinWindowView>, pinLength: number) {
  if (record.state !== 'awaitingPin') return {};
  const v = record.view;
  return {
    expiresAt: record.deadline,
    resendAvailableAt: v.resendAvailableAt,
    attemptsLeft: v.attemptsLeft,
    pinLength,
  };
}

export function activationView(record: WorkflowRecord<ActivationView>, role: Role, pinLength: number) {
  const v = record.view;
  return {
    id: record.id,
    kind: 'activation',
    state: record.state,
    phone: phoneFor(record.phone, role),
    terminal: record.terminal,
    confirm: v.confirm,
    card: v.cardInfo ? { ...v.cardInfo, holder: v.holder.fullName } : null,
    holder: v.holder,
    marketingConsent: v.marketingConsent,
    pdConsent: v.pdConsent,
    ...pinWindowFields(record, pinLength),
    createdAt: record.createdAt,
    updatedAt: record.updatedAt,
  };
}

/**
 * `HH:MM` of an ISO time in the venue's zone, for what the cashier reads (`expiresLocal`): the
 * RK7 scripts print it as it is, with no time arithmetic in Pascal.
 */
export function localClock(iso: string | null | undefined, timeZone: string): string | undefined {
  return iso ? clock(iso, timeZone) : undefined;
}

export function activationKv(record: WorkflowRecord<ActivationView>, role: Role, timeZone: string): KvFields {
  const v = activationView(record, role, 0);
  return {
    activationId: record.id,
    state: record.state,
    card: v.card?.number ?? '',
    holder: v.holder.fullName,
    phone: v.phone,
    expiresAt: v.expiresAt,
    expiresLocal: localClock(v.expiresAt, timeZone),
    attemptsLeft: v.attemptsLeft,
  };
}

/** A record's SMS attempts (none for a record that sends none). */
export const smsOf = (record: WorkflowRecord): SmsAttempt[] =>
  Array.isArray(record.view.sms) ? (record.view.sms as SmsAttempt[]) : [];

/**
 * The whole record for support: timeline, every SMS attempt (`sms`: with their latest delivery
 * statuses joined in), deadlines. Never the PIN or its hash (the machine's snapshot stays in the
 * store).
 */
export function recordView(record: WorkflowRecord, role: Role, sms: SmsAttempt[] = smsOf(record)) {
  const { view, phone, ...rest } = record;
  const { sms: _sms, cardInfo, holder, ...details } = view;
  return {
    ...rest,
    phone: phoneFor(phone, role),
    details: { ...details, card: cardInfo ?? null, ...(holder ? { holder } : {}) },
    sms,
  };
}

/**
 * An authorization session as the till sees it. The card number appears only once the session
 * is verified: before that, it would hand out a card to whoever knows a phone number.
 */
export function sessionView(record: WorkflowRecord<AuthView>, role: Role, pinLength: number) {
  const v = record.view;
  return {
    id: record.id,
    kind: 'auth',
    state: record.state,
    phone: phoneFor(record.phone, role),
    terminal: record.terminal,
    channel: v.channel,
    // A code by call is the last 4 digits of the calling number, whatever otp.length says.
    ...pinWindowFields(record, v.channel === 'call' ? 4 : pinLength),
    ...(record.state === 'verified' && v.cardInfo ? { card: v.cardInfo } : {}),
    createdAt: record.createdAt,
    updatedAt: record.updatedAt,
  };
}

export function sessionKv(record: WorkflowRecord<AuthView>, role: Role, timeZone: string): KvFields {
  const v = sessionView(record, role, 0);
  return {
    sessionId: record.id,
    state: record.state,
    phone: v.phone,
    expiresAt: v.expiresAt,
    expiresLocal: localClock(v.expiresAt, timeZone),
    attemptsLeft: v.attemptsLeft,
    card: v.card?.number,
    holder: v.card?.holder,
    discount: v.card?.discount,
    bonus: v.card?.bonus,
  };
}
