/**
 * Every word support reads, in Russian and English: the states and steps of each workflow, the
 * limits, the reasons a workflow or a campaign message stopped, SMS outcomes and delivery
 * statuses, the kinds of provider failure and the network errors behind them, the providers'
 * names and currencies. Error codes have their sentences in machines/errors.ts (`messageFor`).
 *
 * The support page asks for this catalog (`GET /api/v1/catalog`) and shows these words; the raw
 * codes stay under «Технические подробности». A test walks every state and step of every
 * machine and every key here, and fails on a missing translation.
 */
import { zoneFormat } from '../zoneFormat.ts';
import { catalog as errorCatalog, isErrorCode, messageFor, type Lang } from '../../machines/errors.ts';

export type { Lang };
export interface Text {
  ru: string;
  en: string;
}

/** Workflow states, by workflow kind (`attempt`: a start refused before a workflow began). */
/** States both PIN workflows (authorization and card issue) share: the PIN window and its ends. */
const PIN_WINDOW_STATES: Record<string, Text> = {
  requested: { ru: 'запрос принят', en: 'request received' },
  sendingSms: { ru: 'отправка СМС', en: 'sending the SMS' },
  awaitingPin: { ru: 'ждём код от гостя', en: 'waiting for the guest’s code' },
  rejected: { ru: 'отказ', en: 'refused' },
  expired: { ru: 'время кода вышло', en: 'code expired' },
  locked: { ru: 'закрыта после неверных кодов', en: 'closed after wrong codes' },
  cancelled: { ru: 'отменена', en: 'cancelled' },
  failed: { ru: 'СМС не отправлено', en: 'SMS not sent' },
  error: { ru: 'сбой сервиса', en: 'service fault' },
};

export const STATES: Record<string, Record<string, Text>> = {
  auth: {
    ...PIN_WINDOW_STATES,
    lookingUp: { ru: 'поиск карты', en: 'looking up the card' },
    checkingCard: { ru: 'проверка карты', en: 'checking the card' },
    verified: { ru: 'карта применена', en: 'card applied' },
  },
  activation: {
    ...PIN_WINDOW_STATES,
    validating: { ru: 'проверка карты', en: 'checking the card' },
    committing: { ru: 'выдача карты', en: 'issuing the card' },
    activated: { ru: 'карта выдана', en: 'card issued' },
  },
  campaign: {
    draft: { ru: 'черновик', en: 'draft' },
    scheduled: { ru: 'запланирована', en: 'scheduled' },
    running: { ru: 'идёт', en: 'running' },
    paused: { ru: 'на паузе', en: 'paused' },
    completed: { ru: 'завершена', en: 'completed' },
    cancelled: { ru: 'отменена', en: 'cancelled' },
    failed: { ru: 'остановлена с ошибкой', en: 'failed' },
    error: { ru: 'сбой сервиса', en: 'service fault' },
  },
  attempt: {
    refused: { ru: 'отказ до начала', en: 'refused at the start' },
  },
};

/**
 * Timeline steps: what was asked (`start`, `VERIFY`…), and an effect ending (`sendPin.done`,
 * `sendPin.error`) as `<effect>.done` / `<effect>.error`.
 */
export const EVENTS: Record<string, Text> = {
  start: { ru: 'начало', en: 'start' },
  SUBMIT: { ru: 'запрос с кассы', en: 'request from the till' },
  VERIFY: { ru: 'введён код', en: 'code entered' },
  RESEND: { ru: 'повторная СМС', en: 'SMS sent again' },
  EXPIRE: { ru: 'истекло время', en: 'time ran out' },
  CANCEL: { ru: 'отмена', en: 'cancel' },
  SCHEDULE: { ru: 'запланирована', en: 'scheduled' },
  START: { ru: 'запуск', en: 'start' },
  PAUSE: { ru: 'пауза', en: 'pause' },
  RESUME: { ru: 'продолжение', en: 'resume' },
};

