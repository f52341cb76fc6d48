/**
 * The contract every WorkflowStore engine passes: compare-and-set writes, closing into the
 * archive, the due index, the phone index, and serialization by key. An engine that several
 * processes share also passes it between two stores on the same data (`second`).
 */
import { contractSuite } from './contract.ts';
import * as assert from 'uvu/assert';
import type { WorkflowStore } from '../../runtime/workflows/store.ts';
import type { StoredWorkflow, WorkflowRecord } from '../../runtime/workflows/types.ts';

export interface WorkflowStoreEnv {
  store: WorkflowStore;
  /** A closed record as the archive holds it. */
  archived(kind: string, id: string): Promise<WorkflowRecord | undefined>;
  /** Another store on the same data, as another process has it (engines shared by processes). */
  second?(): Promise<WorkflowStore>;
  close(): Promise<void>;
}

export interface WorkflowStoreFactory {
  name: string;
  /** Why the suite cannot run here (it is counted as skipped), or null. */
  missing?: string | null;
  make(): Promise<WorkflowStoreEnv>;
}

const AT = '2026-11-29T10:00:00.000Z';
let serial = 0;

export function workflow(over: Partial<StoredWorkflow> = {}): StoredWorkflow {
  serial += 1;
  return {
    id: `ses_20261129_${String(serial).padStart(12, '0')}`,
    kind: 'auth',
    state: 'awaitingPin',
    live: true,
    createdAt: AT,
    updatedAt: AT,
    closedAt: null,
    terminal: 'CASH1',
    phone: '+79160000001',
    card: '100',
    deadline: null,
    error: null,
    timeline: [{ at: AT, state: 'awaitingPin', event: 'START', by: 'terminal' }],
    view: { sends: 1 },
    version: 1,
    snapshot: { value: 'awaitingPin', context: { attempts: 0 } },
    effects: [],
    effectSeq: 0,
    busy: false,
    due: null,
    ...over,
  } as StoredWorkflow;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export function workflowStoreContract(factory: WorkflowStoreFactory) {
  const { s, it } = contractSuite('WorkflowStore contract', factory);

  it('a workflow starts once; writes are compare-and-set on its version', async ({ env: { store } }) => {
    const w = workflow();
    assert.ok(await store.put(w, null));
    assert.not.ok(await store.put({ ...w, state: 'other' }, null), 'an id starts once');
    const read = await store.get(w.id);
    assert.equal(read, w);
    assert.ok(await store.put({ ...w, version: 2, state: 'verifying' }, 1));
    assert.not.ok(await store.put({ ...w, version: 2, state: 'lost' }, 1), 'a stale version loses');
    assert.is((await store.get(w.id))?.state, 'verifying');
    assert.is((await store.get(w.id))?.version, 2);
    assert.is(await store.get('ses_20261129_nothing'), undefined);
  });

  it('closing removes the live row (at the version read) and keeps the record in the archive', async ({
    env: { store, archived },
  }) => {
    const w = workflow();
    await store.put(w, null);
    const closed: WorkflowRecord = { ...w, live: false, state: 'verified', closedAt: AT };
    delete (closed as Partial<StoredWorkflow>).snapshot;
    assert.not.ok(await store.close(closed, 7), 'a stale version does not close');
    assert.ok(await store.get(w.id));
    assert.ok(await store.close(closed, 1));
    assert.is(await store.get(w.id), undefined);
    assert.is(await store.count(), 0);
    const kept = await archived(w.kind, w.id);
    assert.is(kept?.state, 'verified');
    assert.is(kept?.phone, w.phone);
  });

  it('the archive: appended copies, found by id (the latest), listed by day, searched and rewritten by key', async ({
    env: { store },
  }) => {
    const closed = (over: Partial<WorkflowRecord>) =>
      ({ ...workflow(over), live: false, closedAt: AT, state: 'verified' }) as WorkflowRecord;
    const a = closed({ phone: '+79160000031', card: '31' });
    const b = closed({ phone: '+79160000032', card: '32', id: 'ses_20261130_000000000b32' });
    const c = closed({
      phone: '+79160000031',
      card: '33',
      kind: 'activation',
      id: 'act_20261129_000000000c33',
    });
    for (const r of [a, b, c]) await store.archive(r);
    await store.archive({ ...a, state: 'expired' }); // a later copy supersedes
    assert.is((await store.findArchived('auth', '2026-11-29', a.id))?.state, 'expired');
    assert.is(await store.findArchived('auth', '2026-11-29', 'ses_20261129_nothing'), undefined);
    assert.equal((await store.archiveDays('auth')).sort(), ['2026-11-29', '2026-11-30']);
    assert.equal(await store.archiveDays('activation'), ['2026-11-29']);
    const seen: string[] = [];
    await store.scanArchive('auth', '2026-11-29', (r) => seen.push(`${r.id}:${r.state}`));
    assert.equal(seen, [`${a.id}:verified`, `${a.id}:expired`], 'in the order written');
    const byPhone: string[] = [];
    await store.scanArchive('auth', '2026-11-30', (r) => byPhone.push(r.id), {
      field: 'phone',
      value: '+79160000031',
    });
    assert.ok(!byPhone.includes(b.id) || byPhone.length <= 1, 'only the records that may match');
    const anonymise = (r: WorkflowRecord) => (r.phone === '+79160000031' ? { ...r, phone: 'anon:1' } : r);
    const only = { field: 'phone', value: '+79160000031' } as const;
    assert.is(await store.rewriteArchive('auth', '2026-11-29', anonymise, { only, dryRun: true }), 2);
    assert.is(
      (await store.findArchived('auth', '2026-11-29', a.id))?.phone,
      '+79160000031',
      'a dry run writes nothing',
    );
    const changed = await store.rewriteArchive('auth', '2026-11-29', anonymise, { only });
    assert.is(changed, 2);
    assert.is((await store.findArchived('auth', '2026-11-29', a.id))?.phone, 'anon:1');
    assert.is(
      (await store.findArchived('activation', '2026-11-29', c.id))?.phone,
      '+79160000031',
      'another kind',
    );
  });

  it("a workflow's effects are run by one process at a time; a stopped runner's lease runs out", async ({
    env,
  }) => {
    const a = env.store;
    const b = env.second ? await env.second() : undefined;
    const now = Date.parse(AT);
    const effects = [{ seq: 1, id: 'sendPin', src: 'sendPin', input: {}, node: 'auth.sendingSms' }];
    // The write that starts an effect names its runner: A, for a minute.
    const w = workflow({ effects, effectSeq: 1 });
    assert.ok(await a.put(w, null, { owner: 'A', until: now + 60_000 }));
    assert.ok(await a.claimEffects(w.id, 'A', now + 20_000, now + 80_000), 'renewed by its holder');
    if (!b) return; // one process runs every effect of an embedded store
    // An effect written without a runner (moved in from a data folder) is left to its writer a
    // moment, then offered to others.
    const fresh = workflow({ effects, effectSeq: 1 });
    await a.put(fresh, null);
    assert.not.ok(
      (await b.orphanedEffects!(now + 1_000)).some((o) => o.id === fresh.id),
      'not offered a second after it was written',
    );
    assert.ok(
      (await b.orphanedEffects!(now + 6_000)).some((o) => o.id === fresh.id),
      'offered once left',
    );
    assert.ok(await b.claimEffects(fresh.id, 'B', now + 6_000, now + 500_000)); // out of the way below
    assert.not.ok(await b.claimEffects(w.id, 'B', now + 30_000, now + 90_000), 'held');
    assert.equal(await b.orphanedEffects!(now + 30_000), [], 'not orphaned while held');
    // A write without a lease keeps the runner; A stops: its lease runs out, B takes it up.
    assert.ok(await a.put({ ...w, version: 2 }, 1));
    const orphans = await b.orphanedEffects!(now + 80_001);
    assert.equal(
      orphans.map((o) => o.id),
      [w.id],
    );
    assert.ok(await b.claimEffects(w.id, 'B', now + 80_001, now + 140_000));
    assert.not.ok(await a.claimEffects(w.id, 'A', now + 90_000, now + 150_000), "A's late renewal fails");
    // A write that starts another effect names its writer.
    assert.ok(await a.put({ ...w, version: 3 }, 2, { owner: 'A', until: now + 150_000 }));
    assert.not.ok(await b.claimEffects(w.id, 'B', now + 100_000, now + 160_000));
    // A workflow that closes takes its lease with it; its effects can no longer be claimed.
    const closed = { ...w, live: false, state: 'verified', closedAt: AT } as WorkflowRecord;
    assert.ok(await a.close(closed, 3));
    assert.not.ok(await b.claimEffects(w.id, 'B', now + 200_000, now + 260_000));
  });

  it('writes, starts, reads and closes made at once each land as if made one by one', async ({ env }) => {
    const { store } = env;
    const other = env.second ? await env.second() : store;
    const rows = Array.from({ length: 40 }, () => workflow());
    // Forty starts at once, one of them made twice: the second is refused.
    const started = await Promise.all([...rows.map((w) => store.put(w, null)), store.put(rows[0]!, null)]);
    assert.equal(started, [...rows.map(() => true), false]);
    // Writes at once from two stores (as from two processes), each at the version it read: of
    // two writers of one row, one wins; rows written once all land.
    const racing = rows.slice(0, 10);
    const outcomes = await Promise.all([
      ...racing.map((w) => store.put({ ...w, version: 2, state: 'a' }, 1)),
      ...racing.map((w) => other.put({ ...w, version: 2, state: 'b' }, 1)),
      ...rows.slice(10).map((w) => store.put({ ...w, version: 2, state: 'c' }, 1)),
      store.put({ ...rows[39]!, version: 3 }, 7), // a stale version: refused
    ]);
    for (let i = 0; i < 10; i++) assert.is(Number(outcomes[i]) + Number(outcomes[10 + i]), 1, 'one of two');
    assert.ok(outcomes.slice(20, 50).every(Boolean));
    assert.is(outcomes[50], false);
    const read = await Promise.all(rows.map((w) => store.get(w.id)));
    assert.ok(read.every((w) => w?.version === 2));
    assert.equal(
      read.slice(10).map((w) => w!.state),
      rows.slice(10).map(() => 'c'),
    );
    // Closes at once, one of them at a stale version: that one stays live.
    const closed = (w: StoredWorkflow) =>
      ({ ...w, live: false, state: 'verified', closedAt: AT }) as WorkflowRecord;
    const closes = await Promise.all([
      ...rows.slice(0, 20).map((w) => store.close(closed(w), 2)),
      store.close(closed(rows[20]!), 1),
    ]);
    assert.equal(closes, [...rows.slice(0, 20).map(() => true), false]);
    assert.is(await store.get(rows[0]!.id), undefined);
    assert.is((await env.archived('auth', rows[19]!.id))?.state, 'verified');
    assert.ok(await store.get(rows[20]!.id), 'still live');
  });

  it('due deadlines: the earliest, the ones due, an index that follows a moved deadline', async ({
    env: { store },
  }) => {
    const now = Date.parse(AT);
    const soon = workflow({ due: now - 10 });
    const later = workflow({ due: now + 60_000 });
    const none = workflow();
    for (const w of [soon, later, none]) await store.put(w, null);
    assert.is(await store.nextDue(), now - 10);
    const due = await store.due(now);
    assert.equal(
      due.map((w) => w.id),
      [soon.id],
    );
    // Its deadline moved: the earlier one is gone from the index.
    assert.ok(await store.put({ ...soon, version: 2, due: now + 30_000 }, 1));
    assert.equal(await store.due(now + 1), []);
    assert.is(await store.nextDue(), now + 30_000);
    const both = await store.due(now + 60_000);
    assert.equal(both.map((w) => w.id).sort(), [soon.id, later.id].sort());
    assert.is((await store.due(now + 120_000)).length <= 2, true);
  });

  it('live workflows of a phone, following a changed phone', async ({ env: { store } }) => {
    const a = workflow({ phone: '+79160000011' });
    const b = workflow({ phone: '+79160000011', kind: 'activation' });
    const c = workflow({ phone: '+79160000012' });
    for (const w of [a, b, c]) await store.put(w, null);
    assert.equal((await store.liveOfPhone('+79160000011')).map((w) => w.id).sort(), [a.id, b.id].sort());
    assert.equal(await store.liveOfPhone('+79160000099'), []);
    await store.put({ ...a, version: 2, phone: '+79160000012' }, 1);
    assert.equal(
      (await store.liveOfPhone('+79160000011')).map((w) => w.id),
      [b.id],
    );
    assert.is(await store.count(), 3);
  });

  it('every live workflow, read a page at a time', async ({ env: { store } }) => {
    const ids = new Set<string>();
    for (let i = 0; i < 1_200; i++) {
      const w = workflow();
      ids.add(w.id);
      await store.put(w, null);
    }
    const seen = new Set<string>();
    for await (const w of store.live()) seen.add(w.id);
    assert.is(seen.size, 1_200);
    assert.ok([...ids].every((id) => seen.has(id)));
    assert.is(await store.count(), 1_200);
  });

  it('serialize runs one task per key at a time; exclusive refuses while the key is held', async ({
    env: { store },
  }) => {
    const order: string[] = [];
    const task = (name: string, ms: number) => async () => {
      order.push(`${name}+`);
      await sleep(ms);
      order.push(`${name}-`);
      return name;
    };
    const results = await Promise.all([
      store.serialize('phone:1', task('a', 30)),
      store.serialize('phone:1', task('b', 1)),
      store.serialize('phone:2', task('c', 1)),
    ]);
    assert.equal(results, ['a', 'b', 'c']);
    assert.ok(order.indexOf('a-') < order.indexOf('b+'), order.join(' '));
    assert.ok(order.indexOf('c-') < order.indexOf('a-'), 'another key does not wait');
    // A failing task does not stop the queue.
    const failed = store.serialize('phone:1', async () => {
      throw new Error('boom');
    });
    assert.is(
      await failed.then(
        () => 'ok',
        (err: Error) => err.message,
      ),
      'boom',
    );
    assert.is(await store.serialize('phone:1', async () => 'after'), 'after');
    // exclusive: refused at once while the key is held.
    let release!: () => void;
    const held = store.exclusive('start:1', () => new Promise<string>((r) => (release = () => r('first'))));
    await sleep(20);
    assert.is(await store.exclusive('start:1', async () => 'second'), undefined);
    release();
    assert.equal(await held, { value: 'first' });
    assert.equal(await store.exclusive('start:1', async () => 'third'), { value: 'third' });
  });

  it('two instances on one database: due rows claimed once, versions and keys shared', async ({ env }) => {
    if (!env.second) return; // one process owns an embedded store: nothing to share
    const a = env.store;
    const b = await env.second();
    const now = Date.parse(AT);
    const rows = Array.from({ length: 40 }, () => workflow({ due: now - 1 }));
    for (const w of rows) await a.put(w, null);
    // Two instances polling together claim each due row once.
    const [x, y] = await Promise.all([a.due(now), b.due(now)]);
    const claimed = [...x, ...y].map((w) => w.id);
    assert.is(claimed.length, 40);
    assert.is(new Set(claimed).size, 40);
    // A write by one is seen by the other; its compare-and-set is exact across them.
    const w = rows[0]!;
    assert.ok(await b.put({ ...w, version: 2, state: 'verifying' }, 1));
    assert.not.ok(await a.put({ ...w, version: 2, state: 'lost' }, 1));
    assert.is((await a.get(w.id))?.state, 'verifying');
    // A key held on one instance is held on the other.
    let release!: () => void;
    const held = a.exclusive('start:9', () => new Promise<void>((r) => (release = r)));
    await sleep(30);
    assert.is(await b.exclusive('start:9', async () => 'b'), undefined);
    const order: string[] = [];
    const queued = b.serialize('start:9', async () => order.push('b'));
    await sleep(50);
    order.push('a');
    release();
    await held;
    await queued;
    assert.equal(order, ['a', 'b'], 'serialize waits for the other instance');
    assert.equal(await b.exclusive('start:9', async () => 'b'), { value: 'b' });
  });

  s.run();
}
