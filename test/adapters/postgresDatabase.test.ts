/**
 * A PostgreSQL server that cannot be reached is the catalog's STORE_UNAVAILABLE (a 503 a till
 * retries), and the engine reads unhealthy until a query gets through again.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Database } from '../../adapters/postgres/database.ts';
import { freePort } from '../process.ts';
import { postgresMissing, testServer } from '../postgres.ts';

test('an unreachable server: STORE_UNAVAILABLE from queries and transactions, healthy false', async () => {
  const db = new Database(`postgres://nobody@127.0.0.1:${await freePort()}/none`);
  try {
    const query = await db.query('SELECT 1').catch((err) => err);
    assert.is(query.code, 'STORE_UNAVAILABLE');
    assert.match(query.message, /cannot be reached/);
    assert.is(db.healthy, false);
    const tx = await db.tx(async (q) => q.query('SELECT 1')).catch((err) => err);
    assert.is(tx.code, 'STORE_UNAVAILABLE');
  } finally {
    await db.close();
  }
});

test('text PostgreSQL cannot keep (a NUL character) is a fault of the request: VALIDATION_FAILED', async () => {
  if (postgresMissing) return;
  const db = new Database(await testServer());
  try {
    const err = await db.query('SELECT $1::text AS t', ['a\u0000b']).catch((e) => e);
    assert.is(err.code, 'VALIDATION_FAILED');
    assert.is(db.healthy, true);
  } finally {
    await db.close();
  }
});

test.run();
