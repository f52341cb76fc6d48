/** The command line, run as a user would: import with its all-or-nothing rule, export, tokens. */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import iconv from 'iconv-lite';
import { tempDir } from './helpers.ts';

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
    assert.match(strict.stderr, /line 3: телефон: PHONE_INVALID/);
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

Cli('tokens: create shows the token once and keeps only its hash; revoke removes it', ({ dir }) => {
  const made = run(dir, 'tokens', 'create', '--role', 'support', '--label', 'helpdesk');
  assert.is(made.status, 0, made.stderr);
  const [id, , token] = made.stdout.split('\n')[0]!.split(/\s+/);
  const file = readFileSync(join(dir, 'data', 'tokens.json'), 'utf8');
  assert.not.ok(file.includes(token!), 'the clear token is not stored');
  assert.match(run(dir, 'tokens', 'list').stdout, /support\s+\S+\s+helpdesk/);
  assert.is(run(dir, 'tokens', 'revoke', id!).status, 0);
  assert.is(run(dir, 'tokens', 'list').stdout, '');
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
