/**
 * The token key file in the data directory (embedded mode): read, created on
 * first start, and changed by `riskgate keys` (rotate, retire, remove).
 * Writes are atomic and the file is mode 0600.
 */
import { chmodSync, existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { generateTokenKey, StoredTokenKeys, TokenKeyRing, type StoredTokenKey } from '../../engine/token/key-ring.js';

/** Reads a key file, or creates one with a fresh key (mode 0600) when there is none. */
export function loadOrCreateKeyFile(file: string): StoredTokenKey[] {
  if (!existsSync(file)) {
    const keys = [generateTokenKey()];
    writeKeyFile(file, keys);
    return keys;
  }
  return readKeyFile(file);
}

export function readKeyFile(file: string): StoredTokenKey[] {
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(file, 'utf8'));
  } catch (error) {
    throw new TypeError(`token key file ${file}: not valid JSON (${(error as Error).message})`);
  }
  const result = StoredTokenKeys.safeParse(parsed);
  if (!result.success) {
    const issue = result.error.issues[0]!;
    throw new TypeError(`token key file ${file}: ${issue.path.join('.') || '(root)'}: ${issue.message}`);
  }
  return result.data;
}

/** Writes atomically (temp file, then rename) so a crash never leaves half a key file. */
export function writeKeyFile(file: string, keys: readonly StoredTokenKey[]): void {
  mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
  const temp = `${file}.${process.pid}.tmp`;
  writeFileSync(temp, `${JSON.stringify(keys, null, 2)}\n`, { mode: 0o600 });
  chmodSync(temp, 0o600);
  renameSync(temp, file);
}

/** Adds a new primary key; the old ones stay live until retired. */
export function rotateKeyFile(file: string, now = new Date()): StoredTokenKey {
  const keys = existsSync(file) ? readKeyFile(file) : [];
  const key = generateTokenKey(now);
  if (keys.some((k) => k.kid === key.kid)) throw new TypeError(`token key id "${key.kid}" already exists`);
  writeKeyFile(file, [...keys, key]);
  return key;
}

/** Stops advertising a key; it still decrypts tokens already made for it. */
export function retireKey(file: string, kid: string, now = new Date()): void {
  const keys = readKeyFile(file);
  const key = keys.find((k) => k.kid === kid);
  if (!key) throw new TypeError(`no token key "${kid}" in ${file}`);
  key.retired_at ??= now.toISOString();
  new TokenKeyRing(keys); // refuses to retire the last live key
  writeKeyFile(file, keys);
}

/** Deletes a key for good: tokens made for it decode as TOKEN_UNKNOWN_KEY. */
export function removeKey(file: string, kid: string): void {
  const keys = readKeyFile(file);
  const rest = keys.filter((k) => k.kid !== kid);
  if (rest.length === keys.length) throw new TypeError(`no token key "${kid}" in ${file}`);
  new TokenKeyRing(rest);
  writeKeyFile(file, rest);
}
