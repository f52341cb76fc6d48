/** The OpenAPI document describes exactly the routes the app registers. */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { startService } from '../helpers.ts';

test('every registered route is in /api/v1/openapi.json, and nothing else', async () => {
  const svc = await startService();
  try {
    const res = await svc.call('GET', '/api/v1/openapi.json', { as: 'terminal' });
    assert.is(res.status, 200);
    assert.is(res.json.openapi, '3.1.0');
    const documented = new Set<string>();
    for (const [path, methods] of Object.entries(res.json.paths as Record<string, object>)) {
      for (const method of Object.keys(methods)) documented.add(`${method.toUpperCase()} ${path}`);
    }
    const registered = new Set(
      svc.service.app.routes.map((r) => `${r.method} ${r.path.replace(/:(\w+)/g, '{$1}')}`),
    );
    assert.equal(
      [...registered].filter((r) => !documented.has(r)).sort(),
      [],
      'registered but not documented',
    );
    assert.equal(
      [...documented].filter((d) => !registered.has(d)).sort(),
      [],
      'documented but not registered',
    );
    assert.is(
      (await svc.call('GET', '/api/v1/openapi.json', { as: null })).status,
      401,
      'behind a token like every API route',
    );
  } finally {
    await svc.stop();
  }
});

test.run();
