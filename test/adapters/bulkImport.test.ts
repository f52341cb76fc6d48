/**
 * The command line's import into the embedded engine: the card table rewritten on disk a
 * partition at a time. It must give the cards the service's own import gives, keep the
 * journal's unsnapshotted changes, and leave the table untouched when it refuses.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { JournaledStore } from '../../adapters/store/journaled.ts';
import { EmbeddedCardDirectory } from '../../adapters/cards/lowdb.ts';
import { bulkImportCards, type BulkImportOptions } from '../../adapters/cards/bulkImport.ts';
import { textSource } from '../../runtime/cards/import.ts';
import { parseConfig } from '../../runtime/config.ts';
import { tempDir } from '../helpers.ts';

const AT = '2026-12-02T09:00:00.000Z';
const options = (lines: number, extra: Partial<BulkImportOptions> = {}): BulkImportOptions => ({
  phones: parseConfig({}).phones,
  partial: false,
  at: AT,
  lines,
  batchSize: 7,
  ...extra,
});

/** A data folder with cards in its snapshot and more changes only in its journal. */
async function seeded(dir: string) {
  let store = await JournaledStore.open(dir, EmbeddedCardDirectory.tables);
  let cards = new EmbeddedCardDirectory(store);
  await cards.createRange(
    { from: '500', to: '509', discount: 5, bonus: 0, expiresAt: null, virtual: true },
    '2026-01-01T00:00:00.000Z',
  );
  await cards.import(
    [
      {
        line: 2,
        number: '100',
        expiresAt: null,
        discount: 1,
        bonus: 0,
        blocked: false,
        holder: { fullName: 'Анна Ли', birthday: '1990-01-02', phone: '+79160000100', email: null },
      },
    ],
    { partial: false, at: '2026-01-01T00:00:00.000Z' },
  );
  await store.close(); // snapshot: the range and card 100
  store = await JournaledStore.open(dir, EmbeddedCardDirectory.tables);
  cards = new EmbeddedCardDirectory(store);
  // Journal only: a card being issued at a till, and a change of card 100's discount.
  await cards.reserve({
    number: '501',
    activationId: 'act_1',
    phone: '+79160000501',
    onePerPhone: true,
    at: AT,
  });
  await cards.update('100', { discount: 7 }, AT);
  // Dropped without close(), as a stopped service leaves it: the journal holds the changes.
  await store.abandon();
}

async function reopen(dir: string) {
  const store = await JournaledStore.open(dir, EmbeddedCardDirectory.tables);
  return { store, cards: new EmbeddedCardDirectory(store) };
}

const Bulk = suite('command-line import (embedded engine, on disk)');

