/** Small units with sharp edges: configuration, phones, segments, ids, CardImp lines. */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { parseConfig, loadConfig, ConfigError } from '../../runtime/config.ts';
import { normalizePhone, maskPhone } from '../../runtime/phone.ts';
import { countSegments } from '../../runtime/sms/segments.ts';
import { newId, dayOfId } from '../../runtime/ids.ts';
import { cardImpLine } from '../../runtime/cards/export.ts';
import { parseDate } from '../../runtime/validate.ts';
import { form } from '../../adapters/sms/http.ts';
import { BoundedMap } from '../../runtime/boundedMap.ts';
import { tempDir } from '../helpers.ts';
import { readFileSync, writeFileSync } from 'node:fs';
import { checkTemplates } from '../../runtime/sms/templates.ts';
import { join } from 'node:path';

const Config = suite('configuration');
Config('defaults match API.md', () => {
  const c = parseConfig({});
  assert.is(c.server.port, 8080);
  assert.is(c.dataDir, './data');
  assert.equal(c.sms.providers, ['console']);
  assert.is(c.otp.ttlSeconds, 300);
  assert.is(c.otp.maxAttempts, 3);
  assert.is(c.cards.onePerPhone, true);
  assert.equal(c.phones.allowedCountries, ['RU', 'KZ']);
  assert.ok(Object.isFrozen(c.otp), 'frozen');
});
Config('a bad value names its key', () => {
  const bad: Array<[unknown, string]> = [
    [{ otp: { ttlSeconds: 601 } }, 'otp.ttlSeconds'],
    [{ otp: { ttlSeconds: 0 } }, 'otp.ttlSeconds'],
    [{ sms: { providers: ['console', 'nope'] } }, 'sms.providers[1]'],
    [{ limits: { smsPerDay: -1 } }, 'limits.smsPerDay'],
    [{ campaigns: { quietHours: { from: '25:00', to: '09:00' } } }, 'campaigns.quietHours'],
    [{ auth: { adminTokens: ['short'] } }, 'auth.adminTokens[0]'],
    [{ extra: 1 }, 'extra'],
  ];
  for (const [raw, key] of bad) {
    try {
      parseConfig(raw);
      assert.unreachable(key);
    } catch (err) {
      assert.instance(err, ConfigError);
      assert.match((err as Error).message, key);
    }
  }
  assert.is(
    parseConfig({ otp: { resendCooldownSeconds: 0 } }).otp.resendCooldownSeconds,
    0,
    'zero is kept, not defaulted',
  );
  assert.is(parseConfig({ campaigns: { quietHours: false } }).campaigns.quietHours, false);
  // The venue's zone: its own key, or the older campaigns.timezone; campaigns follow it.
  assert.equal(
    [parseConfig({}).timezone, parseConfig({}).campaigns.timezone],
    ['Europe/Moscow', 'Europe/Moscow'],
  );
  const venue = parseConfig({ timezone: 'Asia/Almaty' });
  assert.equal([venue.timezone, venue.campaigns.timezone], ['Asia/Almaty', 'Asia/Almaty']);
  const older = parseConfig({ campaigns: { timezone: 'Asia/Almaty' } });
  assert.equal([older.timezone, older.campaigns.timezone], ['Asia/Almaty', 'Asia/Almaty']);
  const both = parseConfig({ timezone: 'Asia/Almaty', campaigns: { timezone: 'Europe/Moscow' } });
  assert.equal([both.timezone, both.campaigns.timezone], ['Asia/Almaty', 'Europe/Moscow']);
  assert.throws(() => parseConfig({ timezone: 'Mars/Olympus' }), /timezone: unknown IANA time zone/);
});
Config('the README example config parses and sends each PIN in one SMS', () => {
  const readme = readFileSync(join(import.meta.dirname, '..', '..', 'README.md'), 'utf8');
  const section = readme.slice(readme.indexOf('## Configuration'));
  const block = /```json\n([\s\S]*?)\n```/
    .exec(section)![1]!
    .replace(/"…"/g, '"a-token-of-enough-length-0001"');
  const config = parseConfig(JSON.parse(block));
  assert.ok(config.otp.brand, 'the example shows a brand');
  assert.equal(checkTemplates(config), [], 'no PIN message takes two SMS');
});

Config('file, then environment overrides; malformed JSON is named', () => {
  const dir = tempDir();
  const file = join(dir, 'c.json');
  writeFileSync(file, JSON.stringify({ server: { port: 9000 }, otp: { length: 4 } }));
  const { config } = loadConfig({
    env: { SMSPDS_CONFIG: file, SMSPDS_PORT: '9100', SMSPDS_DATA_DIR: '/tmp/x' },
  });
  assert.is(config.server.port, 9100);
  assert.is(config.otp.length, 4);
  assert.is(config.dataDir, '/tmp/x');
  writeFileSync(file, '{ "otp": ');
  assert.throws(() => loadConfig({ env: { SMSPDS_CONFIG: file } }), /malformed JSON/);
  assert.throws(() => loadConfig({ env: { SMSPDS_PORT: 'eighty' }, cwd: dir }), /SMSPDS_PORT/);
});
Config.run();

