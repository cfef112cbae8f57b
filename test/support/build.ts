/**
 * Rollup outputs for tests that load the built SDKs. `npm test` builds first;
 * a developer running one test file after editing client code gets a rebuild
 * here. One build at a time across test files (a lock directory in dist/).
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, readdirSync, rmdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = fileURLToPath(new URL('../..', import.meta.url));
export const SDK_DIR = join(ROOT, 'dist/sdk');

function newest(path: string): number {
  const stat = statSync(path);
  if (!stat.isDirectory()) return stat.mtimeMs;
  return Math.max(0, ...readdirSync(path).map((name) => newest(join(path, name))));
}

/** Runs `rollup -c` unless every output (relative to the project root) is newer than every input. */
export function ensureBuilt(inputs: readonly string[], outputs: readonly string[]): void {
  const changed = Math.max(...[...inputs, 'shared/constants.ts', 'rollup.config.mjs'].map((p) => newest(join(ROOT, p))));
  const fresh = () => outputs.every((name) => (statSync(join(ROOT, name), { throwIfNoEntry: false })?.mtimeMs ?? 0) > changed);
  if (fresh()) return;
  mkdirSync(join(ROOT, 'dist'), { recursive: true });
  const lock = join(ROOT, 'dist/.sdk-build-lock');
  const deadline = Date.now() + 180_000;
  for (;;) {
    try {
      mkdirSync(lock);
      break;
    } catch {
      if (Date.now() > deadline) throw new Error(`stale lock ${lock}`);
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 200);
    }
  }
  try {
    if (!fresh()) execFileSync(process.execPath, [join(ROOT, 'node_modules/rollup/dist/bin/rollup'), '-c'], { cwd: ROOT, stdio: 'pipe' });
  } finally {
    rmdirSync(lock);
  }
}

/** The web SDK's builds. */
export function ensureSdkBuilt(): void {
  ensureBuilt(
    ['client/core', 'client/web', 'shared/jwk.ts'],
    ['riskgate.min.js', 'riskgate-challenge.min.js', 'riskgate.mjs', 'riskgate.cjs', 'riskgate.d.ts'].map((name) => `dist/sdk/${name}`),
  );
}
