/**
 * Retention over two years of history: old sessions, activations and refused attempts are
 * anonymised (their counts, so the reports, unchanged), old campaign recipient lists deleted, the
 * console outbox pruned; a dry run changes nothing; a second run has nothing left to do.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startService, tempDir, type TestService, embeddedOnly } from '../helpers.ts';
import { FakeClock } from '../fakes/clock.ts';
import { newId } from '../../runtime/ids.ts';
import type { WorkflowRecord } from '../../runtime/workflows/types.ts';
import { ConsoleSmsSender } from '../../adapters/sms/console.ts';

const DAY = 86_400_000;
const NOW = Date.parse('2026-11-29T10:00:00Z');
const PHONE = '+79161234567';
const NAME = 'Иванова Мария';

/** One closed record of `kind` made `daysAgo` days before now, with the guest's data in it. */
function record(kind: 'auth' | 'activation' | 'attempt', daysAgo: number, state: string): WorkflowRecord {
  const at = NOW - daysAgo * DAY;
  const iso = new Date(at).toISOString();
  const prefix = { auth: 'ses', activation: 'act', attempt: 'att' }[kind];
  const view =
    kind === 'auth'
      ? { channel: 'sms', cardInfo: { number: '100', holder: NAME, discount: 5, bonus: 0 }, sms: [] }
      : kind === 'activation'
        ? { holder: { fullName: NAME, birthday: '1985-03-12' }, marketingConsent: true, sms: [] }
        : { for: 'auth', channel: 'sms', phoneInput: '**67' };
  return {
    id: newId(prefix, at),
    kind,
    state,
    live: false,
    createdAt: iso,
    updatedAt: iso,
    closedAt: iso,
    terminal: 'T1',
    phone: PHONE,
    card: '100',
    deadline: null,
    error: kind === 'attempt' ? { code: 'CARD_NOT_FOUND' } : null,
    timeline: [{ at: iso, event: 'start', from: null, to: state, by: 'terminal:T1' }],
    view,
  };
}

const Retention = suite<{ svc: TestService }>('retention');
Retention.after.each(async (ctx) => ctx.svc?.stop());

