/**
 * Where campaigns keep their data: definitions, and each run's books — its plan, its counts, the
 * batch in flight, the retry list, its outcome lines, its delivery sweep. An engine implements
 * it (the embedded store's tables and files, or PostgreSQL's tables); every write is durable
 * when it resolves, and `commit` changes a run's books as one.
 *
 * Several processes may share the rows. A run's batches run one at a time across them (the
 * batch is an effect of the run's workflow, claimed under a lease), so only that process moves
 * a run's cursor; others add to the counts (delivery statuses) — counts change by deltas, never
 * by a whole row written over another process's change.
 */
import type { CampaignDef, BatchInFlight, DeliverySweep, Recipient, RetryList, RunCounts } from './types.ts';

/** Numbers added to a run's counts (negative to take away). */
export type CountsDelta = Partial<
  Pick<
    RunCounts,
    | 'queued'
    | 'sending'
    | 'sent'
    | 'delivered'
    | 'failed'
    | 'skipped'
    | 'unknown'
    | 'segments'
    | 'cost'
    | 'cursor'
  >
> & { skippedReasons?: Record<string, number> };

/** One change of a run's books, applied as one (undefined fields are left as they are). */
export interface BookChange {
  runId: string;
  /** The counts set outright (a prepared run); applied before `delta`. */
  counts?: RunCounts;
  delta?: CountsDelta;
  /** The batch in flight (null: none). */
  batch?: BatchInFlight | null;
  /** The retry list (null: empty). */
  retries?: RetryList | null;
  /** Outcome lines appended to the run's file, in order. */
  lines?: Recipient[];
}

export interface CampaignRows {
  def(id: string): Promise<CampaignDef | undefined>;
  defs(): Promise<CampaignDef[]>;
  putDef(def: CampaignDef): Promise<void>;

  counts(runId: string): Promise<RunCounts | undefined>;
  inFlight(runId: string): Promise<BatchInFlight | undefined>;
  retries(runId: string): Promise<RetryList | undefined>;
  commit(change: BookChange): Promise<void>;

  /** A run's plan as written by `putPlan` (lines `phone,card`), or null. */
  plan(runId: string): Promise<string | null>;
  /** Write a run's plan, whole; writing the same plan again changes nothing. */
  putPlan(runId: string, text: string): Promise<void>;

  /** A run's outcome lines in the order written; with `phone`, at least that phone's lines. */
  scanLines(runId: string, visit: (line: Recipient) => void, phone?: string): Promise<void>;
  /** Every run with outcome lines kept (an engine may list runs with a plan only too). */
  runsKept(): Promise<string[]>;
  /** Drop a run's outcome lines and plan (retention); its counts stay for the reports. */
  dropRun(runId: string): Promise<void>;
  /** Put `subject` for `phone` in every run's lines and plan (an erasure); how many lines changed. */
  erasePhone(phone: string, subject: string): Promise<number>;

  sweeps(): Promise<DeliverySweep[]>;
  putSweep(sweep: DeliverySweep): Promise<void>;
  dropSweep(runId: string): Promise<void>;
}

/** Add `delta` to `counts` (in place) and answer it. */
export function addCounts(counts: RunCounts, delta: CountsDelta): RunCounts {
  for (const [key, value] of Object.entries(delta)) {
    if (key === 'skippedReasons') continue;
    (counts as unknown as Record<string, number>)[key]! += value as number;
  }
  for (const [reason, n] of Object.entries(delta.skippedReasons ?? {}))
    counts.skippedReasons[reason] = (counts.skippedReasons[reason] ?? 0) + n;
  return counts;
}
