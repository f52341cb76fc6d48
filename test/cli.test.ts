/** The command line, run as a user would: import with its all-or-nothing rule, export, tokens. */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import iconv from 'iconv-lite';
import { tempDir, call, TOKENS } from './helpers.ts';
import { freePort, spawnService, writeConfig } from './process.ts';
import { FakeSmsru } from './fakes/providers/smsru.ts';
import { TokenRegistry } from '../runtime/tokens.ts';
import { TokenFile } from '../adapters/store/tokenFile.ts';
import { parseConfig } from '../runtime/config.ts';
import { spawn } from 'node:child_process';

/** The CLI in a child process without blocking this one (the fake provider answers meanwhile). */
function runAsync(
  dir: string,
  ...args: string[]
): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((ok) => {
    const child = spawn(process.execPath, [BIN, ...args], {
      cwd: dir,
      env: { ...process.env, SMSPDS_DATA_DIR: join(dir, 'data') },
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('close', (status) => ok({ status, stdout, stderr }));
  });
}

const BIN = resolve(import.meta.dirname, '..', 'bin', 'smspds.mjs');
const run = (dir: string, ...args: string[]) =>
  spawnSync(process.execPath, [BIN, ...args], {
    cwd: dir,
    env: { ...process.env, SMSPDS_DATA_DIR: join(dir, 'data') },
    encoding: 'utf8',
  });

const Cli = suite<{ dir: string }>('smspds command line');
Cli.before.each((ctx) => {
  ctx.dir = tempDir();
});
Cli.after.each((ctx) => rmSync(ctx.dir, { recursive: true, force: true }));

Cli(
  'cards import: a bad line stops the whole file; --partial imports the rest; export writes CardImp',
  ({ dir }) => {
    const csv = join(dir, 'base.csv');
    writeFileSync(
      csv,
      iconv.encode(
        'номер;фио;телефон\n1001;Анна Ли;+79160000001\n1002;Борис;bad\n1003;Вера;+79160000003\n',
        'win1251',
      ),
    );
    const strict = run(dir, 'cards', 'import', csv);
    assert.is(strict.status, 3, strict.stderr);
    assert.match(strict.stderr, /line 3 \(phone\): телефон \/ phone: PHONE_INVALID/);
    assert.match(strict.stderr, /nothing imported/);
    const partial = run(dir, 'cards', 'import', csv, '--partial');
    assert.is(partial.status, 0, partial.stderr);
    assert.match(partial.stdout, /imported 2, updated 0, rejected 1/);
    const out = join(dir, 'out.csv');
    const exported = run(dir, 'cards', 'export', '-o', out);
    assert.match(exported.stdout, /2 card\(s\) written/);
    assert.is(iconv.decode(readFileSync(out), 'win1251'), '1001,,0,0,,Анна Ли,0,\r\n1003,,0,0,,Вера,0,\r\n');
  },
);

Cli('tokens: create shows the token once and keeps only its hash; revoke removes it', async ({ dir }) => {
  // The running service's registry, with a clock the test moves.
  mkdirSync(join(dir, 'data'), { recursive: true });
  let now = 1_000_000;
  const service = await TokenRegistry.open(new TokenFile(join(dir, 'data')), parseConfig({}), () => now);
  const made = run(dir, 'tokens', 'create', '--role', 'support', '--label', 'helpdesk');
  assert.is(made.status, 0, made.stderr);
  const [id, , token] = made.stdout.split('\n')[0]!.split(/\s+/);
  const file = readFileSync(join(dir, 'data', 'tokens.json'), 'utf8');
  assert.not.ok(file.includes(token!), 'the clear token is not stored');
  assert.match(run(dir, 'tokens', 'list').stdout, /support\s+\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\s+helpdesk/);
  now += 1001;
  await service.fresh();
  assert.is(service.roleOf(token), 'support', 'the running service takes the new token, no restart');
  assert.is(run(dir, 'tokens', 'revoke', id!).status, 0);
  assert.is(run(dir, 'tokens', 'list').stdout, '');
  now += 1001;
  await service.fresh();
  assert.is(service.roleOf(token), null, 'a revoked token stops working without a restart');
  assert.is(run(dir, 'tokens', 'create', '--role', 'root').status, 2);
});

Cli('config check hides secrets', ({ dir }) => {
  writeFileSync(
    join(dir, 'smspds.config.json'),
    JSON.stringify({ auth: { adminTokens: ['a-very-secret-admin-token'] } }),
  );
  const res = run(dir, 'config', 'check');
  assert.is(res.status, 0, res.stderr);
  assert.not.ok(res.stdout.includes('a-very-secret-admin-token'));
  assert.match(res.stdout, /"adminTokens": \[\s+"\*\*\*"/);
});

Cli.run();

const Sms = suite<{ dir: string; smsru: FakeSmsru }>('smspds sms');
Sms.before.each(async (ctx) => {
  ctx.dir = tempDir();
  ctx.smsru = await new FakeSmsru().start();
  writeFileSync(
    join(ctx.dir, 'smspds.config.json'),
    JSON.stringify({
      sms: { providers: ['smsru'], smsru: { apiId: 'API-ID-1', url: ctx.smsru.url }, balanceWarning: 5000 },
    }),
  );
});
Sms.after.each(async (ctx) => {
  await ctx.smsru.stop();
  rmSync(ctx.dir, { recursive: true, force: true });
});
Sms('sms test prints each provider answer; sms balance flags a low balance', async ({ dir, smsru }) => {
  const sent = await runAsync(dir, 'sms', 'test', '89161234567');
  assert.is(sent.status, 0, sent.stderr);
  assert.match(sent.stdout, /to \+7 916 \*\*\*-\*\*-67, 1 SMS, via smsru/);
  assert.match(sent.stdout, /smsru\s+accepted id 000000-\d+/);
  assert.is(smsru.sent('/sms/send')[0]!.fields.to, '79161234567');
  smsru.queue('error:201');
  const failed = await runAsync(dir, 'sms', 'test', '89161234567');
  assert.is(failed.status, 4);
  assert.match(failed.stdout, /smsru\s+failed\s+201: account: Не хватает средств/);
  const balance = await runAsync(dir, 'sms', 'balance');
  assert.match(balance.stdout, /smsru\s+4122\.56 {2}LOW \(under 5000\)/);
});
Sms.run();

const CampaignCli = suite('smspds campaign');
CampaignCli('create, start and follow a campaign through the running service', async () => {
  const dir = tempDir();
  const port = await freePort();
  const config = writeConfig(dir, { campaigns: { quietHours: false } });
  const svc = await spawnService(config, join(dir, 'data'), port);
  try {
    await call(svc.url, 'POST', '/api/v1/cards/import', {
      body: 'number,name,phone\n1,Анна Ли,+79160000001\n2,Борис Ким,+79160000002\n',
      headers: { 'Content-Type': 'text/csv' },
    });
    for (const phone of ['+79160000001', '+79160000002'])
      await call(svc.url, 'POST', '/api/v1/consents', { json: { phone, marketing: true, source: 'pos' } });
    const cli = (...args: string[]) =>
      runAsync(dir, 'campaign', '--url', svc.url, '--token', TOKENS.admin, ...args);
    const created = await cli(
      'create',
      '--name',
      'Меню',
      '--text',
      '{firstName}, новое меню!',
      '--rate',
      '5',
    );
    assert.is(created.status, 0, created.stderr);
    const id = created.stdout.split(/\s+/)[0]!;
    assert.match(id, /^cmp_/);
    assert.match((await cli('list')).stdout, new RegExp(`${id}\\s+draft`));
    assert.is((await cli('start', id)).status, 0);
    const followed = await cli('follow', id);
    assert.is(followed.status, 0, followed.stderr);
    assert.match(followed.stdout, /completed: sent 2 of 2, failed 0, unknown 0/);
    const shown = await cli('show', id);
    assert.match(shown.stdout, /run run_\S+\s+completed total 2, sent 2/);
    const bad = await cli('pause', id);
    assert.is(bad.status, 2);
    assert.match(bad.stderr, /CAMPAIGN_STATE/);
    // What happened to one guest's authorization, from the terminal.
    await call(svc.url, 'POST', '/api/v1/auth', {
      as: 'terminal',
      json: { phone: '+79160000001', terminal: 'CASH1' },
    });
    const asAdmin = (...args: string[]) => runAsync(dir, '--url', svc.url, '--token', TOKENS.admin, ...args);
    const sessionsCli = (...args: string[]) =>
      runAsync(dir, '--url', svc.url, '--token', TOKENS.support, 'sessions', ...args);
    const found = await sessionsCli('find', '8 916 000-00-01');
    assert.is(found.status, 0, found.stderr);
    assert.match(
      found.stdout,
      /ses_\S+\s+\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\s+auth\s+awaitingPin\s+\+7 916 \*\*\*-\*\*-01\s+card 1\s+terminal:CASH1 \(config terminal #1\)/,
      'the venue’s local time, who did it',
    );
    const shown2 = await sessionsCli('show', found.stdout.split(/\s+/)[0]!);
    assert.match(
      shown2.stdout,
      /(Код отправлен через консоль \(без отправки\) в|The code went via console \(nothing sent\) at) \d\d:\d\d/,
      'the diagnosis first',
    );
    assert.match(shown2.stdout, /start\s+→ requested/);
    assert.match(shown2.stdout, /sendPin\.done\s+sendingSms → awaitingPin/);
    assert.match(shown2.stdout, /console\s+accepted id /);
    // Retention, dry: what would go, nothing changed.
    const retention = await asAdmin('retention', 'run', '--dry-run');
    assert.is(retention.status, 0, retention.stderr);
    assert.match(retention.stdout, /^dry run: nothing changed/);
    assert.match(retention.stdout, /sessions and activations before \d{4}-\d\d-\d\d: 0 would be anonymised/);
    assert.match(retention.stdout, /outbox messages before \d{4}-\d\d-\d\d: 0 would be deleted/);
    // A guest's data, as the text to hand over.
    const exported = await asAdmin('holders', 'export', '8 916 000-00-01', '--text');
    assert.is(exported.status, 0, exported.stderr);
    assert.match(exported.stdout, /^Данные, которые SMS PDS хранит о владельце телефона \+79160000001/);
    assert.match(exported.stdout, /• 1: действует; владелец Анна Ли/);
    // Erasure asks for --yes, then names what it changed.
    const unsure = await asAdmin('holders', 'erase', '8 916 000-00-02');
    assert.is(unsure.status, 2);
    assert.match(unsure.stderr, /cannot be undone: add --yes/);
    const erased = await asAdmin('holders', 'erase', '8 916 000-00-02', '--yes');
    assert.is(erased.status, 0, erased.stderr);
    assert.match(
      erased.stdout,
      /^era_\S+ .*: cards 2; \d+ records and 1 campaign lines anonymised; consent kept as proof under anon:[0-9a-f]{20}/,
    );
    // A backup through the running service, which holds the folder; then, stopped, here.
    const online = await asAdmin('backup');
    assert.is(online.status, 0, online.stderr);
    assert.match(
      online.stdout,
      /^backup \S+\/backups\/\d{8}-\d{6}: \d+ files, [\d.]+ MB \(writes paused \d+ ms\)/,
    );
    const onlineDir = online.stdout.split(/\s+/)[1]!.replace(/:$/, '');
    assert.ok(existsSync(join(onlineDir, 'secret.key')) && !existsSync(join(onlineDir, 'smspds.pid')));
    assert.is(
      (await asAdmin('backup', '--out', join(dir, 'elsewhere'))).status,
      2,
      'the service picks the place',
    );
    svc.child.kill('SIGTERM');
    await svc.exited;
    const offline = await runAsync(dir, 'backup', '--out', join(dir, 'copy'));
    assert.is(offline.status, 0, offline.stderr);
    assert.match(offline.stdout, new RegExp(`backup ${join(dir, 'copy')}: \\d+ files`));
    // Either copy is a data folder: the cards are there.
    for (const copy of [onlineDir, join(dir, 'copy')]) {
      const exported = spawnSync(process.execPath, [BIN, 'cards', 'export', '-o', join(dir, 'out.csv')], {
        cwd: dir,
        env: { ...process.env, SMSPDS_DATA_DIR: copy },
        encoding: 'utf8',
      });
      assert.is(exported.status, 0, exported.stderr);
      assert.match(iconv.decode(readFileSync(join(dir, 'out.csv')), 'win1251'), /Анна Ли/);
    }
  } finally {
    svc.child.kill('SIGTERM');
    await svc.exited;
    rmSync(dir, { recursive: true, force: true });
  }
});
CampaignCli.run();
