/**
 * Two instances of the authorization workflow on one PostgreSQL database, each with its own
 * connections, host and ticker, sharing nothing else (the server secret aside, as instances of
 * one chain must): a PIN window opened on one is verified on the other; one phone has one live
 * window whichever instance starts it; the windows of an instance that stopped expire on the
 * other, once each; an event on one waits for the effect the other runs. The whole service as
 * processes on one database: `instances.test.ts`.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { randomBytes } from 'node:crypto';
import { rmSync } from 'node:fs';
import pino from 'pino';
import { Database } from '../adapters/postgres/database.ts';
import { migrate } from '../adapters/postgres/schema.ts';
import { PostgresWorkflowStore } from '../adapters/postgres/workflowStore.ts';
import { PostgresCardDirectory } from '../adapters/postgres/cardDirectory.ts';
import { PostgresLimitRows } from '../adapters/postgres/limitRows.ts';
import { PostgresSmsLedger } from '../adapters/postgres/smsLedger.ts';
import { PostgresDeliveryRows } from '../adapters/postgres/deliveryRows.ts';
import { JournaledStore } from '../adapters/store/journaled.ts';
import { parseConfig } from '../runtime/config.ts';
import { RateLimits } from '../runtime/limits.ts';
import { SmsChain } from '../runtime/sms/chain.ts';
import { DeliveryTracker } from '../runtime/sms/delivery.ts';
import { createPinSender } from '../runtime/sms/pinSender.ts';
import { renderPinMessage } from '../runtime/sms/templates.ts';
import { createPinVault } from '../runtime/pin/vault.ts';
import { PinGate } from '../runtime/pin/gate.ts';
import { AuthService, authKind } from '../runtime/auth/sessions.ts';
import { WorkflowHost } from '../runtime/workflows/host.ts';
import { FakeClock } from './fakes/clock.ts';
import { FakeSmsSender } from './fakes/sms.ts';
import { tempDir } from './helpers.ts';
import { dropDatabase, newDatabase, postgresMissing } from './postgres.ts';

const config = parseConfig({ otp: { resendCooldownSeconds: 0 }, limits: { smsPerDay: 0 } });
const PHONE = '+79161234567';

interface Instance {
  db: Database;
  store: JournaledStore;
  host: WorkflowHost;
  auth: AuthService;
  dir: string;
}

async function instance(
  url: string,
  secret: Buffer,
  clock: FakeClock,
  sms: FakeSmsSender,
): Promise<Instance> {
  const db = new Database(url);
  await migrate(db);
  const dir = tempDir();
  // The host flushes a store before each answer: an empty embedded one stands in (every write
  // here is on PostgreSQL, durable when it resolves).
  const store = await JournaledStore.open(dir, []);
  const logger = pino({ level: 'silent' });
  const directory = new PostgresCardDirectory(db);
  const limits = new RateLimits(new PostgresLimitRows(db), clock, config.timezone);
  const chain = new SmsChain({
    senders: [sms],
    clock,
    logger,
    timeoutMs: 5_000,
    retries: 0,
    failuresBeforeCoolOff: 3,
    coolOffMs: 0,
  });
  const deliveries = new DeliveryTracker({
    rows: new PostgresDeliveryRows(db),
    senders: [sms],
    clock,
    logger,
    timeoutMs: 5_000,
  });
  const vault = createPinVault(secret);
  const pins = createPinSender({
    ledger: new PostgresSmsLedger(db),
    chain,
    vault,
    clock,
    logger,
    pinLength: config.otp.length,
    render: (purpose, pin) => renderPinMessage(config, purpose, pin),
  });
  const host = new WorkflowHost({
    store,
    workflows: new PostgresWorkflowStore(db),
    clock,
    logger,
    settleTimeoutMs: 10_000,
    kinds: [authKind({ directory, pins, vault, clock, config, deliveries })],
  });
  await host.restore();
  const gate = new PinGate(host, { config, limits, pinSegments: () => 1 });
  return { db, store, host, auth: new AuthService(host, gate, { config, clock }), dir };
}

async function stop(i: Instance) {
  i.host.stop();
  await i.store.abandon();
  await i.db.close();
  rmSync(i.dir, { recursive: true, force: true });
}

const Two = suite<{ url: string; a: Instance; b: Instance; clock: FakeClock; sms: FakeSmsSender }>(
  'two instances on one PostgreSQL database',
);

if (postgresMissing) {
  Two.skip('a window opened on one instance is verified on the other', () => undefined);
  Two.skip('one live window per phone, whichever instance starts it', () => undefined);
  Two.skip("a stopped instance's windows expire on the other, once", () => undefined);
  Two.skip(
    'an event on one instance waits for the effect the other runs, not for the time limit',
    () => undefined,
  );
} else {
  Two.before.each(async (ctx) => {
    ctx.url = await newDatabase('instances');
    ctx.clock = new FakeClock(Date.parse('2026-11-29T09:00:00Z'));
    ctx.sms = new FakeSmsSender();
    const secret = randomBytes(32);
    ctx.a = await instance(ctx.url, secret, ctx.clock, ctx.sms);
    ctx.b = await instance(ctx.url, secret, ctx.clock, ctx.sms);
    const directory = new PostgresCardDirectory(ctx.a.db);
    await directory.import(
      [
        {
          line: 2,
          number: '100500',
          expiresAt: null,
          discount: 5,
          bonus: 1,
          holder: { fullName: 'Анна Ли', birthday: '1990-01-01', phone: PHONE },
          blocked: false,
        },
      ],
      { partial: false, at: '2026-11-29T09:00:00.000Z' },
    );
  });
  Two.after.each(async (ctx) => {
    for (const i of [ctx.a, ctx.b]) if (i) await stop(i).catch(() => undefined);
    await dropDatabase(ctx.url);
  });

  Two('a window opened on one instance is verified on the other', async ({ a, b, sms }) => {
    const started = await a.auth.start({ phone: PHONE, terminal: 'CASH1' }, 'terminal', 'tok-a');
    assert.is(started.state, 'awaitingPin');
    const other = await b.auth.get(started.id);
    assert.is(other.state, 'awaitingPin', 'B reads the window A opened');
    const verified = await b.auth.verify(started.id, sms.lastPin(PHONE), 'terminal');
    assert.is(verified.state, 'verified');
    assert.is(verified.view.cardInfo?.number, '100500');
    assert.is((await a.auth.get(started.id)).state, 'verified', 'A reads it closed, from the archive');
  });

  Two('one live window per phone, whichever instance starts it', async ({ a, b }) => {
    const [x, y] = await Promise.allSettled([
      a.auth.start({ phone: PHONE, terminal: 'CASH1' }, 'terminal', 'tok-a'),
      b.auth.start({ phone: PHONE, terminal: 'CASH2' }, 'terminal', 'tok-b'),
    ]);
    const live = [];
    for await (const w of new PostgresWorkflowStore(a.db).live()) live.push(w);
    assert.is(live.length, 1, `live: ${live.map((w) => w.state).join(', ')}`);
    const refused = [x, y].filter((r) => r.status === 'rejected');
    // Either the second start found the phone busy, or it superseded the first: never two.
    for (const r of refused) assert.is((r.reason as { code: string }).code, 'PHONE_BUSY');
  });

  Two("a stopped instance's windows expire on the other, once", async (ctx) => {
    const { a, b, clock } = ctx;
    const started = await a.auth.start({ phone: PHONE, terminal: 'CASH1' }, 'terminal', 'tok-a');
    await stop(a);
    ctx.a = undefined as never;
    clock.advance(config.otp.ttlSeconds * 1000 + 1000);
    assert.is(await b.host.fireDeadlines(), 1);
    const after = await b.auth.get(started.id);
    assert.is(after.state, 'expired');
    assert.is(await b.host.fireDeadlines(), 0, 'fired once');
  });

  Two(
    'an event on one instance waits for the effect the other runs, not for the time limit',
    async ({ a, b, sms }) => {
      sms.delayMs = 400; // A's SMS is on its way while B gets an event for the same window
      const starting = a.auth.start({ phone: PHONE, terminal: 'CASH1' }, 'terminal', 'tok-a');
      let id: string | undefined;
      for (let i = 0; i < 200 && !id; i++) {
        id = (await new PostgresWorkflowStore(b.db).liveOfPhone(PHONE))[0]?.id;
        if (!id) await new Promise((r) => setTimeout(r, 5));
      }
      assert.ok(id, 'the window is on the database');
      const asked = performance.now();
      const cancelled = await b.host.send(id!, (now) => ({ type: 'CANCEL', now, by: 'terminal' }));
      const waited = performance.now() - asked;
      assert.is(cancelled.state, 'cancelled');
      assert.ok(
        waited < 5_000,
        `B answered once A's effect was done (${Math.round(waited)} ms), not at its 10 s limit`,
      );
      assert.is((await starting).id, id);
    },
  );
}

Two.run();
