/** `npm run demo` runs the cashier's flows end to end, as the RK7 scripts call them. */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { resolve } from 'node:path';

test('npm run demo issues a card and authorizes it by SMS', () => {
  const res = spawnSync(process.execPath, ['--import', 'tsx', 'demo.ts'], {
    cwd: resolve(import.meta.dirname, '..'),
    encoding: 'utf8',
    timeout: 60_000,
  });
  assert.is(res.status, 0, res.stderr);
  assert.match(res.stdout, /Карта выдана: 100003 Иванов Иван/);
  assert.match(res.stdout, /422 status=error {2}code=PIN_INVALID/);
  assert.match(res.stdout, /state=verified .* card=100003 {2}holder=Иванов Иван {2}discount=5/);
});

test.run();
