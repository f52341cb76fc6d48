/**
 * `npm start` runs the compiled build: build it, start it with the node flags of the `start`
 * script, and check that it serves the API, its own version and the support page's assets (it
 * finds them from `dist/`), and stops cleanly.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { execFileSync } from 'node:child_process';
import { readFileSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { call, tempDir } from './helpers.ts';
import { freePort, spawnService, writeConfig } from './process.ts';

const ROOT = resolve(import.meta.dirname, '..');
const Build = suite('the compiled build');

Build('npm start serves from dist/ with the start script’s node flags', async () => {
  execFileSync('npm', ['run', '-s', 'build'], { cwd: ROOT, stdio: 'pipe' });
  const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as {
    version: string;
    scripts: { start: string };
  };
  const [node, ...args] = pkg.scripts.start.split(/\s+/);
  assert.is(node, 'node');
  assert.ok(args.at(-1) === 'dist/main.js', 'the start script runs the build');
  const dir = tempDir();
  const svc = await spawnService(writeConfig(dir), join(dir, 'data'), await freePort(), args);
  try {
    const doc = await call(svc.url, 'GET', '/api/v1/openapi.json', { as: 'terminal' });
    assert.is(doc.json.info.version, pkg.version);
    const page = await fetch(`${svc.url}/support`);
    assert.is(page.status, 200);
    assert.match(await page.text(), /<html/i);
    assert.is((await fetch(`${svc.url}/support/app.js`)).status, 200);
    const who = await call(svc.url, 'GET', '/api/v1/whoami', { as: 'admin' });
    assert.is(who.json.role, 'admin');
    svc.child.kill('SIGTERM');
    assert.is(await svc.exited, 0, 'a clean stop');
  } finally {
    if (svc.child.exitCode === null) svc.child.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  }
});

Build.run();