/** Effects (the `invoke` ids of the machines), for `<effect>.done` and `<effect>.error` steps. */
export const EFFECTS: Record<string, { done: Text; error: Text }> = {
  findCard: {
    done: { ru: 'карта найдена', en: 'card found' },
    error: { ru: 'карта не подошла', en: 'card not usable' },
  },
  recheckCard: {
    done: { ru: 'карта проверена', en: 'card checked' },
    error: { ru: 'карта не подошла при проверке', en: 'card failed the check' },
  },
  reserveCard: {
    done: { ru: 'карта закреплена', en: 'card reserved' },
    error: { ru: 'карту нельзя выдать', en: 'card cannot be issued' },
  },
  activateCard: {
    done: { ru: 'карта выдана', en: 'card issued' },
    error: { ru: 'карту не удалось выдать', en: 'card could not be issued' },
  },
  sendPin: {
    done: { ru: 'СМС отправлено', en: 'SMS sent' },
    error: { ru: 'СМС не отправлено', en: 'SMS not sent' },
  },
  sendBatch: {
    done: { ru: 'пачка сообщений отправлена', en: 'batch of messages sent' },
    error: { ru: 'пачка сообщений не отправлена', en: 'batch of messages not sent' },
  },
};

/**
 * Limits by their config names: what the number counts, `{n}` being the limit and `{a|b|c}` the
 * noun's forms for 1, 2–4 and 5 (Russian), `{a|b}` for 1 and more (English).
 */
export const LIMITS: Record<string, Text> = {
  perPhonePerHour: {
    ru: '{n} {код|кода|кодов} в час на этот номер',
    en: '{n} {code|codes} an hour to this phone',
  },
  perTerminalPerHour: {
    ru: '{n} {код|кода|кодов} в час с этой кассы',
    en: '{n} {code|codes} an hour from this till',
  },
  perTerminalPerDay: {
    ru: '{n} {код|кода|кодов} в день с этой кассы',
    en: '{n} {code|codes} a day from this till',
  },
  activationsPerTerminalPerHour: {
    ru: '{n} {выдача|выдачи|выдач} карт в час с этой кассы',
    en: '{n} card {issue|issues} an hour from this till',
  },
  optOutPerAddressPerHour: {
    ru: '{n} {отказ|отказа|отказов} от рассылки в час с одного адреса',
    en: '{n} opt-out {confirmation|confirmations} an hour from one address',
  },
  guessesPerPhonePerHour: {
    ru: '{n} {попытка|попытки|попыток} ввода кода в час на этот номер',
    en: '{n} code {entry|entries} an hour for this phone',
  },
  smsPerDay: { ru: '{n} СМС в день на всё заведение', en: '{n} SMS a day for the whole venue' },
};

/** Why a workflow was cancelled, or a campaign message not sent. */
export const REASONS: Record<string, Text> = {
  superseded: { ru: 'на этот номер запрошен новый код', en: 'a new code was asked for this phone' },
  cashier: { ru: 'кассир отменил', en: 'the cashier cancelled' },
  'cancelled by support': { ru: 'отменено поддержкой', en: 'cancelled by support' },
  shutdown: { ru: 'сервис перезапускался', en: 'the service was restarting' },
  noConsent: { ru: 'гость не давал согласия на рассылку', en: 'the guest never agreed to news' },
  optedOut: { ru: 'гость отказался от рассылки', en: 'the guest opted out of news' },
  quietHours: { ru: 'тихие часы: отправка утром', en: 'quiet hours: sent in the morning' },
  dailyBudget: { ru: 'дневной лимит СМС исчерпан', en: 'the day’s SMS budget is spent' },
  providerUnavailable: { ru: 'провайдер СМС недоступен', en: 'the SMS provider is unavailable' },
  campaignCancelled: { ru: 'не отправлено: рассылка отменена', en: 'not sent: the campaign was cancelled' },
};

/** An SMS attempt's outcome and its delivery status, as the operator reports it. */
export const SMS: Record<string, Text> = {
  accepted: { ru: 'принято провайдером', en: 'accepted by the provider' },
  failed: { ru: 'не отправлено', en: 'not sent' },
  queued: { ru: 'в очереди у оператора', en: 'queued at the operator' },
  sent: { ru: 'передано оператору', en: 'handed to the operator' },
  delivered: { ru: 'доставлено', en: 'delivered' },
  undelivered: { ru: 'не доставлено', en: 'not delivered' },
  expired: { ru: 'не доставлено за срок жизни СМС', en: 'not delivered in time' },
  unknown: { ru: 'доставка неизвестна', en: 'delivery unknown' },
  sending: { ru: 'отправляется', en: 'being sent' },
  skipped: { ru: 'пропущено', en: 'skipped' },
};

