/**
 * Prometheus metrics (prom-client), one registry per service instance: workflows by kind and
 * outcome, SMS by provider and failure kind, segments and cost, delivery outcomes, request
 * latency, store commit latency.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { SmsReceipt } from './ports.ts';

export class Metrics {
  readonly registry = new Registry();
  private readonly workflows = new Counter({
    name: 'smspds_workflows_total',
    help: 'Workflows ended, by kind and final state',
    labelNames: ['kind', 'state'],
    registers: [this.registry],
  });
  private readonly started = new Counter({
    name: 'smspds_workflows_started_total',
    help: 'Workflows started, by kind',
    labelNames: ['kind'],
    registers: [this.registry],
  });
  private readonly refused = new Counter({
    name: 'smspds_starts_refused_total',
    help: 'Starts refused before any workflow began, by workflow and reason (error code)',
    labelNames: ['kind', 'reason'],
    registers: [this.registry],
  });
  private readonly sent = new Counter({
    name: 'smspds_sms_sent_total',
    help: 'SMS accepted by a provider',
    labelNames: ['provider', 'purpose'],
    registers: [this.registry],
  });
  private readonly failed = new Counter({
    name: 'smspds_sms_failed_total',
    help: 'SMS attempts that failed, by provider and kind',
    labelNames: ['provider', 'kind'],
    registers: [this.registry],
  });
  private readonly segments = new Counter({
    name: 'smspds_sms_segments_total',
    help: 'SMS segments accepted',
    labelNames: ['provider'],
    registers: [this.registry],
  });
  private readonly cost = new Counter({
    name: 'smspds_sms_cost_total',
    help: 'SMS cost reported by providers, in the account currency',
    labelNames: ['provider'],
    registers: [this.registry],
  });
  private readonly delivery = new Counter({
    name: 'smspds_sms_delivery_total',
    help: 'Final delivery outcomes reported by providers',
    labelNames: ['provider', 'status'],
    registers: [this.registry],
  });
  /**
   * Opt-out page confirmations. No outcome label: /metrics is open, and a count of codes that
   * named someone would tell a guesser whether a code exists.
   */
  readonly optOuts = new Counter({
    name: 'smspds_opt_out_confirmations_total',
    help: 'Confirmations on the opt-out page (whatever the code)',
    registers: [this.registry],
  });
  readonly requests = new Histogram({
    name: 'smspds_http_request_seconds',
    help: 'HTTP request latency',
    labelNames: ['method', 'route', 'status'],
    buckets: [0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10],
    registers: [this.registry],
  });
  readonly storeCommits = new Histogram({
    name: 'smspds_store_commit_seconds',
    help: 'Time to write and fsync one journal commit',
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5],
    registers: [this.registry],
  });

  /** Recipients of each campaign's current run by status, read when Prometheus scrapes. */
  watchCampaigns(read: () => Promise<Array<{ campaign: string; counts: Record<string, number> }>>) {
    new Gauge({
      name: 'smspds_campaign_recipients',
      help: 'Recipients of the current run of each campaign, by status',
      labelNames: ['campaign', 'status'],
      registers: [this.registry],
      async collect() {
        const current = await read();
        this.reset();
        for (const { campaign, counts } of current) {
          for (const status of [
            'total',
            'queued',
            'sending',
            'sent',
            'delivered',
            'failed',
            'skipped',
            'unknown',
          ]) {
            this.set({ campaign, status }, counts[status] ?? 0);
          }
        }
      },
    });
  }

  constructor(defaults = true) {
    if (defaults) collectDefaultMetrics({ register: this.registry, prefix: 'smspds_' });
  }

  workflowStarted(kind: string) {
    this.started.inc({ kind });
  }
  startRefused(kind: string, reason: string) {
    this.refused.inc({ kind, reason });
  }
  workflowEnded(kind: string, state: string) {
    this.workflows.inc({ kind, state });
  }
  smsSent(receipt: SmsReceipt, purpose: string) {
    this.smsSentMany([receipt], [purpose]);
  }
  /**
   * The messages one request got accepted (`purposes[i]` is `receipts[i]`'s): one increment
   * per label set, not per message (three labelled increments cost about 0.7 µs, a tenth of a
   * campaign's own work per message).
   */
  smsSentMany(receipts: SmsReceipt[], purposes: string[]) {
    const sums = new Map<
      string,
      { provider: string; purpose: string; n: number; segments: number; cost: number }
    >();
    receipts.forEach((receipt, i) => {
      const purpose = purposes[i]!;
      const key = `${receipt.provider}\n${purpose}`;
      let sum = sums.get(key);
      if (!sum) sums.set(key, (sum = { provider: receipt.provider, purpose, n: 0, segments: 0, cost: 0 }));
      sum.n += 1;
      sum.segments += receipt.segments;
      const cost = receipt.cost === null ? NaN : Number(receipt.cost);
      if (Number.isFinite(cost) && cost > 0) sum.cost += cost;
    });
    for (const { provider, purpose, n, segments, cost } of sums.values()) {
      this.sent.inc({ provider, purpose }, n);
      this.segments.inc({ provider }, segments);
      if (cost > 0) this.cost.inc({ provider }, cost);
    }
  }
  smsFailed(provider: string, kind: string) {
    this.failed.inc({ provider, kind });
  }
  delivered(provider: string, status: string) {
    this.delivery.inc({ provider, status });
  }
}
