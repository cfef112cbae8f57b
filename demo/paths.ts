/**
 * Where the demo page's files are, whether the demo runs from the TypeScript
 * sources (tests) or from dist/ (npm start): demo/web in the project.
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

/** index.html, app.js and styles.css of the demo shop. */
export const DEMO_WEB_DIR = join(findProjectRoot(dirname(fileURLToPath(import.meta.url))), 'demo', 'web');
