/**
 * Configuration: read once at the edge, validated, typed, frozen. Nothing else in the service
 * reads `process.env`. A bad value stops the start with a message naming the key.
 */
import { readFileSync, existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { z } from 'zod';
import { smsPhoneTypes } from './phone.ts';

/** libphonenumber's number types, and `UNKNOWN` for a number whose type the plan cannot tell. */
const phoneTypes = [
  'MOBILE',
  'FIXED_LINE_OR_MOBILE',
  'FIXED_LINE',
  'TOLL_FREE',
  'PREMIUM_RATE',
  'SHARED_COST',
  'VOIP',
  'PERSONAL_NUMBER',
  'PAGER',
  'UAN',
  'VOICEMAIL',
  'UNKNOWN',
] as const;

const hhmm = z.string().regex(/^([01]\d|2[0-3]):[0-5]\d$/, 'expected HH:MM');
const tokenList = z.array(z.string().min(16, 'a token has at least 16 characters')).default([]);

function isValidTimeZone(zone: string): boolean {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: zone });
    return true;
  } catch {
    return false;
  }
}
const timeZone = z.string().refine(isValidTimeZone, 'unknown IANA time zone');

export const providerNames = ['console', 'smsc', 'smsru', 'kazinfoteh'] as const;
export type ProviderName = (typeof providerNames)[number];

