/**
 * `npm run fuzz`: the property-based fuzzing of test/service/fuzz.test.ts at length,
 * 100,000 cases from a fresh seed unless told otherwise. A failure prints its
 * shrunk case and the command that replays it (seed and path).
 *
 *   npm run fuzz
 *   npm run fuzz -- --runs 1000000 --seed 1592598566
 *
 * Run it from the project root (npm does).
 */
import { spawnSync } from 'node:child_process';
import { randomInt } from 'node:crypto';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { parseArgs } from 'node:util';

const { values } = parseArgs({ options: { runs: { type: 'string', default: '100000' }, seed: { type: 'string' } } });
const seed = values.seed ?? String(randomInt(2 ** 31));
// Vitest's own entry, run by this Node: no shell, so the environment is set the same way everywhere.
const vitest = join(dirname(createRequire(import.meta.url).resolve('vitest/package.json')), 'vitest.mjs');
console.info(`fuzz: ${values.runs} runs, seed ${seed}`);
const run = spawnSync(process.execPath, [vitest, 'run', 'test/service/fuzz.test.ts'], {
  stdio: 'inherit',
  env: { ...process.env, RISKGATE_FUZZ_RUNS: values.runs, RISKGATE_FUZZ_SEED: seed },
});
process.exit(run.status ?? 1);
