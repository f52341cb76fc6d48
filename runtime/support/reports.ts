/**
 * Daily reports for a venue owner, per day of the venue's calendar: sessions by outcome and the
 * share that ended with a card applied, refused starts by reason, PIN SMS and their cost by
 * provider with the delivery rate, and campaign messages. Counted from the records themselves
 * (live and archived), so they agree with what support sees; a day's records are read once per
 * request, and a range is capped at 92 days.
 */
import { AppError } from '../../machines/errors.ts';
import type { SmsAttempt } from '../../machines/otp.ts';
import type { WorkflowHost, WorkflowRecord } from '../workflows/host.ts';
import { zoneFormat } from '../zoneFormat.ts';

export interface ProviderDay {
  /** SMS accepted by the provider (billed segments in `segments`). */
  sent: number;
  failed: number;
  segments: number;
  /** Cost in the provider's currency, as a decimal string. */
  cost: string;
  delivered: number;
  undelivered: number;
}

export interface DayReport {
  day: string;
  /** Authorizations and card issues by final state (`verified`, `expired`…; `live` while open). */
  auth: Record<string, number>;
  activation: Record<string, number>;
  /** Authorizations that ended with a card applied, of those that ended (0–1; null without any). */
  verifiedShare: number | null;
  /** Starts refused before a session, by error code. */
  refused: Record<string, number>;
  /** PIN SMS by provider. */
  sms: Record<string, ProviderDay>;
  /** Delivered of the PIN SMS whose delivery is known (0–1; null without any). */
  deliveryRate: number | null;
  /** Campaign messages of runs started that day. */
  campaign: { sent: number; failed: number; skipped: number; cost: string };
}

/** What a report needs of the campaigns: a run's counts (cost in ten-thousandths). */
export interface RunCountsSource {
  runCounts(runId: string): Promise<{
    sent: number;
    delivered: number;
    failed: number;
    skipped: number;
    cost: number;
  }>;
}

const DAY_MS = 86_400_000;
const MAX_DAYS = 92;

export class Reports {
  constructor(
    private readonly host: WorkflowHost,
    private readonly campaigns: RunCountsSource,
    private readonly timeZone: string,
  ) {}

  /** Days `from`..`to` (YYYY-MM-DD, the venue's calendar), oldest first. */
  async daily(from: string, to: string): Promise<DayReport[]> {
    const days = daysBetween(from, to);
    const byDay = new Map(days.map((day) => [day, emptyDay(day)]));
    const costs = new Map<string, Map<string, number>>(); // day → provider → ten-thousandths
    const dayOf = zoneFormat(this.timeZone, 'day');
    // A venue's day spans two UTC days at most: read one more on each side.
    const utcFrom = new Date(Date.parse(from) - DAY_MS).toISOString().slice(0, 10);
    const utcTo = new Date(Date.parse(to) + DAY_MS).toISOString().slice(0, 10);
    const runs: Array<{ id: string; report: DayReport }> = [];
    await this.host.forEachRecord(
      ['auth', 'activation', 'attempt', 'campaignRun'],
      utcFrom,
      utcTo,
      (r: WorkflowRecord) => {
        const report = byDay.get(dayOf.format(new Date(r.createdAt)));
        if (!report) return;
        if (r.kind === 'attempt') {
          const code = r.error?.code ?? 'UNKNOWN';
          report.refused[code] = (report.refused[code] ?? 0) + 1;
          return;
        }
        if (r.kind === 'campaignRun') {
          runs.push({ id: r.id, report });
          return;
        }
        const states = r.kind === 'auth' ? report.auth : report.activation;
        const state = r.live ? 'live' : r.state;
        states[state] = (states[state] ?? 0) + 1;
        for (const a of (r.view.sms as SmsAttempt[] | undefined) ?? []) {
          const p = (report.sms[a.provider] ??= {
            sent: 0,
            failed: 0,
            segments: 0,
            cost: '0',
            delivered: 0,
            undelivered: 0,
          });
          if (a.outcome === 'failed') {
            p.failed += 1;
            continue;
          }
          p.sent += 1;
          p.segments += a.segments;
          if (a.status === 'delivered') p.delivered += 1;
          if (a.status === 'undelivered' || a.status === 'expired') p.undelivered += 1;
          if (a.cost) {
            const perDay = costs.get(report.day) ?? new Map<string, number>();
            costs.set(report.day, perDay);
            perDay.set(a.provider, (perDay.get(a.provider) ?? 0) + toUnits(a.cost));
          }
        }
      },
    );
    for (const { id, report } of runs) {
      const c = await this.campaigns.runCounts(id);
      report.campaign.sent += c.sent + c.delivered;
      report.campaign.failed += c.failed;
      report.campaign.skipped += c.skipped;
      report.campaign.cost = fromUnits(toUnits(report.campaign.cost) + c.cost);
    }
    for (const report of byDay.values()) {
      for (const [provider, units] of costs.get(report.day) ?? [])
        report.sms[provider]!.cost = fromUnits(units);
      // Of the authorizations that ended (open ones are `live`), the share that applied a card.
      const ended = Object.entries(report.auth).reduce((n, [state, k]) => (state === 'live' ? n : n + k), 0);
      report.verifiedShare = ended ? round((report.auth.verified ?? 0) / ended) : null;
      const known = Object.values(report.sms).reduce((n, p) => n + p.delivered + p.undelivered, 0);
      const delivered = Object.values(report.sms).reduce((n, p) => n + p.delivered, 0);
      report.deliveryRate = known ? round(delivered / known) : null;
    }
    return [...byDay.values()];
  }
}

