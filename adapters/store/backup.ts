/**
 * A consistent copy of an embedded data folder. The store's commits pause for the copy (a write
 * that arrives meanwhile waits, then goes on), so the copy holds every acknowledged change and
 * no half of a later one: table snapshots, journals, archive days, blobs, tokens and the server
 * secret — everything a restore needs, and the secret with it, since PINs, opt-out links and
 * anonymised phones are keyed by it. The folder's lock, temporary files and earlier backups are
 * left out.
 *
 * Restoring is starting the service on the copy (`SMSPDS_DATA_DIR=<copy>`); the journal is
 * replayed as after any stop.
 */
import { copyFile, mkdir, open, readdir, stat, writeFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { syncDir } from './durableJsonFile.ts';

/** Where backups made by the running service go, inside the data folder. */
export const BACKUPS = 'backups';
const SKIP = new Set(['smspds.pid', '.probe', 'import.tmp', BACKUPS]);

export interface BackupReport {
  dir: string;
  at: string;
  files: number;
  bytes: number;
  /** How long the store's commits waited for the copy. */
  pausedMs: number;
}

/** A backup folder's name for a time: `20261202-103000`. */
export const backupName = (t: number) =>
  new Date(t).toISOString().replace(/[-:]/g, '').replace('T', '-').slice(0, 15);

/** A new folder for a backup in `parent`, named for the time (`-2`, `-3`… when taken). */
export async function newBackupFolder(parent: string, now: number): Promise<string> {
  await mkdir(parent, { recursive: true, mode: 0o700 });
  for (let n = 1; ; n++) {
    const dir = join(parent, backupName(now) + (n > 1 ? `-${n}` : ''));
    try {
      await mkdir(dir, { mode: 0o700 });
      return dir;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
  }
}

/**
 * Copy `dataDir` into `dest` (made if missing, must be empty); `pause` runs the copy while nothing
 * writes to the folder. Each file is made durable, then the folders, then `backup.json`, the
 * mark of a finished backup.
 */
export async function backupDataFolder(
  dataDir: string,
  dest: string,
  pause: <T>(copy: () => Promise<T>) => Promise<T>,
  now: number,
  onProgress?: (bytes: number, total: number) => void,
): Promise<BackupReport> {
  await mkdir(dest, { recursive: true, mode: 0o700 });
  if ((await readdir(dest)).length) throw new Error(`${dest} is not empty: a backup goes into a new folder`);
  const dirs = new Set<string>([dest]);
  let files = 0;
  let bytes = 0;
  let pausedMs = 0;
  await pause(async () => {
    const began = performance.now();
    const entries: Array<{ source: string; target: string; dir: boolean; size: number }> = [];
    const list = async (from: string): Promise<void> => {
      for (const entry of await readdir(from, { withFileTypes: true })) {
        if ((from === dataDir && SKIP.has(entry.name)) || entry.name.endsWith('.tmp')) continue;
        const source = join(from, entry.name);
        const target = join(dest, relative(dataDir, source));
        if (entry.isDirectory()) {
          entries.push({ source, target, dir: true, size: 0 });
          await list(source);
        } else if (entry.isFile())
          entries.push({ source, target, dir: false, size: (await stat(source)).size });
      }
    };
    await list(dataDir);
    const total = entries.reduce((n, e) => n + e.size, 0);
    for (const e of entries) {
      if (e.dir) {
        await mkdir(e.target, { mode: 0o700 });
        dirs.add(e.target);
        continue;
      }
      await copyFile(e.source, e.target);
      files += 1;
      bytes += e.size;
      onProgress?.(bytes, total);
    }
    pausedMs = performance.now() - began;
  });
  // Durable: every file, then every folder's entries (a copy is worth nothing half on disk).
  const syncFiles = async (dir: string): Promise<void> => {
    for (const entry of await readdir(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) await syncFiles(path);
      else {
        const fh = await open(path, 'r');
        await fh.sync().finally(() => fh.close());
      }
    }
  };
  await syncFiles(dest);
  for (const dir of dirs) await syncDir(dir);
  const report: BackupReport = {
    dir: dest,
    at: new Date(now).toISOString(),
    files,
    bytes,
    pausedMs: Math.round(pausedMs),
  };
  await writeFile(join(dest, 'backup.json'), JSON.stringify(report, null, 2) + '\n', { mode: 0o600 });
  await syncDir(dest);
  return report;
}
