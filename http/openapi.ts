/**
 * The OpenAPI 3.1 description of the HTTP API, served at /api/v1/openapi.json. A test compares
 * its operations with the routes the app registers, so it cannot fall behind the code.
 */

type Op = {
  summary: string;
  roles: string;
  params?: string[];
  query?: string[];
  body?: Record<string, string>;
  /** success status → what it holds */
  ok: [number, string];
  errors?: string[];
  kv?: string[];
};

const S = (type: string) => ({ type });
const ERR = { $ref: '#/components/schemas/Error' };

const ops: Record<string, Record<string, Op>> = {
  '/healthz': {
    get: {
      summary: 'Health: the store writes and the service serves (no token)',
      roles: 'none',
      ok: [200, 'status, sms balances'],
    },
  },
  '/metrics': {
    get: { summary: 'Prometheus metrics (no token)', roles: 'none', ok: [200, 'Prometheus text'] },
  },
  '/support': {
    get: {
      summary: 'The support page (sign in with a support or admin token)',
      roles: 'none',
      ok: [200, 'HTML'],
    },
  },
  '/support/{file}': {
    get: { summary: 'Assets of the support page', roles: 'none', params: ['file'], ok: [200, 'JS, CSS'] },
  },
  '/support/vendor/{file}': {
    get: {
      summary: 'Libraries of the support page from the installed packages (chart.js, dagre.js)',
      roles: 'none',
      params: ['file'],
      ok: [200, 'JS'],
    },
  },
  '/u/{code}': {
    get: {
      summary:
        "The guests' opt-out page of an SMS link (no token): one button, Russian, Kazakh or English by Accept-Language or lang; changes nothing",
      roles: 'none',
      params: ['code'],
      query: ['lang'],
      ok: [200, 'HTML'],
    },
    post: {
      summary:
        'The button of the opt-out page (no token): news consent of the phone the code names ends (consent entry, source link); the same "done" page for any code; limited per address (429 page)',
      roles: 'none',
      params: ['code'],
      query: ['lang'],
      ok: [200, 'HTML'],
    },
  },
  '/api/v1/openapi.json': { get: { summary: 'This document', roles: 'any', ok: [200, 'OpenAPI 3.1'] } },
  '/api/v1/whoami': {
    get: { summary: 'The role of the token presented', roles: 'any', ok: [200, '{role}'] },
  },
  '/api/v1/reports/daily': {
    get: {
      summary:
        'Per day of the venue: sessions by outcome, share verified, refused starts by reason, PIN SMS and cost by provider, delivery rate, campaign messages; format=csv for a spreadsheet',
      roles: 'support',
      query: ['from', 'to', 'format'],
      ok: [200, '{from, to, timeZone, days}'],
      errors: ['VALIDATION_FAILED'],
    },
  },
  '/api/v1/holders/{phone}': {
    delete: {
      summary:
        "Erase a guest's data: cards lose their holder (blocked or released per cards.onErasure), sessions and recipient lists anonymised, the consent proof kept under a keyed hash, the erasure recorded without the phone",
      roles: 'admin',
      ok: [200, '{erasure: {id, at, subject, cards, cancelled, records, recipients, consent}}'],
      errors: ['PHONE_INVALID', 'PHONE_COUNTRY_NOT_ALLOWED'],
    },
  },
  '/api/v1/holders/{phone}/export': {
    get: {
      summary:
        "Everything the service holds about a guest's phone: cards, consents with every entry, sessions, card issues, refused attempts, campaign messages; format=text for a text in Russian to hand over",
      roles: 'admin',
      query: ['format'],
      ok: [200, '{holder: {phone, generatedAt, cards, consent, sessions, campaignMessages}}'],
      errors: ['PHONE_INVALID', 'PHONE_COUNTRY_NOT_ALLOWED'],
    },
  },
  '/api/v1/retention/run': {
    post: {
      summary:
        'Apply the retention rules now (they also run daily at retention.at): anonymise old sessions, activations and refused attempts, delete old campaign recipient lists and outbox messages; dryRun only counts',
      roles: 'admin',
      body: { dryRun: 'boolean' },
      ok: [200, '{retention: {dryRun, keptFrom, anonymised, campaignRuns, outboxMessages}, lastRunAt}'],
      errors: [],
    },
  },
  '/api/v1/backup': {
    post: {
      summary:
        'A consistent copy of the data folder into <dataDir>/backups/<time>/: commits pause while the files are copied, then go on',
      roles: 'admin',
      ok: [201, '{backup: {dir, at, files, bytes, pausedMs}}'],
      errors: [],
    },
  },
  '/api/v1/catalog': {
    get: {
      summary:
        'Every word support reads (states, steps, errors, limits, reasons, SMS outcomes, providers) in the Accept-Language, with the venue time zone',
      roles: 'support',
      ok: [200, '{catalog}'],
    },
  },
  '/api/v1/auth': {
    post: {
      summary:
        'Start an authorization: phone → card → PIN by SMS (or call), or the card at once (channel none)',
      roles: 'terminal',
      body: { phone: 'string', terminal: 'string', channel: 'sms | none | call' },
      ok: [201, '{session} awaitingPin; 200 verified for channel none'],
      errors: [
        'PHONE_INVALID',
        'PHONE_NOT_MOBILE',
        'CARD_NOT_FOUND',
        'CARD_BLOCKED',
        'CARD_EXPIRED',
        'CHANNEL_DISABLED',
        'PHONE_BUSY',
        'RATE_LIMITED',
        'SMS_FAILED',
      ],
      kv: ['sessionId', 'state', 'expiresAt', 'attemptsLeft', 'card', 'holder'],
    },
  },
  '/api/v1/auth/{id}': {
    get: {
      summary: 'Read a session',
      roles: 'terminal, support',
      params: ['id'],
      ok: [200, '{session}'],
      errors: ['SESSION_NOT_FOUND'],
    },
  },
  '/api/v1/auth/{id}/verify': {
    post: {
      summary: 'Check the PIN; the card number on success',
      roles: 'terminal',
      params: ['id'],
      body: { pin: 'string' },
      ok: [200, '{session} verified with card (read again at this moment)'],
      errors: [
        'PIN_INVALID',
        'CARD_BLOCKED',
        'CARD_EXPIRED',
        'CARD_NOT_FOUND',
        'RATE_LIMITED',
        'SESSION_LOCKED',
        'SESSION_EXPIRED',
        'SESSION_CLOSED',
        'SESSION_NOT_FOUND',
      ],
      kv: ['sessionId', 'state', 'card', 'holder', 'discount', 'bonus'],
    },
  },
  '/api/v1/auth/{id}/resend': {
    post: {
      summary: 'A new PIN (the old one stops working)',
      roles: 'terminal',
      params: ['id'],
      ok: [200, '{session}'],
      errors: ['RESEND_TOO_SOON', 'RESEND_LIMIT', 'RATE_LIMITED', 'SESSION_EXPIRED', 'SESSION_CLOSED'],
    },
  },
  '/api/v1/auth/{id}/cancel': {
    post: {
      summary: 'Cancel a session',
      roles: 'terminal, support',
      params: ['id'],
      body: { reason: 'string' },
      ok: [200, '{session} cancelled'],
    },
  },
  '/api/v1/cards/activate': {
    post: {
      summary: "Issue a card at the till, the guest's phone confirmed by SMS (cards.confirmPhone)",
      roles: 'terminal',
      body: {
        cardNumber: 'string',
        fullName: 'string',
        birthday: 'YYYY-MM-DD | DD.MM.YYYY',
        phone: 'string',
        marketingConsent: 'boolean',
        pdConsent: 'boolean (required true where cards.requirePdConsent, the default)',
        terminal: 'string',
        confirm: 'sms | none (none only where cards.confirmPhone is optional)',
      },
      ok: [201, '{activation} awaitingPin, or activated without SMS'],
      errors: [
        'VALIDATION_FAILED',
        'PD_CONSENT_REQUIRED',
        'PHONE_NOT_MOBILE',
        'CONFIRMATION_REQUIRED',
        'CHANNEL_DISABLED',
        'PHONE_BUSY',
        'RATE_LIMITED',
        'CARD_NOT_FOUND',
        'CARD_ALREADY_ACTIVE',
        'CARD_BLOCKED',
        'PHONE_ALREADY_REGISTERED',
        'POOL_EMPTY',
        'SMS_FAILED',
      ],
      kv: ['activationId', 'state', 'card', 'holder'],
    },
  },
  '/api/v1/cards/activations/{id}': {
    get: {
      summary: 'Read an activation',
      roles: 'terminal, support',
      params: ['id'],
      ok: [200, '{activation}'],
    },
  },
  '/api/v1/cards/activations/{id}/verify': {
    post: {
      summary: 'Confirm an activation with the PIN',
      roles: 'terminal',
      params: ['id'],
      body: { pin: 'string' },
      ok: [200, '{activation} activated'],
      errors: ['PIN_INVALID', 'RATE_LIMITED', 'SESSION_LOCKED', 'SESSION_EXPIRED', 'SESSION_CLOSED'],
    },
  },
  '/api/v1/cards/activations/{id}/resend': {
    post: {
      summary: 'A new PIN for an activation',
      roles: 'terminal',
      params: ['id'],
      ok: [200, '{activation}'],
      errors: ['RESEND_TOO_SOON', 'RESEND_LIMIT'],
    },
  },
  '/api/v1/cards/activations/{id}/cancel': {
    post: {
      summary: 'Cancel an activation (the card goes back)',
      roles: 'terminal, support',
      params: ['id'],
      body: { reason: 'string' },
      ok: [200, '{activation} cancelled'],
    },
  },
  '/api/v1/cards/ranges': {
    post: {
      summary: 'Create a range of inactive cards (or a virtual pool)',
      roles: 'admin',
      body: {
        from: 'string',
        to: 'string',
        discount: 'integer',
        bonus: 'integer',
        expiresAt: 'date',
        virtual: 'boolean',
      },
      ok: [201, '{range}'],
      errors: ['RANGE_OVERLAP', 'RANGE_TOO_LARGE'],
    },
    get: { summary: 'List ranges', roles: 'support', ok: [200, '{items}'] },
  },
  '/api/v1/cards/import': {
    post: {
      summary:
        'Import the PDS base from CSV (UTF-8 or Windows-1251); all-or-nothing unless partial=true; a 422 lists bad lines {line, field, code, reason} (first 1,000, notListed counts the rest)',
      roles: 'admin',
      query: ['partial'],
      ok: [200, '{imported, updated, rejected}'],
      errors: ['IMPORT_REJECTED', 'IMPORT_TOO_LARGE'],
    },
  },
  '/api/v1/cards/export': {
    get: {
      summary:
        'CardImp CSV (Windows-1251) of issued cards; names transliterated where Windows-1251 lacks a letter (X-Export-Transliterated), the list with report=true',
      roles: 'admin',
      query: ['format', 'since', 'report'],
      ok: [200, 'text/csv; with report=true {count, transliterated: [{number, name, exported}]}'],
    },
  },
  '/api/v1/cards': {
    get: {
      summary: 'Cards by phone or number (newest active first)',
      roles: 'support',
      query: ['phone', 'number'],
      ok: [200, '{card, items}'],
      errors: ['CARD_NOT_FOUND'],
    },
  },
  '/api/v1/cards/{number}': {
    get: { summary: 'One card', roles: 'support', params: ['number'], ok: [200, '{card}'] },
    patch: {
      summary: 'Block, unblock, edit the holder',
      roles: 'admin',
      params: ['number'],
      body: {
        blocked: 'boolean',
        fullName: 'string',
        birthday: 'date',
        phone: 'string',
        email: 'string',
        discount: 'integer',
        bonus: 'integer',
        expiresAt: 'date',
      },
      ok: [200, '{card}'],
    },
  },
  '/api/v1/consents': {
    post: {
      summary: 'Record a consent change (kept with time and source)',
      roles: 'admin',
      body: { phone: 'string', marketing: 'boolean', source: 'string' },
      ok: [201, '{consent}'],
    },
  },
  '/api/v1/consents/{phone}': {
    get: {
      summary: 'Current consent and its history',
      roles: 'admin',
      params: ['phone'],
      ok: [200, '{consent}'],
    },
  },
  '/api/v1/sessions': {
    get: {
      summary:
        'Search sessions and refused starts (kind attempt), newest first; each with reason (in words) and by (token label, station)',
      roles: 'support',
      query: ['phone', 'card', 'terminal', 'state', 'kind', 'from', 'to', 'limit', 'cursor'],
      ok: [200, '{items, nextCursor}'],
    },
  },
  '/api/v1/sessions/{id}': {
    get: {
      summary: 'A whole session: diagnosis (what happened, what to do), timeline, SMS attempts, delivery',
      roles: 'support',
      params: ['id'],
      ok: [200, '{session}'],
      errors: ['SESSION_NOT_FOUND'],
    },
  },
  '/api/v1/sessions/{id}/cancel': {
    post: {
      summary: 'End a live session (recorded with who did it)',
      roles: 'support',
      params: ['id'],
      body: { reason: 'string' },
      ok: [200, '{session}'],
    },
  },
  '/api/v1/machines/{kind}': {
    get: {
      summary: 'A workflow machine as states and transitions (for diagrams)',
      roles: 'support',
      params: ['kind'],
      ok: [200, '{machine}'],
    },
  },
  '/api/v1/campaigns': {
    post: {
      summary: 'Create a campaign',
      roles: 'admin',
      body: {
        name: 'string',
        text: 'string',
        audience: 'object',
        schedule: 'object',
        quietHours: 'object | false',
        weekdaysOnly: 'boolean',
        ratePerSecond: 'number',
        provider: 'string',
        budget: 'number',
      },
      ok: [201, '{campaign}'],
    },
    get: {
      summary: 'List campaigns',
      roles: 'support',
      query: ['limit', 'cursor'],
      ok: [200, '{items, nextCursor}'],
    },
  },
  '/api/v1/campaigns/{id}': {
    get: {
      summary: 'A campaign: state, counts, cost, runs',
      roles: 'support',
      params: ['id'],
      ok: [200, '{campaign}'],
      errors: ['CAMPAIGN_NOT_FOUND'],
    },
  },
  '/api/v1/campaigns/{id}/estimate': {
    get: {
      summary: 'Recipients, SMS per message, cost',
      roles: 'support',
      params: ['id'],
      ok: [200, '{estimate}'],
    },
  },
  '/api/v1/campaigns/{id}/test': {
    post: {
      summary: 'Send one rendered message to one phone (counted in the day budgets)',
      roles: 'admin',
      params: ['id'],
      body: { phone: 'string' },
      ok: [200, '{test}'],
      errors: ['PHONE_NOT_MOBILE', 'RATE_LIMITED', 'SMS_FAILED'],
    },
  },
  '/api/v1/campaigns/{id}/start': {
    post: {
      summary: 'Start (refused over budget unless override)',
      roles: 'admin',
      params: ['id'],
      body: { override: 'boolean' },
      ok: [200, '{campaign}'],
      errors: ['BUDGET_EXCEEDED', 'CAMPAIGN_STATE'],
    },
  },
  '/api/v1/campaigns/{id}/pause': {
    post: {
      summary: 'Pause the current run',
      roles: 'admin',
      params: ['id'],
      ok: [200, '{campaign}'],
      errors: ['CAMPAIGN_STATE'],
    },
  },
  '/api/v1/campaigns/{id}/resume': {
    post: {
      summary: 'Resume the current run',
      roles: 'admin',
      params: ['id'],
      ok: [200, '{campaign}'],
      errors: ['CAMPAIGN_STATE'],
    },
  },
  '/api/v1/campaigns/{id}/cancel': {
    post: {
      summary: 'Cancel the run (and a schedule)',
      roles: 'admin',
      params: ['id'],
      ok: [200, '{campaign}'],
    },
  },
  '/api/v1/campaigns/{id}/recipients': {
    get: {
      summary: 'Per-recipient outcomes, paged',
      roles: 'support',
      params: ['id'],
      query: ['status', 'run', 'limit', 'cursor'],
      ok: [200, '{items, nextCursor}'],
    },
  },
};

