/**
 * The SDKs' layers (issue 14): client/core is platform-free and shared;
 * client/web (browsers) and client/miniprogram (WeChat) each build on the core
 * and never on each other. Read from the sources' import statements, type-only
 * ones included (a type from the other platform would pull its assumptions in).
 */
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ROOT } from './support/build.js';

const tsFiles = (dir: string): string[] =>
  readdirSync(join(ROOT, dir), { withFileTypes: true }).flatMap((entry) =>
    entry.isDirectory() ? tsFiles(join(dir, entry.name)) : entry.name.endsWith('.ts') ? [join(dir, entry.name)] : [],
  );

const withoutComments = (code: string) => code.replace(/\/\*[^]*?\*\//g, '').replace(/(^|[^:])\/\/.*$/gm, '$1');

/** Every module a file names: `import … from`, `export … from`, `import(…)`; relative ones as repository paths. */
function importsOf(file: string): string[] {
  const code = withoutComments(readFileSync(join(ROOT, file), 'utf8'));
  const specifiers = [...code.matchAll(/\bfrom\s*['"]([^'"]+)['"]|\bimport\s*\(\s*['"]([^'"]+)['"]\s*\)|^\s*import\s*['"]([^'"]+)['"]/gm)].map((m) => m[1] ?? m[2] ?? m[3]!);
  return specifiers.map((spec) => (spec.startsWith('.') ? relative(ROOT, join(ROOT, dirname(file), spec)).replace(/\\/g, '/') : spec));
}

/** The layer a file may import from: its own folder's tree, the core, shared/, and the listed packages. */
function offLimits(file: string, own: string, packages: RegExp): string[] {
  return importsOf(file).filter((target) => {
    if (!target.startsWith('client/') && !target.startsWith('shared/')) return !packages.test(target);
    return !(target.startsWith(`${own}/`) || target.startsWith('client/core/') || target.startsWith('shared/'));
  });
}

describe('SDK layers', () => {
  it('keeps client/core platform-free: it imports only itself and shared/, no package and no platform global', () => {
    const files = tsFiles('client/core');
    expect(files.length).toBeGreaterThan(10);
    for (const file of files) {
      expect(offLimits(file, 'client/core', /^$/), file).toEqual([]);
      const code = withoutComments(readFileSync(join(ROOT, file), 'utf8'));
      // Globals of one platform (a call to the global fetch has arguments; KeySource's fetch() is a method).
      expect(code, file).not.toMatch(/(?<![.\w$])(window|document|navigator|indexedDB|localStorage|sessionStorage|wx)\b|(?<![.\w$])fetch\(\s*[^)\s]|\b(Window|Document|Navigator|SubtleCrypto|IDB\w+)\b/);
    }
  });

  it('builds the web SDK on the core only, never on the mini-program', () => {
    for (const file of tsFiles('client/web')) expect(offLimits(file, 'client/web', /^@fingerprintjs\/fingerprintjs$|^@noble\/hashes\//), file).toEqual([]);
  });

  it('builds the mini-program SDK on the core only, never on the web SDK', () => {
    for (const file of tsFiles('client/miniprogram/src')) {
      expect(offLimits(file, 'client/miniprogram/src', /^@noble\/(curves|ciphers|hashes)\//), file).toEqual([]);
    }
  });
});
