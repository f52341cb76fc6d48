/** The embedded engine's tracked messages: a table of the journaled store, one poller (this process). */
import type { DeliveryStatus, RecordStore, Table } from '../../runtime/ports.ts';
import { deliveryKey, settled, type DeliveryRows, type Tracked } from '../../runtime/sms/delivery.ts';

export class EmbeddedDeliveryRows implements DeliveryRows {
  private readonly table: Table<Tracked>;

  constructor(private readonly store: RecordStore) {
    this.table = store.table<Tracked>('deliveries');
  }

  async put(t: Tracked): Promise<void> {
    this.table.put(deliveryKey(t.provider, t.messageId), t);
  }

  async statuses(keys: readonly string[]): Promise<Map<string, DeliveryStatus>> {
    const found = new Map<string, DeliveryStatus>();
    for (const key of keys) {
      const t = this.table.get(key);
      if (t) found.set(key, t.status);
    }
    return found;
  }

  async due(now: number): Promise<Tracked[]> {
    return [...this.table.values()].filter((t) => !settled(t) && t.nextAt <= now);
  }

  async prune(before: number): Promise<number> {
    let n = 0;
    for (const [key, t] of [...this.table.entries()])
      if (settled(t) && t.createdAt < before) {
        this.table.delete(key);
        n += 1;
      }
    return n;
  }

  async forgetPhone(phone: string): Promise<number> {
    let n = 0;
    for (const [key, t] of [...this.table.entries()])
      if (t.to === phone) {
        this.table.delete(key);
        n += 1;
      }
    return n;
  }

  flush(): Promise<void> {
    return this.store.flush();
  }
}
