/**
 * The layering server/README.md states, checked on the sources' imports: the
 * engine is pure (no Fastify, no store client, no file or network I/O, nothing
 * from the layers around it), services know no transport, adapters know no
 * service, and nothing in server/ imports the demo.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const SERVER = join(ROOT, 'server');

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) =>
    entry.isDirectory() ? sources(join(dir, entry.name)) : entry.name.endsWith('.ts') ? [join(dir, entry.name)] : [],
  );
}

/** Each import of a file: a package name, or a path relative to the project root. */
function importsOf(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  const specifiers = [...text.matchAll(/(?:^import[^'"]*?from\s*|^export[^'"]*?from\s*|import\(\s*)['"]([^'"]+)['"]/gm)].map((m) => m[1]!);
  return specifiers.map((s) => (s.startsWith('.') ? relative(ROOT, resolve(dirname(file), s)) : s));
}

function violations(layer: string, forbidden: (specifier: string) => boolean): string[] {
  return sources(join(SERVER, layer)).flatMap((file) => importsOf(file).filter(forbidden).map((s) => `${relative(ROOT, file)} imports ${s}`));
}

const IO_PACKAGES = ['fastify', 'ioredis', 'pg', 'better-sqlite3', 'node:fs', 'node:fs/promises', 'node:http', 'node:https', 'node:dns', 'node:worker_threads', 'node:child_process'];
const isPackage = (s: string, names: readonly string[]) => names.some((name) => s === name || s.startsWith(`${name}/`) || s.startsWith('@fastify/'));
const inLayer = (s: string, ...layers: string[]) => layers.some((layer) => s.startsWith(`server/${layer}/`) || s === `server/${layer}`);
const atTop = (s: string) => /^server\/[^/]+\.(js|ts)$/.test(s);

describe('layers', () => {
  it('server/ imports nothing from demo/', () => {
    const found = sources(SERVER).flatMap((file) => importsOf(file).filter((s) => s.startsWith('demo/') || s === 'demo').map((s) => `${relative(ROOT, file)} imports ${s}`));
    expect(found).toEqual([]);
  });

  it('the engine imports no transport, store, I/O or outer layer', () => {
    expect(violations('engine', (s) => isPackage(s, IO_PACKAGES) || inLayer(s, 'adapters', 'services', 'http', 'config', 'observability') || atTop(s))).toEqual([]);
  });

  it('services import no transport and nothing from http/', () => {
    expect(violations('services', (s) => isPackage(s, ['fastify']) || inLayer(s, 'http') || atTop(s))).toEqual([]);
  });

  it('adapters import no service, no http/ and no Fastify', () => {
    expect(violations('adapters', (s) => isPackage(s, ['fastify']) || inLayer(s, 'services', 'http') || atTop(s))).toEqual([]);
  });

  it('the checks see the imports they judge', () => {
    // A guard against a pattern that matches nothing: the composition root imports every layer.
    const root = importsOf(join(SERVER, 'app.ts'));
    for (const layer of ['engine', 'adapters', 'services', 'http']) expect(root.some((s) => inLayer(s, layer))).toBe(true);
  });
});
