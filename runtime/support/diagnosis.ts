/**
 * One or two sentences at the top of a session for support: what happened and what to do,
 * derived from the record alone (state, error, SMS attempts with their delivery statuses, the
 * timeline), in the venue's time. «Код отправлен через smsc.ru в 12:01 и доставлен — гость его
 * получил», «sms.ru: нет связи; код ушёл через smsc.ru в 12:01», «Лимит: 5 кодов в час на этот
 * номер, следующий после 13:05».
 */
import type { SmsAttempt } from '../../machines/otp.ts';
import {
  clock,
  errorText,
  failureText,
  limitText,
  providerName,
  reasonText,
  stateText,
  type Lang,
} from './catalog.ts';
import type { WorkflowRecord } from '../workflows/host.ts';

export interface DiagnoseOptions {
  lang: Lang;
  /** The venue's time zone: times are said as the venue's clock shows them. */
  timeZone: string;
  /** The configured limits by name (`perPhonePerHour`…), to say the number. */
  limits: Record<string, number>;
}

/** What to do after a refusal, by error code; codes without advice say only what happened. */
const ADVICE: Record<string, [string, string]> = {
  CARD_NOT_FOUND: [
    'Проверьте номер телефона или выдайте гостю карту.',
    'Check the phone number or issue the guest a card.',
  ],
  CARD_BLOCKED: [
    'Карту можно разблокировать в разделе карт.',
    'The card can be unblocked in the cards section.',
  ],
  CARD_EXPIRED: ['Продлите срок карты или выдайте новую.', 'Extend the card or issue a new one.'],
  PHONE_INVALID: [
    'Кассир ввёл номер с ошибкой: нужно 11 цифр, например 79161234567.',
    'The cashier mistyped the number: 11 digits, e.g. 79161234567.',
  ],
  PHONE_NOT_MOBILE: [
    'Похоже на городской или служебный номер: спросите у гостя мобильный.',
    'It looks like a landline or service number: ask the guest for a mobile.',
  ],
  PHONE_COUNTRY_NOT_ALLOWED: [
    'Номера этой страны не обслуживаются (настройка phones.allowedCountries).',
    'Numbers of this country are not served (phones.allowedCountries).',
  ],
  CHANNEL_DISABLED: [
    'Этот способ авторизации выключен в настройках заведения.',
    'This way of authorizing is turned off in the venue’s settings.',
  ],
  BUDGET_EXCEEDED: [
    'Дневной бюджет СМС исчерпан: новые коды завтра, или поднимите лимит.',
    'The day’s SMS budget is spent: new codes tomorrow, or raise the limit.',
  ],
  PHONE_BUSY: [
    'Код на этот номер как раз отправляет другая касса: подождите несколько секунд.',
    'Another till is sending a code to this phone: wait a few seconds.',
  ],
  PHONE_ALREADY_REGISTERED: [
    'На этот телефон уже выдана карта: найдите её по номеру телефона.',
    'This phone already has a card: find it by the phone number.',
  ],
  CARD_ALREADY_ACTIVE: [
    'Эта карта уже выдана: возьмите другую.',
    'This card is already issued: take another.',
  ],
  POOL_EMPTY: [
    'Свободные виртуальные карты кончились: добавьте диапазон.',
    'No free virtual cards are left: add a range.',
  ],
  VALIDATION_FAILED: ['Кассир ввёл данные с ошибкой.', 'The cashier entered something wrong.'],
};

