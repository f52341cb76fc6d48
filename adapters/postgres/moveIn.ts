/**
 * Moving a venue from the embedded engine to PostgreSQL (`npm run cli -- migrate --to URL`):
 * the data folder's cards, ranges, consents and erasures, API tokens, live workflows, SMS
 * ledger, campaigns (definitions, runs' books, plans, outcome lines) and the archive of closed
 * records, copied into a database with this version's schema.
 *
 * Resumable: every step writes whole units (a chunk of cards, an archive day, a run's lines)
 * that a second pass writes again to the same result, and the steps done are kept in the
 * database (`named_blobs` `migration`), so a pass stopped halfway goes on where it stopped.
 * The counts of both sides are compared at the end. With `dryRun`, nothing is written: the
 * counts of what would move.
 *
 * Left behind on purpose: rate-limit windows and day counters (they start afresh), delivery
 * tracking of PIN messages (a week at most; their statuses stay as known), the console outbox.
 */
import type { JournaledStore } from '../store/journaled.ts';
import type { Engine } from '../engine.ts';
import type { StoredWorkflow, WorkflowRecord } from '../../runtime/workflows/types.ts';
import type { CardRange, ConsentRecord } from '../../runtime/ports.ts';
import type { LedgerEntry } from '../../runtime/sms/pinSender.ts';
import type { ErasureEntry } from '../../runtime/consents.ts';
import type { Recipient } from '../../runtime/campaigns/types.ts';
import type { StoredCard } from '../../runtime/cards/rules.ts';
import { archiveDay } from '../../runtime/workflows/archiveDay.ts';
import type { Database } from './database.ts';
import { upsertCards } from './cardDirectory.ts';
import { writeConsent } from './consentRows.ts';

/** The kinds of closed records in the archive. */
const ARCHIVE_KINDS = ['auth', 'activation', 'attempt', 'campaignRun'];
const CHUNK = 5_000;
const PROGRESS = 'migration';

/** The database cannot take this venue (it holds another service). */
export class MoveRefused extends Error {}

export interface MoveCount {
  what: string;
  embedded: number;
  postgres: number | null;
}

export interface MoveReport {
  dryRun: boolean;
  resumed: boolean;
  counts: MoveCount[];
  /** Every count equal on both sides (null on a dry run). */
  verified: boolean | null;
}

interface Progress {
  steps: string[];
  days: string[];
  runs: string[];
}

