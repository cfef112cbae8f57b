/**
 * The SDK core (client/core) is shared by the web SDK and the mini-program, so
 * it must not touch either platform's globals. Its imports are checked with
 * the rest of the tree's in test/layers.test.ts.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ROOT } from '../support/build.js';

const tsFiles = (dir: string): string[] =>
  readdirSync(join(ROOT, dir), { withFileTypes: true }).flatMap((entry) =>
    entry.isDirectory() ? tsFiles(join(dir, entry.name)) : entry.name.endsWith('.ts') ? [join(dir, entry.name)] : [],
  );

const withoutComments = (code: string) => code.replace(/\/\*[^]*?\*\//g, '').replace(/(^|[^:])\/\/.*$/gm, '$1');

describe('SDK layers', () => {
  // The imports are test/layers.test.ts's (dependency-cruiser); what no import shows is a platform's global.
  it('keeps client/core free of platform globals', () => {
    const files = tsFiles('client/core');
    expect(files.length).toBeGreaterThan(10);
    for (const file of files) {
      const code = withoutComments(readFileSync(join(ROOT, file), 'utf8'));
      // Globals of one platform (a call to the global fetch has arguments; KeySource's fetch() is a method).
      expect(code, file).not.toMatch(/(?<![.\w$])(window|document|navigator|indexedDB|localStorage|sessionStorage|wx)\b|(?<![.\w$])fetch\(\s*[^)\s]|\b(Window|Document|Navigator|SubtleCrypto|IDB\w+)\b/);
    }
  });
});