/** The sentences for a record. */
export function diagnose(record: WorkflowRecord, o: DiagnoseOptions): string {
  const t = (ru: string, en: string) => (o.lang === 'ru' ? ru : en);
  const at = (iso: string | null | undefined) => clock(iso, o.timeZone);
  const ended = at(record.closedAt ?? record.updatedAt);
  const code = record.error?.code;
  const extra = (record.error?.extra ?? {}) as Record<string, unknown>;
  const advise = (c: string) => ADVICE[c]?.[o.lang === 'ru' ? 0 : 1] ?? '';
  const refusal = (c: string) => `${sentence(errorText(c, o.lang, extra))} ${advise(c)}`.trim();

  if (record.kind === 'attempt') {
    if (code === 'RATE_LIMITED') {
      const name = String(extra.limit ?? '');
      const next = Date.parse(record.createdAt) + Number(extra.retryAfter ?? 0) * 1000;
      return t(
        `Лимит: ${limitText(name, o.limits[name], 'ru')}, следующий после ${at(new Date(next).toISOString())}.`,
        `Limit: ${limitText(name, o.limits[name], 'en')}; the next one after ${at(new Date(next).toISOString())}.`,
      );
    }
    return code ? refusal(code) : t('Запрос отклонён.', 'The request was refused.');
  }

  const sms = ((record.view.sms as SmsAttempt[] | undefined) ?? []).slice();
  const channel = record.view.channel as string | undefined;
  const card = (record.view.cardInfo as { number?: string } | null | undefined)?.number ?? record.card ?? '';
  const smsStory = story(sms, o, t, at);

  switch (record.state) {
    case 'verified':
      return channel === 'none'
        ? t(
            `Карта ${card} найдена по телефону без СМС и применена в ${ended}.`,
            `Card ${card} was found by phone without an SMS and applied at ${ended}.`,
          )
        : `${smsStory} ${t(`Гость назвал верный код в ${ended}: карта ${card} применена к заказу.`, `The guest gave the right code at ${ended}: card ${card} applied to the order.`)}`.trim();
    case 'activated':
      return `${smsStory} ${t(`Карта ${card} выдана в ${ended}.`, `Card ${card} issued at ${ended}.`)}`.trim();
    case 'awaitingPin':
      return `${smsStory} ${t(`Код действует до ${at(record.deadline)}.`, `The code works until ${at(record.deadline)}.`)}`.trim();
    case 'expired':
      return `${smsStory} ${t(
        `Гость не назвал код вовремя: время вышло в ${ended}. Начните заново — придёт новый код.`,
        `The guest did not give the code in time: it ran out at ${ended}. Start again for a new code.`,
      )}`.trim();
    case 'locked':
      return t(
        `Введено слишком много неверных кодов: закрыто в ${ended}. Начните заново — гостю придёт новый код.`,
        `Too many wrong codes: closed at ${ended}. Start again and the guest gets a new code.`,
      );
    case 'cancelled': {
      const last = record.timeline.at(-1);
      const reason = typeof last?.detail?.reason === 'string' ? reasonText(last.detail.reason, o.lang) : '';
      return t(
        `Отменено в ${ended}${reason ? `: ${reason}` : ''}.`,
        `Cancelled at ${ended}${reason ? `: ${reason}` : ''}.`,
      );
    }
    case 'rejected':
      return code ? refusal(code) : t('Отказ.', 'Refused.');
    case 'failed':
      return `${smsStory || t('СМС не отправлено.', 'The SMS was not sent.')} ${failedAdvice(sms, t)}`.trim();
    case 'error':
      return t(
        `Сбой сервиса в ${ended}: сообщите администратору (журнал сервиса).`,
        `A service fault at ${ended}: tell the administrator (the service log).`,
      );
    default:
      return t(
        `Идёт обработка: ${stateText(record.kind, record.state, 'ru')}.`,
        `In progress: ${stateText(record.kind, record.state, 'en')}.`,
      );
  }
}

/** What became of the PIN SMS: failed providers first, then the one that took it, and delivery. */
function story(
  sms: SmsAttempt[],
  o: DiagnoseOptions,
  t: (ru: string, en: string) => string,
  at: (iso: string) => string,
): string {
  if (!sms.length) return '';
  const lastSend = Math.max(...sms.map((a) => a.sendNo));
  const current = sms.filter((a) => a.sendNo === lastSend);
  const taken = current.find((a) => a.outcome === 'accepted');
  const failed = current.filter((a) => a.outcome === 'failed' && a.error);
  const failures = failed
    .map((a) => `${providerName(a.provider, o.lang)}: ${failureText(a.error!, o.lang, a.provider)}`)
    .join('; ');
  const again = lastSend > 1 ? t(` (повторная СМС №${lastSend})`, ` (SMS sent again, #${lastSend})`) : '';
  if (!taken)
    return failures ? t(`СМС не отправлено — ${failures}.`, `The SMS was not sent — ${failures}.`) : '';
  const via = providerName(taken.provider, o.lang);
  const before = failures ? `${failures}; ` : '';
  switch (taken.status) {
    case 'delivered':
      return t(
        `${before}Код отправлен через ${via} в ${at(taken.at)}${again} и доставлен — гость его получил.`,
        `${before}The code went via ${via} at ${at(taken.at)}${again} and was delivered — the guest has it.`,
      );
    case 'undelivered':
    case 'expired':
      return t(
        `${before}Код отправлен через ${via} в ${at(taken.at)}${again}, но оператор не доставил СМС: номер недоступен. Попросите гостя проверить телефон или выберите авторизацию по звонку.`,
        `${before}The code went via ${via} at ${at(taken.at)}${again}, but the operator did not deliver it: the phone is unreachable. Ask the guest to check the phone, or authorize by call.`,
      );
    default:
      return t(
        `${before}Код отправлен через ${via} в ${at(taken.at)}${again}; оператор ещё не подтвердил доставку. Если кода нет через минуту, отправьте его ещё раз.`,
        `${before}The code went via ${via} at ${at(taken.at)}${again}; the operator has not confirmed delivery yet. If it has not come in a minute, send it again.`,
      );
  }
}

function failedAdvice(sms: SmsAttempt[], t: (ru: string, en: string) => string): string {
  const kinds = new Set(sms.filter((a) => a.outcome === 'failed').map((a) => a.error?.kind ?? 'transient'));
  if (kinds.has('permanent'))
    return t(
      'Попросите гостя проверить номер или выберите авторизацию по звонку.',
      'Ask the guest to check the number, or authorize by call.',
    );
  if (kinds.has('account'))
    return t(
      'Проверьте баланс и ключ у провайдера (npm run cli -- sms balance).',
      'Check the balance and key at the provider (npm run cli -- sms balance).',
    );
  return t(
    'Провайдеры недоступны: повторите через минуту, проверьте интернет на сервере.',
    'The providers are unreachable: try again in a minute, check the server’s internet.',
  );
}

const sentence = (text: string) => (/[.!?]$/.test(text) ? text : `${text}.`);
