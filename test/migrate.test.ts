/**
 * `npm run cli -- migrate --to URL`: a venue's data folder moved into PostgreSQL, then served
 * from there. A dry run writes nothing; a pass stopped halfway goes on where it stopped; the
 * counts of both sides are compared; the moved venue verifies a PIN sent before the move,
 * finds its guests' cards, sessions and campaign outcomes.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { copyFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import pg from 'pg';
import { startService, tempDir, TOKENS, type TestService } from './helpers.ts';
import { dropDatabase, newDatabase, postgresMissing } from './postgres.ts';
import { writeConfig } from './process.ts';

const BIN = resolve(import.meta.dirname, '..', 'bin', 'smspds.mjs');

const Migrate = suite<{ dir: string; url: string; svc?: TestService }>(
  'migrate an embedded venue into PostgreSQL',
);
const it = postgresMissing ? Migrate.skip : Migrate;
if (postgresMissing) process.stderr.write(`    migrate --to: skipped, ${postgresMissing}\n`);

Migrate.before.each(async (ctx) => {
  if (postgresMissing) return;
  ctx.dir = tempDir();
  ctx.url = await newDatabase('migrate');
});
Migrate.after.each(async (ctx) => {
  if (postgresMissing) return;
  await ctx.svc?.stop();
  await dropDatabase(ctx.url);
  rmSync(ctx.dir, { recursive: true, force: true });
});

const cli = (dir: string, ...args: string[]) =>
  spawnSync(process.execPath, [BIN, ...args], {
    cwd: dir,
    env: {
      ...process.env,
      SMSPDS_DATA_DIR: join(dir, 'data'),
      SMSPDS_CONFIG: join(dir, 'smspds.config.json'),
    },
    encoding: 'utf8',
  });

it('dry run, a stopped pass resumed, counts verified, and the venue served from PostgreSQL', async (ctx) => {
  const data = join(ctx.dir, 'data');
  writeConfig(ctx.dir);
  // A venue with some history: cards, consents, a verified session, an open one, a campaign.
  let svc = await startService({ dataDir: data });
  const lines = ['number,name,phone'];
  for (let i = 0; i < 50; i++) lines.push(`${700 + i},Гость ${i},+7916${String(i).padStart(7, '0')}`);
  await svc.call('POST', '/api/v1/cards/import', {
    body: lines.join('\n'),
    headers: { 'Content-Type': 'text/csv' },
  });
  for (let i = 0; i < 5; i++)
    await svc.call('POST', '/api/v1/consents', {
      json: { phone: `+7916${String(i).padStart(7, '0')}`, marketing: true, source: 'pos' },
    });
  const done = await svc.call('POST', '/api/v1/auth', {
    as: 'terminal',
    json: { phone: '+79160000001', terminal: 'T1' },
  });
  await svc.call('POST', `/api/v1/auth/${done.json.session.id}/verify`, {
    as: 'terminal',
    json: { pin: svc.sms.lastPin() },
  });
  const open = await svc.call('POST', '/api/v1/auth', {
    as: 'terminal',
    json: { phone: '+79160000002', terminal: 'T1' },
  });
  const pin = svc.sms.lastPin();
  const made = await svc.call('POST', '/api/v1/campaigns', {
    json: { name: 'Новости', text: 'Новое меню', ratePerSecond: 100, quietHours: false },
  });
  const campaignId = made.json.campaign.id;
  await svc.call('POST', `/api/v1/campaigns/${campaignId}/start`);
  for (let i = 0; i < 200; i++) {
    const c = await svc.call('GET', `/api/v1/campaigns/${campaignId}`, { as: 'support' });
    if (c.json.campaign.state === 'completed') break;
    await new Promise((r) => setTimeout(r, 25));
  }
  await svc.stop({ keepData: true });

  const dry = cli(ctx.dir, 'migrate', '--to', ctx.url, '--dry-run');
  assert.is(dry.status, 0, dry.stderr);
  assert.match(dry.stdout, /would move/);
  assert.match(dry.stdout, /cards\s+50/);
  const client = new pg.Client({ connectionString: ctx.url });
  await client.connect();
  try {
    const { rows } = await client.query("SELECT count(*) AS n FROM pg_tables WHERE schemaname = 'public'");
    assert.is(Number(rows[0].n), 0, 'a dry run writes nothing');
  } finally {
    await client.end();
  }

  const first = cli(ctx.dir, 'migrate', '--to', ctx.url);
  assert.is(first.status, 0, first.stderr + first.stdout);
  assert.match(first.stdout, /every count equal/);
  assert.not.match(first.stdout, /DIFFERS/);
  // A second pass (as after a stop halfway) writes the same again and still verifies.
  const again = cli(ctx.dir, 'migrate', '--to', ctx.url);
  assert.is(again.status, 0, again.stderr + again.stdout);
  assert.match(again.stdout, /moved \(resumed\)/);
  assert.match(again.stdout, /cards\s+50\s+50\s+ok/);
  assert.match(again.stdout, /campaign outcome lines\s+5\s+5\s+ok/);

  // Served from PostgreSQL with the venue's secret: the PIN sent before the move verifies.
  const secretFile = join(ctx.dir, 'secret.key');
  copyFileSync(join(data, 'secret.key'), secretFile);
  svc = ctx.svc = await startService({
    dataDir: join(ctx.dir, 'instance'),
    config: { store: { engine: 'postgres', url: ctx.url }, secretFile },
  });
  assert.is(svc.service.engine.name, 'postgres');
  const ok = await svc.call('POST', `/api/v1/auth/${open.json.session.id}/verify`, {
    as: 'terminal',
    json: { pin },
  });
  assert.is(ok.status, 200, ok.text);
  assert.is(ok.json.session.card.number, '702');
  const past = await svc.call('GET', `/api/v1/sessions/${done.json.session.id}`, { as: 'support' });
  assert.is(past.json.session.state, 'verified');
  const campaign = (await svc.call('GET', `/api/v1/campaigns/${campaignId}`, { as: 'support' })).json
    .campaign;
  assert.is(campaign.state, 'completed');
  assert.is(campaign.counts.sent, 5);
  const recipients = await svc.call('GET', `/api/v1/campaigns/${campaignId}/recipients`, { as: 'support' });
  assert.is(recipients.json.items.length, 5);

  // The token commands work on the database; the data-folder commands refuse and say why.
  writeConfig(ctx.dir, { store: { engine: 'postgres', url: ctx.url }, secretFile });
  const created = cli(ctx.dir, 'tokens', 'create', '--role', 'support', '--label', 'head office');
  assert.is(created.status, 0, created.stderr);
  const token = created.stdout.split(/\s+/)[2]!;
  const listed = cli(ctx.dir, 'tokens', 'list');
  assert.match(listed.stdout, /support\s+.*head office/);
  assert.is(
    (await svc.call('GET', '/api/v1/campaigns', { headers: { Authorization: `Bearer ${token}` }, as: null }))
      .status,
    200,
  );
  const exported = cli(ctx.dir, 'cards', 'export');
  assert.is(exported.status, 2);
  assert.match(exported.stderr, /store.engine is postgres/);
  assert.ok(TOKENS.admin);
});

it('refuses a database that holds another service', async (ctx) => {
  writeConfig(ctx.dir);
  const svc = await startService({ dataDir: join(ctx.dir, 'data') });
  await svc.stop({ keepData: true });
  const other = await startService({
    dataDir: join(ctx.dir, 'other'),
    config: { store: { engine: 'postgres', url: ctx.url }, secretFile: writeSecret(ctx.dir) },
  });
  await other.call('POST', '/api/v1/cards/import', {
    body: 'number,name,phone\n1,А Б,+79160000001\n',
    headers: { 'Content-Type': 'text/csv' },
  });
  await other.stop();
  const res = cli(ctx.dir, 'migrate', '--to', ctx.url);
  assert.is(res.status, 2, res.stderr);
  assert.match(res.stderr, /^smspds: the database holds a service already/);
});

function writeSecret(dir: string) {
  const file = join(dir, 'other.key');
  writeFileSync(file, 'ab'.repeat(32));
  return file;
}

Migrate.run();