/** A campaign recipient's status (not an operator's: `queued` here is still ours to send). */
export const RECIPIENTS: Record<string, Text> = {
  queued: { ru: 'ждёт отправки', en: 'waiting to be sent' },
  sending: { ru: 'отправляется', en: 'being sent' },
  sent: { ru: 'отправлено', en: 'sent' },
  delivered: { ru: 'доставлено', en: 'delivered' },
  failed: { ru: 'не отправлено', en: 'not sent' },
  skipped: { ru: 'пропущено', en: 'skipped' },
  unknown: { ru: 'неизвестно, повторно не отправлялось', en: 'unknown, not sent again' },
};

/** What a failed SMS attempt means, by its kind (runtime/sms/failure.ts). */
export const FAILURES: Record<string, Text> = {
  permanent: {
    ru: 'оператор не доставит СМС на этот номер',
    en: 'the operator will not deliver to this phone',
  },
  account: {
    ru: 'проблема с нашим аккаунтом у провайдера (деньги, ключ, имя отправителя)',
    en: 'a problem with our account at the provider (money, key, sender name)',
  },
  transient: { ru: 'провайдер недоступен', en: 'the provider is unavailable' },
};

/** Network errors behind a transient failure (Node's codes, and our own for deadlines). */
export const NETWORK: Record<string, Text> = {
  ENOTFOUND: {
    ru: 'нет связи: адрес провайдера не найден',
    en: 'no connection: the provider’s address not found',
  },
  EAI_AGAIN: { ru: 'нет связи: DNS не отвечает', en: 'no connection: DNS does not answer' },
  ECONNREFUSED: { ru: 'провайдер не принимает соединения', en: 'the provider refuses connections' },
  ECONNRESET: { ru: 'соединение оборвалось', en: 'the connection was cut' },
  ETIMEDOUT: { ru: 'нет ответа (время вышло)', en: 'no answer (timed out)' },
  TIMEOUT: { ru: 'провайдер не ответил вовремя', en: 'the provider did not answer in time' },
  NETWORK: { ru: 'нет связи с провайдером', en: 'no connection to the provider' },
  NO_ANSWER: { ru: 'провайдер не ответил про этот номер', en: 'the provider said nothing of this phone' },
  HTTP_5XX: { ru: 'провайдер ответил ошибкой сервера', en: 'the provider answered with a server error' },
  HTTP_4XX: { ru: 'ответ провайдера не удалось прочитать', en: 'the provider’s answer could not be read' },
};

/**
 * The providers' own error codes (PROVIDERS.md), in words. An SMS attempt that failed with one
 * of them says it in these words; the provider's own text stays in the technical details.
 */
