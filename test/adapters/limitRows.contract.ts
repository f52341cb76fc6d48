/**
 * The contract of the limit counters, for every engine: sliding windows counted all-or-none,
 * day budgets that never go past their cap — however many writers spend them at once — and
 * forgetting and sweeping.
 */
import * as assert from 'uvu/assert';
import { HOUR, RateLimits, type LimitRows } from '../../runtime/limits.ts';
import { FakeClock } from '../fakes/clock.ts';
import { contractSuite } from './contract.ts';

export interface LimitRowsEnv {
  rows: LimitRows;
  /** The same counters as another process sees them, for engines shared by processes. */
  second?(): Promise<LimitRows>;
  close(): Promise<void>;
}

const T0 = Date.parse('2026-11-29T10:00:00.000Z');

export function limitRowsContract(engine: {
  name: string;
  missing?: string | null;
  make(): Promise<LimitRowsEnv>;
}) {
  const { s, it } = contractSuite('LimitRows contract', engine);

  it('a window counts up to its limit, all rules or none, and frees up as hits leave', async ({
    env: { rows },
  }) => {
    const rules = [
      { key: 'phone:+79160000001', limit: 3 },
      { key: 'token:a', limit: 10 },
    ];
    for (let i = 0; i < 3; i++) assert.is(await rows.hit(rules, T0 + i * 1000, HOUR), null);
    assert.equal(await rows.hit(rules, T0 + 5000, HOUR), { index: 0, leaves: T0 });
    // Refused: the token's window did not count it either (3 of 10 so far).
    const token = [{ key: 'token:a', limit: 4 }];
    assert.is(await rows.hit(token, T0 + 6000, HOUR), null);
    assert.equal(await rows.hit(token, T0 + 7000, HOUR), { index: 0, leaves: T0 });
    // The first hit has left the hour.
    assert.is(await rows.hit(rules.slice(0, 1), T0 + HOUR + 1, HOUR), null);
  });

  it('a day counter stays within its cap: whole or partial, refunds never below 0', async ({
    env: { rows },
  }) => {
    assert.is(await rows.addDay('sms:2026-11-29', '2026-11-29', 8, 10, true), 8);
    assert.is(await rows.addDay('sms:2026-11-29', '2026-11-29', 3, 10, true), 0, 'whole: all or nothing');
    assert.is(await rows.addDay('sms:2026-11-29', '2026-11-29', 3, 10), 2, 'partial: what fits');
    assert.is(await rows.dayCount('sms:2026-11-29'), 10);
    assert.is(await rows.addDay('sms:2026-11-29', '2026-11-29', 5, 0), 5, 'no cap');
    await rows.subtractDay('sms:2026-11-29', 100);
    assert.is(await rows.dayCount('sms:2026-11-29'), 0);
    assert.is(await rows.dayCount('sms:none'), 0);
  });

  it('writers spending one budget at once get exactly the cap', async ({ env }) => {
    const other = env.second ? await env.second() : env.rows;
    const clock = new FakeClock(T0);
    const [a, b] = [
      new RateLimits(env.rows, clock, 'Europe/Moscow'),
      new RateLimits(other, clock, 'Europe/Moscow'),
    ];
    const outcomes = await Promise.all(
      Array.from({ length: 60 }, (_, i) =>
        (i % 2 ? a : b).spendSms(20, 1).then(
          () => 'spent',
          (err: { code?: string; extra?: { retryAfter?: number } }) => {
            assert.is(err.code, 'RATE_LIMITED');
            assert.ok((err.extra?.retryAfter ?? 0) > 0);
            return 'refused';
          },
        ),
      ),
    );
    assert.is(outcomes.filter((o) => o === 'spent').length, 20);
    assert.is(await a.smsLeftToday(20), 0);
    // A window shared the same way: 12 hits, a limit of 5.
    const hits = await Promise.all(
      Array.from({ length: 12 }, (_, i) =>
        (i % 2 ? a : b).hit([{ key: 'guess:+79160000002', limit: 5, name: 'guessesPerPhonePerHour' }]).then(
          () => true,
          () => false,
        ),
      ),
    );
    assert.is(hits.filter(Boolean).length, 5);
    // What is reserved and not used goes back.
    await a.refundSms(20);
    assert.is(await a.reserveSms(20, 25), 20);
    await a.refundSms(7);
    assert.is(await b.smsLeftToday(20), 7);
  });

  it('forget drops every counter naming a phone; sweep drops old windows and days', async ({
    env: { rows },
  }) => {
    await rows.hit([{ key: 'phone:+79160000003', limit: 5 }], T0, HOUR);
    await rows.hit([{ key: 'guess:+79160000003', limit: 5 }], T0, HOUR);
    await rows.hit([{ key: 'phone:+79160000004', limit: 5 }], T0 + HOUR, HOUR);
    await rows.addDay('sms:2026-11-27', '2026-11-27', 3, 0);
    await rows.addDay('sms:2026-11-29', '2026-11-29', 3, 0);
    assert.is(await rows.forget('+79160000003'), 2);
    assert.is(await rows.sweep(T0 + 10, '2026-11-28'), 1, 'the old day');
    assert.is(await rows.sweep(T0 + 2 * HOUR, '2026-11-28'), 1, 'the window whose hits left');
    assert.is(await rows.dayCount('sms:2026-11-29'), 3);
  });

  s.run();
}
