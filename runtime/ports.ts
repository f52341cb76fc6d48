/**
 * Ports: the small interfaces the runtime needs from the outside world. Adapters implement
 * them (`adapters/store/journaled.ts`, `adapters/cards/embedded.ts`, `adapters/sms/console.ts`);
 * tests hand in fakes.
 */

/** A keyed table whose reads are immediate and whose writes are durable after `flush()`. */
export interface Table<T> {
  get(key: string): T | undefined;
  has(key: string): boolean;
  put(key: string, value: T): void;
  delete(key: string): void;
  values(): IterableIterator<T>;
  entries(): IterableIterator<[string, T]>;
  readonly size: number;
}

/** Whole named texts, each written atomically and durably. */
export interface NamedBlobs {
  putBlob(name: string, content: string): Promise<void>;
  getBlob(name: string): Promise<string | null>;
}

export interface RecordStore extends NamedBlobs {
  table<T>(name: string): Table<T>;
  /** Append a closed record to a kind's archive for one day (append-only, cost of the record). */
  archive(kind: string, day: string, record: unknown): void;
  /** `needle`: text every wanted record's line contains (e.g. `"id":"ses_…"`); others are skipped unparsed. */
  findArchived<T>(
    kind: string,
    day: string,
    match: (entry: T) => boolean,
    needle?: string,
  ): Promise<T | undefined>;
  scanArchive<T>(kind: string, day: string, visit: (entry: T) => void, needle?: string): Promise<void>;
  archiveDays(kind: string): string[];
  /**
   * Rewrite one day of a kind's archive, each record through `change` (null drops it), as one
   * durable replacement; with `dryRun`, only count.
   */
  rewriteArchive<T>(
    kind: string,
    day: string,
    change: (entry: T) => T | null,
    dryRun?: boolean,
  ): Promise<{ records: number; changed: number; dropped: number }>;
  /** Delete one day of a kind's archive. */
  removeArchive(kind: string, day: string): Promise<void>;
  removeBlob(name: string): Promise<void>;
  /** The bytes in one day of a kind's archive so far (0 when there is none). */
  archiveSize(kind: string, day: string): number;
  /** Write a whole named file atomically and durably (write, fsync, rename). */
  putBlob(name: string, content: string): Promise<void>;
  getBlob(name: string): Promise<string | null>;
  /** Resolves when every change made before the call is on disk. */
  flush(): Promise<void>;
  /**
   * Write every changed table's snapshot now and drop the journals behind it: after an erasure,
   * no earlier copy of a removed value stays on disk.
   */
  compact(): Promise<void>;
  /**
   * Like `flush()`, and also every archive line made before the call is in its day file (a
   * commit acknowledges once its journal is on disk, before it copies archive lines).
   */
  settled(): Promise<void>;
  readonly healthy: boolean;
  close(): Promise<void>;
}

/** The source of time; tests move it by hand. */
export interface Clock {
  now(): number;
}
export const systemClock: Clock = { now: () => Date.now() };

// ---- cards ---------------------------------------------------------------------------------

export type CardState = 'inactive' | 'reserved' | 'active' | 'blocked';

export interface Holder {
  fullName: string;
  /** YYYY-MM-DD */
  birthday: string | null;
  /** E.164 */
  phone: string | null;
  email?: string | null;
}

export interface Card {
  number: string;
  state: CardState;
  /** A card without plastic, handed out from a pool when the cashier gives no number. */
  virtual: boolean;
  /** PDS discount and bonus group numbers, 0–99. */
  discount: number;
  bonus: number;
  /** YYYY-MM-DD or null for no expiry. */
  expiresAt: string | null;
  rangeId: string | null;
  holder: Holder | null;
  /** State before a block, to restore on unblock. */
  blockedFrom?: CardState;
  /** The activation that holds the card while it waits for its SMS confirmation. */
  reservedBy?: string | null;
  activatedAt: string | null;
  createdAt: string;
  updatedAt: string;
}

export interface CardRange {
  id: string;
  from: string;
  to: string;
  count: number;
  discount: number;
  bonus: number;
  expiresAt: string | null;
  virtual: boolean;
  createdAt: string;
}

export interface RangeSpec {
  from: string;
  to: string;
  discount: number;
  bonus: number;
  expiresAt: string | null;
  virtual: boolean;
}

/** One row of the PDS base being imported, already validated. */
export interface ImportRow {
  line: number;
  number: string;
  expiresAt: string | null;
  discount: number;
  bonus: number;
  holder: Holder | null;
  blocked: boolean;
}

export interface ImportResult {
  imported: number;
  updated: number;
  rejected: Array<{ line: number; field: string; code: string; reason: string }>;
}

export interface CardPatch {
  state?: 'blocked' | 'unblocked';
  holder?: Partial<Holder>;
  discount?: number;
  bonus?: number;
  expiresAt?: string | null;
}

/**
 * The card directory. Every mutation is atomic with respect to other callers: two activations
 * of one card cannot both succeed. Mutations resolve once durable.
 */
