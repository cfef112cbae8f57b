/**
 * Secrets every instance must share in distributed mode: the token key set
 * (any instance decrypts any token) and the identifier hash key (every
 * instance computes the same keyed hashes for lists and hot state).
 *
 * When the configuration gives them (`token.keys`, `identifier_hash_key`),
 * those are used. Otherwise they live in PostgreSQL, table `shared_secrets`
 * (migration 2, applied by `PostgresRecords.open`): the first instance creates
 * them inside an advisory-locked transaction; the others, waiting on the lock
 * or starting later, read the same rows.
 *
 * Every row is sealed with a key-encryption key that is never stored in the
 * database (key-encryption.ts). At start, under the same lock, rows written in
 * clear (before KEKs) or sealed with a KEK that is no longer the current one
 * are sealed again with the current one. A row that does not open stops the
 * start with an error naming it: never a new secret in its place.
 *
 * `pool` is the records pool (`PostgresRecords#pool`), whose connections use
 * the records' schema.
 */
import { randomBytes } from 'node:crypto';
import type { Pool, PoolClient } from 'pg';
import { withAdvisoryLock } from '../records/postgres.js';
import { SealedSecretError, type KeyEncryptionKeys } from './key-encryption.js';
import { generateTokenKey, StoredTokenKeys, TokenKeyRing, type StoredTokenKey } from '../../engine/token/key-ring.js';

const TOKEN_KEYS = 'token_keys';
const IDENTIFIER_HASH_KEY = 'identifier_hash_key';
const SECRETS_LOCK = 'shared-secrets';
const MIN_HASH_KEY_CHARS = 32;

export interface SharedSecrets {
  tokenKeys: StoredTokenKey[];
  /** As the data directory's key file gives it: the UTF-8 bytes of the stored text. */
  identifierHashKey: Buffer;
  /** Which secrets this call created (for the first-start log line); empty when they existed. */
  created: string[];
  /** Which existing rows this call sealed with the current KEK (they were in clear, or under an older KEK). */
  sealed: string[];
}

/** Secrets from the configuration, which take precedence over the database's. */
export interface GivenSecrets {
  tokenKeys?: readonly StoredTokenKey[] | undefined;
  identifierHashKey?: string | undefined;
}

type Rows = Map<string, string>;

async function readRows(db: Pool | PoolClient, names: readonly string[], lock = false): Promise<Rows> {
  try {
    const { rows } = await db.query<{ name: string; value: string }>(
      `SELECT name, value FROM shared_secrets WHERE name = ANY($1::text[])${lock ? ' FOR UPDATE' : ''}`,
      [names],
    );
    return new Map(rows.map((r) => [r.name, r.value]));
  } catch (error) {
    if ((error as { code?: string }).code === '42P01') {
      throw new Error('shared secrets: table shared_secrets is missing; open PostgresRecords (which migrates) before loading secrets');
    }
    throw error;
  }
}

function parseTokenKeys(text: string): StoredTokenKey[] {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    throw new Error(`shared secrets: ${TOKEN_KEYS} is not valid JSON (${(error as Error).message})`);
  }
  const result = StoredTokenKeys.safeParse(parsed);
  if (!result.success) {
    const issue = result.error.issues[0]!;
    throw new Error(`shared secrets: ${TOKEN_KEYS}: ${issue.path.join('.') || '(root)'}: ${issue.message}`);
  }
  return result.data;
}

function parseHashKey(text: string): Buffer {
  const key = Buffer.from(text, 'utf8');
  if (key.length < MIN_HASH_KEY_CHARS) throw new Error(`shared secrets: ${IDENTIFIER_HASH_KEY} is shorter than ${MIN_HASH_KEY_CHARS} characters`);
  return key;
}

/** Opens a row and checks its content, so that a bad row fails before anything is written. */
function openRow(keks: KeyEncryptionKeys, name: string, stored: string): { clear: string; sealedBy: string | undefined } {
  const row = keks.open(name, stored);
  if (name === TOKEN_KEYS) parseTokenKeys(row.clear);
  else parseHashKey(row.clear);
  return row;
}

async function writeRow(db: PoolClient, keks: KeyEncryptionKeys, name: string, clear: string): Promise<void> {
  const now = Date.now();
  await db.query(
    `INSERT INTO shared_secrets (name, value, created_at, updated_at) VALUES ($1, $2, $3, $3)
     ON CONFLICT (name) DO UPDATE SET value = EXCLUDED.value, updated_at = EXCLUDED.updated_at`,
    [name, keks.seal(name, clear), now],
  );
}

/**
 * The token keys and identifier hash key for this instance: the configured
 * ones where given, else the database's, created on first use.
 */
