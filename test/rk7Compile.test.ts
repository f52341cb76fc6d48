/**
 * The shipped RK7 scripts compile: Free Pascal in Delphi mode (Unicode strings, as RK7's host)
 * against rk7/check/rk7stub.pas, the host's objects as RK7.md describes them. This catches what
 * reading does not: a set written as `mbYes + mbNo`, a `string` passed where the HTTP object
 * wants a `var utf8string`, a dialog the host does not have, an undeclared name.
 *
 * CI installs Debian's `fp-compiler`; elsewhere, without `fpc`, the check says it is skipped.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { SCRIPTS } from '../rk7/build.ts';
import { tempDir } from './helpers.ts';

const RK7 = resolve(import.meta.dirname, '..', 'rk7');
const hasFpc = spawnSync('fpc', ['-iV'], { encoding: 'utf8' }).status === 0;

const Compile = suite('RK7 scripts compile (Free Pascal, Delphi mode)');

if (!hasFpc && process.env.CI !== 'true') {
  process.stdout.write('RK7 compile check skipped: fpc not installed (apt-get install fp-compiler)\n');
} else {
  for (const name of SCRIPTS) {
    Compile(`${name}.pas compiles against the RK7 host's declarations`, () => {
      assert.ok(hasFpc, 'fpc is installed (CI installs fp-compiler)');
      const dir = tempDir();
      try {
        const program = join(dir, 'check.pas');
        writeFileSync(
          program,
          [
            'program check;',
            '{$mode delphiunicode}',
            '{$codepage utf8}',
            'uses SysUtils, Classes, rk7stub;',
            `{$I ${join(RK7, `${name}.pas`)}}`,
            'begin',
            'end.',
            '',
          ].join('\r\n'),
        );
        const run = spawnSync('fpc', [`-Fu${join(RK7, 'check')}`, `-FE${dir}`, `-FU${dir}`, '-ve', program], {
          encoding: 'utf8',
        });
        const errors = run.stdout
          .split('\n')
          .filter((l) => /Error:|Fatal:/.test(l))
          .join('\n');
        assert.is(run.status, 0, `fpc: ${errors || run.stderr}`);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });
  }
}

Compile.run();