embeddedOnly(Retention)(
  'two years of history: anonymised past the limits, reports unchanged, lists deleted',
  async (ctx) => {
    const clock = new FakeClock(NOW);
    ctx.svc = await startService({ clock });
    const store = ctx.svc.service.journaled!;
    // A record every 20 days for two years, of each kind.
    let written = 0;
    for (let daysAgo = 5; daysAgo <= 730; daysAgo += 20) {
      store.archive('auth', dayOf(NOW - daysAgo * DAY), record('auth', daysAgo, 'verified'));
      store.archive('activation', dayOf(NOW - daysAgo * DAY), record('activation', daysAgo, 'activated'));
      store.archive('attempt', dayOf(NOW - daysAgo * DAY), record('attempt', daysAgo, 'refused'));
      written += 1;
    }
    // Two campaign runs: one 400 days old, one 30 days old.
    const oldRun = newId('run', NOW - 400 * DAY);
    const newRun = newId('run', NOW - 30 * DAY);
    for (const runId of [oldRun, newRun]) {
      store.archive('recipients', runId, { runId, phone: PHONE, card: '100', status: 'sent' });
      await store.putBlob(`plan-${runId}.csv`, `${PHONE},100\n`);
      store.table('runCounts').put(runId, { runId, total: 1, sent: 1 });
    }
    await store.settled();
    const windows = [
      ['2024-12-01', '2025-02-28'],
      ['2025-10-01', '2025-12-15'],
      ['2026-09-01', '2026-11-29'],
    ];
    const reports = async () =>
      Promise.all(
        windows.map(
          async ([from, to]) =>
            (await ctx.svc.call('GET', `/api/v1/reports/daily?from=${from}&to=${to}`, { as: 'support' })).json
              .days,
        ),
      );
    const before = await reports();
    const sum = (counts: Record<string, number>) => Object.values(counts).reduce((a, b) => a + b, 0);
    const countOf = (days: Array<Record<'auth' | 'activation' | 'refused', Record<string, number>>>) =>
      days.reduce((t, d) => t + sum(d.auth) + sum(d.activation) + sum(d.refused), 0);
    assert.ok(
      before.every((days) => countOf(days) > 0),
      'every window has sessions to count',
    );
    const found = async () =>
      (
        await ctx.svc.call('GET', `/api/v1/sessions?phone=${encodeURIComponent(PHONE)}&limit=200`, {
          as: 'support',
        })
      ).json.items.length;
    assert.is(await found(), written * 3);

    // Dry run: counts, nothing changed.
    const expectedSessions = Array.from({ length: written }, (_, i) => 5 + 20 * i).filter(
      (d) => d > 365,
    ).length;
    const expectedAttempts = Array.from({ length: written }, (_, i) => 5 + 20 * i).filter(
      (d) => d > 90,
    ).length;
    const dry = await ctx.svc.call('POST', '/api/v1/retention/run', { json: { dryRun: true } });
    assert.is(dry.status, 200, dry.text);
    assert.equal(dry.json.retention.anonymised, {
      auth: expectedSessions,
      activation: expectedSessions,
      attempt: expectedAttempts,
    });
    assert.is(dry.json.retention.campaignRuns, 1);
    assert.is(dry.json.lastRunAt, null, 'a dry run is not a run');
    assert.is(await found(), written * 3, 'the dry run changed nothing');

    const run = await ctx.svc.call('POST', '/api/v1/retention/run', { json: {} });
    assert.equal(run.json.retention.anonymised, dry.json.retention.anonymised);
    assert.is(
      await found(),
      written * 3 - 2 * expectedSessions - expectedAttempts,
      'old records no longer name the phone',
    );
    // Old day files hold neither the phone nor the name; recent ones are as they were.
    const archive = join(ctx.svc.dataDir, 'archive');
    for (const kind of ['auth', 'activation', 'attempt']) {
      const limit = dayOf(NOW - (kind === 'attempt' ? 90 : 365) * DAY);
      for (const file of readdirSync(join(archive, kind))) {
        const text = readFileSync(join(archive, kind, file), 'utf8');
        const old = file.slice(0, 10) < limit;
        assert.is(!text.includes(PHONE.slice(1)) && !text.includes(NAME), old, `${kind}/${file}`);
        if (old) assert.match(text, /"phone":"anon:[0-9a-f]{20}"/);
      }
    }
    assert.equal(await reports(), before, 'reports keep their daily counts');
    // The old run's list and plan are gone, its counts stay; the recent run is untouched.
    assert.equal(store.archiveDays('recipients'), [newRun]);
    assert.is(await store.getBlob(`plan-${oldRun}.csv`), null);
    assert.ok(await store.getBlob(`plan-${newRun}.csv`));
    assert.ok(store.table('runCounts').get(oldRun));
    // Nothing left to do the next day but the day that passed the limit.
    const again = await ctx.svc.call('POST', '/api/v1/retention/run', { json: {} });
    assert.equal(again.json.retention.anonymised, { auth: 0, activation: 0, attempt: 0 });
    assert.is(again.json.retention.campaignRuns, 0);
    assert.ok(again.json.lastRunAt);
    // Admin only.
    assert.is((await ctx.svc.call('POST', '/api/v1/retention/run', { as: 'support', json: {} })).status, 403);
  },
);

Retention('the console outbox keeps messages for retention.outboxDays only', async () => {
  const dir = tempDir();
  try {
    const outbox = join(dir, 'outbox.jsonl');
    const line = (daysAgo: number, n: number) =>
      JSON.stringify({
        key: `k${n}`,
        to: PHONE,
        text: `Код: ${n}`,
        receipt: { acceptedAt: new Date(Date.now() - daysAgo * DAY).toISOString() },
      });
    writeFileSync(outbox, [line(30, 1), line(10, 2), line(1, 3)].join('\n') + '\n');
    const sender = new ConsoleSmsSender(dir, () => {});
    const before = Date.now() - 7 * DAY;
    assert.is(await sender.prune(before, true), 2, 'a dry run counts');
    assert.is(readFileSync(outbox, 'utf8').split('\n').filter(Boolean).length, 3);
    assert.is(await sender.prune(before), 2);
    assert.equal(
      readFileSync(outbox, 'utf8')
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l).key),
      ['k3'],
    );
    await sender.send({
      to: PHONE,
      text: 'Код: 4',
      purpose: 'otp',
      idempotencyKey: 'k4',
      templateId: 't',
      segments: 1,
    });
    assert.is(
      readFileSync(outbox, 'utf8').split('\n').filter(Boolean).length,
      2,
      'appends go on after a prune',
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

Retention.run();

function dayOf(ms: number): string {
  return new Date(ms).toISOString().slice(0, 10);
}
