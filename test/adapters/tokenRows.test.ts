/** Runs the TokenRows contract against the embedded engine (tokens.json) and PostgreSQL. */
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { TokenFile } from '../../adapters/store/tokenFile.ts';
import { Database } from '../../adapters/postgres/database.ts';
import { migrate } from '../../adapters/postgres/schema.ts';
import { PostgresTokenRows } from '../../adapters/postgres/tokenRows.ts';
import { tempDir } from '../helpers.ts';
import { dropDatabase, newDatabase, postgresMissing } from '../postgres.ts';
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
    const url = await newDatabase('tokens');
    const dbs = [new Database(url)];
    await migrate(dbs[0]!);
    return {
      rows: new PostgresTokenRows(dbs[0]!),
      async second() {
        const db = new Database(url);
        dbs.push(db);
        return new PostgresTokenRows(db);
      },
      async dump() {
        const { rows } = await dbs[0]!.query('SELECT * FROM api_tokens');
        return JSON.stringify(rows);
      },
      async close() {
        await Promise.all(dbs.map((d) => d.close()));
        await dropDatabase(url);
      },
    };
  },
});
