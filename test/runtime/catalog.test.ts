/**
 * The catalog has a Russian and an English text for every state and step of every machine, every
 * error code, limit, reason, SMS outcome, failure kind and provider; the diagnosis says what
 * happened and what to do for every outcome of a session, table-driven.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { authMachine } from '../../machines/auth.ts';
import { activationMachine } from '../../machines/activation.ts';
import { campaignRunMachine } from '../../machines/campaign.ts';
import { catalog as errorCatalog } from '../../machines/errors.ts';
import {
  catalogFor,
  EFFECTS,
  errorText,
  eventText,
  EVENTS,
  FAILURES,
  failureText,
  PROVIDER_CODES,
  LIMITS,
  limitText,
  NETWORK,
  PROVIDERS,
  REASONS,
  RECIPIENTS,
  SMS,
  STATES,
  stateText,
  WORDS,
} from '../../runtime/support/catalog.ts';
import { diagnose } from '../../runtime/support/diagnosis.ts';
import { parseConfig, providerNames } from '../../runtime/config.ts';
import type { WorkflowRecord } from '../../runtime/workflows/host.ts';
import type { SmsAttempt } from '../../machines/otp.ts';

const LANGS = ['ru', 'en'] as const;
const Catalog = suite('catalog of words');

Catalog('every state and step of every machine has both languages', () => {
  const machines = { auth: authMachine, activation: activationMachine, campaign: campaignRunMachine };
  for (const [kind, machine] of Object.entries(machines)) {
    for (const state of Object.keys(machine.states)) {
      assert.ok(STATES[kind]?.[state]?.ru && STATES[kind]?.[state]?.en, `${kind}.${state}`);
      assert.is.not(stateText(kind, state, 'ru'), state, `${kind}.${state} in Russian`);
    }
    for (const type of [...(machine as unknown as { events: string[] }).events, 'start']) {
      // Effects end as `<invoke id>.done` / `.error` in timelines.
      const m = /^xstate\.(done|error)\.actor\.(\w+)$/.exec(type);
      const event = m ? `${m[2]}.${m[1]}` : type;
      assert.is.not(eventText(event, 'ru'), event, `${kind}: ${event} in Russian`);
      assert.ok(catalogFor('en').events[event], `${kind}: ${event} in English`);
    }
  }
  assert.is(stateText('attempt', 'refused', 'ru'), 'отказ до начала');
});

Catalog('every table has every key in both languages; codes, limits, providers all covered', () => {
  const tables = {
    STATES: Object.assign({}, ...Object.values(STATES)),
    EVENTS,
    LIMITS,
    REASONS,
    SMS,
    RECIPIENTS,
    FAILURES,
    NETWORK,
    WORDS,
  };
  for (const [name, table] of Object.entries(tables)) {
    for (const [key, text] of Object.entries(table as Record<string, { ru: string; en: string }>)) {
      assert.ok(text.ru && text.en, `${name}.${key}`);
      assert.ok(/[а-яё]/i.test(text.ru) || /^[A-Z]/.test(text.ru), `${name}.${key}: Russian text`);
    }
  }
  for (const [id, ends] of Object.entries(EFFECTS))
    for (const lang of LANGS) assert.ok(ends.done[lang] && ends.error[lang], id);
  for (const code of Object.keys(errorCatalog))
    for (const lang of LANGS) assert.is.not(errorText(code, lang), code, `error ${code} (${lang})`);
  for (const limit of Object.keys(parseConfig({}).limits)) assert.ok(LIMITS[limit], `limit ${limit}`);
  for (const provider of providerNames) assert.ok(PROVIDERS[provider], `provider ${provider}`);
  for (const kind of ['permanent', 'account', 'transient']) assert.ok(FAILURES[kind], `failure ${kind}`);
  for (const status of [
    'queued',
    'sent',
    'delivered',
    'undelivered',
    'expired',
    'unknown',
    'accepted',
    'failed',
  ])
    assert.ok(SMS[status], `sms ${status}`);
  // Nothing the page shows from the catalog is an identifier: no camelCase word, no JSON.
  for (const lang of LANGS) {
    const { states, events } = catalogFor(lang);
    const text = [...Object.values(states).flatMap((s) => Object.values(s)), ...Object.values(events)].join(
      ' ',
    );
    assert.not.match(text, /\b[a-z]+[A-Z]\w*\b/, `no camelCase in ${lang}`);
  }
});

Catalog('the providers’ own error codes of PROVIDERS.md, in both languages', () => {
  const listed: Record<string, string[]> = {
    smsc: ['1', '2', '3', '4', '5', '6', '7', '8', '9'],
    smsru: [
      ...['200', '201', '202', '203', '204', '205', '206', '207', '208', '209', '210'],
      ...['211', '212', '213', '214', '215', '216', '220', '230', '231', '232', '233'],
      ...['300', '301', '302', '500'],
    ],
    kazinfoteh: ['1163'],
  };
  for (const [provider, codes] of Object.entries(listed))
    for (const code of codes) {
      const text = PROVIDER_CODES[provider]?.[code];
      assert.ok(text?.ru && text.en, `${provider} ${code}`);
    }
  assert.is(
    failureText({ code: '3', text: 'account: недостаточно средств', kind: 'account' }, 'ru', 'smsc'),
    'проблема с нашим аккаунтом у провайдера (деньги, ключ, имя отправителя): на счёте не хватает денег',
  );
});

Catalog('limits read as Russian numbers', () => {
  assert.is(limitText('perPhonePerHour', 1, 'ru'), '1 код в час на этот номер');
  assert.is(limitText('perPhonePerHour', 3, 'ru'), '3 кода в час на этот номер');
  assert.is(limitText('perPhonePerHour', 5, 'ru'), '5 кодов в час на этот номер');
  assert.is(limitText('perPhonePerHour', 12, 'ru'), '12 кодов в час на этот номер');
  assert.is(limitText('guessesPerPhonePerHour', 21, 'ru'), '21 попытка ввода кода в час на этот номер');
  assert.is(limitText('perPhonePerHour', 1, 'en'), '1 code an hour to this phone');
});

Catalog.run();

const T0 = '2026-12-02T09:01:00.000Z'; // 12:01 in Moscow
const at = (minutes: number) => new Date(Date.parse(T0) + minutes * 60_000).toISOString();
const attempt = (over: Partial<SmsAttempt>): SmsAttempt => ({
  sendNo: 1,
  at: T0,
  provider: 'smsc',
  outcome: 'accepted',
  messageId: 'm1',
  segments: 1,
  cost: '1.94',
  status: 'sent',
  ...over,
});
const record = (over: Partial<WorkflowRecord> & { sms?: SmsAttempt[]; channel?: string }): WorkflowRecord => {
  const { sms = [], channel = 'sms', ...rest } = over;
  return {
    id: 'ses_x',
    kind: 'auth',
    state: 'awaitingPin',
    live: true,
    createdAt: T0,
    updatedAt: T0,
    closedAt: null,
    terminal: 'T1',
    phone: '+79161234567',
    card: '100',
    deadline: at(5),
    error: null,
    timeline: [],
    view: { sms, channel, cardInfo: { number: '100' } },
    ...rest,
  };
};
const sent = (status: string, over: Partial<SmsAttempt> = {}) => [attempt({ status, ...over })];
const OPTIONS = { timeZone: 'Europe/Moscow', limits: parseConfig({}).limits };

/** [what, record, Russian sentence must match, English must match] */
const CASES: Array<[string, WorkflowRecord, RegExp, RegExp]> = [
  [
    'delivered',
    record({ sms: sent('delivered') }),
    /через smsc\.ru в 12:01 и доставлен — гость его получил\. Код действует до 12:06/,
    /via smsc\.ru at 12:01 and was delivered/,
  ],
  [
    'not confirmed yet',
    record({ sms: sent('sent') }),
    /ещё не подтвердил доставку\. Если кода нет через минуту, отправьте его ещё раз/,
    /has not confirmed delivery/,
  ],
  [
    'undelivered',
    record({ sms: sent('undelivered') }),
    /оператор не доставил СМС: номер недоступен\. Попросите гостя проверить телефон или выберите авторизацию по звонку/,
    /did not deliver it/,
  ],
  [
    'failover',
    record({
      sms: [
        attempt({
          provider: 'smsru',
          outcome: 'failed',
          messageId: null,
          status: 'failed',
          error: { code: 'ENOTFOUND', text: 'transient: getaddrinfo ENOTFOUND sms.ru', kind: 'transient' },
        }),
        attempt({ status: 'delivered' }),
      ],
    }),
    /^sms\.ru: нет связи: адрес провайдера не найден; Код отправлен через smsc\.ru в 12:01/,
    /^sms\.ru: no connection/,
  ],
  [
    'resent',
    record({
      sms: [attempt({ status: 'undelivered' }), attempt({ sendNo: 2, at: at(2), status: 'delivered' })],
    }),
    /в 12:03 \(повторная СМС №2\) и доставлен/,
    /\(SMS sent again, #2\)/,
  ],
  [
    'verified',
    record({ state: 'verified', live: false, closedAt: at(1), sms: sent('delivered') }),
    /Гость назвал верный код в 12:02: карта 100 применена к заказу/,
    /right code at 12:02/,
  ],
  [
    'phone only',
    record({ state: 'verified', closedAt: T0, channel: 'none' }),
    /найдена по телефону без СМС и применена в 12:01/,
    /without an SMS/,
  ],
  [
    'activated',
    record({ kind: 'activation', state: 'activated', closedAt: at(1), sms: sent('delivered') }),
    /Карта 100 выдана в 12:02/,
    /Card 100 issued at 12:02/,
  ],
  [
    'expired',
    record({ state: 'expired', closedAt: at(5), sms: sent('delivered') }),
    /время вышло в 12:06\. Начните заново/,
    /ran out at 12:06/,
  ],
  [
    'locked',
    record({ state: 'locked', closedAt: at(2) }),
    /слишком много неверных кодов: закрыто в 12:03/,
    /Too many wrong codes/,
  ],
  [
    'superseded',
    record({
      state: 'cancelled',
      closedAt: at(1),
      timeline: [
        {
          at: at(1),
          event: 'CANCEL',
          from: 'awaitingPin',
          to: 'cancelled',
          by: 'system',
          detail: { reason: 'superseded' },
        },
      ],
    }),
    /Отменено в 12:02: на этот номер запрошен новый код/,
    /a new code was asked/,
  ],
  [
    'by support',
    record({
      state: 'cancelled',
      closedAt: at(1),
      timeline: [
        {
          at: at(1),
          event: 'CANCEL',
          from: 'awaitingPin',
          to: 'cancelled',
          by: 'support',
          detail: { reason: 'cancelled by support' },
        },
      ],
    }),
    /Отменено в 12:02: отменено поддержкой/,
    /cancelled by support/,
  ],
  [
    'card not found',
    record({ state: 'rejected', closedAt: T0, card: null, view: {}, error: { code: 'CARD_NOT_FOUND' } }),
    /Проверьте номер телефона или выдайте гостю карту/,
    /issue the guest a card/,
  ],
  [
    'card blocked',
    record({ state: 'rejected', closedAt: T0, error: { code: 'CARD_BLOCKED' } }),
    /разблокировать/,
    /unblocked/,
  ],
  [
    'failed, permanent',
    record({
      state: 'failed',
      closedAt: T0,
      sms: [
        attempt({
          outcome: 'failed',
          status: 'failed',
          error: { code: '7', text: 'permanent: невозможно доставить', kind: 'permanent' },
        }),
      ],
    }),
    /СМС не отправлено — smsc\.ru: оператор не доставит СМС на этот номер: неверный формат номера\. Попросите гостя проверить номер/,
    /will not deliver/,
  ],
  [
    'failed, account',
    record({
      state: 'failed',
      closedAt: T0,
      sms: [
        attempt({
          outcome: 'failed',
          status: 'failed',
          error: { code: '3', text: 'account: недостаточно средств', kind: 'account' },
        }),
      ],
    }),
    /Проверьте баланс и ключ/,
    /Check the balance/,
  ],
  [
    'failed, network',
    record({
      state: 'failed',
      closedAt: T0,
      sms: [
        attempt({
          outcome: 'failed',
          status: 'failed',
          error: { code: 'TIMEOUT', text: 'transient: no answer', kind: 'transient' },
        }),
      ],
    }),
    /провайдер не ответил вовремя\. Провайдеры недоступны/,
    /did not answer in time/,
  ],
  ['service fault', record({ state: 'error', closedAt: T0 }), /Сбой сервиса в 12:01/, /service fault/],
  [
    'in progress',
    record({ state: 'sendingSms' }),
    /Идёт обработка: отправка СМС/,
    /In progress: sending the SMS/,
  ],
  [
    'refused: limit',
    record({
      kind: 'attempt',
      state: 'refused',
      closedAt: T0,
      view: {},
      error: { code: 'RATE_LIMITED', extra: { limit: 'perPhonePerHour', retryAfter: 3840 } },
    }),
    /^Лимит: 5 кодов в час на этот номер, следующий после 13:05\.$/,
    /^Limit: 5 codes an hour to this phone; the next one after 13:05\.$/,
  ],
  [
    'refused: landline',
    record({
      kind: 'attempt',
      state: 'refused',
      closedAt: T0,
      view: {},
      error: { code: 'PHONE_NOT_MOBILE', extra: { phoneType: 'fixed_line' } },
    }),
    /спросите у гостя мобильный/,
    /ask the guest for a mobile/,
  ],
  [
    'refused: the till’s day',
    record({
      kind: 'attempt',
      state: 'refused',
      closedAt: T0,
      view: {},
      error: { code: 'RATE_LIMITED', extra: { limit: 'perTerminalPerDay', retryAfter: 600 } },
    }),
    /^Лимит: 500 кодов в день с этой кассы, следующий после 12:11\.$/,
    /^Limit: 500 codes a day from this till/,
  ],
];

const Diagnosis = suite('diagnosis of a session');
for (const [what, rec, ru, en] of CASES) {
  Diagnosis(what, () => {
    assert.match(diagnose(rec, { ...OPTIONS, lang: 'ru' }), ru);
    assert.match(diagnose(rec, { ...OPTIONS, lang: 'en' }), en);
    assert.not.match(
      diagnose(rec, { ...OPTIONS, lang: 'ru' }),
      /\b[a-z]+[A-Z]\w*\b|[{}]/,
      'no identifiers, no JSON',
    );
  });
}
Diagnosis('every terminal state of both PIN workflows has a case', () => {
  const covered = new Set(CASES.map(([, r]) => `${r.kind}:${r.state}`));
  for (const [kind, machine] of [
    ['auth', authMachine],
    ['activation', activationMachine],
  ] as const) {
    for (const [state, node] of Object.entries(machine.states)) {
      if ((node as { type?: string }).type !== 'final') continue;
      const done =
        covered.has(`${kind}:${state}`) ||
        (state !== 'activated' && state !== 'verified' && covered.has(`auth:${state}`));
      assert.ok(done, `${kind}:${state}`);
    }
  }
});
Diagnosis.run();
