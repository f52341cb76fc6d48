/**
 * A large import through the API, with the service run under `npm start`'s heap flags: 444,000
 * lines (3.8 MB) are answered, durable, and the service keeps answering meanwhile; a file over
 * `server.importMaxLines` is refused before a card is written.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { rmSync } from 'node:fs';
import { call, sleep, tempDir, TOKENS } from './helpers.ts';
import { freePort, spawnService, writeConfig } from './process.ts';

const Large = suite('large imports');
const START_FLAGS = ['--max-old-space-size=512', '--max-semi-space-size=8', '--heap-growing-percent=20'];

Large('444,000 lines through the API under the start flags: answered, durable, service alive', async () => {
  const dir = tempDir();
  const port = await freePort();
  const config = writeConfig(dir, { server: { importMaxLines: 450_000 } });
  let svc = await spawnService(config, `${dir}/data`, port, [...START_FLAGS, '--import', 'tsx', 'main.ts']);
  try {
    const lines = ['number'];
    for (let i = 0; i < 444_000; i++) lines.push(String(10_000_000 + i));
    let healthy = 0;
    let importing = true;
    const probe = (async () => {
      while (importing) {
        if ((await fetch(svc.url + '/healthz').catch(() => null))?.ok) healthy += 1;
        await sleep(200);
      }
    })();
    const res = await call(svc.url, 'POST', '/api/v1/cards/import', {
      body: lines.join('\n'),
      headers: { 'Content-Type': 'text/csv' },
    });
    importing = false;
    await probe;
    assert.equal(res.json, { imported: 444_000, updated: 0, rejected: [] });
    assert.ok(healthy > 0, '/healthz answered while the import ran');
    assert.is(svc.child.exitCode, null, 'the service is alive');
    const tooMany = await call(svc.url, 'POST', '/api/v1/cards/import', {
      body: ['number', ...Array.from({ length: 450_001 }, (_, i) => String(20_000_000 + i))].join('\n'),
      headers: { 'Content-Type': 'text/csv' },
    });
    assert.equal([tooMany.status, tooMany.json.error.code], [413, 'IMPORT_TOO_LARGE']);
    assert.is((await call(svc.url, 'GET', '/api/v1/cards/20000000')).status, 404, 'nothing of it written');
    svc.child.kill('SIGKILL');
    await svc.exited;
    svc = await spawnService(config, `${dir}/data`, port, [...START_FLAGS, '--import', 'tsx', 'main.ts']);
    const last = await call(svc.url, 'GET', '/api/v1/cards/10443999', {
      headers: { Authorization: `Bearer ${TOKENS.admin}` },
    });
    assert.is(last.json.card.state, 'inactive', 'the last line is on disk after a kill -9');
  } finally {
    svc.child.kill('SIGKILL');
    await svc.exited;
    rmSync(dir, { recursive: true, force: true });
  }
});

Large.run();
