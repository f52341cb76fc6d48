/**
 * Card data on its way in and out: one name rule at every entrance (till, PATCH, import), a
 * rejected import that names every bad line, and a CardImp export that never loses a letter
 * silently — and reads back.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import iconv from 'iconv-lite';
import { startService, TOKENS, type TestService } from '../helpers.ts';
import { forCardImp } from '../../runtime/cards/export.ts';
import { decodeCsv, detectEncoding } from '../../runtime/cards/import.ts';

const Data = suite<{ svc: TestService }>('card data');
Data.before.each(async (ctx) => {
  ctx.svc = await startService({ config: { cards: { confirmPhone: 'optional' } } });
  await ctx.svc.call('POST', '/api/v1/cards/ranges', { json: { from: '100', to: '119' } });
});
Data.after.each(async (ctx) => ctx.svc.stop());

const csv = (svc: TestService, body: string | Buffer, query = '') =>
  svc.call('POST', `/api/v1/cards/import${query}`, { body, headers: { 'Content-Type': 'text/csv' } });

/** Names every entrance refuses, each for its own reason. */
const REFUSED = [
  '=HYPERLINK("http://evil","Иван")',
  '+7 916 123-45-67',
  '-2+3',
  '@SUM(A1:A9)',
  'Иван\u0000Петров',
  'Анна\u202eЛи',
  '1234',
  'И',
  'Я'.repeat(101),
];

Data(
  'one name rule for the till, PATCH and the import: the same refusals, the field named',
  async ({ svc }) => {
    for (const [i, name] of REFUSED.entries()) {
      const till = await svc.call('POST', '/api/v1/cards/activate', {
        as: 'terminal',
        json: {
          cardNumber: '100',
          fullName: name,
          birthday: '1990-01-02',
          phone: '+79161234567',
          pdConsent: true,
        },
      });
      assert.equal([till.status, till.json.error.field], [400, 'fullName'], `till: ${name}`);
      const patch = await svc.call('PATCH', '/api/v1/cards/101', { json: { fullName: name } });
      assert.equal([patch.status, patch.json.error.field], [400, 'fullName'], `PATCH: ${name}`);
      const quoted = `"${name.replace(/"/g, '""')}"`;
      const imported = await csv(svc, `number,name,phone\n${110 + (i % 5)},${quoted},+7916000000${i}\n`);
      assert.is(imported.status, 422, `import: ${name}`);
      assert.equal(
        imported.json.error.lines.map((l: { line: number; field: string }) => [l.line, l.field]),
        [[2, 'fullName']],
        `import: ${name}`,
      );
    }
    // The same normalisation everywhere: NFC, trimmed, inner spaces collapsed.
    const decomposed = '  Zoe\u0308   Mu\u0308ller ';
    const till = await svc.call('POST', '/api/v1/cards/activate', {
      as: 'terminal',
      json: {
        cardNumber: '100',
        fullName: decomposed,
        birthday: '1990-01-02',
        phone: '+79161234567',
        pdConsent: true,
      },
    });
    assert.is(till.json.activation.holder.fullName, 'Zoë Müller');
    await svc.call('PATCH', '/api/v1/cards/100', { json: { fullName: '  Әлия \t Нұрғалиқызы ' } });
    assert.is((await svc.call('GET', '/api/v1/cards/100')).json.card.holder.fullName, 'Әлия Нұрғалиқызы');
    await csv(svc, `number,name\n102,"${decomposed}"\n`);
    assert.is((await svc.call('GET', '/api/v1/cards/102')).json.card.holder.fullName, 'Zoë Müller');
  },
);

Data(
  'a rejected import writes nothing and lists every bad line: the first 1,000, the rest counted',
  async ({ svc }) => {
    const lines = ['number,name,phone,birthday'];
    lines.push('5000,Хорошая Строка,+79160000001,01.02.1990');
    for (let i = 0; i < 1500; i++) {
      const n = 6000 + i;
      if (i % 3 === 0) lines.push(`${n},=cmd|' /C calc'!A0,,`);
      else if (i % 3 === 1) lines.push(`${n},Анна,12,`);
      else lines.push(`${n},Анна,,31.02.1990`);
    }
    const res = await csv(svc, lines.join('\n'));
    assert.is(res.status, 422);
    const err = res.json.error;
    assert.equal([err.code, err.rejected, err.imported], ['IMPORT_REJECTED', 1500, 0]);
    assert.is(err.lines.length, 1000);
    assert.is(err.notListed, 500);
    assert.equal(err.lines[0], {
      line: 3,
      field: 'fullName',
      code: 'VALIDATION_FAILED',
      reason: err.lines[0].reason,
    });
    assert.match(err.lines[0].reason, /= \+ - @/);
    assert.equal(
      err.lines.slice(0, 3).map((l: { line: number; field: string }) => [l.line, l.field]),
      [
        [3, 'fullName'],
        [4, 'phone'],
        [5, 'birthday'],
      ],
    );
    const good = await svc.call('GET', '/api/v1/cards/5000');
    assert.is(good.status, 404, 'the good line was not written either');
  },
);

