/* The innermost layer: machines, the runtime and HTTP all share this catalog. */
/**
 * The one catalog of error codes. Machines, the runtime and HTTP branch on `code`, never on
 * `instanceof`: an error can cross a persisted snapshot as plain data (`{code, extra}`).
 */

export interface ErrorSpec {
  status: number;
  ru: string;
  en: string;
  /** A retryable failure may succeed when repeated unchanged (after `retryAfter`). */
  retryable?: boolean;
}

type Extra = Record<string, string | number | boolean | null | undefined>;

/** Message templates take `{name}` from the error's extras (e.g. `{attemptsLeft}`). */
export const catalog = {
  VALIDATION_FAILED: { status: 400, ru: 'Неверные данные: {reason}', en: 'Invalid input: {reason}' },
  PHONE_INVALID: {
    status: 400,
    ru: 'Неверный номер телефона',
    en: 'Invalid phone number',
  },
  PHONE_COUNTRY_NOT_ALLOWED: {
    status: 400,
    ru: 'Номера этой страны не обслуживаются',
    en: 'Phone numbers of this country are not served',
  },
  PHONE_NOT_MOBILE: {
    status: 400,
    ru: 'На этот номер нельзя отправить СМС: нужен мобильный номер',
    en: 'This number cannot receive SMS: a mobile number is needed',
  },
  CONFIRMATION_REQUIRED: {
    status: 400,
    ru: 'Телефон гостя нужно подтвердить кодом из СМС',
    en: "The guest's phone must be confirmed with an SMS code",
  },
  PD_CONSENT_REQUIRED: {
    status: 400,
    ru: 'Нужно согласие гостя на обработку персональных данных',
    en: "The guest's consent to the processing of personal data is required",
  },
  BODY_TOO_LARGE: { status: 413, ru: 'Слишком большой запрос', en: 'Request body too large' },
  IMPORT_TOO_LARGE: {
    status: 413,
    ru: 'Файл слишком большой для загрузки через API (предел: {limit}): загрузите его командой npm run cli -- cards import <файл>',
    en: 'The file is too large for the API (limit: {limit}): import it with npm run cli -- cards import <file>',
  },
  UNSUPPORTED_MEDIA_TYPE: {
    status: 415,
    ru: 'Неподдерживаемый формат запроса',
    en: 'Unsupported request content type',
  },
  UNAUTHORIZED: { status: 401, ru: 'Нет доступа: неверный ключ', en: 'Missing or unknown token' },
  FORBIDDEN: { status: 403, ru: 'Недостаточно прав', en: 'This token may not do that' },
  NOT_FOUND: { status: 404, ru: 'Не найдено', en: 'Not found' },
  CHANNEL_DISABLED: {
    status: 403,
    ru: 'Этот способ подтверждения не разрешён',
    en: 'This confirmation channel is not allowed here',
  },
  METHOD_NOT_ALLOWED: { status: 405, ru: 'Метод не поддерживается', en: 'Method not allowed' },
  CARD_NOT_FOUND: { status: 404, ru: 'Карта не найдена', en: 'Card not found' },
  CARD_ALREADY_ACTIVE: {
    status: 409,
    ru: 'Карта уже выдана',
    en: 'The card is already active',
  },
  CARD_BLOCKED: { status: 409, ru: 'Карта заблокирована', en: 'The card is blocked' },
  CARD_EXPIRED: { status: 409, ru: 'Срок действия карты истёк', en: 'The card has expired' },
  PHONE_ALREADY_REGISTERED: {
    status: 409,
    ru: 'На этот телефон уже выдана карта',
    en: 'This phone already has a card',
  },
  POOL_EMPTY: {
    status: 409,
    ru: 'Нет свободных виртуальных карт',
    en: 'No free virtual card left',
  },
  RANGE_OVERLAP: {
    status: 409,
    ru: 'Диапазон пересекается с существующими картами',
    en: 'The range overlaps existing cards',
  },
  RANGE_TOO_LARGE: {
    status: 400,
    ru: 'Слишком большой диапазон: не более {max} карт за раз',
    en: 'Range too large: at most {max} cards at once',
  },
  IMPORT_REJECTED: {
    status: 422,
    ru: 'Импорт отклонён: ошибок {rejected}',
    en: 'Import rejected: {rejected} bad lines',
  },
  SESSION_NOT_FOUND: { status: 404, ru: 'Сессия не найдена', en: 'Session not found' },
  SESSION_EXPIRED: {
    status: 410,
    ru: 'Время действия кода истекло',
    en: 'The code has expired',
  },
  SESSION_LOCKED: {
    status: 423,
    ru: 'Слишком много неверных кодов, сессия заблокирована',
    en: 'Too many wrong codes, the session is locked',
  },
  SESSION_CLOSED: { status: 409, ru: 'Сессия уже завершена', en: 'The session is already closed' },
  PIN_INVALID: {
    status: 422,
    ru: 'Неверный код. Осталось попыток: {attemptsLeft}',
    en: 'Wrong code. Attempts left: {attemptsLeft}',
  },
  RESEND_TOO_SOON: {
    status: 429,
    ru: 'Повторная отправка возможна через {retryAfter} с',
    en: 'Resend possible in {retryAfter} s',
    retryable: true,
  },
  PHONE_BUSY: {
    status: 409,
    ru: 'Код на этот номер уже отправляется, повторите через {retryAfter} с',
    en: 'A code to this number is being sent, retry in {retryAfter} s',
    retryable: true,
  },
  RESEND_LIMIT: {
    status: 429,
    ru: 'Исчерпан лимит повторных отправок',
    en: 'No more resends for this session',
  },
  RATE_LIMITED: {
    status: 429,
    ru: 'Слишком много запросов, повторите через {retryAfter} с',
    en: 'Too many requests, retry in {retryAfter} s',
    retryable: true,
  },
  SMS_FAILED: {
    status: 502,
    ru: 'Не удалось отправить СМС',
    en: 'The SMS could not be sent',
    retryable: true,
  },
  UNAVAILABLE: {
    status: 503,
    ru: 'Сервис временно недоступен',
    en: 'Service temporarily unavailable',
    retryable: true,
  },
  STORE_UNAVAILABLE: {
    status: 503,
    ru: 'Сервис не может сохранить данные (диск), повторите позже',
    en: 'The service cannot save data (disk), retry later',
    retryable: true,
  },
  TIMEOUT: {
    status: 504,
    ru: 'Сервис не успел ответить, повторите',
    en: 'The service did not finish in time, retry',
    retryable: true,
  },
  CAMPAIGN_NOT_FOUND: { status: 404, ru: 'Рассылка не найдена', en: 'Campaign not found' },
  CAMPAIGN_STATE: {
    status: 409,
    ru: 'Рассылку нельзя {action} в состоянии {state}',
    en: 'The campaign cannot {action} while {state}',
  },
  BUDGET_EXCEEDED: {
    status: 409,
    ru: 'Превышен бюджет: {reason}',
    en: 'Over budget: {reason}',
  },
  BACKUP_FAILED: {
    status: 503,
    ru: 'Резервная копия не сделана: {reason}',
    en: 'The backup was not made: {reason}',
    retryable: true,
  },
  BACKUP_ELSEWHERE: {
    status: 409,
    ru: 'Данные этой службы в PostgreSQL: резервную копию делает pg_dump (README, «Chain deployment»)',
    en: 'This service keeps its data in PostgreSQL: back it up with pg_dump (README: "Chain deployment")',
  },
  OPT_OUT_REQUIRED: {
    status: 400,
    ru: 'В тексте рассылки нет ссылки для отказа {optOut}',
    en: 'The campaign text has no opt-out link {optOut}',
  },
  INTERNAL: { status: 500, ru: 'Внутренняя ошибка сервиса', en: 'Internal error' },
} as const satisfies Record<string, ErrorSpec>;