const Phones = suite('phones');
const policy = { allowedCountries: ['RU', 'KZ'], defaultCountry: 'RU' };
Phones('every common form becomes E.164', () => {
  for (const input of [
    '+7 (916) 123-45-67',
    '8 916 1234567',
    '79161234567',
    '9161234567',
    '+7-916-123-45-67',
  ]) {
    assert.is(normalizePhone(input, policy), '+79161234567', input);
  }
  assert.is(normalizePhone('87012345678', policy), '+77012345678', 'Kazakhstan');
});
Phones('junk and foreign numbers are refused with their codes', () => {
  for (const input of ['', '123', 'abc', '+7 916 123 45 67 89', null, {}, '9161234567; DROP']) {
    assert.throws(
      () => normalizePhone(input, policy),
      (e: { code: string }) => e.code === 'PHONE_INVALID',
      String(input),
    );
  }
  assert.throws(
    () => normalizePhone('+380501234567', policy),
    (e: { code: string }) => e.code === 'PHONE_COUNTRY_NOT_ALLOWED',
  );
});
Phones('masking keeps the operator and the last two digits', () => {
  assert.is(maskPhone('+79161234567'), '+7 916 ***-**-67');
  assert.is(maskPhone('+77012345678'), '+7 701 ***-**-78');
});
Phones.run();

const Segments = suite('SMS segments');
Segments('GSM-7: 160 in one, 153 per part', () => {
  assert.equal(countSegments('a'.repeat(160)), { encoding: 'gsm7', units: 160, segments: 1 });
  assert.is(countSegments('a'.repeat(161)).segments, 2);
  assert.is(countSegments('a'.repeat(306)).segments, 2);
  assert.is(countSegments('a'.repeat(307)).segments, 3);
  assert.is(countSegments('€'.repeat(80)).segments, 1, 'extension characters count twice');
  assert.is(countSegments('€'.repeat(81)).segments, 2);
});
Segments('any Cyrillic: 70 in one, 67 per part', () => {
  assert.equal(countSegments('я'.repeat(70)), { encoding: 'ucs2', units: 70, segments: 1 });
  assert.is(countSegments('я'.repeat(71)).segments, 2);
  assert.is(countSegments('я'.repeat(134)).segments, 2);
  assert.is(countSegments('a'.repeat(100) + 'я').segments, 2);
});
Segments.run();

const Misc = suite('ids, dates, CardImp lines');
Misc('ids carry their day', () => {
  const id = newId('act', Date.parse('2026-11-29T23:59:59Z'));
  assert.match(id, /^act_20261129_[0-9a-z]{12}$/);
  assert.is(dayOfId(id), '2026-11-29');
  assert.is(dayOfId('../../etc'), null);
});
Misc('dates: both forms, real days only', () => {
  assert.is(parseDate('01.02.1990'), '1990-02-01');
  assert.is(parseDate('1990-02-01'), '1990-02-01');
  assert.is(parseDate('29.02.2023'), null);
  assert.is(parseDate('29.02.2024'), '2024-02-29');
  assert.is(parseDate('1990/02/01'), null);
});
Misc('CardImp: quotes dropped from names, commas quoted', () => {
  const card = {
    number: '001',
    state: 'active' as const,
    virtual: false,
    discount: 5,
    bonus: 0,
    expiresAt: '2027-12-31',
    rangeId: null,
    holder: { fullName: 'Ли, "Анна"', birthday: '1990-02-01', phone: '+79160000001' },
    activatedAt: null,
    createdAt: '',
    updatedAt: '',
  };
  assert.is(cardImpLine(card), '001,31.12.2027,5,0,01.02.1990,"Ли, Анна",0,');
});
Misc('a provider form body reads back as sent; empty values are left out', () => {
  const params = {
    api_id: 'A-1',
    json: 1,
    'to[79161234567]': "Анна, у нас +20% & новое меню! 100 % #1 ~*()'",
    'to[77011234567]': 'line\nbreak = ok',
    from: '',
    test: undefined,
  };
  const body = form(params);
  const pairs = body.split('&');
  assert.is(pairs.length, 4, 'values never add a separator');
  for (const pair of pairs) assert.is(pair.split('=').length, 2, pair);
  assert.not.match(body, /[ \n]/);
  assert.equal(Object.fromEntries(new URLSearchParams(body)), {
    api_id: 'A-1',
    json: '1',
    'to[79161234567]': params['to[79161234567]'],
    'to[77011234567]': params['to[77011234567]'],
  });
});
Misc('a bounded map keeps its newest keys, oldest out first', () => {
  const m = new BoundedMap<string, number>(3);
  for (const k of ['a', 'b', 'c']) m.set(k, 1);
  m.set('a', 2); // an update is not an addition: nothing leaves
  assert.equal([...m.keys()], ['a', 'b', 'c']);
  m.set('d', 1);
  assert.equal([...m.keys()], ['b', 'c', 'd'], 'the oldest left');
  m.delete('c');
  m.set('e', 1);
  m.set('f', 1);
  assert.equal([...m.keys()], ['d', 'e', 'f']);
  assert.is(m.get('d'), 1);
  for (let i = 0; i < 50_000; i++) m.set(`k${i}`, i);
  assert.equal(
    [...m.entries()],
    [
      ['k49997', 49997],
      ['k49998', 49998],
      ['k49999', 49999],
    ],
  );
  m.clear();
  m.set('x', 1);
  assert.equal([...m.keys()], ['x']);
});
Misc.run();
