/**
 * The contract of the kept API tokens, for every engine: hashes only, a mark that changes with
 * every change, and a registry on the same rows (another instance, the CLI) that takes a new or
 * revoked token at its next look, a second later at most.
 */
import * as assert from 'uvu/assert';
import { TokenRegistry, type TokenRows } from '../../runtime/tokens.ts';
import { parseConfig } from '../../runtime/config.ts';
import { contractSuite } from './contract.ts';

export interface TokenRowsEnv {
  rows: TokenRows;
  /** The same rows as another process sees them. */
  second(): Promise<TokenRows>;
  /** Everything the engine keeps, as text: no clear token may be in it. */
  dump(): Promise<string>;
  close(): Promise<void>;
}

export function tokenRowsContract(engine: {
  name: string;
  missing?: string | null;
  make(): Promise<TokenRowsEnv>;
}) {
  const { s, it } = contractSuite('TokenRows contract', engine);

  it('a token made on one registry works on another within a second; revoked, it stops', async ({ env }) => {
    let now = 1_000_000;
    const config = parseConfig({});
    const cli = await TokenRegistry.open(env.rows, config, () => now);
    const service = await TokenRegistry.open(await env.second(), config, () => now);
    const before = await env.rows.mark();
    const { token, entry } = await cli.create('support', 'helpdesk');
    assert.is.not(await env.rows.mark(), before, 'the mark changed');
    assert.is(cli.roleOf(token), 'support');
    assert.not.ok((await env.dump()).includes(token), 'only the hash is kept');
    assert.is(service.roleOf(token), null, 'not before its next look');
    now += 1001;
    await service.fresh();
    assert.is(service.identify(token)?.label, 'helpdesk');
    assert.equal(
      service.list().map((t) => t.id),
      [entry.id],
    );
    assert.ok(await cli.revoke(entry.id));
    assert.not.ok(await cli.revoke(entry.id), 'gone already');
    now += 1001;
    await service.fresh();
    assert.is(service.roleOf(token), null);
    assert.equal(service.list(), []);
  });

  it('the first start makes a terminal and an admin token, once', async ({ env }) => {
    const registry = await TokenRegistry.open(env.rows, parseConfig({}));
    const made = await registry.bootstrap();
    assert.equal(
      made.map((t) => t.role),
      ['terminal', 'admin'],
    );
    assert.is(registry.roleOf(made[1]!.token), 'admin');
    assert.equal(await (await TokenRegistry.open(env.rows, parseConfig({}))).bootstrap(), []);
  });

  s.run();
}
