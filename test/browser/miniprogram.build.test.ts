/**
 * The package's `miniprogram` folder holds everything WeChat DevTools' "build
 * npm" needs: it copies that folder into miniprogram_npm/riskgate as it is and
 * resolves nothing in it, so every file a file requires must be inside it, in
 * CommonJS, with no Node built-in and no other package.
 */
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { dirname, join, normalize, relative } from 'node:path';
import { Script } from 'node:vm';
import { gzipSync } from 'node:zlib';
import { beforeAll, describe, expect, it } from 'vitest';
import { ensureMiniprogramBuilt, MINIPROGRAM_DIR, ROOT } from '../support/miniprogram.js';

const COMPONENTS = ['riskgate-slider', 'riskgate-sms'];

function files(dir = MINIPROGRAM_DIR): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? files(path) : [relative(MINIPROGRAM_DIR, path).replace(/\\/g, '/')];
  });
}

const read = (name: string) => readFileSync(join(MINIPROGRAM_DIR, name), 'utf8');

/** The string arguments of every `require(...)` in a script. */
const requiresOf = (code: string) => [...code.matchAll(/\brequire\(\s*(["'`])([^"'`]*)\1\s*\)/g)].map((m) => m[2]!);

beforeAll(() => {
  ensureMiniprogramBuilt();
}, 180_000);

describe('the mini-program package folder (dist/miniprogram)', () => {
  it('is what package.json names in its `miniprogram` field', () => {
    const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { miniprogram?: string };
    expect(pkg.miniprogram, 'package.json needs the line  "miniprogram": "dist/miniprogram",').toBe('dist/miniprogram');
    expect(join(ROOT, pkg.miniprogram!)).toBe(MINIPROGRAM_DIR);
  });

  it('has index.js and the four files of each component, and nothing unexpected', () => {
    const all = files().sort();
    const expected = [
      'index.js',
      'riskgate-crypto.js',
      'package.json',
      'components/base.js',
      ...COMPONENTS.flatMap((name) => ['js', 'json', 'wxml', 'wxss'].map((ext) => `components/${name}/index.${ext}`)),
    ].sort();
    expect(all).toEqual(expected);
    for (const name of COMPONENTS) expect(JSON.parse(read(`components/${name}/index.json`))).toMatchObject({ component: true });
    // Node reads the .js files as CommonJS too (the repository's package.json says "module").
    expect(JSON.parse(read('package.json'))).toEqual({ type: 'commonjs' });
  });

  it('is CommonJS throughout, and every require stays inside the folder', () => {
    for (const name of files().filter((f) => f.endsWith('.js'))) {
      const code = read(name);
      // Compiles as a classic script: an import or export statement would be a SyntaxError here.
      expect(() => new Script(code, { filename: name }), name).not.toThrow();
      for (const target of requiresOf(code)) {
        expect(target, `${name} requires "${target}"`).toMatch(/^\.\.?\//);
        const resolved = normalize(join(dirname(name), target)).replace(/\\/g, '/');
        expect(files(), `${name} requires ${target}, which is not in the folder`).toContain(resolved.endsWith('.js') ? resolved : `${resolved}.js`);
      }
    }
    // The crypto chunk is required lazily by index.js, and itself requires nothing.
    expect(requiresOf(read('index.js'))).toEqual(['./riskgate-crypto.js']);
    expect(requiresOf(read('riskgate-crypto.js'))).toEqual([]);
    expect(requiresOf(read('components/base.js'))).toEqual(['../index.js']);
    for (const name of COMPONENTS) expect(requiresOf(read(`components/${name}/index.js`))).toEqual(['../base.js']);
  });

  it('uses no browser DOM and no zod or server code', () => {
    for (const name of ['index.js', 'riskgate-crypto.js']) {
      const code = read(name);
      expect(code, name).not.toMatch(/(?<![\w$.'"`])(window|document|localStorage|navigator)\s*\.\s*[A-Za-z_]/);
      expect(code, name).not.toMatch(/ZodError|safeParse|node:crypto|fastify|better-sqlite3|@fingerprintjs/);
    }
  });

  it('reports its size', () => {
    const sizes = files()
      .filter((f) => f.endsWith('.js'))
      .map((name) => {
        const bytes = readFileSync(join(MINIPROGRAM_DIR, name));
        return { name, raw: bytes.length, gzip: gzipSync(bytes, { level: 9 }).length };
      });
    console.info(sizes.map((s) => `${s.name}: ${s.raw} B raw, ${s.gzip} B gzip -9`).join('\n'));
    const total = sizes.reduce((sum, s) => sum + s.raw, 0);
    // Not a budget, a tripwire: a mini-program's main package is limited to 2 MB.
    expect(total).toBeLessThan(200_000);
  });
});
