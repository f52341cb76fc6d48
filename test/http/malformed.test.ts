/**
 * Malformed input at every route: random JSON shapes, wrong types, junk bytes, broken encodings,
 * huge values, odd content types and path parameters. Every answer is a 4xx (or a 2xx when the
 * junk happens to be valid) with a stable error code — never a 5xx, never a crash.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { startService, type TestService } from '../helpers.ts';

/** A small deterministic PRNG, so a failure can be replayed from its seed. */
function prng(seed: number) {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const FIELDS = [
  'phone',
  'pin',
  'cardNumber',
  'fullName',
  'birthday',
  'marketingConsent',
  'confirm',
  'terminal',
  'from',
  'to',
  'discount',
  'bonus',
  'expiresAt',
  'virtual',
  'blocked',
  'marketing',
  'source',
  'holder',
  'state',
];

function randomValue(r: () => number, depth = 0): unknown {
  const pick = Math.floor(r() * 14);
  switch (pick) {
    case 0:
      return null;
    case 1:
      return r() < 0.5;
    case 2:
      return Math.floor(r() * 1e12) * (r() < 0.5 ? -1 : 1);
    case 3:
      return r() * 1e308;
    case 4:
      return '';
    case 5:
      return 'x'.repeat(Math.floor(r() * 5000));
    case 6:
      return '+7 916 123-45-67';
    case 7:
      return '٣٤٥٦'; // Arabic-Indic digits
    case 8:
      return '\u0000\uFFFF\uD800';
    case 9:
      return '31.02.1990';
    case 10:
      return depth < 2 ? [randomValue(r, depth + 1), randomValue(r, depth + 1)] : [];
    case 11:
      return depth < 2 ? randomBody(r, depth + 1) : {};
    case 12:
      return '12345678901234567890123';
    default:
      return String(Math.floor(r() * 1e6));
  }
}

function randomBody(r: () => number, depth = 0): Record<string, unknown> {
  const body: Record<string, unknown> = {};
  const n = Math.floor(r() * 6);
  for (let i = 0; i < n; i++) body[FIELDS[Math.floor(r() * FIELDS.length)]!] = randomValue(r, depth);
  if (r() < 0.1) body.__proto__ = { polluted: true } as never;
  return body;
}

const RAW_BODIES = [
  '{',
  '[]',
  '"text"',
  'null',
  '\u0000\u0001\u0002',
  '%E0%A4%A',
  'a=1&a=2&a[]=3',
  '{"phone":{"$gt":""}}',
  '\xff\xfe\xfd',
];
const CONTENT_TYPES = [
  'application/json',
  'application/x-www-form-urlencoded',
  'text/plain',
  'text/csv',
  'multipart/form-data; boundary=x',
  'application/xml',
  '',
];
const PARAMS = [
  'x',
  '..%2F..%2Fetc%2Fpasswd',
  'act_20261129_aaaaaaaaaaaa',
  '%00',
  '1'.repeat(300),
  'ses_99999999_zzzzzzzzzzzz',
  '%E0%A4%A',
];

const Fuzz = suite<{ svc: TestService }>('malformed input at every route');
Fuzz.before(async (ctx) => {
  ctx.svc = await startService();
  await ctx.svc.call('POST', '/api/v1/cards/ranges', { json: { from: '1000', to: '1099', virtual: true } });
});
Fuzz.after(async (ctx) => ctx.svc.stop());

Fuzz('no 5xx for 3,000 random requests', async ({ svc }) => {
  const r = prng(20261129);
  const routes = svc.service.app.routes;
  assert.ok(routes.length >= 12, `routes found: ${routes.length}`);
  for (let i = 0; i < 3000; i++) {
    const route = routes[i % routes.length]!;
    const path = route.path.replace(/:(\w+)/g, () => PARAMS[Math.floor(r() * PARAMS.length)]!);
    const type = CONTENT_TYPES[Math.floor(r() * CONTENT_TYPES.length)]!;
    let body: string | undefined;
    if (route.method !== 'GET') {
      const roll = r();
      if (roll < 0.3) body = RAW_BODIES[Math.floor(r() * RAW_BODIES.length)];
      else if (roll < 0.6)
        body = new URLSearchParams(
          Object.entries(randomBody(r)).map(([k, v]) => [k, String(v)] as [string, string]),
        ).toString();
      else body = JSON.stringify(randomBody(r));
    }
    const q = () => encodeURIComponent(String(randomValue(r)).toWellFormed());
    const query = r() < 0.3 ? `?format=kv&phone=${q()}&number=${q()}&since=${q()}&partial=${q()}` : '';
    const as = (['admin', 'terminal', 'support', null] as const)[Math.floor(r() * 4)];
    const res = await svc.call(route.method, path + query, {
      as,
      body,
      headers: type ? { 'Content-Type': type } : {},
    });
    assert.ok(
      res.status < 500,
      `${route.method} ${path}${query} [${type}] ${JSON.stringify(body)?.slice(0, 200)} → ${res.status} ${res.text.slice(0, 300)}`,
    );
    // A page for people (the guests' opt-out page) answers in words, not in the API's codes.
    if (res.status >= 400 && !res.headers.get('content-type')?.startsWith('text/html')) {
      const code = res.json?.error?.code ?? res.kv.code;
      assert.match(
        String(code),
        /^[A-Z_]+$/,
        `a stable code for ${route.method} ${path}: ${res.text.slice(0, 200)}`,
      );
    }
  }
  const health = await svc.call('GET', '/healthz', { as: null });
  assert.is(health.status, 200, 'still serving');
});

Fuzz.run();