export function openApiDocument(version: string) {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const [path, methods] of Object.entries(ops)) {
    paths[path] = {};
    for (const [method, op] of Object.entries(methods)) {
      const parameters = [
        ...(op.params ?? []).map((name) => ({ name, in: 'path', required: true, schema: S('string') })),
        ...(op.query ?? []).map((name) => ({ name, in: 'query', required: false, schema: S('string') })),
        {
          name: 'format',
          in: 'query',
          required: false,
          schema: { enum: ['json', 'kv'] },
          description: 'kv: name=value lines for RK7 scripts',
        },
      ];
      paths[path]![method] = {
        summary: op.summary,
        description: `Roles: ${op.roles}.${op.kv ? ` key=value names: ${op.kv.join(', ')}.` : ''}`,
        ...(op.roles === 'none' ? { security: [] } : {}),
        parameters,
        ...(op.body
          ? {
              requestBody: {
                content: Object.fromEntries(
                  ['application/json', 'application/x-www-form-urlencoded'].map((type) => [
                    type,
                    {
                      schema: {
                        type: 'object',
                        properties: Object.fromEntries(
                          Object.entries(op.body!).map(([k, v]) => [k, { type: 'string', description: v }]),
                        ),
                      },
                    },
                  ]),
                ),
              },
            }
          : {}),
        responses: {
          [op.ok[0]]: { description: op.ok[1] },
          '4XX': {
            description: `Error${op.errors ? `: ${op.errors.join(', ')}` : ''}`,
            content: { 'application/json': { schema: ERR } },
          },
          ...(op.roles === 'none'
            ? {}
            : {
                '503': {
                  description: 'STORE_UNAVAILABLE: the change could not be saved (disk); retry later',
                  content: { 'application/json': { schema: ERR } },
                },
              }),
        },
      };
    }
  }
  return {
    openapi: '3.1.0',
    info: {
      title: 'SMS PDS',
      version,
      description:
        'Discount cards by phone and SMS PIN for r_keeper 7. Errors carry a stable code and a cashier message (Russian; Accept-Language: en).',
    },
    servers: [{ url: '/' }],
    security: [{ bearer: [] }, { apiKey: [] }],
    components: {
      securitySchemes: {
        bearer: { type: 'http', scheme: 'bearer' },
        apiKey: { type: 'apiKey', in: 'header', name: 'X-Api-Key' },
      },
      schemas: {
        Error: {
          type: 'object',
          properties: {
            error: {
              type: 'object',
              properties: { code: S('string'), message: S('string') },
              required: ['code', 'message'],
            },
          },
        },
      },
    },
    paths,
  };
}
