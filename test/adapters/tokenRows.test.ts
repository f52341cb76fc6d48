/** Runs the TokenRows contract against the embedded engine (tokens.json) and PostgreSQL. */
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { TokenFile } from '../../adapters/store/tokenFile.ts';
import { PostgresTokenRows } from '../../adapters/postgres/tokenRows.ts';
import { tempDir } from '../helpers.ts';
import { migratedDatabase, postgresMissing } from '../postgres.ts';
import { tokenRowsContract } from './tokenRows.contract.ts';

tokenRowsContract({
  name: 'embedded',
  async make() {
    const dir = tempDir();
    return {
      rows: new TokenFile(dir),
      second: async () => new TokenFile(dir),
      dump: async () => readFileSync(join(dir, 'tokens.json'), 'utf8'),
      async close() {
        rmSync(dir, { recursive: true, force: true });
      },
    };
  },
});

tokenRowsContract({
  name: 'PostgreSQL',
  missing: postgresMissing,
  async make() {
    const pg = await migratedDatabase('tokens');
    return {
      rows: new PostgresTokenRows(pg.db),
      second: async () => new PostgresTokenRows(await pg.another()),
      async dump() {
        const { rows } = await pg.db.query('SELECT * FROM api_tokens');
        return JSON.stringify(rows);
      },
      close: pg.close,
    };
  },
});
