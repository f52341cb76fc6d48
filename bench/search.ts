/**
 * `npm run bench:search` — support search over a large archive: 1,000,000 closed sessions over
 * 30 days (`--archive N`), searched through the API by phone, card, terminal and id, newest
 * first, 20 a page. The baseline, measured in the same run: reading every archive file's bytes
 * once. Prints each query's first time (the first filtered search builds the day summaries) and
 * then its median of 3, with its ratio to that baseline.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execFileSync } from 'node:child_process';
import { parseArgs } from 'node:util';
import { fillArchive, machine, request, runMain, serverArgs, startService, stopChild } from './lib.ts';

const { values: args } = parseArgs({ options: { archive: { type: 'string', default: '1000000' } } });
const ARCHIVE = Number(args.archive);
const SUPPORT = 'bench-support-token-0000000';
/** 100,000 guests: each phone has about ten sessions a month, spread over the days. */
const phoneOf = (i: number) => `+7916${String((i * 7919) % 100_000).padStart(7, '0')}`;

async function main() {
  const dir = mkdtempSync(join(tmpdir(), 'smspds-bench-search-'));
  try {
    process.stdout.write(
      `SMS PDS support search benchmark — ${ARCHIVE.toLocaleString('en-US')} closed sessions, ${machine()}\n`,
    );
    writeFileSync(join(dir, 'config.json'), JSON.stringify({ auth: { supportTokens: [SUPPORT] } }));
    await fillArchive(join(dir, 'data'), ARCHIVE, phoneOf);
    execFileSync('sync');
    const archive = join(dir, 'data', 'archive', 'auth');
    const files = readdirSync(archive).sort();
    // Baseline: every byte of the archive read once (from the page cache, as the searches read it).
    for (const f of files) readFileSync(join(archive, f));
    const t0 = performance.now();
    let bytes = 0;
    for (const f of files) bytes += readFileSync(join(archive, f)).length;
    const readMs = performance.now() - t0;
    const firstId = (readFileSync(join(archive, files[0]!), 'utf8')
      .split('\n', 1)[0]!
      .match(/"id":"([^"]+)"/) ?? [])[1]!;
    const port = 19_000 + Math.floor(Math.random() * 1000);
    // A first start over an archive from before day summaries existed builds them in the
    // background: timed here, from the start to the log line that says they are ready.
    const args = serverArgs();
    const started = performance.now();
    const child = await startService(args, dir, port, 'archive day summaries ready');
    const warmSeconds = (performance.now() - started) / 1000;
    const H = { Authorization: `Bearer ${SUPPORT}` };
    const queries: Array<[string, string]> = [
      ['a phone never seen', '/api/v1/sessions?limit=20&phone=%2B79169999999'],
      ['another phone never seen', '/api/v1/sessions?limit=20&phone=%2B79169999998'],
      ['newest 20, no filter', '/api/v1/sessions?limit=20'],
      [
        'a phone with sessions all month',
        `/api/v1/sessions?limit=20&phone=${encodeURIComponent(phoneOf(42))}`,
      ],
      ['a card', '/api/v1/sessions?limit=20&card=100042'],
      ['a terminal', '/api/v1/sessions?limit=20&terminal=T3'],
      ['the oldest session by id', `/api/v1/sessions/${firstId}`],
    ];
    const rows: string[] = [];
    for (const [label, path] of queries) {
      // The first run brings the files into the page cache, and builds the day summaries the
      // first time a filter needs them: printed apart.
      const first = performance.now();
      await request(port, 'GET', path, H);
      const firstMs = performance.now() - first;
      const times: number[] = [];
      let count = 0;
      for (let i = 0; i < 3; i++) {
        const t = performance.now();
        const r = await request(port, 'GET', path, H);
        times.push(performance.now() - t);
        if (r.status !== 200) throw new Error(`${path}: ${r.status} ${r.body}`);
        const body = JSON.parse(r.body);
        count = body.items?.length ?? 1;
      }
      const ms = times.sort((a, b) => a - b)[1]!;
      rows.push(
        `${label.padEnd(38)}${firstMs.toFixed(0).padStart(8)} ms${ms.toFixed(0).padStart(8)} ms${String(count).padStart(8)}${`${((ms / readMs) * 100).toFixed(0)} %`.padStart(10)}`,
      );
    }
    await stopChild(child);
    process.stdout.write(
      `\narchive: ${files.length} day files, ${(bytes / 1048576).toFixed(0)} MB; reading every byte once: ${readMs.toFixed(0)} ms (the baseline)\n` +
        `day summaries: built in the background ${warmSeconds.toFixed(1)} s after the first start (once: later days are summarised as they are written)\n\n` +
        `${'query'.padEnd(38)}${'first'.padStart(11)}${'then'.padStart(11)}${'found'.padStart(8)}${'÷ read'.padStart(10)}\n` +
        rows.join('\n') +
        '\n',
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

runMain(main);
