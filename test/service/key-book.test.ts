/**
 * The key book on its own: what it reads from each source, what it keeps when
 * a read fails, and how often an unknown kid may re-read shared keys.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { KeyBook, type KeyBookLogger } from '../../server/adapters/keys/key-book.js';
import { rotateKeyFile, writeKeyFile } from '../../server/adapters/keys/key-file.js';
import { generateTokenKey, type StoredTokenKey } from '../../server/engine/token/key-ring.js';

function recordingLogger(): KeyBookLogger & { lines: string[] } {
  const lines: string[] = [];
  return { lines, info: (_obj, msg) => lines.push(`info: ${msg}`), error: (_obj, msg) => lines.push(`error: ${msg}`) };
}

const books: KeyBook[] = [];
const dirs: string[] = [];
afterEach(() => {
  for (const book of books.splice(0)) book.close();
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

function keyFile(keys: StoredTokenKey[]): string {
  const dir = mkdtempSync(join(tmpdir(), 'riskgate-key-book-'));
  dirs.push(dir);
  const file = join(dir, 'token-keys.json');
  writeKeyFile(file, keys);
  return file;
}

describe('KeyBook', () => {
  it('reloads a rotated key file, tells the decoders, and says whether the kids changed', async () => {
    const first = generateTokenKey(new Date('2025-01-01T00:00:00Z'));
    const file = keyFile([first]);
    const seen: string[][] = [];
    const book = KeyBook.open([first], { kind: 'file', file }, { logger: recordingLogger(), onKeys: (keys) => seen.push(keys.map((k) => k.kid)) });
    books.push(book);
    expect(book.current().primary.kid).toBe(first.kid);
    expect(await book.reload()).toBe(false);
    const next = rotateKeyFile(file);
    expect(await book.reload()).toBe(true);
    expect(book.current().primary.kid).toBe(next.kid);
    expect(seen).toEqual([[first.kid], [first.kid, next.kid]]);
  });

  it('keeps the keys in force when the file no longer reads, and logs why', async () => {
    const key = generateTokenKey();
    const file = keyFile([key]);
    const logger = recordingLogger();
    const book = KeyBook.open([key], { kind: 'file', file }, { logger });
    books.push(book);
    writeFileSync(file, '{ not json');
    expect(await book.reload()).toBe(false);
    expect(book.current().primary.kid).toBe(key.kid);
    expect(logger.lines).toContain('error: token keys not reloaded; the previous keys stay in force');
  });

  it('never re-reads keys from the configuration', async () => {
    const key = generateTokenKey();
    const book = KeyBook.open([key], { kind: 'fixed' }, { logger: recordingLogger() });
    books.push(book);
    expect(await book.reload()).toBe(false);
    expect(await book.rereadForUnknownKid(100)).toBe(false);
  });

  it('re-reads shared keys for unknown kids at most once a second, within the budget', async () => {
    const first = generateTokenKey(new Date('2025-01-01T00:00:00Z'));
    const second = generateTokenKey(new Date('2025-01-02T00:00:00Z'));
    let reads = 0;
    let stored = [first];
    const book = KeyBook.open([first], { kind: 'shared', read: async () => (reads++, stored) }, { logger: recordingLogger() });
    books.push(book);
    stored = [first, second];
    const answers = await Promise.all(Array.from({ length: 20 }, () => book.rereadForUnknownKid(1000)));
    expect(answers.every((changed) => changed)).toBe(true);
    expect(reads).toBe(1);
    expect(book.current().primary.kid).toBe(second.kid);
    // Within the same second: the answer of that read, and no new one.
    expect(await book.rereadForUnknownKid(1000)).toBe(true);
    expect(reads).toBe(1);

    const slow = KeyBook.open([first], { kind: 'shared', read: () => new Promise(() => {}) }, { logger: recordingLogger() });
    books.push(slow);
    const startedAt = performance.now();
    expect(await slow.rereadForUnknownKid(50)).toBe(false);
    expect(performance.now() - startedAt).toBeLessThan(1000);
  });
});
