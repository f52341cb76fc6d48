/**
 * A full disk under a running service (a small tmpfs made by the test): every change that could
 * not be made durable is answered `503 STORE_UNAVAILABLE` and never read back, `/healthz` says
 * the store is failing, and the service resumes by itself once the disk has room again — with
 * exactly the acknowledged changes, before and after a kill -9.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { execFileSync } from 'node:child_process';
import { closeSync, mkdirSync, openSync, rmSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { call, sleep, tempDir, type CallResult } from './helpers.ts';
import { freePort, spawnService, writeConfig, type ServiceProcess } from './process.ts';

/** Mounting a tmpfs needs root; elsewhere the test is listed as skipped. */
const root = process.getuid?.() === 0;
const Disk = suite('disk full');

/** Fill the file system holding `path` to the last byte it takes. */
function fill(path: string) {
  const fd = openSync(path, 'w');
  try {
    for (let chunk = 1 << 16; chunk >= 1; chunk >>= 1) {
      const buf = Buffer.alloc(chunk, 0x61);
      for (;;) {
        try {
          writeSync(fd, buf);
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code !== 'ENOSPC') throw err;
          break;
        }
      }
    }
  } finally {
    closeSync(fd);
  }
}

async function healthy(url: string, want: boolean, seconds = 30): Promise<any> {
  for (let i = 0; i < seconds * 10; i++) {
    const res = await fetch(url + '/healthz').catch(() => null);
    if (res && res.ok === want) return res.json();
    await sleep(100);
  }
  throw new Error(`/healthz did not turn ${want ? 'ok' : 'failing'}`);
}

(root ? Disk : Disk.skip)(
  'a full data folder: 503 STORE_UNAVAILABLE, no unsaved change is ever read, resumes by itself',
  async () => {
    const dir = tempDir();
    const disk = join(dir, 'disk');
    mkdirSync(disk);
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=3m', 'tmpfs', disk]);
    let svc: ServiceProcess | undefined;
    try {
      const data = join(disk, 'data');
      const config = writeConfig(dir, {
        cards: { confirmPhone: 'optional' },
        limits: { perTerminalPerHour: 0, activationsPerTerminalPerHour: 0 },
      });
      const port = await freePort();
      svc = await spawnService(config, data, port);
      const url = svc.url;
      assert.is(
        (await call(url, 'POST', '/api/v1/cards/ranges', { json: { from: '100', to: '199' } })).status,
        201,
      );
      const activate = (n: number) =>
        call(url, 'POST', '/api/v1/cards/activate', {
          as: 'terminal',
          json: {
            cardNumber: String(n),
            fullName: 'Гость Тестовый',
            birthday: '1985-03-12',
            pdConsent: true,
            phone: `+7916000${String(n).padStart(4, '0')}`,
            confirm: 'none',
          },
        });
      const first = await activate(100);
      assert.is(first.status, 201, first.text);

      fill(join(disk, 'filler'));
      const answers = new Map<number, CallResult>();
      for (let n = 101; n <= 120; n++) answers.set(n, await activate(n));
      const refused = [...answers].filter(([, r]) => r.status !== 201);
      assert.ok(refused.length > 0, 'a full disk refused something');
      for (const [n, r] of refused) {
        assert.equal([r.status, r.json?.error?.code], [503, 'STORE_UNAVAILABLE'], `card ${n}: ${r.text}`);
        assert.ok(r.json.error.message.length > 0);
      }
      const health = await healthy(url, false);
      assert.is(health.status, 'failing');
      const read = await call(url, 'GET', `/api/v1/cards/${refused[0]![0]}`);
      assert.equal(
        [read.status, read.json.error.code],
        [503, 'STORE_UNAVAILABLE'],
        'nothing is served meanwhile',
      );

      rmSync(join(disk, 'filler'));
      await healthy(url, true);
      // A refused activation left nothing, or — when its start had reached the disk before the
      // failure, as after a crash — the resumed service finished it whole: the card bound to this
      // guest and the activation `activated`. Never a half: an active card with no activation,
      // or a reserved card with no live workflow.
      const check = async (where: string) => {
        for (const [n, r] of answers) {
          const card = (await call(url, 'GET', `/api/v1/cards/${n}`)).json.card;
          const runs = (await call(url, 'GET', `/api/v1/sessions?card=${n}`)).json.items;
          if (r.status === 201 || card.state === 'active') {
            assert.is(card.state, 'active', `${where}: card ${n}`);
            assert.is(card.holder.phone, `+7916000${String(n).padStart(4, '0')}`);
            assert.equal(
              runs.map((a: { state: string }) => a.state),
              ['activated'],
              `${where}: card ${n}`,
            );
          } else {
            assert.is(card.state, 'inactive', `${where}: card ${n}`);
            assert.equal(runs, [], `${where}: nothing of card ${n} was kept`);
          }
        }
        const unsaved = refused.filter(([n]) => answers.get(n)!.status !== 201);
        const kept = [];
        for (const [n] of unsaved)
          if ((await call(url, 'GET', `/api/v1/cards/${n}`)).json.card.state === 'active') kept.push(n);
        assert.ok(kept.length <= 1, `only a start already on disk is finished: ${kept}`);
      };
      await check('resumed without a restart');
      const retry = refused.map(([n]) => n).find((n) => n > refused[0]![0])!;
      const again = await activate(retry);
      assert.is(again.status, 201, 'a refused activation goes through now');
      answers.set(retry, again);

      svc.child.kill('SIGKILL');
      await svc.exited;
      svc = await spawnService(config, data, port);
      await check('after kill -9 and a restart');
    } finally {
      if (svc) {
        svc.child.kill('SIGKILL');
        await svc.exited;
      }
      execFileSync('umount', [disk]);
      rmSync(dir, { recursive: true, force: true });
    }
  },
);

Disk.run();
