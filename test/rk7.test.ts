/**
 * The RK7 scripts cannot drift from the service: every path they call is a route, every field
 * they send is one the endpoint reads, every key=value name they read is in a real answer of
 * the endpoints they call, and every error code they name is in the catalog. The shipped
 * scripts are the build of rk7/src.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { buildScript, SCRIPTS } from '../rk7/build.ts';
import { activateSchema } from '../runtime/activation/activations.ts';
import { startSchema } from '../runtime/auth/sessions.ts';
import { catalog } from '../machines/errors.ts';
import { startService, type TestService } from './helpers.ts';

const RK7 = resolve(import.meta.dirname, '..', 'rk7');
const read = (name: string) => readFileSync(join(RK7, `${name}.pas`), 'utf8');

/** What a script does: its calls (path with ids as :id, fields sent), names read, codes named. */
function analyse(source: string) {
  const calls = [
    ...source.matchAll(/CallSmsPds\('([^']*)'(?: \+ \w+ \+ '([^']*)')?, ([^;]*?), answer\)/g),
  ].map((m) => {
    const path = m[2] !== undefined ? `${m[1]}:id${m[2]}` : m[1]!;
    const fields = [...m[3]!.matchAll(/['&](\w+)=/g)].map((f) => f[1]!);
    return { path, fields };
  });
  // Fields added to a body after the call line is built (body := body + '&cardNumber=' ...).
  const bodyFields = [...source.matchAll(/body := [^;]*/g)].flatMap((m) =>
    [...m[0].matchAll(/['&](\w+)=/g)].map((f) => f[1]!),
  );
  const reads = [
    ...new Set([...source.matchAll(/KvValue\((?:answer|Answer), '(\w+)'\)/g)].map((m) => m[1]!)),
  ];
  const codes = [...new Set([...source.matchAll(/code = '([A-Z_]+)'/g)].map((m) => m[1]!))];
  return { calls, bodyFields, reads, codes };
}

const FIELDS: Record<string, string[]> = {
  '/auth': Object.keys(startSchema.shape),
  '/auth/:id/verify': ['pin', 'terminal'],
  '/auth/:id/resend': ['terminal'],
  '/auth/:id/cancel': ['reason', 'terminal'],
  '/cards/activate': Object.keys(activateSchema.shape),
  '/cards/activations/:id/verify': ['pin', 'terminal'],
  '/cards/activations/:id/resend': ['terminal'],
  '/cards/activations/:id/cancel': ['reason', 'terminal'],
};

const Rk7 = suite<{ svc: TestService }>('RK7 scripts against the API');
Rk7.before(async (ctx) => {
  ctx.svc = await startService({ config: { otp: { phoneOnly: true, resendCooldownSeconds: 0 } } });
});
Rk7.after(async (ctx) => ctx.svc.stop());

Rk7('the shipped scripts are the build of rk7/src (npm run rk7)', () => {
  for (const name of SCRIPTS) assert.is(read(name), buildScript(name), `rk7/${name}.pas is up to date`);
});

Rk7('each script keeps its settings in one place at its top', () => {
  for (const name of SCRIPTS) {
    const source = read(name);
    assert.is(source.match(/SMSPDS_URL\s+=/g)?.length, 1);
    assert.is(source.match(/SMSPDS_TOKEN\s+=/g)?.length, 1);
    assert.ok(
      source.indexOf('SMSPDS_URL') < source.indexOf('procedure ProcessOperation'),
      'settings come first',
    );
    assert.match(source, /HTTP\.AddHeader\('Authorization', 'Bearer ' \+ SMSPDS_TOKEN\)/);
    assert.match(source, /HTTP\.AddHeader\('Accept', 'text\/plain'\)/);
  }
});

Rk7('every path is a route, every field one the endpoint reads', ({ svc }) => {
  const routes = svc.service.app.routes
    .filter((r) => r.method === 'POST')
    .map((r) => r.path.replace('/api/v1', '').replace(/:\w+/g, ':id'));
  for (const name of SCRIPTS) {
    const { calls, bodyFields } = analyse(read(name));
    assert.ok(calls.length > 0, `${name} calls the service`);
    for (const call of calls) {
      assert.ok(routes.includes(call.path), `${name}: POST ${call.path} is a route`);
      for (const field of [...call.fields, ...(call.path === '/cards/activate' ? bodyFields : [])]) {
        assert.ok(FIELDS[call.path]?.includes(field), `${name}: ${call.path} reads "${field}"`);
      }
    }
  }
});

Rk7('every error code a script names is in the catalog', () => {
  for (const name of SCRIPTS) {
    for (const code of analyse(read(name)).codes)
      assert.ok(code === 'NO_CONNECTION' || code in catalog, `${name}: ${code}`);
  }
});

Rk7('every key=value name a script reads is in the answers of the calls it makes', async ({ svc }) => {
  const seen = new Set<string>();
  const kv = async (path: string, form: Record<string, string>) => {
    const res = await svc.call('POST', `/api/v1${path}?format=kv`, {
      as: 'terminal',
      headers: { Accept: 'text/plain' },
      form: { ...form, terminal: 'CASH1' },
    });
    Object.keys(res.kv).forEach((k) => seen.add(k));
    return res.kv;
  };
  await svc.call('POST', '/api/v1/cards/ranges', { json: { from: '100', to: '105' } });
  // The issue-card script: the phone confirmed by SMS, a resend and a wrong code on the way.
  const a = await kv('/cards/activate', {
    cardNumber: '101',
    fullName: 'Борис Ким',
    birthday: '01.02.1990',
    phone: '79160000002',
    marketingConsent: 'false',
    pdConsent: 'true',
  });
  assert.is(a.state, 'awaitingPin');
  await kv(`/cards/activations/${a.activationId}/resend`, {});
  await kv(`/cards/activations/${a.activationId}/verify`, {
    pin: svc.sms.lastPin() === '000000' ? '111111' : '000000',
  });
  assert.is(
    (await kv(`/cards/activations/${a.activationId}/verify`, { pin: svc.sms.lastPin() })).state,
    'activated',
  );
  const b = await kv('/cards/activate', {
    cardNumber: '100',
    fullName: 'Анна Ли',
    birthday: '01.02.1990',
    phone: '79160000001',
    marketingConsent: 'true',
    pdConsent: 'true',
  });
  assert.is(
    (await kv(`/cards/activations/${b.activationId}/verify`, { pin: svc.sms.lastPin() })).state,
    'activated',
  );
  // The auth scripts: SMS with resend, a wrong and a right code; phone only; a refusal.
  const s = await kv('/auth', { phone: '79160000001', channel: 'sms' });
  await kv(`/auth/${s.sessionId}/resend`, {});
  await kv(`/auth/${s.sessionId}/verify`, { pin: svc.sms.lastPin() === '000000' ? '111111' : '000000' });
  await kv(`/auth/${s.sessionId}/verify`, { pin: svc.sms.lastPin() });
  await kv('/auth', { phone: '79160000002', channel: 'none' });
  await kv('/auth', { phone: '79169999999', channel: 'none' });
  const c = await kv('/auth', { phone: '79160000002', channel: 'sms' });
  await kv(`/auth/${c.sessionId}/cancel`, { reason: 'cashier' });
  for (const name of SCRIPTS) {
    for (const key of analyse(read(name)).reads) {
      const fromErrors = ['retryAfter'].includes(key); // present on 429 answers, named in the catalog
      assert.ok(seen.has(key) || fromErrors, `${name} reads "${key}", which the service answers`);
    }
  }
  assert.ok(
    seen.has('attemptsLeft') &&
      seen.has('card') &&
      seen.has('holder') &&
      seen.has('code') &&
      seen.has('message'),
  );
});

Rk7.run();
