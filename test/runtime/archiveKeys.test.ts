/** Day summaries of the archive: never a missed record, kept beside the files, rebuilt when a day grows. */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { rmSync } from 'node:fs';
import { JournaledStore } from '../../adapters/store/journaled.ts';
import { ArchiveKeys } from '../../runtime/workflows/archiveKeys.ts';
import type { RecordStore } from '../../runtime/ports.ts';
import { tempDir } from '../helpers.ts';

const Keys = suite<{ dir: string }>('archive day summaries');
Keys.before.each((ctx) => {
  ctx.dir = tempDir();
});
Keys.after.each((ctx) => rmSync(ctx.dir, { recursive: true, force: true }));

const phone = (i: number) => `+7916${String(i).padStart(7, '0')}`;
const record = (i: number) => ({
  id: `ses_${i}`,
  phone: phone(i),
  card: String(1000 + i),
  terminal: `T${i % 5}`,
});

/** A store with `count` records archived on `day`, all in the day file. */
async function archived(dir: string, day: string, count: number) {
  const store = await JournaledStore.open(dir, []);
  for (let i = 0; i < count; i++) store.archive('auth', day, record(i));
  await store.settled();
  return store;
}

/** The store, counting the day files it reads. */
function counting(store: JournaledStore) {
  const reads: string[] = [];
  const proxy = new Proxy(store, {
    get(target, prop, receiver) {
      if (prop === 'scanArchive')
        return (kind: string, day: string, ...rest: unknown[]) => {
          reads.push(`${kind}/${day}`);
          return (target.scanArchive as (...a: unknown[]) => Promise<void>)(kind, day, ...rest);
        };
      const value = Reflect.get(target, prop, receiver);
      return typeof value === 'function' ? value.bind(target) : value;
    },
  }) as unknown as RecordStore;
  return { proxy, reads };
}

Keys(
  'every archived key is found; most absent ones are ruled out; the summary is kept beside the day',
  async ({ dir }) => {
    const store = await archived(dir, '2026-11-28', 3000);
    const { proxy, reads } = counting(store);
    const keys = new ArchiveKeys(proxy);
    for (let i = 0; i < 3000; i++) {
      assert.ok(await keys.mayHold('auth', '2026-11-28', 'phone', phone(i)), `phone ${i}`);
      assert.ok(await keys.mayHold('auth', '2026-11-28', 'card', String(1000 + i)));
    }
    assert.ok(await keys.mayHold('auth', '2026-11-28', 'terminal', 'T3'));
    let ruledOut = 0;
    for (let i = 5000; i < 6000; i++)
      if (!(await keys.mayHold('auth', '2026-11-28', 'phone', phone(i)))) ruledOut += 1;
    assert.ok(ruledOut > 950, `absent phones ruled out: ${ruledOut} of 1000`);
    assert.is(
      await keys.mayHold('auth', '2026-11-27', 'phone', phone(1)),
      true,
      'a day with no file is not summarised',
    );
    assert.equal(reads, ['auth/2026-11-28'], 'the day was read once');
    // Another process: the summary is taken from its file, the day is not read again.
    const again = counting(store);
    const next = new ArchiveKeys(again.proxy);
    assert.ok(await next.mayHold('auth', '2026-11-28', 'phone', phone(2999)));
    assert.is(await next.mayHold('auth', '2026-11-28', 'phone', phone(999_999)), false);
    assert.equal(again.reads, []);
  },
);

Keys(
  'records archived later are found: at once while loaded, by a rebuild after the day grew',
  async ({ dir }) => {
    const store = await archived(dir, '2026-11-29', 10);
    const keys = new ArchiveKeys(store);
    assert.is(await keys.mayHold('auth', '2026-11-29', 'phone', phone(50)), false);
    // The host archives a record and tells the summary; a search right after finds the day.
    store.archive('auth', '2026-11-29', record(50));
    keys.added('auth', '2026-11-29', record(50));
    assert.ok(await keys.mayHold('auth', '2026-11-29', 'phone', phone(50)));
    await store.settled();
    // A new process: the day grew since its summary was written, so it is read again.
    const { proxy, reads } = counting(store);
    const fresh = new ArchiveKeys(proxy);
    assert.ok(await fresh.mayHold('auth', '2026-11-29', 'phone', phone(50)));
    assert.equal(reads, ['auth/2026-11-29']);
    // A summary grows by layers as records come: nothing missed, and the day is not read again.
    for (let i = 100; i < 8000; i++) {
      store.archive('auth', '2026-11-29', record(i));
      fresh.added('auth', '2026-11-29', record(i));
    }
    await store.settled();
    for (let i = 100; i < 8000; i += 7) {
      assert.ok(await fresh.mayHold('auth', '2026-11-29', 'phone', phone(i)), `phone ${i}`);
    }
    assert.equal(reads, ['auth/2026-11-29']);
  },
);

Keys(
  'a new day is summarised from its first record, never read; saved at shutdown, taken at the next start',
  async ({ dir }) => {
    const store = await JournaledStore.open(dir, []);
    const { proxy, reads } = counting(store);
    const keys = new ArchiveKeys(proxy);
    for (let i = 0; i < 500; i++) {
      store.archive('auth', '2026-11-30', record(i));
      keys.added('auth', '2026-11-30', record(i));
    }
    await store.settled();
    assert.ok(await keys.mayHold('auth', '2026-11-30', 'card', '1499'));
    assert.is(await keys.mayHold('auth', '2026-11-30', 'card', '999999'), false);
    await keys.save();
    const next = new ArchiveKeys(proxy);
    assert.ok(await next.mayHold('auth', '2026-11-30', 'phone', phone(499)));
    assert.equal(reads, [], 'the day file was never read');
  },
);

Keys('records archived while a summary loads, or while none is loaded, are never missed', async ({ dir }) => {
  const store = await archived(dir, '2026-11-27', 100);
  const first = new ArchiveKeys(store);
  assert.ok(await first.mayHold('auth', '2026-11-27', 'phone', phone(1))); // read once, kept beside the day
  // A new process: a record comes while no summary is loaded, then a search loads one, and
  // another record comes while it loads.
  const keys = new ArchiveKeys(store);
  store.archive('auth', '2026-11-27', record(200));
  keys.added('auth', '2026-11-27', record(200));
  const loading = keys.mayHold('auth', '2026-11-27', 'phone', phone(201));
  store.archive('auth', '2026-11-27', record(201));
  keys.added('auth', '2026-11-27', record(201));
  assert.ok(await loading, 'archived during the load');
  assert.ok(await keys.mayHold('auth', '2026-11-27', 'phone', phone(200)), 'archived before the load');
  await keys.save();
  const later = new ArchiveKeys(store);
  for (const i of [1, 200, 201])
    assert.ok(await later.mayHold('auth', '2026-11-27', 'phone', phone(i)), `phone ${i}`);
});

Keys.run();
