/**
 * Secrets at rest in PostgreSQL (hardening issue, item 10): the rows of
 * `shared_secrets` (token private keys, identifier hash key) are sealed with a
 * key-encryption key (KEK) from the environment or a file, never from the
 * database.
 *
 * First the sealing and the configuration on their own, then instances
 * (buildApp, through test/support/app.ts) on a real PostgreSQL, each test in
 * its own schema (test/support/postgres.ts).
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import { printNewKek } from '../../server/cli.js';
import { ConfigError, loadConfig } from '../../server/config/config.js';
import { generateKeyEncryptionKey, KeyEncryptionKeys, keyEncryptionKeyId, SealedSecretError } from '../../server/adapters/keys/key-encryption.js';
import { generateTokenKey, type PublicTokenJwk } from '../../server/engine/token/key-ring.js';
import { IdentifierKeys } from '../../server/engine/identifiers/identifiers.js';
import { PostgresRecords } from '../../server/adapters/records/postgres.js';
import { testApp, type TestApp } from '../support/app.js';
import { testPostgresUrl, TestSchemas } from '../support/postgres.js';
import { makeToken } from '../support/tokens.js';

const kekId = (text: string) => keyEncryptionKeyId(Buffer.from(text, 'base64url'));

describe('sealing a row with a key-encryption key', () => {
  const keks = KeyEncryptionKeys.parse([generateKeyEncryptionKey()], 'test');

  it('seals in a versioned format naming the KEK, and opens it back', () => {
    const clear = JSON.stringify([generateTokenKey()]);
    const sealed = keks.seal('token_keys', clear);
    expect(sealed.startsWith(`rgs1.${keks.currentId}.`)).toBe(true);
    expect(sealed).not.toContain(JSON.parse(clear)[0].jwk.d);
    expect(keks.open('token_keys', sealed)).toEqual({ clear, sealedBy: keks.currentId });
    // A fresh IV each time: the same secret never seals to the same text.
    expect(keks.seal('token_keys', clear)).not.toBe(sealed);
  });

  it('does not open a row copied onto another, relabelled with another KEK, or altered', () => {
    const sealed = keks.seal('identifier_hash_key', 'h'.repeat(43));
    const [format, , iv, ciphertext, tag] = sealed.split('.');
    expect(() => keks.open('token_keys', sealed)).toThrow(/row "token_keys" does not open .*copied from another row/);
    // Relabelled with another KEK that is given: the KEK id is part of the associated data.
    const both = KeyEncryptionKeys.parse([generateKeyEncryptionKey(), generateKeyEncryptionKey()], 'test');
    const underFirst = both.seal('identifier_hash_key', 'h'.repeat(43)).split('.');
    underFirst[1] = both.ids[1]!;
    expect(() => both.open('identifier_hash_key', underFirst.join('.'))).toThrow(new RegExp(`does not open with key-encryption key ${both.ids[1]}`));
    // Sealed with a KEK that is not given.
    expect(() => both.open('identifier_hash_key', sealed)).toThrow(new RegExp(`sealed with key-encryption key ${keks.currentId}, which is not among those given`));
    const flipped = `${ciphertext!.startsWith('A') ? 'B' : 'A'}${ciphertext!.slice(1)}`;
    expect(() => keks.open('identifier_hash_key', [format, keks.currentId, iv, flipped, tag].join('.'))).toThrow(SealedSecretError);
    expect(() => keks.open('identifier_hash_key', 'rgs9.x.y.z.w')).toThrow(/format this version does not know/);
    expect(() => keks.open('identifier_hash_key', `rgs1.${keks.currentId}.only-three`)).toThrow(/not a well-formed sealed value/);
  });

  it('reads a row written in clear before KEKs as clear, saying it was not sealed', () => {
    expect(keks.open('identifier_hash_key', 'legacy-clear-hash-key-0123456789abcdefghij')).toEqual({
      clear: 'legacy-clear-hash-key-0123456789abcdefghij',
      sealedBy: undefined,
    });
  });

  it('takes a KEK as base64url, base64 or hex, and refuses anything else without repeating it', () => {
    const bytes = Buffer.from(generateKeyEncryptionKey(), 'base64url');
    const ids = [bytes.toString('base64url'), bytes.toString('base64'), bytes.toString('hex')].map((text) => KeyEncryptionKeys.parse([text], 'test').currentId);
    expect(new Set(ids).size).toBe(1);
    const short = 'too-short-to-be-a-key';
    expect(() => KeyEncryptionKeys.parse([generateKeyEncryptionKey(), short], 'RISKGATE_SECRETS_KEK')).toThrow(/RISKGATE_SECRETS_KEK: key 2 is not 32 bytes/);
    expect(() => KeyEncryptionKeys.parse([short], 'x')).not.toThrow(new RegExp(short));
    const twice = generateKeyEncryptionKey();
    expect(() => KeyEncryptionKeys.parse([twice, twice], 'x')).toThrow(/key 2 is given twice/);
    expect(() => KeyEncryptionKeys.parse([], 'x')).toThrow(/no key-encryption key given/);
    // Never serialised with the key material.
    expect(JSON.stringify({ keks: KeyEncryptionKeys.parse([twice], 'x') })).not.toContain(twice);
  });

  it('`npm run keys -- new-kek` prints a usable KEK alone on stdout and its id on stderr', () => {
    const out: string[] = [];
    const note: string[] = [];
    printNewKek((line) => out.push(line), (line) => note.push(line));
    expect(out).toHaveLength(1);
    expect(KeyEncryptionKeys.parse(out, 'printed').currentId).toBe(kekId(out[0]!));
    expect(note.join('\n')).toContain(kekId(out[0]!));
    expect(note.join('\n')).toContain('RISKGATE_SECRETS_KEK');
    expect(note.join('\n')).not.toContain(out[0]!);
  });
});

describe('configuration of the key-encryption keys', () => {
  const dir = mkdtempSync(join(tmpdir(), 'riskgate-kek-config-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('reads RISKGATE_SECRETS_KEK (current first, comma-separated)', () => {
    const [current, previous] = [generateKeyEncryptionKey(), generateKeyEncryptionKey()];
    const config = loadConfig({ env: { RISKGATE_SECRETS_KEK: `${current}, ${previous}` }, raw: { data_dir: dir } });
    expect(config.secretsKeks?.currentId).toBe(kekId(current));
    expect(config.secretsKeks?.ids).toEqual([kekId(current), kekId(previous)]);
    expect(loadConfig({ env: {}, raw: { data_dir: dir } }).secretsKeks).toBeUndefined();
  });

  it('reads secrets.kek_file (one a line, comments skipped), relative to the configuration file', () => {
    const [current, previous] = [generateKeyEncryptionKey(), generateKeyEncryptionKey()];
    writeFileSync(join(dir, 'kek'), `# riskgate key-encryption keys, current first\n${current}\n\n${previous}\n`, { mode: 0o600 });
    writeFileSync(join(dir, 'riskgate.yaml'), 'secrets:\n  kek_file: kek\n');
    const config = loadConfig({ env: { RISKGATE_CONFIG: join(dir, 'riskgate.yaml') }, cwd: '/' });
    expect(config.secretsKeks?.ids).toEqual([kekId(current), kekId(previous)]);
    expect(loadConfig({ env: { RISKGATE_SECRETS_KEK_FILE: join(dir, 'kek') } }).secretsKeks?.currentId).toBe(kekId(current));
  });

  it('refuses a bad key, a missing file, or both sources at once, naming the source and never the key', () => {
    const bad = 'not-a-key-at-all';
    const failure = (options: Parameters<typeof loadConfig>[0]) => {
      try {
        loadConfig(options);
      } catch (error) {
        expect(error).toBeInstanceOf(ConfigError);
        return (error as Error).message;
      }
      throw new Error('loadConfig accepted it');
    };
    const badEnv = failure({ env: { RISKGATE_SECRETS_KEK: `${generateKeyEncryptionKey()},${bad}` }, raw: { data_dir: dir } });
    expect(badEnv).toMatch(/RISKGATE_SECRETS_KEK: key 2 is not 32 bytes/);
    expect(badEnv).not.toContain(bad);
    writeFileSync(join(dir, 'bad-kek'), `${bad}\n`);
    expect(failure({ env: {}, raw: { data_dir: dir, secrets: { kek_file: join(dir, 'bad-kek') } } })).toMatch(/secrets\.kek_file .*bad-kek: key 1 is not 32 bytes/);
    expect(failure({ env: {}, raw: { data_dir: dir, secrets: { kek_file: join(dir, 'missing') } } })).toMatch(/cannot read secrets\.kek_file .*missing: ENOENT/);
    expect(failure({ env: { RISKGATE_SECRETS_KEK: generateKeyEncryptionKey() }, raw: { data_dir: dir, secrets: { kek_file: join(dir, 'kek') } } })).toMatch(
      /RISKGATE_SECRETS_KEK or secrets\.kek_file, not both/,
    );
  });
});

// ---------------------------------------------------------------- instances on PostgreSQL

const PG_URL = await testPostgresUrl('the shared-secrets suites on PostgreSQL');

describe.skipIf(PG_URL === undefined)('shared secrets sealed in PostgreSQL', () => {
  const schemas = new TestSchemas(PG_URL ?? '', 'rgsec');
  const kekDir = mkdtempSync(join(tmpdir(), 'riskgate-kek-'));
  const running: TestApp[] = [];
  let schema = '';

  beforeEach(() => {
    schema = schemas.next();
  });
  afterEach(async () => {
    await Promise.all(running.splice(0).map((t) => t.close()));
    await schemas.drop(schema);
  });
  afterAll(async () => {
    await schemas.dropAll();
    rmSync(kekDir, { recursive: true, force: true });
  });

  let kekFiles = 0;
  /** An instance on this test's schema; `keks` (current first) go through a secrets.kek_file. */
  async function instance(keks: readonly string[] | undefined, raw: Record<string, unknown> = {}): Promise<TestApp> {
    let secrets = {};
    if (keks) {
      const file = join(kekDir, `kek-${kekFiles++}`);
      writeFileSync(file, `${keks.join('\n')}\n`, { mode: 0o600 });
      secrets = { secrets: { kek_file: file } };
    }
    const t = await testApp({ stores: { database_url: PG_URL, database_schema: schema }, ...secrets, ...raw });
    running.push(t);
    return t;
  }

  async function storedRows(): Promise<Map<string, string>> {
    const { rows } = await schemas.admin().query<{ name: string; value: string }>(`SELECT name, value FROM "${schema}".shared_secrets`);
    return new Map(rows.map((r) => [r.name, r.value]));
  }

  const jwks = async (t: TestApp) => ((await t.app.inject({ method: 'GET', url: '/v1/keys' })).json() as { keys: PublicTokenJwk[] }).keys;

  /** A black-listed mobile added on `on`, as its list key is stored (a keyed hash: it shows which hash key the instance uses). */
  async function listMobile(on: TestApp, mobile: string): Promise<string> {
    const added = await on.app.inject({ method: 'POST', url: '/v1/lists', headers: on.auth, payload: { list: 'black', dimension: 'mobile', value: mobile, reason: 'test' } });
    expect(added.statusCode).toBe(200);
    const { rows } = await schemas.admin().query<{ value_key: string }>(`SELECT value_key FROM "${schema}".list_entries WHERE id = $1`, [added.json().entry.id]);
    return rows[0]!.value_key;
  }

  it('stores neither the key material nor the clear JSON', async () => {
    const kek = generateKeyEncryptionKey();
    const a = await instance([kek]);
    const rows = await storedRows();
    expect([...rows.keys()].sort()).toEqual(['identifier_hash_key', 'token_keys']);
    const [tokenKey] = a.app.riskgate.keys.current().keys;
    const keks = KeyEncryptionKeys.parse([kek], 'test');
    for (const [name, stored] of rows) {
      expect(stored.startsWith(`rgs1.${kekId(kek)}.`), name).toBe(true);
      expect(() => JSON.parse(stored), name).toThrow();
      const { clear } = keks.open(name, stored);
      expect(stored).not.toContain(clear);
      for (const part of [tokenKey!.jwk.d, tokenKey!.jwk.x, tokenKey!.kid]) expect(stored, name).not.toContain(part);
    }
    // What the rows hold is what the instance uses.
    expect(JSON.parse(keks.open('token_keys', rows.get('token_keys')!).clear)).toEqual([tokenKey]);
    const hashKey = keks.open('identifier_hash_key', rows.get('identifier_hash_key')!).clear;
    expect(await listMobile(a, '13800138000')).toBe(new IdentifierKeys(Buffer.from(hashKey, 'utf8')).key('mobile', '13800138000'));
  });

  it('two instances with the same KEK share the secrets', async () => {
    const kek = generateKeyEncryptionKey();
    // First start of both at once, on an empty schema: created once, under the lock.
    const [a, b] = await Promise.all([instance([kek]), instance([kek])]);
    expect(await jwks(b)).toEqual(await jwks(a));
    const token = await makeToken({ serverKey: a.app.riskgate.keys.current().primary, appKey: 'pk_test_shop_0001' });
    const onB = await b.app.inject({ method: 'POST', url: '/v1/risk/evaluate', headers: b.auth, payload: { event: 'login', ip: '203.0.113.9', black_box: token } });
    expect(onB.statusCode).toBe(200);
    expect(onB.json().device_id).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect((onB.json().reasons as { id: string }[]).filter((r) => r.id.startsWith('token_'))).toEqual([]);
    // The same identifier hash key: a mobile listed on A is found on B.
    await listMobile(a, '13900139000');
    const found = await b.app.inject({ method: 'GET', url: '/v1/lists?dimension=mobile&value=13900139000', headers: b.auth });
    expect(found.json().entries).toHaveLength(1);
  });

  it('an instance with a wrong KEK refuses to start, naming the row, and makes no new secret', async () => {
    const right = generateKeyEncryptionKey();
    await instance([right]);
    const before = await storedRows();
    const wrong = generateKeyEncryptionKey();
    await expect(instance([wrong])).rejects.toThrow(
      new RegExp(`row "(token_keys|identifier_hash_key)" is sealed with key-encryption key ${kekId(right)}, which is not among those given \\(${kekId(wrong)}\\)`),
    );
    await expect(instance([wrong])).rejects.toBeInstanceOf(SealedSecretError);
    expect(await storedRows()).toEqual(before);
  });

  it('refuses a row copied onto another', async () => {
    const kek = generateKeyEncryptionKey();
    await instance([kek]);
    await schemas.admin().query(`UPDATE "${schema}".shared_secrets SET value = (SELECT value FROM "${schema}".shared_secrets WHERE name = 'token_keys') WHERE name = 'identifier_hash_key'`);
    await expect(instance([kek])).rejects.toThrow(/row "identifier_hash_key" does not open with key-encryption key .*copied from another row/);
  });

  it('rotates the KEK: a new current KEK re-seals the rows at start, the previous one still reads them until then', async () => {
    const [oldKek, newKek] = [generateKeyEncryptionKey(), generateKeyEncryptionKey()];
    const first = await instance([oldKek]);
    const kids = (await jwks(first)).map((k) => k.kid);
    const listKey = await listMobile(first, '13700137000');
    await first.close();
    running.splice(running.indexOf(first), 1);

    // Both restart with the new KEK first and the old one after it, at once: the rows are re-sealed once.
    const [a, b] = await Promise.all([instance([newKek, oldKek]), instance([newKek, oldKek])]);
    for (const stored of (await storedRows()).values()) expect(stored.startsWith(`rgs1.${kekId(newKek)}.`)).toBe(true);
    for (const t of [a, b]) {
      expect((await jwks(t)).map((k) => k.kid)).toEqual(kids);
      expect(await listMobile(t, '13700137000')).toBe(listKey);
    }
    // The old KEK can be dropped now; an instance that has only the old one refuses.
    const later = await instance([newKek]);
    expect((await jwks(later)).map((k) => k.kid)).toEqual(kids);
    await expect(instance([oldKek])).rejects.toThrow(new RegExp(`sealed with key-encryption key ${kekId(newKek)}`));
  });

  it('seals rows an older version wrote in clear, in place, keeping their secrets', async () => {
    const records = await PostgresRecords.open(PG_URL!, { schema });
    const legacyKeys = [generateTokenKey()];
    const legacyHashKey = 'legacy-hash-key-0123456789abcdefghijklmnopq';
    try {
      for (const [name, value] of [['token_keys', JSON.stringify(legacyKeys)], ['identifier_hash_key', legacyHashKey]]) {
        await records.pool.query('INSERT INTO shared_secrets (name, value, created_at, updated_at) VALUES ($1, $2, 0, 0)', [name, value]);
      }
    } finally {
      await records.close();
    }
    const kek = generateKeyEncryptionKey();
    const t = await instance([kek]);
    expect(t.app.riskgate.keys.current().keys).toEqual(legacyKeys);
    expect(await listMobile(t, '13600136000')).toBe(new IdentifierKeys(Buffer.from(legacyHashKey, 'utf8')).key('mobile', '13600136000'));
    const rows = await storedRows();
    expect(rows.get('token_keys')!.startsWith(`rgs1.${kekId(kek)}.`)).toBe(true);
    expect(rows.get('token_keys')).not.toContain(legacyKeys[0]!.jwk.d);
    expect(rows.get('identifier_hash_key')!.startsWith(`rgs1.${kekId(kek)}.`)).toBe(true);
    expect(rows.get('identifier_hash_key')).not.toContain(legacyHashKey);
  });

  it('without a KEK refuses to start, saying how to make one; secrets given in the configuration need none', async () => {
    const refused = instance(undefined);
    await expect(refused).rejects.toBeInstanceOf(ConfigError);
    await expect(refused).rejects.toThrow(/sealed with a key-encryption key, and none is given: make one with `npm run keys -- new-kek` and give it as RISKGATE_SECRETS_KEK, or in a file named by secrets\.kek_file/);
    expect(await storedRows()).toEqual(new Map());

    const configured = await instance(undefined, { token: { keys: [generateTokenKey()] }, identifier_hash_key: 'c'.repeat(40) });
    expect(await jwks(configured)).toHaveLength(1);
    expect(await storedRows()).toEqual(new Map());
  });
});