export async function moveIntoPostgres(opts: {
  from: { store: JournaledStore; engine: Engine };
  to: { db: Database; engine: Engine } | null;
  dryRun: boolean;
  /** A step began (`total` units), or moved on (`done`). */
  progress?: (step: string, done: number, total: number) => void;
}): Promise<MoveReport> {
  const { store, engine: source } = opts.from;
  const say = opts.progress ?? (() => undefined);
  const table = <T>(name: string) => [...store.table<T>(name).values()];
  const cards = table<StoredCard>('cards');
  const ranges = table<CardRange>('ranges');
  const consents = table<ConsentRecord>('consents');
  const erasures = table<ErasureEntry>('erasures');
  const ledger = table<LedgerEntry>('smsLedger');
  const tokens = (await source.tokenRows.read()).tokens;
  const live: StoredWorkflow[] = [];
  for await (const w of source.workflows.live()) live.push(w);
  const defs = await source.campaignRows.defs();
  const runs = [...new Set([...defs.flatMap((d) => d.runs), ...(await source.campaignRows.runsKept())])];

  // What is compared at the end, each as the folder has it and as a count on the database.
  const checks: Array<{ what: string; embedded: () => Promise<number>; sql: string; values?: unknown[] }> = [
    ...(
      [
        ['cards', cards.length, 'cards'],
        ['ranges', ranges.length, 'ranges'],
        ['consents', consents.length, 'consents'],
        ['erasures', erasures.length, 'erasures'],
        ['API tokens', tokens.length, 'api_tokens'],
        ['live workflows', live.length, 'workflows'],
        ['SMS ledger', ledger.length, 'sms_ledger'],
        ['campaigns', defs.length, 'campaigns'],
      ] as const
    ).map(([what, n, table]) => ({
      what,
      embedded: async () => n,
      sql: `SELECT count(*) AS n FROM ${table}`,
    })),
    ...ARCHIVE_KINDS.map((kind) => ({
      what: `archive: ${kind}`,
      embedded: async () => {
        let n = 0;
        for (const day of await source.workflows.archiveDays(kind))
          await source.workflows.scanArchive(kind, day, () => (n += 1));
        return n;
      },
      sql: 'SELECT count(*) AS n FROM archive WHERE kind = $1',
      values: [kind],
    })),
    {
      what: 'campaign outcome lines',
      embedded: async () => {
        let n = 0;
        for (const run of runs) await source.campaignRows.scanLines(run, () => (n += 1));
        return n;
      },
      sql: 'SELECT count(*) AS n FROM campaign_lines',
    },
  ];
  /** Both sides' counts (the database's null without one). */
  const tally = async (db: Database | null): Promise<MoveCount[]> => {
    const counts: MoveCount[] = [];
    for (const c of checks)
      counts.push({
        what: c.what,
        embedded: await c.embedded(),
        postgres: db ? Number((await db.query<{ n: number }>(c.sql, c.values)).rows[0]!.n) : null,
      });
    return counts;
  };

  const target = opts.to;
  if (!target || opts.dryRun)
    return { dryRun: true, resumed: false, counts: await tally(null), verified: null };

  const { db, engine: dest } = target;
  const saved = await dest.blobs.getBlob(PROGRESS);
  const progress: Progress = saved ? JSON.parse(saved) : { steps: [], days: [], runs: [] };
  if (!saved) {
    const { rows } = await db.query<{ n: number }>(
      'SELECT (SELECT count(*) FROM cards) + (SELECT count(*) FROM workflows) + (SELECT count(*) FROM campaigns) AS n',
    );
    if (Number(rows[0]!.n) > 0)
      throw new MoveRefused(
        'the database holds a service already (cards, workflows or campaigns): migrate into an empty one',
      );
  }
  const keep = () => dest.blobs.putBlob(PROGRESS, JSON.stringify(progress));
  const step = async (name: string, total: number, work: (tick: (n: number) => void) => Promise<void>) => {
    if (progress.steps.includes(name)) return;
    let done = 0;
    say(name, 0, total);
    await work((n) => say(name, (done += n), total));
    progress.steps.push(name);
    await keep();
  };

  await step('cards', cards.length, async (tick) => {
    for (let i = 0; i < ranges.length; i++)
      await db.query(
        'INSERT INTO ranges (id, from_number, record) VALUES ($1, $2, $3::jsonb) ON CONFLICT DO NOTHING',
        [ranges[i]!.id, ranges[i]!.from, JSON.stringify(ranges[i])],
      );
    for (let i = 0; i < cards.length; i += CHUNK) {
      const part = cards.slice(i, i + CHUNK);
      await db.tx((q) => upsertCards(q, part));
      tick(part.length);
    }
  });
  await step('consents', consents.length + erasures.length, async (tick) => {
    for (let i = 0; i < consents.length; i += 500) {
      const part = consents.slice(i, i + 500);
      await db.tx(async (q) => {
        for (const record of part) await writeConsent(q, record);
      });
      tick(part.length);
    }
    for (const entry of erasures) await dest.consentRows.logErasure(entry);
    tick(erasures.length);
  });
  await step('tokens', tokens.length, async (tick) => {
    const have = new Set((await dest.tokenRows.read()).tokens.map((t) => t.id));
    for (const t of tokens) if (!have.has(t.id)) await dest.tokenRows.add(t);
    tick(tokens.length);
  });
  await step('live workflows', live.length, async (tick) => {
    for (const w of live) {
      // Inserted as they are (version and all); one already there is the same workflow.
      await dest.workflows.put(w, null);
      tick(1);
    }
  });
  await step('SMS ledger', ledger.length, async (tick) => {
    for (const entry of ledger) await dest.smsLedger.put(entry);
    tick(ledger.length);
  });

  // The archive: a day of a kind at a time, replaced whole (a day copied halfway is copied again).
  const days: Array<[string, string]> = [];
  for (const kind of ARCHIVE_KINDS)
    for (const day of (await source.workflows.archiveDays(kind)).sort()) days.push([kind, day]);
  await step('archive', days.length, async (tick) => {
    for (const [kind, day] of days) {
      const key = `${kind}/${day}`;
      if (!progress.days.includes(key)) {
        const records: WorkflowRecord[] = [];
        await source.workflows.scanArchive(kind, day, (r) => records.push(r));
        await db.tx(async (q) => {
          await q.query('DELETE FROM archive WHERE kind = $1 AND day = $2', [kind, day]);
          for (let i = 0; i < records.length; i += 1000) {
            const part = records.slice(i, i + 1000).map((r) => ({
              kind,
              day: archiveDay(r),
              id: r.id,
              phone: r.phone,
              card: r.card,
              terminal: r.terminal,
              record: r,
            }));
            await q.query(
              `INSERT INTO archive (kind, day, id, phone, card, terminal, record)
               SELECT kind, day, id, phone, card, terminal, record FROM jsonb_to_recordset($1::jsonb)
                 AS r(kind text, day text, id text, phone text, card text, terminal text, record jsonb)`,
              [JSON.stringify(part)],
            );
          }
          await q.query('INSERT INTO archive_days (kind, day) VALUES ($1, $2) ON CONFLICT DO NOTHING', [
            kind,
            day,
          ]);
        });
        progress.days.push(key);
        await keep();
      }
      tick(1);
    }
  });

  // Campaigns: definitions, then each run's books whole (its lines replaced whole).
  await step('campaigns', runs.length, async (tick) => {
    for (const def of defs) await dest.campaignRows.putDef(def);
    for (const run of runs) {
      if (!progress.runs.includes(run)) {
        const plan = await source.campaignRows.plan(run);
        if (plan !== null) await dest.campaignRows.putPlan(run, plan);
        await db.query('DELETE FROM campaign_lines WHERE run_id = $1', [run]);
        // Lines go in chunks, one after another: a phone's later line stays after its earlier.
        let part: Recipient[] = [];
        let written = Promise.resolve();
        const send = (chunk: Recipient[]) => {
          written = written.then(() => dest.campaignRows.commit({ runId: run, lines: chunk }));
        };
        await source.campaignRows.scanLines(run, (line) => {
          part.push(line);
          if (part.length >= CHUNK) {
            send(part);
            part = [];
          }
        });
        if (part.length) send(part);
        await written;
        const counts = await source.campaignRows.counts(run);
        await dest.campaignRows.commit({
          runId: run,
          ...(counts ? { counts } : {}),
          batch: (await source.campaignRows.inFlight(run)) ?? null,
          retries: (await source.campaignRows.retries(run)) ?? null,
        });
        progress.runs.push(run);
        await keep();
      }
      tick(1);
    }
    for (const sweep of await source.campaignRows.sweeps()) await dest.campaignRows.putSweep(sweep);
  });

  const counts = await tally(db);
  return {
    dryRun: false,
    resumed: Boolean(saved),
    counts,
    verified: counts.every((c) => c.embedded === c.postgres),
  };
}