Data(
  'CardImp export: one table for what Windows-1251 lacks, reported; the stored name intact',
  async ({ svc }) => {
    const names: Array<[string, string, string]> = [
      ['103', 'Әлия Нұрғалиқызы', 'Алия Нургаликызы'],
      ['104', 'Zoë Müller', 'Zoe Muller'],
      ['105', 'Анна 🌸 Ли', 'Анна Ли'],
      ['106', 'Łukasz Żółć', 'Lukasz Zolc'],
      ['107', 'Ерқанат Үсенов', 'Ерканат Усенов'],
      ['108', 'Пётр Иванов', 'Пётр Иванов'],
    ];
    const body = ['number,name,phone', ...names.map(([n, name], i) => `${n},${name},+7916000010${i}`)];
    assert.is((await csv(svc, body.join('\n'))).status, 200);
    const raw = await fetch(svc.url + '/api/v1/cards/export?format=cardimp', {
      headers: { Authorization: `Bearer ${TOKENS.admin}` },
    });
    assert.is(raw.headers.get('x-export-transliterated'), '5');
    const bytes = Buffer.from(await raw.arrayBuffer());
    assert.not.ok(bytes.includes(0x3f), 'no "?" anywhere in the file');
    const text = iconv.decode(bytes, 'win1251');
    assert.equal(
      text.trimEnd().split('\r\n'),
      names.map(([n, , exported]) => `${n},,0,0,,${exported},0,`),
    );
    const report = await svc.call('GET', '/api/v1/cards/export?format=cardimp&report=true');
    assert.equal(
      report.json.transliterated,
      names.filter(([, a, b]) => a !== b).map(([number, name, exported]) => ({ number, name, exported })),
    );
    assert.is((await svc.call('GET', '/api/v1/cards/103')).json.card.holder.fullName, 'Әлия Нұрғалиқызы');

    // The file reads back: every card kept, phones too (CardImp has no phone column).
    const back = await csv(svc, bytes);
    assert.equal([back.status, back.json.updated, back.json.rejected], [200, names.length, []]);
    for (const [i, [n, , exported]] of names.entries()) {
      const card = (await svc.call('GET', `/api/v1/cards/${n}`)).json.card;
      assert.equal([card.holder.fullName, card.holder.phone], [exported, `+7916000010${i}`]);
    }
  },
);

Data('the transliteration table, letter by letter', () => {
  assert.is(forCardImp('ӘәҒғҚқҢңӨөҰұҮүҺһІі'), 'АаГгКкНнОоУуУуХхИи');
  assert.is(forCardImp('Ñuñez Çelik Ørsted Straße'), 'Nunez Celik Orsted Strasse');
  assert.is(forCardImp('Иван "Ваня" Петров'), 'Иван Ваня Петров');
  assert.is(forCardImp('👍 Ли ✓'), 'Ли');
  assert.is(forCardImp('Ёлкин №1'), 'Ёлкин №1', 'what Windows-1251 has stays');
});

Data('encoding: decided on the whole file; Windows-1251 bytes that happen to be UTF-8 read as 1251', () => {
  const corpus: Array<[string, 'utf8' | 'win1251', Buffer]> = [];
  const texts = [
    'номер;фио\n1;Иванов Иван\n2;Пётр Сёмин\n',
    'number,name\n1,Әлия Нұрғалиқызы\n2,Zoë Müller\n3,Анна 🌸\n',
    'number,name\n1,Anna Lee\n',
  ];
  for (const t of texts) {
    corpus.push([t, 'utf8', Buffer.from(t, 'utf8')]);
    if (!/[🌸әңғқұӨ]/u.test(t) && !/[ëü]/.test(t)) corpus.push([t, 'win1251', iconv.encode(t, 'win1251')]);
  }
  corpus.push([
    'number,name\n1,Иван\n',
    'utf8',
    Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from('number,name\n1,Иван\n')]),
  ]);
  // Windows-1251 text whose bytes are all valid UTF-8: its UTF-8 reading is Greek and Armenian.
  const tricky = 'number,name\n1,Рё Сё Тё Уё Фё\n';
  const bytes = iconv.encode(tricky, 'win1251');
  assert.not.throws(() => new TextDecoder('utf-8', { fatal: true }).decode(bytes), 'valid UTF-8 bytes');
  corpus.push([tricky, 'win1251', bytes]);
  for (const [text, encoding, buf] of corpus) {
    if (/[^\x00-\x7f]/.test(text)) assert.is(detectEncoding(buf), encoding, text);
    assert.is(decodeCsv(buf), text.replace(/^\uFEFF/, ''), text);
  }
  // A sample cut inside a UTF-8 sequence is still UTF-8.
  const utf = Buffer.from('number,name\n1,Иван Петров\n');
  assert.is(detectEncoding(utf.subarray(0, 18), false), 'utf8');
});

Data.run();
