/** Time in the venue's zone: cron occurrences across DST, quiet hours, weekdays only. */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { nextOccurrence, sendWindow, wallToInstant, validCron } from '../../runtime/campaigns/schedule.ts';
import { firstName, inAudience } from '../../runtime/campaigns/audience.ts';

const iso = (t: number) => new Date(t).toISOString();
const Schedule = suite('schedule');

Schedule('daily at 10:00 in Almaty and Moscow', () => {
  assert.is(
    iso(nextOccurrence('0 10 * * *', 'Asia/Almaty', Date.parse('2026-11-29T06:00:00Z'))),
    '2026-11-30T05:00:00.000Z',
  );
  assert.is(
    iso(nextOccurrence('0 10 * * *', 'Europe/Moscow', Date.parse('2026-11-29T06:00:00Z'))),
    '2026-11-29T07:00:00.000Z',
  );
  assert.is(
    iso(nextOccurrence('0 10 * * 1-5', 'Europe/Moscow', Date.parse('2026-11-28T08:00:00Z'))),
    '2026-11-30T07:00:00.000Z',
    'Saturday → Monday',
  );
});

Schedule('a DST spring-forward day is not dropped: 02:30 fires at the jump', () => {
  let t = Date.parse('2026-03-27T12:00:00Z');
  const fired: string[] = [];
  for (let i = 0; i < 4; i++) fired.push(iso((t = nextOccurrence('30 2 * * *', 'Europe/Berlin', t))));
  assert.equal(fired, [
    '2026-03-28T01:30:00.000Z',
    '2026-03-29T01:00:00.000Z',
    '2026-03-30T00:30:00.000Z',
    '2026-03-31T00:30:00.000Z',
  ]);
});

Schedule('a DST fall-back day fires once, at the first 02:30', () => {
  let t = Date.parse('2026-10-24T12:00:00Z');
  const fired: string[] = [];
  for (let i = 0; i < 3; i++) fired.push(iso((t = nextOccurrence('30 2 * * *', 'Europe/Berlin', t))));
  assert.equal(fired, ['2026-10-25T00:30:00.000Z', '2026-10-26T01:30:00.000Z', '2026-10-27T01:30:00.000Z']);
  assert.is(iso(wallToInstant(2026, 10, 25, 2, 30, 'Europe/Berlin')), '2026-10-25T00:30:00.000Z');
});

Schedule('cron validation', () => {
  assert.ok(validCron('0 10 * * *'));
  assert.not.ok(validCron('61 10 * * *'));
  assert.not.ok(validCron('0 0 10 * * *'), 'seconds are not a field here');
  assert.not.ok(validCron('every day'));
});

Schedule('quiet hours wrap midnight; weekdays only waits for Monday', () => {
  const quiet = { from: '21:00', to: '09:00' };
  assert.ok(
    sendWindow(Date.parse('2026-11-26T09:00:00Z'), 'Europe/Moscow', quiet, false).open,
    '12:00 Moscow',
  );
  const night = sendWindow(Date.parse('2026-11-26T19:30:00Z'), 'Europe/Moscow', quiet, false);
  assert.equal([night.open, iso(night.opensAt)], [false, '2026-11-27T06:00:00.000Z']);
  const early = sendWindow(Date.parse('2026-11-27T05:59:00Z'), 'Europe/Moscow', quiet, false);
  assert.is(iso(early.opensAt), '2026-11-27T06:00:00.000Z', '08:59 waits a minute');
  const saturday = sendWindow(Date.parse('2026-11-28T06:00:00Z'), 'Asia/Almaty', quiet, true);
  assert.equal([saturday.open, iso(saturday.opensAt)], [false, '2026-11-30T04:00:00.000Z']);
  assert.ok(
    sendWindow(Date.parse('2026-11-26T19:30:00Z'), 'Europe/Moscow', false, false).open,
    'no quiet hours',
  );
});

Schedule('first names and birthdays', () => {
  assert.is(firstName('Иванов Иван Иванович'), 'Иван');
  assert.is(firstName('Петрова Анна'), 'Анна');
  assert.is(firstName('Anna Lee'), 'Anna');
  assert.is(firstName('Мадонна'), 'Мадонна');
  const card = (birthday: string) => ({
    number: '1',
    state: 'active' as const,
    virtual: false,
    discount: 0,
    bonus: 0,
    expiresAt: null,
    rangeId: null,
    holder: { fullName: 'X Y', birthday, phone: '+79160000001' },
    activatedAt: null,
    createdAt: '',
    updatedAt: '',
  });
  const feb28 = Date.parse('2027-02-28T09:00:00Z');
  assert.ok(
    inAudience(card('2000-02-29'), { type: 'birthday', inDays: 0 }, feb28, 'Europe/Moscow'),
    'born on 29 Feb: greeted on 28 Feb',
  );
  const late = Date.parse('2026-11-26T22:30:00Z'); // already 27 Nov in Moscow
  assert.ok(
    inAudience(card('1980-11-27'), { type: 'birthday', inDays: 0 }, late, 'Europe/Moscow'),
    'the venue’s day, not UTC’s',
  );
});

Schedule.run();