const schema = z
  .object({
    /**
     * The venue's time zone: the day of the SMS budgets, and every time a person reads (the
     * cashier's «код действует до», the support page, the command line). Answers in JSON keep
     * ISO UTC. Campaigns take it unless `campaigns.timezone` says otherwise.
     */
    timezone: timeZone.default('Europe/Moscow'),
    server: z
      .object({
        host: z.string().default('0.0.0.0'),
        port: z.coerce.number().int().min(0).max(65535).default(8080),
        /** Largest accepted request body; CSV imports larger than this go through the CLI. */
        bodyLimitBytes: z
          .number()
          .int()
          .min(1024)
          .max(64 * 1024 * 1024)
          .default(8 * 1024 * 1024),
        /**
         * Most lines a CSV import through the API may have: every imported card lives in the
         * service's memory, so a larger base goes through the CLI, which rewrites the card table
         * on disk. A larger file is refused (413 IMPORT_TOO_LARGE) before any card is read.
         */
        importMaxLines: z.number().int().min(1).max(5_000_000).default(500_000),
        /** How long a request may wait for a workflow step before answering 504. */
        requestTimeoutMs: z.number().int().min(100).max(110_000).default(45_000),
        /**
         * Behind a reverse proxy (nginx, HAProxy): take the client's address from the last entry
         * of `X-Forwarded-For`, which the proxy appends (the opt-out page's per-address limit).
         */
        trustProxy: z.boolean().default(false),
        /** Language of cashier messages unless the request asks for another. */
        lang: z.enum(['ru', 'en']).default('ru'),
      })
      .strict()
      .prefault({}),
    dataDir: z.string().min(1).default('./data'),
    /**
     * Where the data lives. `embedded` (the default): files in `dataDir`, one process. `postgres`:
     * one PostgreSQL database any number of instances share (a chain's head office); needs `url`
     * (or SMSPDS_DATABASE_URL) and `secretFile`, one file for every instance. The data folder
     * then holds only this instance's lock and the console provider's outbox.
     */
    store: z
      .object({
        engine: z.enum(['embedded', 'postgres']).default('embedded'),
        /** `postgres://user:password@host:5432/smspds` */
        url: z
          .string()
          .regex(/^postgres(ql)?:\/\/\S+$/, 'a postgres:// URL')
          .nullable()
          .default(null),
        /**
         * Connections this instance keeps for queries (advisory locks take a pool of their own).
         * Requests made at once share statements (one carries many tills' rows), so a few carry
         * a busy instance; more than the database server's cores only make it switch between
         * them (measured: `bench:auth`, README).
         */
        pool: z.number().int().min(2).max(200).default(8),
        /**
         * How long an instance's claim on work in progress (a campaign batch, a PIN's SMS) holds
         * unless renewed (every third of it): when an instance dies, another takes its work up
         * this long after. Shorter takes over sooner; too short for a slow database renews often.
         */
        leaseSeconds: z.number().min(2).max(600).default(30),
      })
      .strict()
      .prefault({}),
    /**
     * A file holding the server secret (64 hex characters: `openssl rand -hex 32`), for
     * instances that share one database; without it the secret is made in the data folder.
     */
    secretFile: z.string().min(1).nullable().default(null),
    /**
     * The address guests reach the service at from the internet (`https://club.example.ru`):
     * the opt-out links of campaign texts (`{optOut}` → `<publicUrl>/u/<code>`) lead there. Only
     * `/u/…` needs to be public; see the README's "One-tap opt-out".
     */
    publicUrl: z
      .url({ protocol: /^https?$/ })
      .refine((u) => !/[?#]/.test(u), 'no query or fragment')
      .transform((u) => u.replace(/\/+$/, ''))
      .nullable()
      .default(null),
    auth: z
      .object({ terminalTokens: tokenList, supportTokens: tokenList, adminTokens: tokenList })
      .strict()
      .prefault({}),
    phones: z
      .object({
        /** ISO 3166 countries whose numbers the venue serves. */
        allowedCountries: z
          .array(z.string().regex(/^[A-Z]{2}$/, 'expected a two-letter country code'))
          .min(1)
          .default(['RU', 'KZ']),
        /** Country assumed for numbers typed without a country code. */
        defaultCountry: z
          .string()
          .regex(/^[A-Z]{2}$/)
          .default('RU'),
        /**
         * Number types that may get an SMS. Mobiles, and numbers the numbering plan cannot tell
         * from landlines; add e.g. `FIXED_LINE` only for SMS-capable landlines.
         */
        allowTypes: z
          .array(z.enum(phoneTypes))
          .min(1)
          .default([...smsPhoneTypes]),
      })
      .strict()
      .prefault({}),
    otp: z
      .object({
        length: z.number().int().min(4).max(8).default(6),
        ttlSeconds: z.number().int().min(1).max(600, 'a PIN lives at most 600 seconds').default(300),
        maxAttempts: z.number().int().min(1).max(10).default(3),
        resendCooldownSeconds: z.number().int().min(0).default(60),
        maxResends: z.number().int().min(0).max(10).default(3),
        phoneOnly: z.boolean().default(false),
        /** Allow `channel: "call"` (sms.ru code by call; needs sms.smsru). */
        call: z.boolean().default(false),
        /** When set, phone-only authorization is allowed only from these terminals. */
        phoneOnlyTerminals: z.array(z.string()).optional(),
        brand: z.string().max(30).default(''),
        template: z.string().min(1).optional(),
      })
      .strict()
      .prefault({}),
    sms: z
      .object({
        providers: z.array(z.enum(providerNames)).min(1).default(['console']),
        sender: z.string().max(17).default(''),
        /** Send nothing and pay nothing, but go through the whole path (sms.ru test=1, smsc cost=1). */
        dryRun: z.boolean().default(false),
        /** Hard deadline of one provider call, in ms. */
        timeoutMs: z.number().int().min(100).max(60_000).default(8_000),
        /** Extra tries at one provider after a transient failure, before failing over. */
        retries: z.number().int().min(0).max(5).default(1),
        /** A provider that failed this many times in a row is skipped for `coolOffSeconds`. */
        failuresBeforeCoolOff: z.number().int().min(1).max(100).default(3),
        coolOffSeconds: z.number().int().min(0).max(3600).default(60),
        /** Warn (banner, /healthz) when a provider's balance is below this. */
        balanceWarning: z.number().min(0).nullable().default(null),
        /** How often to ask providers about delivery, in seconds (0: never). */
        statusPollSeconds: z.number().int().min(0).max(3600).default(15),
        smsc: z
          .object({
            login: z.string().min(1),
            password: z.string().min(1),
            apiKey: z.string().min(1),
            url: z.url().default('https://smsc.ru'),
          })
          .partial({ login: true, password: true, apiKey: true })
          .strict()
          .optional(),
        smsru: z
          .object({ apiId: z.string().min(1), url: z.url().default('https://sms.ru') })
          .partial({ apiId: true })
          .strict()
          .optional(),
        kazinfoteh: z
          .object({
            login: z.string().min(1),
            password: z.string().min(1),
            api: z.enum(['json', 'legacy']).default('json'),
            url: z.url().optional(),
            statusUrl: z.url().default('http://kazinfoteh.org:809'),
          })
          .partial({ login: true, password: true })
          .strict()
          .optional(),
      })
      .strict()
      .superRefine((sms, ctx) => {
        const need = (provider: string, key: string) =>
          ctx.addIssue({
            code: 'custom',
            path: [provider, key],
            message: `required when "${provider}" is in sms.providers`,
          });
        for (const p of new Set(sms.providers)) {
          if (p === 'smsc' && !sms.smsc?.apiKey && (!sms.smsc?.login || !sms.smsc?.password)) {
            need('smsc', sms.smsc?.login ? 'password' : 'login');
          }
          if (p === 'smsru' && !sms.smsru?.apiId) need('smsru', 'apiId');
          if (p === 'kazinfoteh' && !sms.kazinfoteh?.login) need('kazinfoteh', 'login');
          if (p === 'kazinfoteh' && !sms.kazinfoteh?.password) need('kazinfoteh', 'password');
        }
        if (new Set(sms.providers).size !== sms.providers.length) {
          ctx.addIssue({ code: 'custom', path: ['providers'], message: 'a provider is listed twice' });
        }
      })
      .prefault({}),
    limits: z
      .object({
        /** PIN windows a phone may open in an hour, authorization and activation together. */
        perPhonePerHour: z.number().int().min(0).default(5),
        /** PIN codes a phone may try in an hour, through either workflow. */
        guessesPerPhonePerHour: z.number().int().min(0).default(15),
        /** Starts and resends that send an SMS, per API token, in an hour. */
        perTerminalPerHour: z.number().int().min(0).default(120),
        /** SMS segments one API token may cause in a day (PINs, campaign tests). */
        perTerminalPerDay: z.number().int().min(0).default(500),
        /** Card activations per API token in an hour: a pool or a phone list is not emptied in seconds. */
        activationsPerTerminalPerHour: z.number().int().min(0).default(60),
        /** Opt-out confirmations one address may send in an hour (the page for guests, no token). */
        optOutPerAddressPerHour: z.number().int().min(1).max(10_000).default(20),
        /** Billed SMS segments the whole service may send in a day (0: no budget). */
        smsPerDay: z.number().int().min(0).default(2000),
      })
      .strict()
      .prefault({}),
    cards: z
      .object({
        onePerPhone: z.boolean().default(true),
        /**
         * Confirm the guest's phone by an SMS PIN before a card is bound to it: `always` (no one
         * can register a stranger's phone), `optional` (the till chooses with `confirm`), `never`.
         */
        confirmPhone: z.enum(['always', 'optional', 'never']).default('always'),
        /**
         * Refuse an activation without the guest's consent to the processing of their personal
         * data (`pdConsent`): 152-FZ art. 9 and Kazakhstan's law on personal data ask for it.
         */
        requirePdConsent: z.boolean().default(true),
        /**
         * What becomes of a card when its holder's data is erased: `block` (the card stays out of
         * use) or `release` (back to its range, a virtual card back to the pool).
         */
        onErasure: z.enum(['block', 'release']).default('block'),
        /** Youngest and oldest plausible holder, in years, for the birthday check. */
        minAgeYears: z.number().int().min(0).max(30).default(7),
        maxAgeYears: z.number().int().min(50).max(130).default(110),
      })
      .strict()
      .prefault({}),
    retention: z
      .object({
        /** Closed sessions and activations older than this are anonymised (phone → keyed hash, name removed). */
        sessionsDays: z.number().int().min(1).max(3650).default(365),
        /** Refused-attempt records older than this are anonymised. */
        attemptsDays: z.number().int().min(1).max(3650).default(90),
        /** Campaign recipient lists (phones, outcomes) older than this are deleted; run counts stay. */
        campaignDays: z.number().int().min(1).max(3650).default(365),
        /** Messages in the console provider's outbox older than this are deleted. */
        outboxDays: z.number().int().min(1).max(3650).default(7),
        /** When the daily run starts, venue time. */
        at: hhmm.default('03:30'),
      })
      .strict()
      .prefault({}),
    consents: z
      .object({
        /**
         * The version of the personal-data consent text the venue shows its guests (a date or a
         * number of its own): every consent given at a till is recorded with it.
         */
        pdTextVersion: z.string().trim().min(1).max(40).default('1'),
      })
      .strict()
      .prefault({}),
    campaigns: z
      .object({
        quietHours: z.union([z.literal(false), z.object({ from: hhmm, to: hhmm }).strict()]).default({
          from: '21:00',
          to: '09:00',
        }),
        timezone: timeZone.default('Europe/Moscow'),
        /**
         * Refuse a campaign whose text has no `{optOut}` link (needs `publicUrl`): every
         * campaign goes to guests who consented to news and may take it back at once.
         */
        requireOptOut: z.boolean().default(false),
        /** Kazakhstan: advertising only on weekdays. */
        weekdaysOnly: z.boolean().default(false),
        /** A recurring run missed while the service was down still runs if this recent. */
        catchUpMinutes: z
          .number()
          .int()
          .min(0)
          .max(7 * 24 * 60)
          .default(180),
        /** Price of one SMS segment, for estimates (providers report actual cost). */
        pricePerSegment: z.number().min(0).default(2),
        /** Messages per second when a campaign does not say. */
        ratePerSecond: z.number().min(0.1).max(100_000).default(20),
        /**
         * The share of `limits.smsPerDay` campaigns may not use: it stays for PINs at the till,
         * so a large campaign never leaves the cashiers without codes for the rest of the day.
         */
        pinReserve: z.number().min(0).max(0.9).default(0.2),
        /**
         * A provider that cannot be reached for now is waited for, these many minutes in a row,
         * before the run pauses for a person ([] pauses at once).
         */
        providerWaitMinutes: z
          .array(
            z
              .number()
              .min(0.1)
              .max(24 * 60),
          )
          .max(20)
          .default([1, 2, 5, 10, 15, 30]),
      })
      .strict()
      .prefault({}),
  })
  .strict()
  .superRefine((c, ctx) => {
    if (c.campaigns.requireOptOut && !c.publicUrl) {
      ctx.addIssue({
        code: 'custom',
        path: ['campaigns', 'requireOptOut'],
        message: 'the opt-out link needs "publicUrl"',
      });
    }
    if (c.store.engine === 'postgres' && !c.store.url) {
      ctx.addIssue({
        code: 'custom',
        path: ['store', 'url'],
        message: 'the postgres engine needs a database URL',
      });
    }
    if (c.store.engine === 'postgres' && !c.secretFile) {
      ctx.addIssue({
        code: 'custom',
        path: ['secretFile'],
        message:
          'the postgres engine needs "secretFile" (or SMSPDS_SECRET_FILE): every instance keys PINs and phones with one secret (openssl rand -hex 32)',
      });
    }
    if (c.otp.call && !c.sms.smsru?.apiId) {
      ctx.addIssue({ code: 'custom', path: ['otp', 'call'], message: 'code by call needs sms.smsru.apiId' });
    }
  });

export type Config = z.infer<typeof schema>;
export type ConfigInput = z.input<typeof schema>;

/** A configuration problem, named by its key, that stops the start. */
export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConfigError';
  }
}

