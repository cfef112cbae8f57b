/**
 * Token key rotation and removal with tokens in flight (hardening issue,
 * "not yet tried"). SDKs encrypt to the first key of `/v1/keys` and cache it
 * for minutes (client/core/keys.ts), so tokens for an older key keep arriving
 * after a rotation: while that key is kept (live or retired) they decode;
 * once it is removed they are a high-risk decision (`token_unknown_key`),
 * never a 5xx and never a clean score.
 *
 * Then the same with keys shared through PostgreSQL by two instances, where
 * each instance re-reads the key set on its own schedule.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { asServerKey } from '../../client/core/keys.js';
import type { ServerTokenKey } from '../../shared/jwk.js';
import type { EvaluateResponse } from '../../shared/schemas.js';
import { runKeysCommand } from '../../server/cli.js';
import { generateKeyEncryptionKey, KeyEncryptionKeys } from '../../server/adapters/keys/key-encryption.js';
import { removeSharedTokenKey, retireSharedTokenKey, rotateSharedTokenKeys } from '../../server/adapters/keys/shared-secrets.js';
import type { PostgresRecords } from '../../server/adapters/records/postgres.js';
import { APP_KEY, testApp, type TestApp } from '../support/app.js';
import { testPostgresUrl, TestSchemas } from '../support/postgres.js';
import { makeToken } from '../support/tokens.js';

/** What an SDK takes from `/v1/keys`: the first key, read as client/core/keys.ts reads it. */
async function sdkKey(t: TestApp): Promise<{ key: ServerTokenKey; kids: string[] }> {
  const response = await t.app.inject({ method: 'GET', url: '/v1/keys' });
  expect(response.statusCode).toBe(200);
  const { keys } = response.json() as { keys: unknown[] };
  const key = asServerKey(keys[0]);
  expect(key).toBeDefined();
  return { key: key!, kids: keys.map((k) => (k as { kid: string }).kid) };
}

async function evaluate(t: TestApp, blackBox: string, ip: string): Promise<{ status: number; body: EvaluateResponse }> {
  const response = await t.app.inject({ method: 'POST', url: '/v1/risk/evaluate', headers: t.auth, payload: { event: 'login', ip, black_box: blackBox } });
  return { status: response.statusCode, body: response.json() as EvaluateResponse };
}

const tokenReasons = (body: EvaluateResponse) => body.reasons.map((r) => r.id).filter((id) => id.startsWith('token_'));

/** A token that decoded: a device id, and no token_* reason. */
function expectDecoded({ status, body }: { status: number; body: EvaluateResponse }): void {
  expect(status).toBe(200);
  expect(body.device_id).toMatch(/^[A-Za-z0-9_-]{43}$/);
  expect(tokenReasons(body)).toEqual([]);
}

/** A token for a key the server no longer has: a decision, high risk, saying why. */
function expectUnknownKey({ status, body }: { status: number; body: EvaluateResponse }): void {
  expect(status).toBe(200);
  expect(tokenReasons(body)).toEqual(['token_unknown_key']);
  expect(body).toMatchObject({ level: 4, decision: 'decline' });
  expect(body.device_id).toBeFalsy();
  expect(body.tags).toContain('token_invalid');
}

describe('token key rotation with tokens in flight (key file)', () => {
  let t: TestApp;
  beforeEach(async () => {
    t = await testApp();
  });
  afterEach(() => t.close());

  it('decodes tokens for the old key while it is kept, retired or not; declines them once it is removed', async () => {
    const { key: oldKey, kids: before } = await sdkKey(t);
    expect(before).toEqual([oldKey.kid]);
    const keys = (...args: string[]) => expect(runKeysCommand(args, t.dataDir, () => {})).toBe(0);

    // Rotated: SDKs are offered the new key first; a token made before, for the old key, still decodes.
    keys('rotate');
    await t.app.riskgate.keys.reload();
    const { key: newKey, kids: rotated } = await sdkKey(t);
    expect(rotated).toEqual([newKey.kid, oldKey.kid]);
    expect(newKey.kid).not.toBe(oldKey.kid);
    expectDecoded(await evaluate(t, await makeToken({ serverKey: oldKey, appKey: APP_KEY }), '203.0.113.1'));
    expectDecoded(await evaluate(t, await makeToken({ serverKey: newKey, appKey: APP_KEY }), '203.0.113.2'));

    // Retired: no longer offered, still decrypts what SDKs with a cached key send.
    keys('retire', oldKey.kid);
    await t.app.riskgate.keys.reload();
    expect((await sdkKey(t)).kids).toEqual([newKey.kid]);
    expectDecoded(await evaluate(t, await makeToken({ serverKey: oldKey, appKey: APP_KEY }), '203.0.113.3'));

    // Removed: a token for it is a decline with its reason, not an error and not a clean score.
    keys('remove', oldKey.kid);
    await t.app.riskgate.keys.reload();
    expect((await sdkKey(t)).kids).toEqual([newKey.kid]);
    expectUnknownKey(await evaluate(t, await makeToken({ serverKey: oldKey, appKey: APP_KEY }), '203.0.113.4'));
    expectDecoded(await evaluate(t, await makeToken({ serverKey: newKey, appKey: APP_KEY }), '203.0.113.5'));
  });
});