export type ErrorCode = keyof typeof catalog;

/** An error with a stable code; `extra` lands inside the answer's `error` object. */
export class AppError extends Error {
  readonly code: ErrorCode;
  readonly extra: Extra;
  /** Structured detail for JSON answers only (e.g. an import's bad lines); never in key=value. */
  data?: Record<string, unknown>;
  constructor(code: ErrorCode, extra: Extra = {}, detail?: string) {
    // A refusal the cashier reads (4xx) needs no stack trace, and capturing one is most of what
    // an error costs: a brute-force run of wrong PINs makes thousands. 5xx keep theirs.
    const limit = Error.stackTraceLimit;
    if (catalog[code].status < 500) Error.stackTraceLimit = 0;
    try {
      super(detail ?? code);
    } finally {
      Error.stackTraceLimit = limit;
    }
    this.code = code;
    this.extra = extra;
  }
  get status(): number {
    return catalog[this.code].status;
  }
}

/** A plain, persistable form of an error: what a machine keeps in its context. */
export interface ErrorData {
  code: ErrorCode;
  extra?: Extra;
}

export function isErrorCode(value: unknown): value is ErrorCode {
  return typeof value === 'string' && Object.hasOwn(catalog, value);
}

/** Turn anything thrown by an effect into persistable error data; unknown errors become INTERNAL. */
export function toErrorData(err: unknown): ErrorData {
  if (err && typeof err === 'object' && isErrorCode((err as { code?: unknown }).code)) {
    const e = err as { code: ErrorCode; extra?: Extra };
    return { code: e.code, extra: e.extra ?? {} };
  }
  return { code: 'INTERNAL' };
}

export type Lang = 'ru' | 'en';

/** The cashier-readable message for a code, in the answer's language. */
export function messageFor(code: ErrorCode, lang: Lang, extra: Extra = {}): string {
  const template: string = catalog[code][lang];
  return template.replace(/\{(\w+)\}/g, (_, name: string) => String(extra[name] ?? ''));
}
