/**
 * Builds the RK7 scripts: RK7 keeps each script on its own (no include files), so the shared
 * part (settings, HTTP call, key=value reading, error messages) is put at the top of each one.
 * `npm run rk7` writes rk7/*.pas from rk7/src; a test checks they are up to date.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const DIR = import.meta.dirname;
export const SCRIPTS = ['auth-sms', 'auth-phone', 'issue-card'];

export function buildScript(name: string): string {
  const body = readFileSync(join(DIR, 'src', `${name}.pas`), 'utf8');
  const common = readFileSync(join(DIR, 'src', 'common.pas'), 'utf8');
  const [header, ...rest] = body.split(/(?<=\}\n)/);
  return `${header}\n${common}\n${rest.join('')}`.replace(/\r?\n/g, '\r\n');
}

if (process.argv[1] && import.meta.filename === process.argv[1]) {
  for (const name of SCRIPTS) writeFileSync(join(DIR, `${name}.pas`), buildScript(name));
  process.stdout.write(`rk7: ${SCRIPTS.map((s) => `rk7/${s}.pas`).join(', ')} written\n`);
}
