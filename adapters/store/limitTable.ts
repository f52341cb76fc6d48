/**
 * The embedded engine's limit counters: a table of the journaled store (windows as the hit
 * times inside them, day counters as `{day, count}`). One process owns the folder and each
 * step happens before its first `await`: a check and its count are one step.
 */
import type { RecordStore, Table } from '../../runtime/ports.ts';
import { countHit, dayRoom, type LimitRows } from '../../runtime/limits.ts';

interface Window {
  /** Start times inside the window, oldest first; never more than the limit. */
  hits: number[];
}
interface DayCount {
  day: string;
  count: number;
}

export class EmbeddedLimitRows implements LimitRows {
  private readonly table: Table<Window | DayCount>;

  constructor(store: RecordStore) {
    this.table = store.table<Window | DayCount>('limits');
  }

  async hit(rules: ReadonlyArray<{ key: string; limit: number }>, now: number, windowMs: number) {
    const decided = countHit(
      rules,
      (key) => (this.table.get(key) as Window | undefined)?.hits,
      now,
      windowMs,
    );
    if ('refused' in decided) return decided.refused;
    for (const { key, hits } of decided.write) this.table.put(key, { hits });
    return null;
  }

  async dayCount(key: string): Promise<number> {
    return (this.table.get(key) as DayCount | undefined)?.count ?? 0;
  }

  async addDay(key: string, day: string, want: number, cap: number, whole = false): Promise<number> {
    const count = (this.table.get(key) as DayCount | undefined)?.count ?? 0;
    const added = dayRoom(count, want, cap, whole);
    if (added > 0) this.table.put(key, { day, count: count + added });
    return added;
  }

  async subtractDay(key: string, n: number): Promise<void> {
    const current = this.table.get(key) as DayCount | undefined;
    if (current && current.count > 0)
      this.table.put(key, { ...current, count: Math.max(0, current.count - n) });
  }

  async forget(text: string): Promise<number> {
    let n = 0;
    for (const key of [...this.table.entries()].map(([k]) => k))
      if (key.includes(text)) {
        this.table.delete(key);
        n += 1;
      }
    return n;
  }

  async sweep(before: number, oldestDay: string): Promise<number> {
    let dropped = 0;
    for (const [key, value] of [...this.table.entries()]) {
      const stale = 'hits' in value ? value.hits.every((t) => t <= before) : value.day < oldestDay;
      if (stale) {
        this.table.delete(key);
        dropped += 1;
      }
    }
    return dropped;
  }
}
