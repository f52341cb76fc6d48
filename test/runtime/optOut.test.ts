/** Opt-out codes: short, fixed length, naming one phone without showing it, made only with the secret. */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { randomBytes } from 'node:crypto';
import { OPT_OUT_CODE_LENGTH, OptOutLinks } from '../../runtime/campaigns/optOut.ts';
import { compileText } from '../../runtime/campaigns/audience.ts';
import { countSegments } from '../../runtime/sms/segments.ts';

const secret = randomBytes(32);
const links = new OptOutLinks(secret, 'https://club.example.ru/');
const PHONES = ['+79161234567', '+77012345678', '+4915123456789', '+999999999999999', '+1'];

test('a code is 16 characters of the URL alphabet and names its phone', () => {
  assert.is(OPT_OUT_CODE_LENGTH, 16);
  for (const phone of PHONES) {
    const code = links.code(phone);
    assert.match(code, /^[A-Za-z0-9_-]{16}$/);
    assert.is(links.phoneOf(code), phone);
    assert.is(links.code(phone), code, 'the same link in every campaign');
  }
  assert.is.not(links.code('+79161234567'), links.code('+79161234568'));
});

test('the code shows nothing of the phone', () => {
  const codes = PHONES.map((p) => links.code(p));
  for (const [i, code] of codes.entries()) {
    const raw = Buffer.from(code, 'base64url').toString('hex');
    const digits = PHONES[i]!.slice(1);
    if (digits.length < 10) continue;
    assert.not.ok(code.includes(digits.slice(-4)), code);
    assert.not.ok(raw.includes(BigInt(digits).toString(16).slice(-6)), raw);
  }
  // Neighbouring numbers share no visible structure: their codes differ in most places.
  const a = links.code('+79161234567');
  const b = links.code('+79161234568');
  const same = [...a].filter((ch, i) => ch === b[i]).length;
  assert.ok(same < 6, `${a} vs ${b}`);
});

test('a changed, guessed or foreign code names no one', () => {
  const code = links.code('+79161234567');
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
  let accepted = 0;
  for (let i = 0; i < code.length; i++) {
    for (const ch of alphabet) {
      if (ch === code[i]) continue;
      const changed = code.slice(0, i) + ch + code.slice(i + 1);
      // The last character's two low bits are padding in base64url: a few spellings decode the same.
      if (Buffer.from(changed, 'base64url').equals(Buffer.from(code, 'base64url'))) continue;
      if (links.phoneOf(changed) !== null) accepted += 1;
    }
  }
  assert.is(accepted, 0);
  for (let i = 0; i < 20_000; i++) {
    assert.is(links.phoneOf(randomBytes(12).toString('base64url')), null);
  }
  assert.is(new OptOutLinks(randomBytes(32), 'https://x.example').phoneOf(code), null, 'another server');
  for (const bad of ['', 'short', code + 'x', code.slice(1), '../../etc/passwd', 'AAAAAAAAAAAAAAA*'])
    assert.is(links.phoneOf(bad), null, bad);
});

test('{optOut} renders the link; without a phone, one of the same length', () => {
  const render = compileText('Новости: {optOut}', links);
  const card = { number: '100', holder: { fullName: 'Анна Ли', phone: '+79161234567' } };
  const text = render(card);
  assert.is(text, `Новости: https://club.example.ru/u/${links.code('+79161234567')}`);
  assert.is(render(card, '+77012345678'), `Новости: https://club.example.ru/u/${links.code('+77012345678')}`);
  assert.is(render({ number: '', holder: null }).length, text.length);
  assert.is(countSegments(text).units, 9 + 'https://club.example.ru/u/'.length + 16);
  // With no public address the placeholder is not one: it stays as written.
  assert.is(compileText('{optOut}', new OptOutLinks(secret, null))(card), '{optOut}');
});

test.run();
