/**
 * A lowdb adapter that survives power loss: write to a temporary file, fsync it, rename it over
 * the old one, fsync the folder. (lowdb's own JSONFile renames but never fsyncs.) An empty or
 * missing file reads as "no data" rather than breaking start-up.
 */
import { open, readFile, rename } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { Adapter } from 'lowdb';

export class DurableJsonFile<T> implements Adapter<T> {
  constructor(private readonly path: string) {}

  async read(): Promise<T | null> {
    let text: string;
    try {
      text = await readFile(this.path, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw err;
    }
    return text.trim() === '' ? null : (JSON.parse(text) as T);
  }

  async write(data: T): Promise<void> {
    await writeDurably(this.path, JSON.stringify(data));
  }
}

/**
 * Replace a whole file so that a crash leaves either the old content or the new: written beside
 * it (owner-only), fsynced, renamed over it, the folder fsynced.
 */
export async function writeDurably(path: string, content: string): Promise<void> {
  const tmp = `${path}.tmp`;
  const fh = await open(tmp, 'w', 0o600);
  try {
    await fh.writeFile(content);
    await fh.sync();
  } finally {
    await fh.close();
  }
  await rename(tmp, path);
  await syncDir(dirname(path));
}

/** fsync a folder so a rename or a new file in it is durable. */
export async function syncDir(dir: string): Promise<void> {
  const fh = await open(dir, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}