function keyOf(path: PropertyKey[]): string {
  return path
    .map((p) => (typeof p === 'number' ? `[${p}]` : String(p)))
    .join('.')
    .replace(/\.\[/g, '[');
}

function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object') {
    for (const v of Object.values(value)) deepFreeze(v);
    Object.freeze(value);
  }
  return value;
}

/**
 * The venue's time zone was `campaigns.timezone` before it was a key of its own: a config that
 * names only the old key keeps its meaning, and campaigns follow the venue's zone by default.
 */
function withVenueTimeZone(raw: unknown): unknown {
  const isObject = (v: unknown): v is Record<string, unknown> =>
    typeof v === 'object' && v !== null && !Array.isArray(v);
  if (!isObject(raw)) return raw;
  const campaigns = raw.campaigns === undefined ? {} : raw.campaigns;
  if (!isObject(campaigns)) return raw; // the schema names the mistake
  const zone = raw.timezone ?? campaigns.timezone;
  if (zone === undefined) return raw;
  return { ...raw, timezone: zone, campaigns: { ...campaigns, timezone: campaigns.timezone ?? zone } };
}

/** Validate a raw config object and return it typed and frozen; throws ConfigError. */
export function parseConfig(raw: unknown): Readonly<Config> {
  const result = schema.safeParse(withVenueTimeZone(raw ?? {}));
  if (!result.success) {
    const lines = result.error.issues.map((issue) => {
      const key = keyOf(issue.path);
      if (issue.code === 'unrecognized_keys') {
        return `${keyOf([...issue.path, issue.keys[0]!])}: unknown key`;
      }
      return `${key || '(root)'}: ${issue.message}`;
    });
    throw new ConfigError(`invalid configuration:\n  ${lines.join('\n  ')}`);
  }
  return deepFreeze(result.data);
}

