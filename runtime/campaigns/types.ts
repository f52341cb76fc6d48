/**
 * The data of campaigns: definitions, the records of a run (counts, the batch in flight, the
 * retry list, delivery sweeps); the engines keep them behind `CampaignRows` (`rows.ts`).
 */
import type { DeliveryStatus } from '../ports.ts';
import type { Audience } from './audience.ts';
import type { QuietHours } from './schedule.ts';

/** What a campaign run's record shows besides the common fields. */
export type CampaignRunView = {
  campaignId: string;
  batches: number;
  startedAt: string | null;
  pauseRequested: boolean;
  cancelRequested: boolean;
};
export type RecipientStatus =
  'queued' | 'sending' | 'sent' | 'delivered' | 'undelivered' | 'expired' | 'failed' | 'skipped' | 'unknown';

export interface Recipient {
  runId: string;
  phone: string;
  card: string;
  status: RecipientStatus;
  reason?: string;
  provider?: string;
  messageId?: string;
  segments?: number;
  cost?: string | null;
  at?: string;
}

export interface RunCounts {
  runId: string;
  total: number;
  queued: number;
  sending: number;
  sent: number;
  delivered: number;
  failed: number;
  skipped: number;
  unknown: number;
  skippedReasons: Record<string, number>;
  segments: number;
  /** Cost in ten-thousandths of the currency unit (exact sums, no float drift). */
  cost: number;
  prepared: boolean;
  /** How many entries of the run's plan have been taken (sent, skipped or in flight). */
  cursor: number;
}

export interface CampaignDef {
  id: string;
  name: string;
  text: string;
  audience: Audience;
  schedule: { at: string } | { cron: string; timezone: string } | null;
  quietHours: QuietHours | false;
  weekdaysOnly: boolean;
  timezone: string;
  ratePerSecond: number;
  provider: string | null;
  budget: number | null;
  cancelled: boolean;
  runs: string[];
  nextRunAt: number | null;
  missedRuns: number;
  createdAt: string;
  updatedAt: string;
}

/** The plan positions `[from, to)` of a run's batch in flight; one row per run at most. */
export interface BatchInFlight {
  runId: string;
  from: number;
  to: number;
  /** Positions before `from` taken again from the run's retry list, in flight as well. */
  again?: number[];
  at: string;
}

/** Plan positions whose request the provider refused as a whole: sent nothing, to be sent again. */
export interface RetryList {
  runId: string;
  positions: number[];
  /** Waits for a provider out of reach so far, in a row (`campaigns.providerWaitMinutes`). */
  waits?: number;
}

/** When a run's delivery statuses are next asked for; one row per run with messages out. */
export interface DeliverySweep {
  runId: string;
  /** Sweeps done since the run ended. */
  checks: number;
  nextAt: number;
}

/** Delivery sweeps of a running campaign: every ten minutes. */
export const SWEEP_WHILE_RUNNING_MS = 10 * 60_000;
/** After the run ends: 1 minute, then 10 minutes, 1, 6 and 24 hours apart; then statuses stay as known. */
export const SWEEPS_AFTER_MS = [60_000, 10 * 60_000, 3600_000, 6 * 3600_000, 24 * 3600_000];
export const FINAL_DELIVERY = new Set<DeliveryStatus>(['delivered', 'undelivered', 'expired']);
const STATUSES: RecipientStatus[] = [
  'queued',
  'sending',
  'sent',
  'delivered',
  'undelivered',
  'expired',
  'failed',
  'skipped',
  'unknown',
];
/** One shared string per status, not one per line read. */
export const internStatus = (status: string): string => STATUSES.find((s) => s === status) ?? status;

export const emptyCounts = (runId: string): RunCounts => ({
  runId,
  total: 0,
  queued: 0,
  sending: 0,
  sent: 0,
  delivered: 0,
  failed: 0,
  skipped: 0,
  unknown: 0,
  skippedReasons: {},
  segments: 0,
  cost: 0,
  prepared: false,
  cursor: 0,
});