export const PROVIDER_CODES: Record<string, Record<string, Text>> = {
  smsc: {
    '1': { ru: 'ошибка в параметрах запроса', en: 'an error in the request parameters' },
    '2': {
      ru: 'неверный логин или пароль (или IP не разрешён)',
      en: 'wrong login or password (or IP not allowed)',
    },
    '3': { ru: 'на счёте не хватает денег', en: 'not enough money on the account' },
    '4': {
      ru: 'IP временно заблокирован после частых ошибок',
      en: 'IP blocked for a while after frequent errors',
    },
    '5': { ru: 'неверный формат даты', en: 'wrong date format' },
    '6': {
      ru: 'сообщение запрещено (текст или имя отправителя)',
      en: 'message forbidden (text or sender name)',
    },
    '7': { ru: 'неверный формат номера', en: 'wrong phone format' },
    '8': { ru: 'на этот номер сообщение не доставить', en: 'cannot be delivered to this number' },
    '9': {
      ru: 'повтор запроса или слишком много запросов сразу',
      en: 'a repeated request or too many at once',
    },
  },
  smsru: {
    '200': { ru: 'неверный api_id', en: 'wrong api_id' },
    '201': { ru: 'на счёте не хватает денег', en: 'not enough money on the account' },
    '202': { ru: 'неверный получатель', en: 'wrong recipient' },
    '203': { ru: 'нет текста сообщения', en: 'no message text' },
    '204': { ru: 'имя отправителя не согласовано', en: 'sender name not approved' },
    '205': { ru: 'сообщение длиннее 8 СМС', en: 'message longer than 8 SMS' },
    '206': { ru: 'превышен дневной лимит', en: 'daily limit reached' },
    '207': { ru: 'на этот номер отправлять нельзя', en: 'this number cannot be sent to' },
    '208': { ru: 'неверное время отправки', en: 'wrong sending time' },
    '209': { ru: 'номер в вашем стоп-листе', en: 'the number is in your stop list' },
    '210': { ru: 'нужен POST, а не GET', en: 'POST needed, not GET' },
    '211': { ru: 'неизвестный метод', en: 'unknown method' },
    '212': { ru: 'текст не в UTF-8', en: 'text not in UTF-8' },
    '213': { ru: 'больше 5000 номеров', en: 'over 5000 numbers' },
    '214': { ru: 'номер за рубежом', en: 'a foreign number' },
    '215': { ru: 'номер в общем стоп-листе', en: 'the number is in the global stop list' },
    '216': { ru: 'запрещённое слово в тексте', en: 'a forbidden word in the text' },
    '220': { ru: 'сервис временно недоступен', en: 'the service is temporarily unavailable' },
    '230': { ru: 'дневной лимит сообщений на этот номер', en: 'daily limit of messages to this number' },
    '231': {
      ru: 'одинаковые сообщения на номер за минуту',
      en: 'identical messages to a number within a minute',
    },
    '232': { ru: 'одинаковые сообщения на номер за день', en: 'identical messages to a number within a day' },
    '233': { ru: 'слишком много сообщений с кодами на номер', en: 'too many code messages to this number' },
    '300': { ru: 'неверный токен', en: 'bad token' },
    '301': { ru: 'неверный пароль или api_id', en: 'wrong password or api_id' },
    '302': { ru: 'аккаунт не подтверждён', en: 'account not confirmed' },
    '500': { ru: 'ошибка на сервере sms.ru', en: 'sms.ru server error' },
  },
  kazinfoteh: {
    '1163': { ru: 'на счёте нет денег', en: 'no money on the account' },
  },
};

/** Providers as people call them, and the currency of their prices. */
export const PROVIDERS: Record<string, { name: Text; currency: string }> = {
  console: { name: { ru: 'консоль (без отправки)', en: 'console (nothing sent)' }, currency: '₽' },
  smsc: { name: { ru: 'smsc.ru', en: 'smsc.ru' }, currency: '₽' },
  smsru: { name: { ru: 'sms.ru', en: 'sms.ru' }, currency: '₽' },
  kazinfoteh: { name: { ru: 'Kazinfoteh', en: 'Kazinfoteh' }, currency: '₸' },
};

/** Words of the page itself that a catalog lookup needs. */
export const WORDS: Record<string, Text> = {
  auth: { ru: 'Авторизация', en: 'Authorization' },
  activation: { ru: 'Выдача карты', en: 'Card issue' },
  attempt: { ru: 'Отказ до начала', en: 'Refused start' },
  system: { ru: 'сервис', en: 'the service' },
};

const pick = (text: Text | undefined, lang: Lang): string | undefined => text?.[lang];

export function stateText(kind: string, state: string, lang: Lang): string {
  return pick(STATES[kind]?.[state], lang) ?? state;
}

/** A timeline step: `VERIFY`, `start`, or an effect's `sendPin.error`. */
export function eventText(event: string, lang: Lang): string {
  const known = pick(EVENTS[event], lang);
  if (known) return known;
  const [effect, end] = event.split('.') as [string, string | undefined];
  const entry = EFFECTS[effect];
  return (entry && (end === 'done' || end === 'error') ? entry[end][lang] : undefined) ?? event;
}

export function limitText(name: string, n: number | string | undefined, lang: Lang): string {
  const template = pick(LIMITS[name], lang);
  if (!template) return name;
  const count = Number(n ?? 0);
  return template.replace('{n}', String(n ?? '')).replace(/\{([^}]+)\}/g, (_, forms: string) => {
    const [one, few, many] = forms.split('|') as [string, string, string | undefined];
    if (many === undefined) return count === 1 ? one : few;
    const tens = count % 100;
    const units = count % 10;
    if (units === 1 && tens !== 11) return one;
    return units >= 2 && units <= 4 && (tens < 12 || tens > 14) ? few : many;
  });
}

