/**
 * The server secret from `secretFile`: instances given the same file key phones the same way
 * (an erased guest's hash is the same on both), nothing is made in the data folder, and a
 * missing or malformed file stops the start with the key named.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { randomBytes } from 'node:crypto';
import { existsSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startService, tempDir } from '../helpers.ts';

test('instances given one secret file key a phone the same way; a bad file stops the start', async () => {
  const dir = tempDir();
  const secretFile = join(dir, 'secret.hex');
  writeFileSync(secretFile, randomBytes(32).toString('hex') + '\n', { mode: 0o600 });
  const services = [
    await startService({ config: { secretFile } as never }),
    await startService({ config: { secretFile } as never }),
  ];
  try {
    const subjects: string[] = [];
    for (const svc of services) {
      assert.not.ok(existsSync(join(svc.dataDir, 'secret.key')), 'no secret made in the data folder');
      await svc.call('POST', '/api/v1/consents', {
        json: { phone: '+79161234567', marketing: true, source: 'web' },
      });
      const erased = await svc.call('DELETE', '/api/v1/holders/+79161234567');
      assert.is(erased.status, 200, erased.text);
      subjects.push(erased.json.erasure.subject);
    }
    assert.match(subjects[0]!, /^anon:[0-9a-f]{20}$/);
    assert.is(subjects[1], subjects[0], 'the same keyed hash on both instances');
    writeFileSync(secretFile, 'not hex\n');
    let error: unknown;
    await startService({ config: { secretFile } as never }).catch((err) => (error = err));
    assert.match(String(error), /secretFile: .* must hold 64 hex characters/);
    let missing: unknown;
    await startService({ config: { secretFile: join(dir, 'nothing') } as never }).catch(
      (err) => (missing = err),
    );
    assert.match(String(missing), /secretFile: cannot read/);
  } finally {
    for (const svc of services) await svc.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});

test.run();