export async function loadSharedSecrets(pool: Pool, keks: KeyEncryptionKeys, given: GivenSecrets = {}): Promise<SharedSecrets> {
  const needed = [...(given.tokenKeys ? [] : [TOKEN_KEYS]), ...(given.identifierHashKey ? [] : [IDENTIFIER_HASH_KEY])];
  const created: string[] = [];
  const sealed: string[] = [];
  const openAll = (rows: Rows) => new Map([...rows].map(([name, stored]) => [name, openRow(keks, name, stored)]));
  let rows = openAll(needed.length > 0 ? await readRows(pool, needed) : new Map());
  if (needed.some((name) => rows.get(name)?.sealedBy !== keks.currentId)) {
    // First start, first start with a KEK, or a new current KEK: create what is
    // missing and seal what is not sealed with the current KEK, once, whoever gets the lock first.
    rows = await withAdvisoryLock(pool, SECRETS_LOCK, async (client) => {
      const current = openAll(await readRows(client, needed));
      for (const name of needed) {
        const row = current.get(name);
        if (row?.sealedBy === keks.currentId) continue;
        const clear = row?.clear ?? (name === TOKEN_KEYS ? JSON.stringify([generateTokenKey()]) : randomBytes(32).toString('base64url'));
        await writeRow(client, keks, name, clear);
        current.set(name, { clear, sealedBy: keks.currentId });
        (row ? sealed : created).push(name);
      }
      return current;
    });
  }
  const tokenKeys = given.tokenKeys ? [...given.tokenKeys] : parseTokenKeys(rows.get(TOKEN_KEYS)!.clear);
  const identifierHashKey = given.identifierHashKey ? Buffer.from(given.identifierHashKey, 'utf8') : parseHashKey(rows.get(IDENTIFIER_HASH_KEY)!.clear);
  return { tokenKeys, identifierHashKey, created, sealed };
}

/**
 * The stored token key set, opened. Only a start seals rows written in clear;
 * later reads refuse them (a clear row now is an older version's write, or a forgery).
 */
function openTokenKeys(keks: KeyEncryptionKeys, stored: string): StoredTokenKey[] {
  const row = openRow(keks, TOKEN_KEYS, stored);
  if (row.sealedBy === undefined) {
    throw new SealedSecretError(`shared secrets: row "${TOKEN_KEYS}" is in clear; start an instance with a key-encryption key to seal it`);
  }
  return parseTokenKeys(row.clear);
}

/** The shared token key set as stored now (to reload after a rotation by another instance or the CLI). */
export async function readSharedTokenKeys(pool: Pool, keks: KeyEncryptionKeys): Promise<StoredTokenKey[]> {
  const stored = (await readRows(pool, [TOKEN_KEYS])).get(TOKEN_KEYS);
  if (stored === undefined) throw new Error('shared secrets: no token keys stored yet (they are created when the first server starts)');
  return openTokenKeys(keks, stored);
}

/** Changes the stored key set under the lock; `change` returns the new set and a result. */
async function updateTokenKeys<T>(
  pool: Pool,
  keks: KeyEncryptionKeys,
  change: (keys: StoredTokenKey[]) => { keys: StoredTokenKey[]; result: T },
): Promise<T> {
  return withAdvisoryLock(pool, SECRETS_LOCK, async (client) => {
    const current = (await readRows(client, [TOKEN_KEYS], true)).get(TOKEN_KEYS);
    const { keys, result } = change(current === undefined ? [] : openTokenKeys(keks, current));
    new TokenKeyRing(keys); // refuses a set without a live key, duplicate kids or corrupt keys
    await writeRow(client, keks, TOKEN_KEYS, JSON.stringify(keys));
    return result;
  });
}

/**
 * Adds a new primary token key to the shared set; older keys stay live until
 * retired. Instances pick it up when they reload (`readSharedTokenKeys`).
 */
export async function rotateSharedTokenKeys(pool: Pool, keks: KeyEncryptionKeys, now = new Date()): Promise<StoredTokenKey> {
  return updateTokenKeys(pool, keks, (keys) => {
    const key = generateTokenKey(now);
    if (keys.some((k) => k.kid === key.kid)) throw new Error(`token key id "${key.kid}" already exists`);
    return { keys: [...keys, key], result: key };
  });
}

/** Stops advertising a shared key; it still decrypts tokens already made for it. */
export async function retireSharedTokenKey(pool: Pool, keks: KeyEncryptionKeys, kid: string, now = new Date()): Promise<void> {
  await updateTokenKeys(pool, keks, (keys) => {
    const key = keys.find((k) => k.kid === kid);
    if (!key) throw new Error(`no shared token key "${kid}"`);
    key.retired_at ??= now.toISOString();
    return { keys, result: undefined };
  });
}

/** Deletes a shared key for good: tokens made for it then decode as TOKEN_UNKNOWN_KEY. */
export async function removeSharedTokenKey(pool: Pool, keks: KeyEncryptionKeys, kid: string): Promise<void> {
  await updateTokenKeys(pool, keks, (keys) => {
    const rest = keys.filter((k) => k.kid !== kid);
    if (rest.length === keys.length) throw new Error(`no shared token key "${kid}"`);
    return { keys: rest, result: undefined };
  });
}
