/**
 * `npm run bench:scale` — the card base in PostgreSQL at chain size: what an instance pays for
 * 2,000,000 cards (`--cards N`) against 10,000, through the PostgreSQL card directory.
 *
 * For each size, on a database of its own: the cards are filled by SQL (setup, not measured),
 * then an instance's share is measured — its memory (RSS grows by nothing per card: the cards
 * stay in the database), the time from a new connection to its first answer (schema check
 * included), and the card lookups of an authorization start (by phone, then by number) one at a
 * time and 16 at once, p50 and p99. The baseline, in the same run: a `SELECT 1` round trip.
 *
 * The server: `SMSPDS_BENCH_DATABASE_URL` (a role that may create databases), or a throwaway
 * cluster of the installed PostgreSQL, as the tests make it.
 *
 * Measured here so far: the card directory. The campaign to 1,000,000 recipients across two
 * instances needs the campaign books on PostgreSQL.
 */
import { parseArgs } from 'node:util';
import { Database } from '../adapters/postgres/database.ts';
import { migrate } from '../adapters/postgres/schema.ts';
import { PostgresCardDirectory } from '../adapters/postgres/cardDirectory.ts';
import { dropDatabase, newDatabase } from '../test/postgres.ts';
import { machine, percentile, runMain } from './lib.ts';

const { values: args } = parseArgs({
  options: {
    cards: { type: 'string', default: '2000000' },
    lookups: { type: 'string', default: '4000' },
  },
});
const LARGE = Number(args.cards);
const SMALL = 10_000;
const LOOKUPS = Number(args.lookups);

if (process.env.SMSPDS_BENCH_DATABASE_URL)
  process.env.SMSPDS_TEST_DATABASE_URL = process.env.SMSPDS_BENCH_DATABASE_URL;

const phoneOf = (n: number) => `+7916${String(n).padStart(7, '0')}`;
const FIRST = 1_000_000;

async function fill(db: Database, count: number) {
  const at = '2026-11-29T10:00:00.000Z';
  const step = 250_000;
  for (let from = FIRST; from < FIRST + count; from += step) {
    const to = Math.min(FIRST + count, from + step) - 1;
    await db.query(
      `INSERT INTO cards (number, state, virtual, has_holder, phone, updated_at, record)
       SELECT n::text, 'active', false, true, '+7916' || lpad(n::text, 7, '0'), $3::text,
         jsonb_build_object('number', n::text, 'state', 'active', 'virtual', false, 'discount', 5,
           'bonus', 1, 'expiresAt', null, 'rangeId', null,
           'holder', jsonb_build_object('fullName', 'Гость ' || n, 'birthday', '1990-01-01',
                                        'phone', '+7916' || lpad(n::text, 7, '0')),
           'activatedAt', $3::text, 'createdAt', $3::text, 'updatedAt', $3::text)
       FROM generate_series($1::int, $2::int) AS n`,
      [from, to, at],
    );
    process.stderr.write(
      `  filled ${(to - FIRST + 1).toLocaleString('en-US')} of ${count.toLocaleString('en-US')}\r`,
    );
  }
  process.stderr.write('\n');
  await db.query('VACUUM ANALYZE cards');
}

/** Latencies (ms) of `n` calls of `op`, `concurrency` at a time. */
async function timed(n: number, concurrency: number, op: (i: number) => Promise<unknown>) {
  const times: number[] = [];
  let next = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < n) {
        const i = next++;
        const t = performance.now();
        await op(i);
        times.push(performance.now() - t);
      }
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  times.sort((a, b) => a - b);
  return { p50: percentile(times, 50), p99: percentile(times, 99), perSecond: n / seconds };
}

async function measure(count: number) {
  const url = await newDatabase(`scale_${count}`);
  const setup = new Database(url);
  try {
    await migrate(setup);
    await fill(setup, count);
    const rssBefore = process.memoryUsage().rss;
    const opened = performance.now();
    const db = new Database(url);
    await migrate(db); // what an instance does at start: the schema is current, nothing to apply
    const directory = new PostgresCardDirectory(db);
    await directory.get(String(FIRST));
    const startMs = performance.now() - opened;
    const pick = (i: number) => FIRST + ((i * 7919) % count);
    const lookup = async (i: number) => {
      const cards = await directory.byPhone(phoneOf(pick(i)));
      if (!cards.length) throw new Error(`no card for ${phoneOf(pick(i))}`);
      await directory.get(cards[0]!.number);
    };
    await timed(500, 4, lookup); // warm: connections open, plans cached
    const floor1 = await timed(LOOKUPS, 1, () => db.query('SELECT 1'));
    const one = await timed(LOOKUPS, 1, lookup);
    const floor16 = await timed(LOOKUPS, 16, () => db.query('SELECT 1'));
    const many = await timed(LOOKUPS, 16, lookup);
    const rssGrowth = process.memoryUsage().rss - rssBefore;
    await db.close();
    return { count, startMs, one, many, floor1, floor16, rssGrowth };
  } finally {
    await setup.close();
    await dropDatabase(url);
  }
}

async function main() {
  process.stdout.write(`SMS PDS scale benchmark — PostgreSQL card directory, ${machine()}\n`);
  const results = [];
  for (const count of [SMALL, LARGE]) {
    process.stderr.write(`${count.toLocaleString('en-US')} cards:\n`);
    results.push(await measure(count));
  }
  const ms = (v: number) => `${v.toFixed(2)} ms`;
  for (const r of results) {
    process.stdout.write(
      `\n${r.count.toLocaleString('en-US')} cards\n` +
        `  instance start to first answer  ${ms(r.startMs)}; RSS growth while measuring ${(r.rssGrowth / 1e6).toFixed(1)} MB\n` +
        `  lookup (by phone, then number), one at a time: p50 ${ms(r.one.p50)}, p99 ${ms(r.one.p99)} ` +
        `(SELECT 1: p50 ${ms(r.floor1.p50)}, p99 ${ms(r.floor1.p99)})\n` +
        `  16 at once: ${Math.round(r.many.perSecond)} lookups/s, p50 ${ms(r.many.p50)}, p99 ${ms(r.many.p99)} ` +
        `(SELECT 1: ${Math.round(r.floor16.perSecond)}/s)\n`,
    );
  }
  const [small, large] = results as [(typeof results)[0], (typeof results)[0]];
  const ratio = (a: number, b: number) => `${((a / b) * 100).toFixed(0)} %`;
  process.stdout.write(
    `\n${large.count.toLocaleString('en-US')} ÷ ${small.count.toLocaleString('en-US')} cards: ` +
      `lookup p99 ${ratio(large.one.p99, small.one.p99)} one at a time, ${ratio(large.many.p99, small.many.p99)} at 16 ` +
      `(target ≤ 120 %); start ${ms(large.startMs)} (target ≤ 2 s)\n`,
  );
}

runMain(main);
