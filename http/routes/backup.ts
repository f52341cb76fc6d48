/**
 * Backup (admin): a consistent copy of the data folder made by the running service, into
 * `<dataDir>/backups/<time>/` (the service decides where: no path comes from the request).
 * Commits pause while the files are copied; copy the folder elsewhere afterwards.
 */
import type { Router } from '@koa/router';
import type { BackupReport } from '../../adapters/store/backup.ts';
import { allow } from '../auth.ts';
import { reply } from '../respond.ts';

export function backupRoutes(router: Router, deps: { backup: () => Promise<BackupReport> }) {
  router.post('/api/v1/backup', allow(), async (ctx) => {
    const report = await deps.backup();
    reply(ctx, 201, { backup: report }, { dir: report.dir, files: report.files, bytes: report.bytes });
  });
}
