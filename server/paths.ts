/**
 * Where the project's non-code files are, whether the server runs from the
 * TypeScript sources (tests) or from dist/ (npm start).
 */
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

function findProjectRoot(from: string): string {
  let dir = from;
  while (!existsSync(join(dir, 'package.json'))) {
    const parent = dirname(dir);
    if (parent === dir) throw new Error(`no package.json above ${from}`);
    dir = parent;
  }
  return dir;
}

export const PROJECT_ROOT = findProjectRoot(dirname(fileURLToPath(import.meta.url)));
/** The browser SDK builds (rollup output). */
export const SDK_DIR = join(PROJECT_ROOT, 'dist', 'sdk');