export interface LoadOptions {
  /** The environment to read overrides from (the process's by default). */
  env?: NodeJS.ProcessEnv;
  cwd?: string;
}

/**
 * Read the file named by SMSPDS_CONFIG (default ./smspds.config.json when present), then apply
 * SMSPDS_HOST, SMSPDS_PORT, SMSPDS_DATA_DIR, SMSPDS_PUBLIC_URL, SMSPDS_SECRET_FILE and
 * SMSPDS_DATABASE_URL (the postgres engine at that URL) over it.
 */
export function loadConfig({ env = process.env, cwd = process.cwd() }: LoadOptions = {}): {
  config: Readonly<Config>;
  file: string | null;
} {
  const named = env.SMSPDS_CONFIG;
  const file = resolve(cwd, named ?? 'smspds.config.json');
  let raw: Record<string, unknown> = {};
  if (named || existsSync(file)) {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (err) {
      throw new ConfigError(`SMSPDS_CONFIG: cannot read ${file}: ${(err as Error).message}`);
    }
    try {
      raw = JSON.parse(text.replace(/^\uFEFF/, ''));
    } catch (err) {
      throw new ConfigError(`${file}: malformed JSON: ${(err as Error).message}`);
    }
    if (!raw || typeof raw !== 'object' || Array.isArray(raw)) {
      throw new ConfigError(`${file}: the configuration must be a JSON object`);
    }
  }
  const server = { ...((raw.server as object) ?? {}) } as Record<string, unknown>;
  if (env.SMSPDS_HOST) server.host = env.SMSPDS_HOST;
  if (env.SMSPDS_PORT) {
    if (!/^\d+$/.test(env.SMSPDS_PORT)) throw new ConfigError('SMSPDS_PORT: expected a port number');
    server.port = Number(env.SMSPDS_PORT);
  }
  const merged = {
    ...raw,
    server,
    ...(env.SMSPDS_DATA_DIR ? { dataDir: env.SMSPDS_DATA_DIR } : {}),
    ...(env.SMSPDS_PUBLIC_URL ? { publicUrl: env.SMSPDS_PUBLIC_URL } : {}),
    ...(env.SMSPDS_SECRET_FILE ? { secretFile: env.SMSPDS_SECRET_FILE } : {}),
    ...(env.SMSPDS_DATABASE_URL
      ? { store: { ...((raw.store as object) ?? {}), engine: 'postgres', url: env.SMSPDS_DATABASE_URL } }
      : {}),
  };
  try {
    const config = parseConfig(merged);
    return { config, file: named || existsSync(file) ? file : null };
  } catch (err) {
    if (err instanceof ConfigError && (named || existsSync(file))) {
      throw new ConfigError(`${file}: ${err.message}`);
    }
    throw err;
  }
}
