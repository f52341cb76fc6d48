/**
 * A backup made by the running service while writes go on: every change acknowledged before it
 * is in the copy, none is half there, and the copy is a data folder a service starts on — with
 * the same secret, so a PIN sent before the backup verifies on the restored copy.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { startService, tempDir } from '../helpers.ts';

const phone = (i: number) => `+7916${String(10_000_000 + i).slice(1)}`;

test('a backup under concurrent writes restores to a working service', async () => {
  const dataDir = tempDir();
  const svc = await startService({ dataDir, config: { otp: { resendCooldownSeconds: 0 } } });
  let restored: Awaited<ReturnType<typeof startService>> | undefined;
  try {
    await svc.call('POST', '/api/v1/cards/import', {
      body: 'number,name,phone\n100,Анна Ли,+79161234567\n',
      headers: { 'Content-Type': 'text/csv' },
    });
    const started = await svc.call('POST', '/api/v1/auth', {
      as: 'terminal',
      json: { phone: '+79161234567', terminal: 'CASH1' },
    });
    assert.is(started.status, 201, started.text);
    const sessionId = started.json.session.id;
    const pin = svc.sms.lastPin();
    for (let i = 0; i < 20; i++)
      await svc.call('POST', '/api/v1/consents', {
        json: { phone: phone(i), marketing: true, source: 'web' },
      });

    // Thirty more writes race the backup.
    const racing = Array.from({ length: 30 }, (_, i) =>
      svc.call('POST', '/api/v1/consents', {
        json: { phone: phone(100 + i), marketing: true, source: 'web' },
      }),
    );
    const backup = await svc.call('POST', '/api/v1/backup');
    assert.is(backup.status, 201, backup.text);
    for (const r of await Promise.all(racing))
      assert.is(r.status, 201, 'writes wait for the copy, then go on');
    const report = backup.json.backup;
    assert.match(report.dir, /\/backups\/\d{8}-\d{6}$/);
    assert.ok(report.bytes > 0, JSON.stringify(report));
    for (const file of ['journal.jsonl', 'secret.key']) assert.ok(existsSync(join(report.dir, file)), file);
    assert.ok(existsSync(join(report.dir, 'backup.json')));
    assert.not.ok(existsSync(join(report.dir, 'smspds.pid')), 'not the lock');
    assert.not.ok(readdirSync(report.dir).includes('backups'), 'not earlier backups');
    assert.is((await svc.call('POST', '/api/v1/backup', { as: 'support' })).status, 403);

    // Restore: a service on the copy.
    restored = await startService({ dataDir: report.dir, config: { otp: { resendCooldownSeconds: 0 } } });
    for (let i = 0; i < 20; i++) {
      const c = await restored.call('GET', `/api/v1/consents/${phone(i)}`);
      assert.is(c.status, 200, `acknowledged before the backup: ${phone(i)}`);
    }
    for (let i = 0; i < 30; i++) {
      const c = await restored.call('GET', `/api/v1/consents/${phone(100 + i)}`);
      if (c.status === 200) assert.is(c.json.consent.history.length, 1, 'whole, or not there');
      else assert.is(c.status, 404);
    }
    const verified = await restored.call('POST', `/api/v1/auth/${sessionId}/verify`, {
      as: 'terminal',
      json: { pin },
    });
    assert.is(verified.status, 200, verified.text);
    assert.is(verified.json.session.card.number, '100');
  } finally {
    await restored?.stop({ keepData: true });
    await svc.stop({ keepData: true });
    rmSync(dataDir, { recursive: true, force: true });
  }
});

test.run();