// ---------------------------------------------------------------- keys shared through PostgreSQL

const PG_URL = await testPostgresUrl('the shared-key rotation suite on PostgreSQL');

describe.skipIf(PG_URL === undefined)('token key rotation with tokens in flight (keys shared through PostgreSQL)', () => {
  const schemas = new TestSchemas(PG_URL ?? '', 'rgrot');
  const kekDir = mkdtempSync(join(tmpdir(), 'riskgate-kek-'));
  const kek = generateKeyEncryptionKey();
  const keks = KeyEncryptionKeys.parse([kek], 'test');
  writeFileSync(join(kekDir, 'kek'), `${kek}\n`, { mode: 0o600 });
  let schema = '';
  let instances: TestApp[] = [];

  beforeEach(async () => {
    schema = schemas.next();
    const start = () => testApp({ stores: { database_url: PG_URL, database_schema: schema }, secrets: { kek_file: join(kekDir, 'kek') } });
    instances = await Promise.all([start(), start()]);
  });
  afterEach(async () => {
    await Promise.all(instances.map((t) => t.close()));
    await schemas.drop(schema);
  });
  afterAll(async () => {
    await schemas.dropAll();
    rmSync(kekDir, { recursive: true, force: true });
  });

  const poolOf = (t: TestApp) => (t.records as PostgresRecords).pool;

  it('an instance that has not re-read the keys yet decodes a token for the key another instance already offers', async () => {
    const [a, b] = instances as [TestApp, TestApp];
    const { key: oldKey } = await sdkKey(a);
    // Rotated by the CLI; A re-reads the keys first (its poll, or SIGHUP), B's poll is up to 30 s away.
    const added = await rotateSharedTokenKeys(poolOf(a), keks);
    await a.app.riskgate.keys.reload();
    const { key: offered, kids } = await sdkKey(a);
    expect(offered.kid).toBe(added.kid);
    expect(kids).toEqual([added.kid, oldKey.kid]);
    expect((await sdkKey(b)).kids).toEqual([oldKey.kid]);

    // A page got the new key from A; the backend's evaluate lands on B.
    expectDecoded(await evaluate(b, await makeToken({ serverKey: offered, appKey: APP_KEY }), '198.51.100.1'));
    // B has the new key now, and offers it.
    expect((await sdkKey(b)).kids).toEqual([added.kid, oldKey.kid]);
    // Tokens for the old key, in flight, still decode on both.
    for (const [t, ip] of [[a, '198.51.100.2'], [b, '198.51.100.3']] as const) {
      expectDecoded(await evaluate(t, await makeToken({ serverKey: oldKey, appKey: APP_KEY }), ip));
    }
  });

  it('retires and removes a shared key: retired still decodes, removed declines, and unknown kids cost at most one re-read a second', async () => {
    const [a, b] = instances as [TestApp, TestApp];
    const { key: oldKey } = await sdkKey(a);
    const added = await rotateSharedTokenKeys(poolOf(a), keks);
    await retireSharedTokenKey(poolOf(a), keks, oldKey.kid);
    await Promise.all(instances.map((t) => t.app.riskgate.keys.reload()));
    for (const t of instances) expect((await sdkKey(t)).kids).toEqual([added.kid]);
    expectDecoded(await evaluate(b, await makeToken({ serverKey: oldKey, appKey: APP_KEY }), '198.51.100.10'));

    // Removed: each instance declines its tokens once it has re-read the keys (its poll, or SIGHUP).
    await removeSharedTokenKey(poolOf(a), keks, oldKey.kid);
    await Promise.all(instances.map((t) => t.app.riskgate.keys.reload()));
    expectUnknownKey(await evaluate(a, await makeToken({ serverKey: oldKey, appKey: APP_KEY }), '198.51.100.11'));
    expectUnknownKey(await evaluate(b, await makeToken({ serverKey: oldKey, appKey: APP_KEY }), '198.51.100.12'));

    // A burst of tokens for unknown keys does not turn into a burst of database reads.
    const query = vi.spyOn(poolOf(b), 'query');
    const burst = await Promise.all(Array.from({ length: 20 }, async (_, i) => evaluate(b, await makeToken({ serverKey: oldKey, appKey: APP_KEY }), `198.51.100.${20 + i}`)));
    burst.forEach(expectUnknownKey);
    const secretReads = query.mock.calls.filter(([sql]) => typeof sql === 'string' && sql.includes('shared_secrets')).length;
    query.mockRestore();
    expect(secretReads).toBeLessThanOrEqual(1);
    await expect(removeSharedTokenKey(poolOf(a), keks, oldKey.kid)).rejects.toThrow(/no shared token key/);
    await expect(removeSharedTokenKey(poolOf(a), keks, added.kid)).rejects.toThrow(/at least one token key/);
  });
});
