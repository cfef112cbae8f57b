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
 * `pool` is the records pool (`PostgresRecords#pool`), whose connections use
 * the records' schema.
 */
import { randomBytes } from 'node:crypto';
import type { Pool, PoolClient } from 'pg';
import { withAdvisoryLock } from '../records/postgres.js';
import { generateTokenKey, StoredTokenKeys, TokenKeyRing, type StoredTokenKey } from './token-keys.js';

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

/**
 * The token keys and identifier hash key for this instance: the configured
 * ones where given, else the database's, created on first use.
 */
export async function loadSharedSecrets(pool: Pool, given: GivenSecrets = {}): Promise<SharedSecrets> {
  const needed = [...(given.tokenKeys ? [] : [TOKEN_KEYS]), ...(given.identifierHashKey ? [] : [IDENTIFIER_HASH_KEY])];
  const created: string[] = [];
  let rows: Rows = needed.length > 0 ? await readRows(pool, needed) : new Map();
  if (needed.some((name) => !rows.has(name))) {
    // First start: create what is missing once, whoever gets the lock first.
    rows = await withAdvisoryLock(pool, SECRETS_LOCK, async (client) => {
      const current = await readRows(client, needed);
      const now = Date.now();
      for (const name of needed) {
        if (current.has(name)) continue;
        const value = name === TOKEN_KEYS ? JSON.stringify([generateTokenKey()]) : randomBytes(32).toString('base64url');
        await client.query('INSERT INTO shared_secrets (name, value, created_at, updated_at) VALUES ($1, $2, $3, $3)', [name, value, now]);
        current.set(name, value);
        created.push(name);
      }
      return current;
    });
  }
  const tokenKeys = given.tokenKeys ? [...given.tokenKeys] : parseTokenKeys(rows.get(TOKEN_KEYS)!);
  const identifierHashKey = given.identifierHashKey ? Buffer.from(given.identifierHashKey, 'utf8') : parseHashKey(rows.get(IDENTIFIER_HASH_KEY)!);
  return { tokenKeys, identifierHashKey, created };
}

/** The shared token key set as stored now (to reload after a rotation by another instance or the CLI). */
export async function readSharedTokenKeys(pool: Pool): Promise<StoredTokenKey[]> {
  const text = (await readRows(pool, [TOKEN_KEYS])).get(TOKEN_KEYS);
  if (text === undefined) throw new Error('shared secrets: no token keys stored yet (they are created when the first server starts)');
  return parseTokenKeys(text);
}

/** Changes the stored key set under the lock; `change` returns the new set and a result. */
async function updateTokenKeys<T>(pool: Pool, change: (keys: StoredTokenKey[]) => { keys: StoredTokenKey[]; result: T }): Promise<T> {
  return withAdvisoryLock(pool, SECRETS_LOCK, async (client) => {
    const current = (await readRows(client, [TOKEN_KEYS], true)).get(TOKEN_KEYS);
    const { keys, result } = change(current === undefined ? [] : parseTokenKeys(current));
    new TokenKeyRing(keys); // refuses a set without a live key, duplicate kids or corrupt keys
    const now = Date.now();
    await client.query(
      `INSERT INTO shared_secrets (name, value, created_at, updated_at) VALUES ($1, $2, $3, $3)
       ON CONFLICT (name) DO UPDATE SET value = EXCLUDED.value, updated_at = EXCLUDED.updated_at`,
      [TOKEN_KEYS, JSON.stringify(keys), now],
    );
    return result;
  });
}

/**
 * Adds a new primary token key to the shared set; older keys stay live until
 * retired. Instances pick it up when they reload (`readSharedTokenKeys`).
 */
export async function rotateSharedTokenKeys(pool: Pool, now = new Date()): Promise<StoredTokenKey> {
  return updateTokenKeys(pool, (keys) => {
    const key = generateTokenKey(now);
    if (keys.some((k) => k.kid === key.kid)) throw new Error(`token key id "${key.kid}" already exists`);
    return { keys: [...keys, key], result: key };
  });
}

/** Stops advertising a shared key; it still decrypts tokens already made for it. */
export async function retireSharedTokenKey(pool: Pool, kid: string, now = new Date()): Promise<void> {
  await updateTokenKeys(pool, (keys) => {
    const key = keys.find((k) => k.kid === kid);
    if (!key) throw new Error(`no shared token key "${kid}"`);
    key.retired_at ??= now.toISOString();
    return { keys, result: undefined };
  });
}
