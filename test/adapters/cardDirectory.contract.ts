/**
 * The contract every CardDirectory adapter passes. A new back end (a database, say) adds one
 * line to the runner below with a factory of its own.
 */
import { contractSuite } from './contract.ts';
import * as assert from 'uvu/assert';
import type { CardDirectory, Holder } from '../../runtime/ports.ts';

export interface DirectoryFactory {
  name: string;
  /** Why the suite cannot run here (its tests are counted as skipped), or null. */
  missing?: string | null;
  /** A fresh, empty directory. */
  make(): Promise<{ directory: CardDirectory; reopen(): Promise<CardDirectory>; close(): Promise<void> }>;
}

const AT = '2026-11-29T10:00:00.000Z';
const holder = (phone: string): Holder => ({ fullName: 'Анна Ли', birthday: '1990-01-01', phone });
const spec = { discount: 5, bonus: 1, expiresAt: null, virtual: false };

async function codeOf(p: Promise<unknown>): Promise<string> {
  try {
    await p;
    return 'ok';
  } catch (err) {
    return (err as { code: string }).code;
  }
}

export function cardDirectoryContract(factory: DirectoryFactory) {
  const { s, it } = contractSuite('CardDirectory contract', factory);

  it('a range makes inactive cards; an overlap makes nothing', async ({ env: { directory } }) => {
    const range = await directory.createRange({ ...spec, from: '0100', to: '0109' }, AT);
    assert.is(range.count, 10);
    assert.is((await directory.get('0105'))?.state, 'inactive');
    assert.is(
      await codeOf(directory.createRange({ ...spec, from: '0109', to: '0120' }, AT)),
      'RANGE_OVERLAP',
    );
    assert.is(await directory.get('0115'), undefined);
    assert.is(await directory.count(), 10);
  });

  it('reserve → activate: one winner per card, idempotent for the same activation', async ({
    env: { directory },
  }) => {
    await directory.createRange({ ...spec, from: '10', to: '12' }, AT);
    const a = await directory.reserve({
      number: '10',
      activationId: 'a',
      phone: '+79160000001',
      onePerPhone: true,
      at: AT,
    });
    assert.is(a.state, 'reserved');
    assert.is(
      (
        await directory.reserve({
          number: '10',
          activationId: 'a',
          phone: '+79160000001',
          onePerPhone: true,
          at: AT,
        })
      ).number,
      '10',
    );
    assert.is(
      await codeOf(
        directory.reserve({
          number: '10',
          activationId: 'b',
          phone: '+79160000002',
          onePerPhone: true,
          at: AT,
        }),
      ),
      'CARD_ALREADY_ACTIVE',
    );
    const active = await directory.activate('10', 'a', holder('+79160000001'), AT);
    assert.is(active.state, 'active');
    assert.is(
      (await directory.activate('10', 'a', holder('+79160000001'), AT)).state,
      'active',
      'replay is harmless',
    );
    assert.is(await codeOf(directory.activate('10', 'b', holder('+79160000002'), AT)), 'CARD_ALREADY_ACTIVE');
    assert.equal(
      (await directory.byPhone('+79160000001')).map((c) => c.number),
      ['10'],
    );
    const many = await directory.getMany(['10', '11', 'nope', '10']);
    assert.equal([...many.keys()].sort(), ['10', '11'], 'the cards that exist, once each');
    assert.is(many.get('10')?.holder?.phone, '+79160000001');
    assert.equal(await directory.getMany([]), new Map());
  });

  it('one card per phone, counting reservations', async ({ env: { directory } }) => {
    await directory.createRange({ ...spec, from: '20', to: '22' }, AT);
    await directory.reserve({
      number: '20',
      activationId: 'a',
      phone: '+79160000001',
      onePerPhone: true,
      at: AT,
    });
    assert.is(
      await codeOf(
        directory.reserve({
          number: '21',
          activationId: 'b',
          phone: '+79160000001',
          onePerPhone: true,
          at: AT,
        }),
      ),
      'PHONE_ALREADY_REGISTERED',
    );
    assert.is(
      await codeOf(
        directory.reserve({
          number: '21',
          activationId: 'b',
          phone: '+79160000001',
          onePerPhone: false,
          at: AT,
        }),
      ),
      'ok',
    );
  });

  it('release gives a card back; the virtual pool hands out the lowest free number', async ({
    env: { directory },
  }) => {
    await directory.createRange({ ...spec, from: '900', to: '902', virtual: true }, AT);
    const first = await directory.reserve({
      number: null,
      activationId: 'a',
      phone: '+79160000001',
      onePerPhone: true,
      at: AT,
    });
    assert.is(first.number, '900');
    const second = await directory.reserve({
      number: null,
      activationId: 'b',
      phone: '+79160000002',
      onePerPhone: true,
      at: AT,
    });
    assert.is(second.number, '901');
    await directory.release('900', 'a', AT);
    assert.is((await directory.get('900'))?.state, 'inactive');
    const third = await directory.reserve({
      number: null,
      activationId: 'c',
      phone: '+79160000003',
      onePerPhone: true,
      at: AT,
    });
    assert.is(third.number, '900');
    await directory.reserve({
      number: null,
      activationId: 'd',
      phone: '+79160000004',
      onePerPhone: true,
      at: AT,
    });
    assert.is(
      await codeOf(
        directory.reserve({
          number: null,
          activationId: 'e',
          phone: '+79160000005',
          onePerPhone: true,
          at: AT,
        }),
      ),
      'POOL_EMPTY',
    );
  });

  it('blocked and expired cards are refused', async ({ env: { directory } }) => {
    await directory.createRange({ ...spec, from: '30', to: '31', expiresAt: '2020-01-01' }, AT);
    await directory.createRange({ ...spec, from: '40', to: '41' }, AT);
    assert.is(
      await codeOf(
        directory.reserve({
          number: '30',
          activationId: 'a',
          phone: '+79160000001',
          onePerPhone: true,
          at: AT,
        }),
      ),
      'CARD_EXPIRED',
    );
    await directory.update('40', { state: 'blocked' }, AT);
    assert.is(
      await codeOf(
        directory.reserve({
          number: '40',
          activationId: 'a',
          phone: '+79160000001',
          onePerPhone: true,
          at: AT,
        }),
      ),
      'CARD_BLOCKED',
    );
    assert.is((await directory.update('40', { state: 'unblocked' }, AT)).state, 'inactive');
    assert.is(
      await codeOf(
        directory.reserve({
          number: '99',
          activationId: 'a',
          phone: '+79160000001',
          onePerPhone: true,
          at: AT,
        }),
      ),
      'CARD_NOT_FOUND',
    );
  });

  it('import creates and updates; export lists holders changed since a time', async ({
    env: { directory },
  }) => {
    const rows = [
      {
        line: 1,
        number: '500',
        expiresAt: null,
        discount: 1,
        bonus: 0,
        holder: holder('+79160000001'),
        blocked: false,
      },
      { line: 2, number: '501', expiresAt: null, discount: 1, bonus: 0, holder: null, blocked: false },
    ];
    assert.equal(await directory.import(rows, { partial: false, at: AT }), {
      imported: 2,
      updated: 0,
      rejected: [],
    });
    const later = '2026-11-30T10:00:00.000Z';
    assert.equal(await directory.import([{ ...rows[0]!, discount: 9 }], { partial: false, at: later }), {
      imported: 0,
      updated: 1,
      rejected: [],
    });
    const all = [];
    for await (const c of directory.changedSince(null)) all.push(c.number);
    assert.equal(all, ['500']);
    const since = [];
    for await (const c of directory.changedSince('2026-11-30T00:00:00.000Z')) since.push(c.discount);
    assert.equal(since, [9]);
  });

  it('everything survives a reopen', async ({ env }) => {
    await env.directory.createRange({ ...spec, from: '60', to: '62', virtual: true }, AT);
    await env.directory.reserve({
      number: null,
      activationId: 'a',
      phone: '+79160000001',
      onePerPhone: true,
      at: AT,
    });
    await env.directory.activate('60', 'a', holder('+79160000001'), AT);
    await env.directory.reserve({
      number: null,
      activationId: 'b',
      phone: '+79160000002',
      onePerPhone: true,
      at: AT,
    });
    const reopened = await env.reopen();
    assert.is((await reopened.get('60'))?.state, 'active');
    assert.is((await reopened.byPhone('+79160000001'))[0]?.number, '60');
    assert.is(
      (
        await reopened.reserve({
          number: null,
          activationId: 'b',
          phone: '+79160000002',
          onePerPhone: true,
          at: AT,
        })
      ).number,
      '61',
      'the reservation is still held by b',
    );
    assert.is(
      await codeOf(
        reopened.reserve({
          number: null,
          activationId: 'c',
          phone: '+79160000002',
          onePerPhone: true,
          at: AT,
        }),
      ),
      'PHONE_ALREADY_REGISTERED',
    );
    assert.is(
      (
        await reopened.reserve({
          number: null,
          activationId: 'c',
          phone: '+79160000003',
          onePerPhone: true,
          at: AT,
        })
      ).number,
      '62',
    );
  });

  s.run();
}