/** A reason as written in records: `superseded`, `noConsent: 9700`, free text from support. */
export function reasonText(reason: string, lang: Lang): string {
  const [key, rest] = reason.split(/:\s*/, 2) as [string, string | undefined];
  const known = pick(REASONS[key], lang);
  if (!known) return reason;
  return rest !== undefined ? `${known}: ${rest}` : known;
}

export function errorText(code: string, lang: Lang, extra: Record<string, unknown> = {}): string {
  return isErrorCode(code) ? messageFor(code, lang, plainExtra(extra)).replace(/:\s*$/, '') : code;
}

/** The fields of an error's `extra` a message may name: plain values only. */
function plainExtra(extra: Record<string, unknown>): Record<string, string | number | boolean | null> {
  const out: Record<string, string | number | boolean | null> = {};
  for (const [key, value] of Object.entries(extra))
    if (
      value === null ||
      typeof value === 'string' ||
      typeof value === 'number' ||
      typeof value === 'boolean'
    )
      out[key] = value;
  return out;
}

/**
 * A provider failure in words: the network error when there is one, the provider's own code
 * from its table, else what the kind of failure means.
 */
export function failureText(
  error: { code: string; text: string; kind?: string },
  lang: Lang,
  provider = '',
): string {
  const own = pick(PROVIDER_CODES[provider]?.[error.code], lang);
  if (own) return `${pick(FAILURES[error.kind ?? 'transient'], lang)}: ${own}`;
  const http = /^HTTP_(\d)/.exec(error.code)?.[1];
  const network = pick(NETWORK[http ? (http === '5' ? 'HTTP_5XX' : 'HTTP_4XX') : error.code], lang);
  if (network) return network;
  const kind = pick(FAILURES[error.kind ?? 'transient'], lang) ?? error.kind ?? '';
  // A provider's own code comes with its documented text (in Russian): said as the provider said it.
  return /^\d+$/.test(error.code) && error.text ? `${kind} (${error.text.replace(/^\w+:\s*/, '')})` : kind;
}

export function providerName(id: string, lang: Lang): string {
  return PROVIDERS[id]?.name[lang] ?? id;
}

/** Money with its currency: `1.94 ₽`. */
export function money(amount: string | number | null | undefined, provider: string): string {
  if (amount === null || amount === undefined || amount === '') return '';
  return `${amount} ${PROVIDERS[provider]?.currency ?? ''}`.trim();
}

/** `HH:MM` of an ISO time on the venue's clock; '' for no time. */
export function clock(iso: string | null | undefined, timeZone: string): string {
  return iso ? zoneFormat(timeZone, 'clock').format(new Date(iso)) : '';
}

/** The whole catalog in one language, for the support page. */
export function catalogFor(lang: Lang) {
  const flat = (table: Record<string, Text>) =>
    Object.fromEntries(Object.entries(table).map(([k, v]) => [k, v[lang]]));
  return {
    lang,
    states: Object.fromEntries(Object.entries(STATES).map(([kind, states]) => [kind, flat(states)])),
    events: {
      ...flat(EVENTS),
      ...Object.fromEntries(
        Object.entries(EFFECTS).flatMap(([id, e]) => [
          [`${id}.done`, e.done[lang]],
          [`${id}.error`, e.error[lang]],
        ]),
      ),
    },
    limits: flat(LIMITS),
    reasons: flat(REASONS),
    sms: flat(SMS),
    recipients: flat(RECIPIENTS),
    failures: flat(FAILURES),
    network: flat(NETWORK),
    providerCodes: Object.fromEntries(Object.entries(PROVIDER_CODES).map(([id, codes]) => [id, flat(codes)])),
    providers: Object.fromEntries(
      Object.entries(PROVIDERS).map(([id, p]) => [id, { name: p.name[lang], currency: p.currency }]),
    ),
    words: flat(WORDS),
    /** Error sentences as templates: `{attemptsLeft}` and the like are filled from the details. */
    errors: Object.fromEntries(
      Object.entries(errorCatalog).map(([code, texts]) => [code, (texts as Text)[lang]]),
    ),
  };
}
