/**
 * Retention: personal data is kept only as long as it serves. A daily run (and
 * `npm run cli -- retention run [--dry-run]`):
 *
 * - anonymises closed sessions and activations older than `retention.sessionsDays`, and refused
 *   attempts older than `retention.attemptsDays`: the phone becomes a keyed hash (the same phone,
 *   the same hash, so counts by phone still add up; no way back without the server's secret),
 *   names, birthdays and typed phones are removed. The records stay, so reports keep their
 *   daily counts;
 * - deletes campaign recipient lists (each phone's outcome) and run plans older than
 *   `retention.campaignDays`; the run's counts stay;
 * - deletes messages older than `retention.outboxDays` from a provider's local copies (the
 *   console outbox).
 *
 * Days are taken oldest first and each kind's last anonymised day is remembered, so a daily run
 * reads only the day that has just passed the limit.
 */
import { createHmac } from 'node:crypto';
import type { Logger } from 'pino';
import type { Clock, NamedBlobs, SmsSender } from '../ports.ts';
import type { CampaignRows } from '../campaigns/rows.ts';
import type { Config } from '../config.ts';
import { dayOfId } from '../ids.ts';
import type { WorkflowRecord } from '../workflows/types.ts';
import type { WorkflowStore } from '../workflows/store.ts';

const DAY_MS = 86_400_000;
const STATE_BLOB = 'retention.json';

export interface RetentionReport {
  dryRun: boolean;
  /** The first day kept as it is, per rule (older days are taken). */
  keptFrom: { sessions: string; attempts: string; campaigns: string; outbox: string };
  /** Records anonymised (or, dry, that would be), by kind. */
  anonymised: Record<string, number>;
  /** Campaign runs whose recipient lists were deleted. */
  campaignRuns: number;
  /** Messages deleted from providers' local copies. */
  outboxMessages: number;
}

interface State {
  lastRunAt: string | null;
  /** Per kind, the last archive day anonymised. */
  anonymisedThrough: Record<string, string>;
}

/** A phone as retention leaves it: a keyed hash, stable for one server secret. */
export function anonymousPhone(secret: Buffer, phone: string): string {
  return `anon:${createHmac('sha256', secret).update(`phone:${phone}`).digest('hex').slice(0, 20)}`;
}

/** A closed record with no personal data left: phone hashed, holder name and birthday, typed phone removed. */
export function anonymise(record: WorkflowRecord, hashPhone: (phone: string) => string): WorkflowRecord {
  if (!record.phone?.startsWith('+') && !('holder' in record.view) && !('phoneInput' in record.view))
    return record; // already anonymous
  const view: Record<string, unknown> = { ...record.view };
  if ('holder' in view) view.holder = null;
  if ('phoneInput' in view) delete view.phoneInput;
  const card = view.cardInfo;
  if (card && typeof card === 'object' && 'holder' in card) view.cardInfo = { ...card, holder: '' };
  return {
    ...record,
    phone: record.phone?.startsWith('+') ? hashPhone(record.phone) : record.phone,
    view,
  };
}

export class Retention {
  private running: Promise<RetentionReport> | null = null;

  constructor(
    private readonly deps: {
      /** Where the run's own state is kept (the last run, the days done). */
      store: NamedBlobs;
      /** The archive of closed workflows (sessions, activations, refused attempts). */
      workflows: Pick<WorkflowStore, 'archiveDays' | 'rewriteArchive' | 'serialize'>;
      campaigns: Pick<CampaignRows, 'runsKept' | 'dropRun'>;
      clock: Clock;
      config: Readonly<Config>;
      secret: Buffer;
      senders: SmsSender[];
      /** Whether a campaign run still runs (its list is kept whatever its age). */
      isLive: (runId: string) => Promise<boolean>;
      logger: Logger;
    },
  ) {}

  /** Resolves once no run is going on (a shutdown waits for it). */
  async settled(): Promise<void> {
    await this.running?.catch(() => undefined);
  }

  /** When the last run happened (null: never). */
  async lastRunAt(): Promise<string | null> {
    return (await this.state()).lastRunAt;
  }

  /** Apply the rules now (one run at a time); with `dryRun`, only say what would go. */
  run(dryRun = false): Promise<RetentionReport> {
    if (!dryRun && this.running) return this.running;
    // One run at a time across the processes sharing the store: the second finds the days done.
    const run = this.deps.workflows.serialize('retention', () => this.apply(dryRun));
    if (!dryRun) this.running = run.finally(() => (this.running = null));
    return run;
  }

  private async state(): Promise<State> {
    const text = await this.deps.store.getBlob(STATE_BLOB);
    if (!text) return { lastRunAt: null, anonymisedThrough: {} };
    try {
      return JSON.parse(text) as State;
    } catch {
      return { lastRunAt: null, anonymisedThrough: {} };
    }
  }

  private async apply(dryRun: boolean): Promise<RetentionReport> {
    const { store, workflows, clock, config, secret, senders, logger } = this.deps;
    const now = clock.now();
    const dayBefore = (days: number) => new Date(now - days * DAY_MS).toISOString().slice(0, 10);
    const rules = config.retention;
    const keptFrom = {
      sessions: dayBefore(rules.sessionsDays),
      attempts: dayBefore(rules.attemptsDays),
      campaigns: dayBefore(rules.campaignDays),
      outbox: dayBefore(rules.outboxDays),
    };
    const state = await this.state();
    const report: RetentionReport = { dryRun, keptFrom, anonymised: {}, campaignRuns: 0, outboxMessages: 0 };
    const hashPhone = (phone: string) => anonymousPhone(secret, phone);
    const kinds: Array<[string, string]> = [
      ['auth', keptFrom.sessions],
      ['activation', keptFrom.sessions],
      ['attempt', keptFrom.attempts],
    ];
    for (const [kind, limit] of kinds) {
      let count = 0;
      const through = state.anonymisedThrough[kind] ?? '';
      for (const day of (await workflows.archiveDays(kind)).sort()) {
        if (day <= through || day >= limit) continue;
        count += await workflows.rewriteArchive(kind, day, (r) => anonymise(r, hashPhone), { dryRun });
        if (!dryRun) state.anonymisedThrough[kind] = day;
      }
      report.anonymised[kind] = count;
    }
    for (const runId of await this.deps.campaigns.runsKept()) {
      const day = dayOfId(runId);
      if (!day || day >= keptFrom.campaigns || (await this.deps.isLive(runId))) continue;
      report.campaignRuns += 1;
      if (dryRun) continue;
      await this.deps.campaigns.dropRun(runId);
    }
    const outboxBefore = Date.parse(`${keptFrom.outbox}T00:00:00Z`);
    for (const sender of senders)
      if (sender.prune) report.outboxMessages += await sender.prune(outboxBefore, dryRun);
    if (!dryRun) {
      state.lastRunAt = new Date(now).toISOString();
      await store.putBlob(STATE_BLOB, JSON.stringify(state));
      logger.info(
        { ...report.anonymised, campaignRuns: report.campaignRuns, outbox: report.outboxMessages },
        'retention run',
      );
    }
    return report;
  }
}