/** The reports as CSV (one line a day and provider), for a spreadsheet. */
export function reportsCsv(days: DayReport[]): string {
  const head = [
    'day',
    'auth_verified',
    'auth_other',
    'verified_share',
    'activations',
    'refused',
    'provider',
    'sms_sent',
    'sms_failed',
    'segments',
    'cost',
    'delivered',
    'undelivered',
    'delivery_rate',
    'campaign_sent',
    'campaign_cost',
  ];
  const sum = (o: Record<string, number>) => Object.values(o).reduce((a, b) => a + b, 0);
  const lines = [head.join(',')];
  for (const d of days) {
    const base = [
      d.day,
      d.auth.verified ?? 0,
      sum(d.auth) - (d.auth.verified ?? 0),
      d.verifiedShare ?? '',
      sum(d.activation),
      sum(d.refused),
    ];
    const tail = [d.deliveryRate ?? '', d.campaign.sent, d.campaign.cost];
    const providers = Object.entries(d.sms);
    if (!providers.length) lines.push([...base, '', 0, 0, 0, '0', 0, 0, ...tail].join(','));
    for (const [name, p] of providers)
      lines.push(
        [...base, name, p.sent, p.failed, p.segments, p.cost, p.delivered, p.undelivered, ...tail].join(','),
      );
  }
  return lines.join('\r\n') + '\r\n';
}

function emptyDay(day: string): DayReport {
  return {
    day,
    auth: {},
    activation: {},
    verifiedShare: null,
    refused: {},
    sms: {},
    deliveryRate: null,
    campaign: { sent: 0, failed: 0, skipped: 0, cost: '0' },
  };
}

function daysBetween(from: string, to: string): string[] {
  const valid = (d: string) => /^\d{4}-\d{2}-\d{2}$/.test(d) && !Number.isNaN(Date.parse(d));
  if (!valid(from) || !valid(to))
    throw new AppError('VALIDATION_FAILED', { field: 'from', reason: 'from, to: YYYY-MM-DD' });
  const start = Date.parse(from);
  const end = Date.parse(to);
  if (end < start) throw new AppError('VALIDATION_FAILED', { field: 'to', reason: 'to: not before from' });
  const count = Math.round((end - start) / DAY_MS) + 1;
  if (count > MAX_DAYS)
    throw new AppError('VALIDATION_FAILED', { field: 'to', reason: `at most ${MAX_DAYS} days at once` });
  return Array.from({ length: count }, (_, i) => new Date(start + i * DAY_MS).toISOString().slice(0, 10));
}

/** A decimal string in ten-thousandths (exact sums). */
function toUnits(text: string): number {
  const [whole = '0', frac = ''] = text.split('.');
  const sign = whole.startsWith('-') ? -1 : 1;
  return sign * (Math.abs(Number(whole)) * 10_000 + Number((frac + '0000').slice(0, 4)));
}

function fromUnits(units: number): string {
  const sign = units < 0 ? '-' : '';
  const abs = Math.abs(units);
  const frac = String(abs % 10_000)
    .padStart(4, '0')
    .replace(/0+$/, '');
  return `${sign}${Math.floor(abs / 10_000)}${frac ? `.${frac}` : ''}`;
}

const round = (x: number) => Math.round(x * 1000) / 1000;