Bulk('merges into stored cards and journal changes the way the service import does', async () => {
  const dir = tempDir();
  try {
    await seeded(dir);
    const csv = ['number,name,phone,discount', '100,,,3', '200,Борис Ким,+79160000200,2', '502,Вера,,4'];
    const outcome = await bulkImportCards(dir, textSource(csv.join('\n')), options(csv.length));
    assert.equal(outcome, { imported: 1, updated: 2, rejected: [], rejectedCount: 0, written: true });
    assert.not.ok(existsSync(join(dir, 'import.tmp')), 'the partitions are removed');
    const { store, cards } = await reopen(dir);
    const c100 = (await cards.get('100'))!;
    assert.is(c100.discount, 3, 'the file wins over the journal change it follows');
    assert.is(c100.holder?.phone, '+79160000100', 'an empty column keeps the stored phone');
    assert.is(c100.holder?.fullName, 'Анна Ли');
    assert.is((await cards.get('200'))!.state, 'active');
    assert.is((await cards.get('502'))!.holder?.fullName, 'Вера');
    assert.is((await cards.get('502'))!.virtual, true, 'a range card keeps what the file does not say');
    assert.is((await cards.get('501'))!.state, 'reserved', 'a journal-only reservation is kept');
    assert.is(await cards.count(), 12, 'ten range cards (502 among them), 100 and 200');
    await cards.update('100', { discount: 9 }, AT);
    await store.abandon();
    const again = await reopen(dir);
    assert.is((await again.cards.get('100'))!.discount, 9, 'a change after the import replays over it');
    await again.store.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

Bulk(
  'all or nothing: a bad line, a duplicate or a card being issued leaves the table untouched',
  async () => {
    const dir = tempDir();
    try {
      await seeded(dir);
      const before = () => readFileSync(join(dir, 'tables', 'cards.jsonl'), 'utf8');
      const snapshot = before();
      const cases: Array<[string[], { line: number; field: string; code: string }]> = [
        [
          ['number,phone', '300,+79160000300', '301,bad'],
          { line: 3, field: 'phone', code: 'VALIDATION_FAILED' },
        ],
        [['number', '300', '301', '300'], { line: 4, field: 'number', code: 'VALIDATION_FAILED' }],
        [['number,discount', '300,1', '501,2'], { line: 3, field: 'number', code: 'CARD_ALREADY_ACTIVE' }],
      ];
      for (const [csv, expected] of cases) {
        const outcome = await bulkImportCards(dir, textSource(csv.join('\n')), options(csv.length));
        assert.is(outcome.written, false, csv.join('|'));
        assert.is(outcome.imported + outcome.updated, 0);
        assert.is(outcome.rejectedCount, 1);
        const { line, field, code } = outcome.rejected[0]!;
        assert.equal({ line, field, code }, expected);
        assert.is(before(), snapshot, 'the snapshot is the same file');
        assert.equal(
          readdirSync(join(dir, 'tables')).filter((n) => n.endsWith('.tmp')),
          [],
        );
      }
      const { store, cards } = await reopen(dir);
      assert.is(await cards.get('300'), undefined);
      assert.is((await cards.get('100'))!.discount, 7, 'the journal change is still there');
      await store.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  },
);

Bulk('--partial: the good lines go in, every bad one is listed in line order', async () => {
  const dir = tempDir();
  try {
    await seeded(dir);
    const csv = ['number,phone', '300,+79160000300', '501,', '301,bad', '300,+79160000399', '302,'];
    const outcome = await bulkImportCards(
      dir,
      textSource(csv.join('\n')),
      options(csv.length, { partial: true }),
    );
    assert.equal(
      outcome.rejected.map((r) => [r.line, r.code]),
      [
        [3, 'CARD_ALREADY_ACTIVE'],
        [4, 'VALIDATION_FAILED'],
        [5, 'VALIDATION_FAILED'],
      ],
    );
    assert.is(outcome.imported, 2);
    const { store, cards } = await reopen(dir);
    assert.is((await cards.get('300'))!.holder?.phone, '+79160000300', 'the first of a duplicate wins');
    assert.is((await cards.get('302'))!.state, 'inactive', 'a line without holder is a blank card');
    assert.is((await cards.get('501'))!.state, 'reserved');
    await store.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

Bulk('many partitions: 100,000 cards over a stored table, each once', async () => {
  const dir = tempDir();
  try {
    await seeded(dir);
    const lines = ['number,phone'];
    for (let i = 0; i < 100_000; i++) lines.push(`${1_000_000 + i},+7916${String(i).padStart(7, '0')}`);
    lines.push('100,+79160000111');
    const outcome = await bulkImportCards(
      dir,
      textSource(lines.join('\n')),
      options(lines.length, { batchSize: 5000 }),
    );
    assert.equal([outcome.imported, outcome.updated, outcome.rejectedCount], [100_000, 1, 0]);
    const { store, cards } = await reopen(dir);
    assert.is(await cards.count(), 100_011, 'ten range cards, card 100 and the file');
    assert.is((await cards.byPhone('+79160099999'))[0]?.number, '1099999');
    assert.is((await cards.get('100'))!.holder?.phone, '+79160000111');
    await store.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

Bulk('a first import (no card stored) writes the table as it reads; a refusal writes nothing', async () => {
  const dir = tempDir();
  try {
    const strict = ['number,phone', '300,+79160000300', '301,bad', '300,'];
    const refused = await bulkImportCards(dir, textSource(strict.join('\n')), options(strict.length));
    assert.equal(
      refused.rejected.map((r) => [r.line, r.field]),
      [
        [3, 'phone'],
        [4, 'number'],
      ],
    );
    assert.is(refused.written, false);
    assert.not.ok(existsSync(join(dir, 'tables', 'cards.jsonl')), 'no table written');
    const partial = await bulkImportCards(
      dir,
      textSource(strict.join('\n')),
      options(strict.length, { partial: true }),
    );
    assert.equal([partial.imported, partial.rejectedCount, partial.written], [1, 2, true]);
    const { store, cards } = await reopen(dir);
    assert.is((await cards.byPhone('+79160000300'))[0]?.number, '300');
    assert.is(await cards.count(), 1);
    await store.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

Bulk('a crashed import leaves its partitions behind; the next import removes them', async () => {
  const dir = tempDir();
  try {
    await seeded(dir);
    const leftover = join(dir, 'import.tmp');
    await import('node:fs').then((fs) => {
      fs.mkdirSync(leftover);
      fs.writeFileSync(join(leftover, 'in-0.jsonl'), '{"number":"999"}\n');
    });
    const outcome = await bulkImportCards(dir, textSource('number\n400\n'), options(2));
    assert.is(outcome.imported, 1);
    assert.not.ok(existsSync(leftover));
    const { store, cards } = await reopen(dir);
    assert.is(await cards.get('999'), undefined, 'nothing of the crashed import');
    await store.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

Bulk.run();
