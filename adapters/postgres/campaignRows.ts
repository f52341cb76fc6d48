/**
 * The PostgreSQL engine's campaign rows: definitions, each run's counts, batch in flight, retry
 * list and sweep as a row each, its plan as one text, its outcome lines as rows in the order
 * written. A run's change is one transaction; its counts row is locked while a delta is added,
 * so a delivery status counted by one instance and a batch's outcomes by another both hold.
 */
import { addCounts, type BookChange, type CampaignRows } from '../../runtime/campaigns/rows.ts';
import { replacePlanPhone } from '../../runtime/campaigns/plan.ts';
import {
  emptyCounts,
  type BatchInFlight,
  type CampaignDef,
  type DeliverySweep,
  type Recipient,
  type RetryList,
  type RunCounts,
} from '../../runtime/campaigns/types.ts';
import type { Database } from './database.ts';

/** Outcome lines read a page at a time: a million-line run is never in memory at once. */
const PAGE = 10_000;

export class PostgresCampaignRows implements CampaignRows {
  constructor(private readonly db: Database) {}

  async def(id: string) {
    const { rows } = await this.db.query<{ def: CampaignDef }>('SELECT def FROM campaigns WHERE id = $1', [
      id,
    ]);
    return rows[0]?.def;
  }
  async defs() {
    const { rows } = await this.db.query<{ def: CampaignDef }>('SELECT def FROM campaigns');
    return rows.map((r) => r.def);
  }
  async putDef(def: CampaignDef) {
    await this.db.query(
      `INSERT INTO campaigns (id, def) VALUES ($1, $2::jsonb)
       ON CONFLICT (id) DO UPDATE SET def = EXCLUDED.def`,
      [def.id, JSON.stringify(def)],
    );
  }

  async counts(runId: string) {
    const { rows } = await this.db.query<{ counts: RunCounts }>(
      'SELECT counts FROM campaign_counts WHERE run_id = $1',
      [runId],
    );
    return rows[0]?.counts;
  }
  async inFlight(runId: string) {
    const { rows } = await this.db.query<{ row: BatchInFlight }>(
      'SELECT row FROM campaign_batches WHERE run_id = $1',
      [runId],
    );
    return rows[0]?.row;
  }
  async retries(runId: string) {
    const { rows } = await this.db.query<{ row: RetryList }>(
      'SELECT row FROM campaign_retries WHERE run_id = $1',
      [runId],
    );
    return rows[0]?.row;
  }

  commit({ runId, counts, delta, batch, retries, lines }: BookChange): Promise<void> {
    return this.db.tx(async (q) => {
      if (counts || delta) {
        let next = counts;
        if (!next) {
          await q.query(
            'INSERT INTO campaign_counts (run_id, counts) VALUES ($1, $2::jsonb) ON CONFLICT DO NOTHING',
            [runId, JSON.stringify(emptyCounts(runId))],
          );
          const { rows } = await q.query<{ counts: RunCounts }>(
            'SELECT counts FROM campaign_counts WHERE run_id = $1 FOR UPDATE',
            [runId],
          );
          next = rows[0]!.counts;
        }
        if (delta) next = addCounts({ ...next, skippedReasons: { ...next.skippedReasons } }, delta);
        await q.query(
          `INSERT INTO campaign_counts (run_id, counts) VALUES ($1, $2::jsonb)
           ON CONFLICT (run_id) DO UPDATE SET counts = EXCLUDED.counts`,
          [runId, JSON.stringify(next)],
        );
      }
      await this.putRow(q, 'campaign_batches', runId, batch);
      await this.putRow(q, 'campaign_retries', runId, retries);
      if (lines?.length)
        await q.query(
          `INSERT INTO campaign_lines (run_id, phone, line)
           SELECT $1, phone, line FROM unnest($2::text[], $3::jsonb[]) AS t(phone, line)`,
          [runId, lines.map((l) => l.phone), lines.map((l) => JSON.stringify(l))],
        );
    });
  }

  private async putRow(
    q: Pick<Database, 'query'>,
    table: string,
    runId: string,
    row: object | null | undefined,
  ) {
    if (row === null) await q.query(`DELETE FROM ${table} WHERE run_id = $1`, [runId]);
    else if (row)
      await q.query(
        `INSERT INTO ${table} (run_id, row) VALUES ($1, $2::jsonb)
         ON CONFLICT (run_id) DO UPDATE SET row = EXCLUDED.row`,
        [runId, JSON.stringify(row)],
      );
  }

  async plan(runId: string) {
    const { rows } = await this.db.query<{ body: string }>(
      'SELECT body FROM campaign_plans WHERE run_id = $1',
      [runId],
    );
    return rows[0]?.body ?? null;
  }
  async putPlan(runId: string, text: string) {
    await this.db.query(
      `INSERT INTO campaign_plans (run_id, body) VALUES ($1, $2)
       ON CONFLICT (run_id) DO UPDATE SET body = EXCLUDED.body`,
      [runId, text],
    );
  }

  async scanLines(runId: string, visit: (line: Recipient) => void, phone?: string) {
    let after = 0;
    for (;;) {
      const { rows } = await this.db.query<{ seq: number; line: Recipient }>(
        phone === undefined
          ? 'SELECT seq, line FROM campaign_lines WHERE run_id = $1 AND seq > $2 ORDER BY seq LIMIT $3'
          : 'SELECT seq, line FROM campaign_lines WHERE run_id = $1 AND seq > $2 AND phone = $4 ORDER BY seq LIMIT $3',
        phone === undefined ? [runId, after, PAGE] : [runId, after, PAGE, phone],
      );
      for (const r of rows) visit(r.line);
      if (rows.length < PAGE) return;
      after = rows.at(-1)!.seq;
    }
  }

  async runsKept() {
    const { rows } = await this.db.query<{ run_id: string }>('SELECT run_id FROM campaign_plans');
    return rows.map((r) => r.run_id);
  }

  async dropRun(runId: string) {
    await this.db.tx(async (q) => {
      await q.query('DELETE FROM campaign_lines WHERE run_id = $1', [runId]);
      await q.query('DELETE FROM campaign_plans WHERE run_id = $1', [runId]);
    });
  }

  erasePhone(phone: string, subject: string) {
    return this.db.tx(async (q) => {
      const { rowCount } = await q.query(
        `UPDATE campaign_lines SET phone = $2, line = jsonb_set(line, '{phone}', to_jsonb($2::text))
         WHERE phone = $1`,
        [phone, subject],
      );
      const { rows } = await q.query<{ run_id: string; body: string }>(
        'SELECT run_id, body FROM campaign_plans WHERE strpos(body, $1) > 0 FOR UPDATE',
        [`${phone},`],
      );
      for (const r of rows)
        await q.query('UPDATE campaign_plans SET body = $2 WHERE run_id = $1', [
          r.run_id,
          replacePlanPhone(r.body, phone, subject),
        ]);
      return rowCount ?? 0;
    });
  }

  async sweeps() {
    const { rows } = await this.db.query<{ row: DeliverySweep }>('SELECT row FROM campaign_sweeps');
    return rows.map((r) => r.row);
  }
  async putSweep(sweep: DeliverySweep) {
    await this.putRow(this.db, 'campaign_sweeps', sweep.runId, sweep);
  }
  async dropSweep(runId: string) {
    await this.putRow(this.db, 'campaign_sweeps', runId, null);
  }
}
