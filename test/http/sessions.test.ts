/**
 * Support search over sessions, after a restart so closed ones are read from the archive files:
 * filters, newest first, cursor paging, one whole record by id.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { rmSync } from 'node:fs';
import { startService, tempDir, type TestService } from '../helpers.ts';

const CARDS =
  'number,name,phone\n100,Анна Ли,+79161234567\n101,Борис Ким,+79160000002\n102,Вера Ли,+79160000003\n';

const Search = suite<{ svc: TestService; dir: string; ids: Record<string, string[]> }>(
  'GET /api/v1/sessions',
);
Search.before(async (ctx) => {
  ctx.dir = tempDir();
  const svc = await startService({ dataDir: ctx.dir });
  await svc.call('POST', '/api/v1/cards/import', { body: CARDS, headers: { 'Content-Type': 'text/csv' } });
  const start = async (phone: string, terminal: string) =>
    (await svc.call('POST', '/api/v1/auth', { as: 'terminal', json: { phone, terminal } })).json.session
      .id as string;
  ctx.ids = { anna: [], boris: [], vera: [] };
  // Anna starts three times: each start supersedes the one before (closed, archived).
  for (let i = 0; i < 3; i++) ctx.ids.anna!.push(await start('8 916 123-45-67', 'T1'));
  const boris = await start('+79160000002', 'T2');
  ctx.ids.boris!.push(boris);
  const verified = await svc.call('POST', `/api/v1/auth/${boris}/verify`, {
    as: 'terminal',
    json: { pin: svc.sms.lastPin('+79160000002') },
  });
  assert.is(verified.json.session.state, 'verified');
  ctx.ids.vera!.push(await start('+79160000003', 'T2'));
  await svc.stop({ keepData: true });
  ctx.svc = await startService({ dataDir: ctx.dir }); // closed sessions now live only in the archive
});
Search.after(async (ctx) => {
  await ctx.svc.stop();
  rmSync(ctx.dir, { recursive: true, force: true });
});

const find = (svc: TestService, query: string) =>
  svc.call('GET', `/api/v1/sessions?${query}`, { as: 'support' });

Search(
  'by phone in any form: that phone only, newest first, archived and live together',
  async ({ svc, ids }) => {
    const res = await find(svc, `phone=${encodeURIComponent('8 (916) 123-45-67')}`);
    assert.is(res.status, 200, res.text);
    assert.equal(
      res.json.items.map((s: { id: string }) => s.id),
      [...ids.anna!].reverse(),
    );
    assert.equal(
      res.json.items.map((s: { state: string }) => s.state),
      ['awaitingPin', 'cancelled', 'cancelled'],
    );
    assert.is(res.json.items[0].phone, '+7 916 ***-**-67', 'support sees masked phones');
    assert.is((await find(svc, 'phone=%2B79169999999')).json.items.length, 0, 'a phone never seen');
  },
);

Search('by card and by terminal; pages follow the cursor', async ({ svc, ids }) => {
  const byCard = await find(svc, 'card=101');
  assert.equal(
    byCard.json.items.map((s: { id: string }) => s.id),
    ids.boris,
  );
  const first = await find(svc, 'terminal=T2&limit=1');
  assert.equal(
    first.json.items.map((s: { id: string }) => s.id),
    ids.vera,
  );
  assert.ok(first.json.nextCursor);
  const second = await find(svc, `terminal=T2&limit=1&cursor=${first.json.nextCursor}`);
  assert.equal(
    second.json.items.map((s: { id: string }) => s.id),
    ids.boris,
  );
  assert.is(second.json.nextCursor, null);
});

Search('an archived session is read whole by its id', async ({ svc, ids }) => {
  const res = await svc.call('GET', `/api/v1/sessions/${ids.anna![0]}`, { as: 'support' });
  assert.is(res.status, 200, res.text);
  assert.is(res.json.session.state, 'cancelled');
  assert.ok(
    res.json.session.timeline.some(
      (e: { detail?: { reason?: string } }) => e.detail?.reason === 'superseded',
    ),
  );
  const none = await svc.call('GET', '/api/v1/sessions/ses_20261129_nothing', { as: 'support' });
  assert.is(none.status, 404);
});

Search.run();
