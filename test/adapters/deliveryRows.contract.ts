/**
 * The contract of the tracked messages, for every engine: statuses read by key, the due ones
 * (settled ones never), a due message claimed by one poller when several share the rows, and
 * pruning and forgetting.
 */
import * as assert from 'uvu/assert';
import { SCHEDULE, type DeliveryRows, type Tracked } from '../../runtime/sms/delivery.ts';
import { contractSuite } from './contract.ts';

export interface DeliveryRowsEnv {
  rows: DeliveryRows;
  /** The same rows as another process sees them, for engines shared by processes. */
  second?(): Promise<DeliveryRows>;
  close(): Promise<void>;
}

const T0 = 1_764_410_400_000;
const tracked = (id: string, over: Partial<Tracked> = {}): Tracked => ({
  provider: 'smsru',
  messageId: id,
  to: '+79160000001',
  workflowId: 'ses_20261129_000000000001',
  status: 'sent',
  checks: 0,
  nextAt: T0 + 10_000,
  createdAt: T0,
  ...over,
});

export function deliveryRowsContract(engine: {
  name: string;
  missing?: string | null;
  make(): Promise<DeliveryRowsEnv>;
}) {
  const { s, it } = contractSuite('DeliveryRows contract', engine);

  it('statuses by key; the due ones, never a settled one', async ({ env: { rows } }) => {
    await rows.put(tracked('m1'));
    await rows.put(tracked('m2', { nextAt: T0 + 60_000 }));
    await rows.put(tracked('m3', { status: 'delivered', checks: 1 }));
    await rows.put(tracked('m4', { checks: SCHEDULE.length })); // its schedule is over
    await rows.flush();
    assert.equal(Object.fromEntries(await rows.statuses(['smsru:m1', 'smsru:m3', 'smsru:none'])), {
      'smsru:m1': 'sent',
      'smsru:m3': 'delivered',
    });
    assert.equal(
      (await rows.due(T0 + 10_000, 60_000)).map((t) => t.messageId),
      ['m1'],
    );
    await rows.put({ ...tracked('m1'), status: 'delivered', checks: 1 });
    assert.is((await rows.statuses(['smsru:m1'])).get('smsru:m1'), 'delivered');
    assert.equal(
      (await rows.due(T0 + 60_000, 60_000)).map((t) => t.messageId),
      ['m2'],
    );
  });

  it('a due message is claimed by one of two pollers', async ({ env }) => {
    if (!env.second) return; // one process owns an embedded store: one poller
    const other = await env.second();
    for (let i = 0; i < 30; i++) await env.rows.put(tracked(`c${i}`));
    const [a, b] = await Promise.all([env.rows.due(T0 + 10_000, 60_000), other.due(T0 + 10_000, 60_000)]);
    const ids = [...a, ...b].map((t) => t.messageId);
    assert.is(ids.length, 30);
    assert.is(new Set(ids).size, 30);
    assert.equal(await other.due(T0 + 20_000, 60_000), [], 'held for the lease');
    assert.is((await other.due(T0 + 80_001, 60_000)).length, 30, 'a poller that stopped: taken again');
  });

  it('settled messages are pruned after their time; a phone is forgotten', async ({ env: { rows } }) => {
    await rows.put(tracked('p1', { status: 'delivered', checks: 2, createdAt: T0 - 8 * 86_400_000 }));
    await rows.put(tracked('p2', { createdAt: T0 - 8 * 86_400_000 }));
    await rows.put(tracked('p3', { to: '+79160000009' }));
    assert.is(await rows.prune(T0 - 7 * 86_400_000), 1, 'only the settled one');
    assert.is(await rows.forgetPhone('+79160000009'), 1);
    assert.equal([...(await rows.statuses(['smsru:p1', 'smsru:p2', 'smsru:p3'])).keys()], ['smsru:p2']);
  });

  s.run();
}
