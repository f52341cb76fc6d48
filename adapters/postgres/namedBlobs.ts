/** The PostgreSQL engine's named texts: a row each, written whole. */
import type { NamedBlobs } from '../../runtime/ports.ts';
import type { Database } from './database.ts';

export class PostgresBlobs implements NamedBlobs {
  constructor(private readonly db: Database) {}

  async getBlob(name: string): Promise<string | null> {
    const { rows } = await this.db.query<{ body: string }>('SELECT body FROM named_blobs WHERE name = $1', [
      name,
    ]);
    return rows[0]?.body ?? null;
  }

  async putBlob(name: string, content: string): Promise<void> {
    await this.db.query(
      `INSERT INTO named_blobs (name, body) VALUES ($1, $2)
       ON CONFLICT (name) DO UPDATE SET body = EXCLUDED.body`,
      [name, content],
    );
  }
}
