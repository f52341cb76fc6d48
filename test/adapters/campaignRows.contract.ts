/**
 * The contract of campaign rows, for every engine: definitions, a run's books changed as one
 * (counts set, then moved by deltas however many writers), its plan, its outcome lines in the
 * order written (past one read's page), an erasure and retention, delivery sweeps, and
 * durability across a reopen. Also the run book's group commit over them.
 */
import * as assert from 'uvu/assert';
import type { CampaignRows } from '../../runtime/campaigns/rows.ts';
import { RunBook } from '../../runtime/campaigns/runBook.ts';
import { Plan } from '../../runtime/campaigns/plan.ts';
import { emptyCounts, type CampaignDef, type Recipient } from '../../runtime/campaigns/types.ts';
import { contractSuite } from './contract.ts';

export interface CampaignRowsEnv {
  rows: CampaignRows;
  /** The same rows as a restarted process sees them. */
  reopen(): Promise<CampaignRows>;
  /** The same rows as another process sees them, for engines shared by processes. */
  second?(): Promise<CampaignRows>;
  close(): Promise<void>;
}

const RUN = 'run_20261129_aaaaaaaaaaaa';
const clock = { now: () => Date.parse('2026-11-29T10:00:00Z') };

const def = (id: string, name = 'Новости'): CampaignDef => ({
  id,
  name,
  text: 'Скидка 10%',
  audience: { type: 'all', inDays: 0 },
  schedule: null,
  quietHours: false,
  weekdaysOnly: false,
  timezone: 'Europe/Moscow',
  ratePerSecond: 10,
  provider: null,
  budget: null,
  cancelled: false,
  runs: [],
  nextRunAt: null,
  missedRuns: 0,
  createdAt: '2026-11-29T10:00:00.000Z',
  updatedAt: '2026-11-29T10:00:00.000Z',
});

const line = (phone: string, status: Recipient['status'], extra: Partial<Recipient> = {}): Recipient => ({
  runId: RUN,
  phone,
  card: '100',
  status,
  ...extra,
});

const phoneOf = (i: number) => `+7916${String(i).padStart(7, '0')}`;

