/**
 * The project folder, whether this runs from the sources or from their build in `dist/`: where
 * the files that are not code live (the support page, the database migrations, package.json).
 */
import { existsSync, readFileSync } from 'node:fs';

export const projectRoot: URL = [new URL('../', import.meta.url), new URL('../../', import.meta.url)].find(
  (dir) => existsSync(new URL('package.json', dir)),
)!;

export const { version } = JSON.parse(readFileSync(new URL('package.json', projectRoot), 'utf8')) as {
  version: string;
};
