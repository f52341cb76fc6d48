/** The PostgreSQL engine's kept tokens: a table, and a mark bumped in the same transaction. */
import type { Role, StoredToken, TokenRows } from '../../runtime/tokens.ts';
import type { Database } from './database.ts';

type Row = { id: string; role: Role; hash: string; label: string; created_at: string };

export class PostgresTokenRows implements TokenRows {
  constructor(private readonly db: Database) {}

  async mark(): Promise<string> {
    const { rows } = await this.db.query<{ mark: number }>('SELECT mark FROM api_token_mark');
    return String(rows[0]?.mark ?? 0);
  }

  read(): Promise<{ mark: string; tokens: StoredToken[] }> {
    return this.db.tx(async (q) => {
      const mark = await q.query<{ mark: number }>('SELECT mark FROM api_token_mark');
      const { rows } = await q.query<Row>(
        'SELECT id, role, hash, label, created_at FROM api_tokens ORDER BY created_at, id',
      );
      return {
        mark: String(mark.rows[0]?.mark ?? 0),
        tokens: rows.map((r) => ({
          id: r.id,
          role: r.role,
          hash: r.hash,
          label: r.label,
          createdAt: r.created_at,
        })),
      };
    });
  }

  async add(entry: StoredToken): Promise<void> {
    await this.db.tx(async (q) => {
      await q.query(
        'INSERT INTO api_tokens (id, role, hash, label, created_at) VALUES ($1, $2, $3, $4, $5)',
        [entry.id, entry.role, entry.hash, entry.label, entry.createdAt],
      );
      await q.query('UPDATE api_token_mark SET mark = mark + 1');
    });
  }

  remove(id: string): Promise<boolean> {
    return this.db.tx(async (q) => {
      const { rowCount } = await q.query('DELETE FROM api_tokens WHERE id = $1', [id]);
      if (!rowCount) return false;
      await q.query('UPDATE api_token_mark SET mark = mark + 1');
      return true;
    });
  }
}