export function campaignRowsContract(engine: {
  name: string;
  missing?: string | null;
  make(): Promise<CampaignRowsEnv>;
}) {
  const { s, it } = contractSuite('CampaignRows contract', engine);

  it('definitions are kept whole and survive a reopen', async ({ env }) => {
    await env.rows.putDef(def('cmp_1'));
    await env.rows.putDef(def('cmp_2', 'Другая'));
    await env.rows.putDef({ ...def('cmp_1'), runs: [RUN], nextRunAt: 123 });
    const again = await env.reopen();
    assert.equal((await again.def('cmp_1'))?.runs, [RUN]);
    assert.is((await again.def('cmp_1'))?.nextRunAt, 123);
    assert.is((await again.def('cmp_2'))?.name, 'Другая');
    assert.is(await again.def('cmp_3'), undefined);
    assert.equal((await again.defs()).map((d) => d.id).sort(), ['cmp_1', 'cmp_2']);
  });

  it('a change of the books is one: counts set then moved by deltas, rows set and cleared, lines in order', async ({
    env,
  }) => {
    const { rows } = env;
    await rows.commit({ runId: RUN, counts: { ...emptyCounts(RUN), total: 3, queued: 3, prepared: true } });
    await rows.commit({
      runId: RUN,
      delta: { queued: -2, sending: 2, cursor: 2 },
      batch: { runId: RUN, from: 0, to: 2, at: 'x' },
      retries: { runId: RUN, positions: [7], waits: 1 },
    });
    assert.equal(await rows.inFlight(RUN), { runId: RUN, from: 0, to: 2, at: 'x' });
    assert.equal(await rows.retries(RUN), { runId: RUN, positions: [7], waits: 1 });
    await rows.commit({
      runId: RUN,
      delta: { sending: -2, sent: 1, skipped: 1, segments: 2, cost: 25_000, skippedReasons: { optedOut: 1 } },
      batch: null,
      retries: null,
      lines: [line(phoneOf(1), 'sent', { segments: 2 }), line(phoneOf(2), 'skipped', { reason: 'optedOut' })],
    });
    const again = await env.reopen();
    const c = await again.counts(RUN);
    assert.is(c?.total, 3);
    assert.is(c?.queued, 1);
    assert.is(c?.sending, 0);
    assert.is(c?.sent, 1);
    assert.is(c?.cursor, 2);
    assert.is(c?.cost, 25_000);
    assert.equal(c?.skippedReasons, { optedOut: 1 });
    assert.is(await again.inFlight(RUN), undefined);
    assert.is(await again.retries(RUN), undefined);
    const seen: string[] = [];
    await again.scanLines(RUN, (r) => seen.push(`${r.phone} ${r.status}`));
    assert.equal(seen, [`${phoneOf(1)} sent`, `${phoneOf(2)} skipped`]);
    const one: string[] = [];
    await again.scanLines(RUN, (r) => one.push(r.phone), phoneOf(2));
    assert.ok(one.includes(phoneOf(2)));
    assert.not.ok(one.includes(phoneOf(1)) && !one.includes(phoneOf(2)));
    assert.is(await again.counts('run_20261129_nothingthere'), undefined);
  });

  it('deltas from several writers at once all count', async ({ env }) => {
    const other = env.second ? await env.second() : env.rows;
    await env.rows.commit({ runId: RUN, counts: { ...emptyCounts(RUN), total: 40, sent: 40 } });
    await Promise.all(
      Array.from({ length: 40 }, (_, i) =>
        (i % 2 ? other : env.rows).commit({
          runId: RUN,
          delta: { sent: -1, delivered: 1 },
          lines: [line(phoneOf(i), 'delivered')],
        }),
      ),
    );
    const c = await env.rows.counts(RUN);
    assert.is(c?.sent, 0);
    assert.is(c?.delivered, 40);
    let n = 0;
    await other.scanLines(RUN, () => (n += 1));
    assert.is(n, 40);
  });

  it('outcome lines past one page are read whole and in order', async ({ env }) => {
    const total = 10_050;
    for (let from = 0; from < total; from += 2_500) {
      const lines = [];
      for (let i = from; i < Math.min(total, from + 2_500); i++) lines.push(line(phoneOf(i), 'sent'));
      await env.rows.commit({ runId: RUN, lines });
    }
    let i = 0;
    let inOrder = true;
    await env.rows.scanLines(RUN, (r) => {
      if (r.phone !== phoneOf(i)) inOrder = false;
      i += 1;
    });
    assert.is(i, total);
    assert.ok(inOrder);
  });

  it('plans, an erasure and retention', async ({ env }) => {
    const other = 'run_20261130_bbbbbbbbbbbb';
    const plan = Plan.of([
      { phone: phoneOf(1), card: '100' },
      { phone: phoneOf(2), card: '200' },
    ]);
    await env.rows.putPlan(RUN, plan.text);
    await env.rows.putPlan(other, Plan.of([{ phone: phoneOf(3), card: '300' }]).text);
    await env.rows.commit({ runId: other, lines: [{ ...line(phoneOf(3), 'sent'), runId: other }] });
    await env.rows.commit({ runId: RUN, counts: { ...emptyCounts(RUN), total: 2, sent: 2 } });
    await env.rows.commit({ runId: RUN, lines: [line(phoneOf(1), 'sent'), line(phoneOf(2), 'sent')] });
    await env.rows.commit({ runId: RUN, lines: [line(phoneOf(2), 'delivered')] });
    assert.is(await env.rows.erasePhone(phoneOf(2), 'anon:subject'), 2);
    const read = new Plan((await env.rows.plan(RUN))!);
    assert.is(read.length, 2);
    assert.is(read.phone(1), 'anon:subject');
    assert.is(read.card(1), '200');
    assert.is(read.phone(0), phoneOf(1));
    const lines: Recipient[] = [];
    await env.rows.scanLines(RUN, (r) => lines.push(r));
    assert.equal(
      lines.map((r) => r.phone),
      [phoneOf(1), 'anon:subject', 'anon:subject'],
    );
    assert.not.ok(JSON.stringify(lines).includes(phoneOf(2)));
    assert.equal((await env.rows.runsKept()).sort(), [RUN, other]);
    await env.rows.dropRun(RUN);
    const again = await env.reopen();
    assert.equal(await again.runsKept(), [other]);
    assert.is(await again.plan(RUN), null);
    let left = 0;
    await again.scanLines(RUN, () => (left += 1));
    assert.is(left, 0);
    assert.is((await again.counts(RUN))?.sent, 2, 'the counts stay for the reports');
  });

  it('delivery sweeps are kept until dropped', async ({ env }) => {
    await env.rows.putSweep({ runId: RUN, checks: 0, nextAt: 5 });
    await env.rows.putSweep({ runId: RUN, checks: 1, nextAt: 9 });
    await env.rows.putSweep({ runId: 'run_20261129_cccccccccccc', checks: 0, nextAt: 1 });
    await env.rows.dropSweep('run_20261129_cccccccccccc');
    assert.equal(await (await env.reopen()).sweeps(), [{ runId: RUN, checks: 1, nextAt: 9 }]);
  });

  it("the run book's commits of one run land in order, each taking what was staged before it", async ({
    env,
  }) => {
    const book = new RunBook(env.rows, clock);
    await env.rows.commit({
      runId: RUN,
      counts: { ...emptyCounts(RUN), total: 30, queued: 30, prepared: true },
    });
    const counts = await book.open(RUN);
    const commits = [];
    for (let i = 0; i < 30; i++) {
      const r = book.move({ runId: RUN, phone: phoneOf(i), card: '1', status: 'queued' }, 'sending');
      book.setInFlight(RUN, { runId: RUN, from: 0, to: i + 1, at: 'x' });
      book.move(r, 'sent', { segments: 1 });
      commits.push(book.commit(RUN));
    }
    await Promise.all(commits);
    assert.is(counts.cursor, 30, 'the batch sees its cursor move at once');
    const stored = await env.rows.counts(RUN);
    assert.is(stored?.cursor, 30);
    assert.is(stored?.sent, 30);
    assert.is(stored?.queued, 0);
    assert.is(stored?.sending, 0);
    assert.equal((await env.rows.inFlight(RUN))?.to, 30, 'the last row written is the latest');
    book.delivered(RUN, phoneOf(3), 'delivered');
    book.delivered(RUN, phoneOf(4), 'pending' as never);
    await book.commit(RUN);
    assert.is((await book.runCounts(RUN)).delivered, 1);
  });

  s.run();
}
