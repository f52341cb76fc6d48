/** The journaled store: group commit, replay after a crash, torn tails, compaction, archive. */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import {
  appendFileSync,
  existsSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { JournaledStore } from '../../adapters/store/journaled.ts';
import { lockDataDir, DataDirLockedError } from '../../adapters/store/lock.ts';
import { tempDir } from '../helpers.ts';

const Store = suite<{ dir: string }>('journaled store');
Store.before.each((ctx) => {
  ctx.dir = tempDir();
});
Store.after.each((ctx) => rmSync(ctx.dir, { recursive: true, force: true }));

Store('changes made in one tick share one commit; a reopen replays them', async ({ dir }) => {
  const store = await JournaledStore.open(dir, ['a']);
  const t = store.table<{ n: number }>('a');
  for (let i = 0; i < 100; i++) t.put(`k${i}`, { n: i });
  t.delete('k5');
  await store.flush();
  const commits = readFileSync(join(dir, 'journal.jsonl'), 'utf8')
    .split('\n')
    .filter((l) => l.startsWith('{"c":'));
  assert.is(commits.length, 1, 'one fsync for the whole tick');
  const again = await JournaledStore.open(dir, ['a']);
  assert.is(again.table('a').size, 99);
  assert.equal(again.table<{ n: number }>('a').get('k42'), { n: 42 });
  assert.is(again.table('a').get('k5'), undefined);
});

Store('a torn tail (a crash mid-write) is dropped; what was committed stays', async ({ dir }) => {
  const store = await JournaledStore.open(dir, ['a']);
  store.table('a').put('kept', 1);
  await store.flush();
  appendFileSync(join(dir, 'journal.jsonl'), '{"t":"a","k":"lost","v":2}\n{"t":"a","k":"torn","v":');
  const again = await JournaledStore.open(dir, ['a']);
  assert.is(again.table('a').get('kept'), 1);
  assert.is(again.table('a').get('lost'), undefined, 'an uncommitted batch is not applied');
  assert.is(again.table('a').get('torn'), undefined);
  again.table('a').put('after', 3);
  await again.flush();
  const third = await JournaledStore.open(dir, ['a']);
  assert.is(third.table('a').get('after'), 3, 'the journal is usable after the cut');
});

Store('compaction writes table snapshots and cuts the journal', async ({ dir }) => {
  const store = await JournaledStore.open(dir, ['a', 'b'], { compactBytes: 2_000 });
  for (let i = 0; i < 50; i++) {
    store.table('a').put(`k${i}`, 'x'.repeat(50));
    await store.flush();
  }
  await store.settled(); // snapshots are written behind the commits
  // Commits made while snapshots were being written went to the fresh journal (on a loaded
  // machine, enough to pass the limit again): the first commit after compacts once more.
  store.table('b').put('after', 1);
  await store.flush();
  await store.settled();
  assert.ok(statSync(join(dir, 'journal.jsonl')).size < 2_000, 'the journal was cut');
  assert.ok(statSync(join(dir, 'tables', 'a.jsonl')).size > 2_000, 'table a has a snapshot');
  assert.equal(
    readdirSync(dir).filter((n) => /^journal-/.test(n)),
    [],
    'no sealed journal is left once its snapshots are written',
  );
  const again = await JournaledStore.open(dir, ['a', 'b']);
  assert.is(again.table('a').size, 50);
});

Store('commits go on while a compaction writes; one cut short by a crash is replayed', async ({ dir }) => {
  const store = await JournaledStore.open(dir, ['a'], { compactBytes: 1_000 });
  // Commits made while snapshots are being written all land, in order.
  await Promise.all(
    Array.from({ length: 200 }, async (_, i) => {
      store.table('a').put(`k${i}`, { n: i, pad: 'y'.repeat(40) });
      await store.flush();
    }),
  );
  store.table('a').delete('k7');
  store.table('a').put('k8', { n: 'eight' });
  await store.flush();
  await store.settled();
  const again = await JournaledStore.open(dir, ['a']);
  assert.is(again.table('a').size, 199);
  assert.equal(again.table('a').get('k8'), { n: 'eight' });
  assert.is(again.table('a').get('k7'), undefined);
  // A crash right after the journal was sealed, before any snapshot: what `seal()` leaves.
  again.table('a').put('late', 1);
  await again.flush();
  renameSync(join(dir, 'journal.jsonl'), join(dir, 'journal-1.jsonl'));
  writeFileSync(join(dir, 'journal.jsonl'), '');
  const third = await JournaledStore.open(dir, ['a'], { compactBytes: 1_000 });
  assert.is(third.table('a').get('late'), 1, 'the sealed journal was replayed');
  for (let i = 0; i < 30; i++) {
    third.table('a').put(`m${i}`, 'z'.repeat(60));
    await third.flush();
  }
  await third.settled();
  assert.not.ok(existsSync(join(dir, 'journal-1.jsonl')), 'and removed by the next compaction');
  const fourth = await JournaledStore.open(dir, ['a']);
  assert.equal([fourth.table('a').get('late'), fourth.table('a').size], [1, 230]);
});

Store('an empty snapshot file does not break start-up', async ({ dir }) => {
  const store = await JournaledStore.open(dir, ['a']);
  await store.close();
  writeFileSync(join(dir, 'tables', 'a.jsonl'), '');
  const again = await JournaledStore.open(dir, ['a']);
  assert.is(again.table('a').size, 0);
});

Store('a snapshot in the earlier whole-JSON form is read, then replaced by lines', async ({ dir }) => {
  const first = await JournaledStore.open(dir, ['a']);
  await first.close();
  rmSync(join(dir, 'tables', 'a.jsonl'), { force: true });
  writeFileSync(
    join(dir, 'tables', 'a.json'),
    JSON.stringify({ seq: 1, rows: [['k1', { name: 'Гость', at: '2026-11-29T10:00:00.000Z' }]] }),
  );
  const store = await JournaledStore.open(dir, ['a']);
  assert.equal(store.table('a').get('k1'), { name: 'Гость', at: '2026-11-29T10:00:00.000Z' });
  store.table('a').put('k2', 2);
  await store.close();
  assert.not.ok(existsSync(join(dir, 'tables', 'a.json')), 'the old snapshot is gone');
  const lines = readFileSync(join(dir, 'tables', 'a.jsonl'), 'utf8')
    .trim()
    .split('\n');
  assert.is(lines.length, 3, 'a header and a line per row');
  const again = await JournaledStore.open(dir, ['a']);
  assert.is(again.table('a').size, 2);
});

Store('a scan made right after a flush sees every line the flush acknowledged', async ({ dir }) => {
  const store = await JournaledStore.open(dir, ['a']);
  for (let round = 1; round <= 10; round++) {
    for (let i = 0; i < 1000; i++)
      store.archive('auth', '2026-11-29', { id: `r${round}-${i}`, note: 'ж'.repeat(200) });
    await store.flush(); // the journal holds them; the day file gets its copy after the answer
    let lines = 0;
    await store.scanArchive('auth', '2026-11-29', () => (lines += 1));
    assert.is(lines, round * 1000, `round ${round}`);
  }
});

Store('closed records go to the day archive, found again after a reopen', async ({ dir }) => {
  const store = await JournaledStore.open(dir, ['a']);
  store.archive('activation', '2026-11-29', { id: 'x1', state: 'activated' });
  store.archive('activation', '2026-11-29', { id: 'x2', state: 'expired' });
  await store.flush();
  const again = await JournaledStore.open(dir, ['a']);
  const found = await again.findArchived<{ id: string; state: string }>(
    'activation',
    '2026-11-29',
    (r) => r.id === 'x2',
  );
  assert.is(found?.state, 'expired');
  assert.equal(again.archiveDays('activation'), ['2026-11-29']);
});

Store(
  'an archive scan with a needle parses only the lines holding it, across read chunks',
  async ({ dir }) => {
    const store = await JournaledStore.open(dir, ['a']);
    // Three megabytes of records with Cyrillic text, so lines straddle the 1 MB reads.
    for (let i = 0; i < 6000; i++) {
      store.archive('auth', '2026-11-29', {
        id: `r${i}`,
        phone: `+7916${String(i % 50).padStart(7, '0')}`,
        note: 'ж'.repeat(250),
      });
    }
    await store.settled(); // the lines are in the day file, not only in the journal
    appendFileSync(join(dir, 'archive', 'auth', '2026-11-29.jsonl'), '{"id":"torn","phone":"+79160000007"'); // a crash mid-line
    const needle = `"phone":${JSON.stringify('+79160000007')}`;
    const seen: string[] = [];
    await store.scanArchive<{ id: string; phone: string; note: string }>(
      'auth',
      '2026-11-29',
      (r) => {
        assert.is(r.phone, '+79160000007');
        assert.is(r.note.length, 250);
        seen.push(r.id);
      },
      needle,
    );
    assert.is(seen.length, 120);
    assert.equal(seen.slice(0, 3), ['r7', 'r57', 'r107'], 'in file order');
    let all = 0;
    await store.scanArchive('auth', '2026-11-29', () => (all += 1));
    assert.is(all, 6000, 'without a needle every whole line is read; the torn one is skipped');
    const found = await store.findArchived<{ id: string }>(
      'auth',
      '2026-11-29',
      (r) => r.id === 'r5999',
      '"id":"r5999"',
    );
    assert.is(found?.id, 'r5999');
  },
);

Store("one process owns a data folder; a dead owner's lock is taken over", ({ dir }) => {
  const unlock = lockDataDir(dir);
  writeFileSync(join(dir, 'smspds.pid'), String(process.ppid)); // a live process that is not us
  try {
    lockDataDir(dir);
    assert.unreachable('a second owner must be refused');
  } catch (err) {
    assert.instance(err, DataDirLockedError);
    assert.match((err as Error).message, String(process.ppid));
  }
  writeFileSync(join(dir, 'smspds.pid'), '999999999');
  const again = lockDataDir(dir);
  again();
  unlock();
});

Store.run();
