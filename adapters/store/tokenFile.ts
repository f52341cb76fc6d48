/**
 * The embedded engine's kept tokens: `tokens.json` in the data folder, owner-only, replaced
 * durably on each change (the CLI changes it while the service runs; the service notices by the
 * file's time and size).
 */
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { StoredToken, TokenRows } from '../../runtime/tokens.ts';
import { writeDurably } from './durableJsonFile.ts';

export class TokenFile implements TokenRows {
  private readonly path: string;

  constructor(dataDir: string) {
    this.path = join(dataDir, 'tokens.json');
  }

  async mark(): Promise<string> {
    try {
      const st = await stat(this.path);
      return `${st.mtimeMs}:${st.size}`;
    } catch {
      return '';
    }
  }

  async read(): Promise<{ mark: string; tokens: StoredToken[] }> {
    const mark = await this.mark();
    let text: string;
    try {
      text = await readFile(this.path, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { mark: '', tokens: [] };
      throw err;
    }
    return { mark, tokens: (JSON.parse(text) as { tokens: StoredToken[] }).tokens };
  }

  async add(entry: StoredToken): Promise<void> {
    const { tokens } = await this.read();
    await this.write([...tokens, entry]);
  }

  async remove(id: string): Promise<boolean> {
    const { tokens } = await this.read();
    const rest = tokens.filter((t) => t.id !== id);
    if (rest.length === tokens.length) return false;
    await this.write(rest);
    return true;
  }

  private write(tokens: StoredToken[]): Promise<void> {
    return writeDurably(this.path, JSON.stringify({ tokens }, null, 2) + '\n');
  }
}