export interface CardDirectory {
  createRange(spec: RangeSpec, at: string): Promise<CardRange>;
  listRanges(): Promise<CardRange[]>;
  get(number: string): Promise<Card | undefined>;
  /** The cards of these numbers that exist, in one read (a campaign renders a group at a time). */
  getMany(numbers: readonly string[]): Promise<Map<string, Card>>;
  /** Cards whose holder has this phone, the newest active first. */
  byPhone(phone: string): Promise<Card[]>;
  /**
   * Reserve a card for an activation: the named one, or the next free virtual one when `number`
   * is null. Idempotent for the same activation. Throws CARD_NOT_FOUND, CARD_ALREADY_ACTIVE,
   * CARD_BLOCKED, CARD_EXPIRED, PHONE_ALREADY_REGISTERED (when `onePerPhone`), POOL_EMPTY.
   */
  reserve(req: {
    number: string | null;
    activationId: string;
    phone: string;
    onePerPhone: boolean;
    at: string;
  }): Promise<Card>;
  /** Fill the holder form and make the card active. Idempotent for the same activation. */
  activate(number: string, activationId: string, holder: Holder, at: string): Promise<Card>;
  /** Give a reserved card back to its range (activation expired, locked, cancelled, failed). */
  release(number: string, activationId: string, at: string): Promise<void>;
  update(number: string, patch: CardPatch, at: string): Promise<Card>;
  /**
   * Remove the holder's data from a card (a guest's erasure): the card stays, `block`ed or
   * `release`d to its range (`cards.onErasure`).
   */
  eraseHolder(number: string, then: 'block' | 'release', at: string): Promise<Card>;
  import(rows: ImportRow[], opts: { partial: boolean; at: string }): Promise<ImportResult>;
  /** Active cards whose holder data changed at or after `since` (all when null), by number. */
  changedSince(since: string | null): AsyncIterable<Card>;
  count(): Promise<number>;
  /** Issued cards (with a holder), a page at a time: whole-directory reads never hold it all. */
  pages(pageSize: number): AsyncIterable<Card[]>;
}

// ---- consent ledger ------------------------------------------------------------------------

export interface ConsentEntry {
  at: string;
  marketing: boolean;
  /** Consent to the processing of personal data given with this entry (at an activation). */
  pd?: boolean;
  /** The version of the personal-data consent text the guest agreed to (`consents.pdTextVersion`). */
  pdTextVersion?: string;
  /** Where it was given: `pos:<station>`, `web`, `link`… */
  source: string;
  /** Who recorded it: role, station and the API token's label. */
  by: string;
}

export interface ConsentRecord {
  phone: string;
  marketing: boolean;
  /** The latest personal-data consent: when, and to which text (absent: never given here). */
  pd?: { at: string; textVersion: string } | null;
  updatedAt: string;
  history: ConsentEntry[];
}

// ---- SMS -----------------------------------------------------------------------------------

export type SmsPurpose = 'otp' | 'marketing' | 'test';

export interface SmsMessage {
  /** E.164 */
  to: string;
  text: string;
  purpose: SmsPurpose;
  /** Same key, same message: a sender that can prevent a duplicate does (`sessionId:sendNo`). */
  idempotencyKey: string;
  /** What the message is, for logs that must not carry an OTP's text. */
  templateId: string;
  segments: number;
}

export type DeliveryStatus = 'queued' | 'sent' | 'delivered' | 'undelivered' | 'expired' | 'unknown';

export interface SmsReceipt {
  provider: string;
  messageId: string;
  segments: number;
  /** Decimal string in the account's currency, or null when the provider did not say. */
  cost: string | null;
  status: DeliveryStatus;
  acceptedAt: string;
}

export interface SmsSender {
  readonly name: string;
  /**
   * Resolves with a receipt, or rejects with an AppError SMS_FAILED whose `extra.kind` says
   * what failed (`permanent`, `account`, `transient`; see runtime/sms/failure.ts).
   */
  send(message: SmsMessage, signal: AbortSignal): Promise<SmsReceipt>;
  /**
   * Several messages in one request (texts may differ). Resolves with one outcome per message,
   * in order: a receipt, or an SMS_FAILED error for that number; rejects when the request as a
   * whole failed (credentials, money, network).
   */
  sendMany?(messages: SmsMessage[], signal: AbortSignal): Promise<Array<SmsReceipt | Error>>;
  /** The most messages `sendMany` takes at once. */
  readonly maxBatch?: number;
  /** Delivery status of messages this provider accepted, by message id. */
  status?(
    messages: Array<{ messageId: string; to: string }>,
    signal: AbortSignal,
  ): Promise<Map<string, DeliveryStatus>>;
  /**
   * What became of a message sent with the idempotency key `key` to `to`, found by the key alone
   * (a provider whose message id derives from the key): how a send cut by a crash is settled
   * without sending it again. Undefined when the provider knows no such message.
   */
  statusByKey?(
    key: string,
    to: string,
    signal: AbortSignal,
  ): Promise<{ messageId: string; status: DeliveryStatus } | undefined>;
  /** The account's balance as a decimal string. */
  balance?(signal: AbortSignal): Promise<string>;
  /** True when the provider drops a repeated request with the same idempotency key. */
  readonly idempotent?: boolean;
  /**
   * Drop the provider's local copies of messages accepted before `before` (ms), answering how
   * many (with `dryRun`, would be): a provider that keeps messages on our disk (the console
   * outbox) keeps them only as long as the retention rules say.
   */
  prune?(before: number, dryRun?: boolean): Promise<number>;
  /** Drop the provider's local copies of messages to `phone` (a guest's erasure). */
  erase?(phone: string): Promise<number>;
  /** Warnings for the start-up banner (e.g. "console is not for production"). */
  readonly warnings?: string[];
}

/** A PIN by phone call: the provider calls and the last digits of the calling number are the code. */
export interface CallSender {
  readonly name: string;
  call(phone: string, signal: AbortSignal): Promise<{ code: string; receipt: SmsReceipt }>;
}
