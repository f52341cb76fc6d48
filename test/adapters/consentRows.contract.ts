/**
 * The contract of the consent ledger's rows, for every engine: records appended one change at
 * a time per phone (however many writers), news status read a page at a time, the move of an
 * erasure, and durability across a reopen.
 */
import * as assert from 'uvu/assert';
import { ConsentLedger, type ConsentRows } from '../../runtime/consents.ts';
import { contractSuite } from './contract.ts';

export interface ConsentRowsEnv {
  rows: ConsentRows;
  /** The same rows as a restarted process sees them. */
  reopen(): Promise<ConsentRows>;
  /** The same rows as another process sees them, for engines shared by processes. */
  second?(): Promise<ConsentRows>;
  close(): Promise<void>;
}

const AT = '2026-11-29T10:00:00.000Z';
const entry = (marketing: boolean, source = 'pos:CASH1') => ({ at: AT, marketing, source, by: 'terminal' });

export function consentRowsContract(engine: {
  name: string;
  missing?: string | null;
  make(): Promise<ConsentRowsEnv>;
}) {
  const { s, it } = contractSuite('ConsentRows contract', engine);

  it('entries append; a ref is written once; news says yes, optedOut or none', async ({ env }) => {
    const ledger = new ConsentLedger(env.rows);
    assert.is(await ledger.get('+79160000001'), undefined);
    await ledger.record('+79160000001', { ...entry(true), pd: true, pdTextVersion: '2', ref: 'act_1' });
    await ledger.record('+79160000001', { ...entry(true), ref: 'act_1' }); // an effect run again
    await ledger.record('+79160000002', entry(true));
    await ledger.record('+79160000002', entry(false, 'link'));
    await ledger.record('+79160000003', entry(false));
    await ledger.flush();
    const one = await ledger.get('+79160000001');
    assert.is(one?.history.length, 1);
    assert.equal(one?.pd, { at: AT, textVersion: '2' });
    assert.is((await ledger.get('+79160000002'))?.history.at(-1)?.source, 'link');
    const news = await ledger.news(['+79160000001', '+79160000002', '+79160000003', '+79160000009']);
    assert.equal(Object.fromEntries(news), {
      '+79160000001': 'yes',
      '+79160000002': 'optedOut',
      '+79160000003': 'none',
      '+79160000009': 'none',
    });
    assert.equal(await ledger.news([]), new Map());
  });

  it('writers appending to one phone at once keep every entry', async ({ env }) => {
    const other = new ConsentLedger(env.second ? await env.second() : env.rows);
    const ledger = new ConsentLedger(env.rows);
    await Promise.all(
      Array.from({ length: 30 }, (_, i) =>
        (i % 2 ? other : ledger).record('+79160000011', entry(i % 3 !== 0, `web:${i}`)),
      ),
    );
    await Promise.all([ledger.flush(), other.flush()]);
    const record = await ledger.get('+79160000011');
    assert.is(record?.history.length, 30);
    assert.is(new Set(record?.history.map((h) => h.source)).size, 30);
  });

  it('an erasure moves the record under the hash, with its history and an erasure entry', async ({ env }) => {
    const ledger = new ConsentLedger(env.rows);
    await ledger.record('+79160000021', { ...entry(true), pd: true, pdTextVersion: '1' });
    assert.ok(await ledger.erase('+79160000021', 'anon:0123456789abcdef0123', { at: AT, by: 'admin' }));
    assert.not.ok(await ledger.erase('+79160000099', 'anon:x', { at: AT, by: 'admin' }), 'nothing to erase');
    await ledger.flush();
    assert.is(await ledger.get('+79160000021'), undefined);
    const proof = await ledger.get('anon:0123456789abcdef0123');
    assert.is(proof?.marketing, false);
    assert.equal(proof?.pd, { at: AT, textVersion: '1' });
    assert.equal(
      proof?.history.map((h) => h.source),
      ['pos:CASH1', 'erasure'],
    );
    // The erasure itself is kept, without the phone.
    const log = {
      id: 'era_20261129_000000000001',
      at: AT,
      by: 'admin',
      subject: 'anon:0123456789abcdef0123',
      cards: ['1'],
    };
    await ledger.logErasure(log);
    await ledger.flush();
    assert.equal(await ledger.erasure(log.id), log);
    assert.is(await ledger.erasure('era_none'), undefined);
  });

  it('what was flushed is there after a reopen', async ({ env }) => {
    const ledger = new ConsentLedger(env.rows);
    await ledger.record('+79160000031', entry(true));
    await ledger.flush();
    const again = new ConsentLedger(await env.reopen());
    assert.is((await again.get('+79160000031'))?.marketing, true);
  });

  s.run();
}
