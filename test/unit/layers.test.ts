/**
 * The layering (ARCHITECTURE.md) on every import of the real tree, type-only
 * ones included, by dependency-cruiser with the rules of
 * .dependency-cruiser.cjs; and each rule shown to fire on a small tree that
 * breaks every rule once (test/fixtures/layers), so none can pass by matching
 * nothing. A violation fails with the rule's name, the importer and the import.
 */
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ROOT } from '../support/build.js';

const CONFIG = join(ROOT, '.dependency-cruiser.cjs');
const BIN = join(ROOT, 'node_modules', 'dependency-cruiser', 'bin', 'dependency-cruise.mjs');
const RULES: string[] = (createRequire(import.meta.url)(CONFIG) as { forbidden: { name: string }[] }).forbidden.map((rule) => rule.name);

interface Cruise {
  modules: number;
  violations: string[];
}

function cruise(cwd: string): Cruise {
  const run = spawnSync(process.execPath, [BIN, 'server', 'client', 'shared', 'demo', '--config', CONFIG, '--output-type', 'json'], { cwd, encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
  if (!run.stdout) throw new Error(`dependency-cruiser failed: ${run.stderr}`);
  const { summary } = JSON.parse(run.stdout) as { summary: { totalCruised: number; violations: { from: string; to: string; rule: { name: string } }[] } };
  return { modules: summary.totalCruised, violations: summary.violations.map((v) => `${v.rule.name}: ${v.from} → ${v.to}`) };
}

describe('layers (dependency-cruiser)', () => {
  it('the tree keeps every rule', { timeout: 60_000 }, () => {
    const { modules, violations } = cruise(ROOT);
    expect(violations).toEqual([]);
    // A guard against cruising nothing: server, the SDKs, shared and the demo.
    expect(modules).toBeGreaterThan(150);
  });

  it('each rule fires on a tree that breaks it', { timeout: 60_000 }, () => {
    const { violations } = cruise(join(ROOT, 'test', 'fixtures', 'layers'));
    const fired = new Set(violations.map((v) => v.split(':')[0]));
    expect([...fired].sort()).toEqual([...RULES].sort());
  });
});
