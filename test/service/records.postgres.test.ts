/**
 * PostgresRecords against a real PostgreSQL: the shared Records contract, then
 * what is PostgreSQL's own (concurrent migrations under the advisory lock,
 * decisions served while their batch is being written, durability across
 * kill -9, shared secrets, store selection).
 *
 * Every test works in a fresh schema, dropped afterwards. PostgreSQL at
 * RISKGATE_TEST_DATABASE_URL, else postgres://postgres@127.0.0.1:5432/test or
 * postgres://root@127.0.0.1:5432/test (test/support/postgres.ts). When it is
 * unreachable the suites are skipped with a message, except under CI where
 * that is a failure.
 */
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { loadConfig } from '../../server/config/config.js';
import { prepareDataDirectory } from '../../server/config/data-dir.js';
import { generateKeyEncryptionKey, KeyEncryptionKeys } from '../../server/adapters/keys/key-encryption.js';
import { loadSharedSecrets, readSharedTokenKeys, retireSharedTokenKey, rotateSharedTokenKeys } from '../../server/adapters/keys/shared-secrets.js';
import { TokenKeyRing, generateTokenKey } from '../../server/engine/token/key-ring.js';
import { IdentifierKeys } from '../../server/engine/identifiers/identifiers.js';
import { MIGRATIONS } from '../../server/adapters/records/migrations.js';
import { PostgresRecords } from '../../server/adapters/records/postgres.js';
import { MemoryHotState } from '../../server/adapters/hot-state/memory.js';
import { openStores } from '../../server/stores.js';
import { testApp, APP_KEY } from '../support/app.js';
import { controlCharacterProblems, nulAccountOutcomes } from '../support/control-chars.js';
import { testPostgresUrl, TestSchemas } from '../support/postgres.js';
import { firstLineThenKill9 } from '../support/processes.js';
import { describeRecords, KILL_CHILD, type AuditRow, type RecordsHarness } from './records.contract.js';

const PG_URL = await testPostgresUrl('the PostgreSQL records suites');
const URL_ = PG_URL ?? '';
const skip = PG_URL === undefined;
/** Schemas of this run: `rgtest_<run>_<n>`; all dropped in afterAll, each also after its test. */
const schemas = new TestSchemas(URL_, 'rgtest', { poolSize: 4 });
const newSchema = () => schemas.next();
/** Seals the shared secrets of these tests (test/shared-secrets.test.ts tests the sealing). */
const KEKS = KeyEncryptionKeys.parse([generateKeyEncryptionKey()], 'test');

const admin = (): pg.Pool => schemas.admin();
const dropSchema = (schema: string) => schemas.drop(schema);

afterAll(() => schemas.dropAll());

let schema = '';
const postgres: RecordsHarness = {
  async setup() {
    schema = newSchema();
  },
  async teardown() {
    await dropSchema(schema);
  },
  async open(options) {
    return PostgresRecords.open(URL_, { ...options, schema });
  },
  async appliedMigrations() {
    const { rows } = await admin().query<{ id: number }>(`SELECT id FROM "${schema}".schema_migrations ORDER BY id`);
    return rows.map((r) => r.id);
  },
  async auditRows() {
    const { rows } = await admin().query<AuditRow>(`SELECT app_id, actor, action, target, detail FROM "${schema}".audit_log ORDER BY id`);
    return rows;
  },
  async countDecisions() {
    const { rows } = await admin().query<{ n: string }>(`SELECT COUNT(*) AS n FROM "${schema}".decisions`);
    return Number(rows[0]!.n);
  },
  async insertEntries(rows) {
    for (let start = 0; start < rows.length; start += 1000) {
      const chunk = rows.slice(start, start + 1000);
      const values: unknown[] = [];
      const tuples = chunk.map((r) => {
        const base = values.length;
        values.push(r.id, r.app_id, r.list, r.dimension, r.value_key, r.display_value, r.created_at);
        return `($${base + 1}, $${base + 2}, $${base + 3}, $${base + 4}, $${base + 5}, $${base + 6}, NULL, 'bench', $${base + 7}, NULL)`;
      });
      await admin().query(
        `INSERT INTO "${schema}".list_entries (id, app_id, list, dimension, value_key, display_value, reason, created_by, created_at, expires_at)
         VALUES ${tuples.join(', ')}`,
        values,
      );
    }
    await admin().query(`ANALYZE "${schema}".list_entries`);
  },
  // One network round trip per call, unlike SQLite's in-process reads.
  matchBudgetUs: 2000,
  matchRuns: 5000,
};

describeRecords('PostgresRecords', postgres, { skip });

const decisionLike = {
  sequence_id: '',
  app_id: 'app1',
  event: 'login' as const,
  event_time: '2025-01-01T00:00:00.000Z',
  created_at: '2025-01-01T00:00:00.100Z',
  score: 10,
  level: 0 as const,
  decision: 'accept' as const,
  challenge: 'none' as const,
  reasons: [],
  tags: [],
  device_id: null,
  degraded: false,
  rules_version: 'v1',
  rules_hit: [],
  request: {},
  features: {},
  latency_ms: 1,
};

describe.skipIf(skip)('PostgresRecords on PostgreSQL', () => {
  const open: PostgresRecords[] = [];
  const openStore = async (options: Parameters<typeof PostgresRecords.open>[1] = {}) => {
    const store = await PostgresRecords.open(URL_, { schema, ...options });
    open.push(store);
    return store;
  };
  beforeEach(() => postgres.setup());
  afterEach(async () => {
    for (const store of open.splice(0)) await store.close();
    await postgres.teardown();
  });

  it('applies each migration once when several instances start together', async () => {
    const stores = await Promise.all(Array.from({ length: 6 }, () => openStore({ poolSize: 2 })));
    for (const store of stores) expect(await store.ping()).toBe(true);
    const { rows } = await admin().query<{ id: number; n: string }>(`SELECT id, COUNT(*) AS n FROM "${schema}".schema_migrations GROUP BY id ORDER BY id`);
    expect(rows.map((r) => [r.id, Number(r.n)])).toEqual(MIGRATIONS.map((m) => [m.id, 1]));
    // Every instance sees what another wrote.
    const entry = await stores[0]!.addListEntry({
      appId: 'app1',
      list: 'black',
      dimension: 'ip',
      valueKey: '192.0.2.7',
      displayValue: '192.0.2.7',
      reason: null,
      createdBy: 'ops',
      expiresAt: null,
    });
    expect(await stores[5]!.matchLists('app1', [{ dimension: 'ip', valueKey: '192.0.2.7' }], Date.now())).toEqual({ black: ['ip'], white: [] });
    expect((await stores[3]!.findListEntries({ appId: 'app1', limit: 5 })).map((e) => e.id)).toEqual([entry.id]);
  });

  it('refuses a schema name it would have to quote', async () => {
    await expect(PostgresRecords.open(URL_, { schema: 'Bad-Name' })).rejects.toThrow(/lower-case/);
  });

  it('keeps serving a decision while its batch is being written, and close waits for the write', async () => {
    const store = await openStore({ flushIntervalMs: 60_000, batchSize: 2 });
    const record = (id: string) => ({ ...decisionLike, sequence_id: id });
    // Hold the table so the batch's INSERT waits.
    const blocker = await admin().connect();
    try {
      await blocker.query('BEGIN');
      await blocker.query(`LOCK TABLE "${schema}".decisions IN ACCESS EXCLUSIVE MODE`);
      store.logDecision(record('w1'));
      store.logDecision(record('w2'));
      await new Promise((resolve) => setTimeout(resolve, 100));
      expect(store.queuedDecisions).toBe(2);
      expect(await store.getDecision('app1', 'w1')).toMatchObject({ sequence_id: 'w1' });
      expect(await store.getDecision('app2', 'w1')).toBeNull();
    } finally {
      await blocker.query('COMMIT');
      blocker.release();
    }
    await store.close();
    expect(await postgres.countDecisions()).toBe(2);
  });

  it('counts decisions it cannot write, and does not hold shutdown on a failing database', async () => {
    const errors: unknown[] = [];
    const warnings: string[] = [];
    const store = await openStore({ flushIntervalMs: 60_000, batchSize: 2, onError: (e) => errors.push(e), logger: { warn: (m) => warnings.push(m) } });
    await admin().query(`DROP TABLE "${schema}".decisions`);
    const record = (id: string) => ({ ...decisionLike, sequence_id: id });
    for (const id of ['f1', 'f2', 'f3', 'f4', 'f5']) store.logDecision(record(id));
    await vi.waitFor(() => expect(store.droppedDecisions).toBe(2), { timeout: 2000, interval: 5 });
    // One failed batch stops this round: the rest wait for the next tick instead of failing in a burst.
    expect(store.queuedDecisions).toBe(3);
    const started = performance.now();
    await store.close();
    expect(performance.now() - started).toBeLessThan(1000);
    expect(store.droppedDecisions).toBe(5);
    expect(errors.length).toBeGreaterThanOrEqual(2);
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(/decisions not logged/);
  });

  it('fails to open fast when PostgreSQL is not there', async () => {
    const started = performance.now();
    await expect(PostgresRecords.open('postgres://postgres@127.0.0.1:1/test', { schema, connectionTimeoutMs: 500 })).rejects.toThrow();
    expect(performance.now() - started).toBeLessThan(2000);
  });

  it('keeps an acknowledged list entry across kill -9', async () => {
    await openStore(); // creates the schema before the child uses it
    const { line: id, signal } = await firstLineThenKill9(KILL_CHILD, [URL_, schema]);
    expect(signal).toBe('SIGKILL');

    const store = await openStore();
    expect((await store.findListEntries({ appId: 'app1', valueKey: 'dev-killed', limit: 10 })).map((e) => e.id)).toEqual([id]);
  });

  describe('shared secrets', () => {
    it('creates them once, whichever instance starts first, and every instance reads the same', async () => {
      const stores = await Promise.all(Array.from({ length: 5 }, () => openStore({ poolSize: 2 })));
      const loaded = await Promise.all(stores.map((s) => loadSharedSecrets(s.pool, KEKS)));
      const first = loaded[0]!;
      for (const secrets of loaded) {
        expect(secrets.tokenKeys).toEqual(first.tokenKeys);
        expect(secrets.identifierHashKey.equals(first.identifierHashKey)).toBe(true);
      }
      // Exactly one instance created each secret.
      expect(loaded.flatMap((s) => s.created).sort()).toEqual(['identifier_hash_key', 'token_keys']);
      expect(first.identifierHashKey.length).toBeGreaterThanOrEqual(32);
      // Usable as they are: a key ring, and identifier hashes that agree across instances.
      expect(new TokenKeyRing(first.tokenKeys).primary.kid).toBe(first.tokenKeys[0]!.kid);
      expect(new IdentifierKeys(loaded[1]!.identifierHashKey).key('mobile', '13800138000')).toBe(
        new IdentifierKeys(loaded[4]!.identifierHashKey).key('mobile', '13800138000'),
      );
      // A later start reads them, creating nothing.
      const later = await loadSharedSecrets(stores[2]!.pool, KEKS);
      expect(later.created).toEqual([]);
      expect(later.tokenKeys).toEqual(first.tokenKeys);
    });

    it('prefers secrets the configuration gives, storing only what is missing', async () => {
      const store = await openStore();
      const configured = [generateTokenKey()];
      const secrets = await loadSharedSecrets(store.pool, KEKS, { tokenKeys: configured });
      expect(secrets.tokenKeys).toEqual(configured);
      expect(secrets.created).toEqual(['identifier_hash_key']);
      const both = await loadSharedSecrets(store.pool, KEKS, { tokenKeys: configured, identifierHashKey: 'k'.repeat(40) });
      expect(both.identifierHashKey.toString()).toBe('k'.repeat(40));
      const { rows } = await admin().query<{ name: string }>(`SELECT name FROM "${schema}".shared_secrets ORDER BY name`);
      expect(rows.map((r) => r.name)).toEqual(['identifier_hash_key']);
    });

    it('rotates and retires shared token keys', async () => {
      const store = await openStore();
      const { tokenKeys } = await loadSharedSecrets(store.pool, KEKS);
      const added = await rotateSharedTokenKeys(store.pool, KEKS, new Date(Date.now() + 86_400_000));
      const after = await readSharedTokenKeys(store.pool, KEKS);
      expect(after.map((k) => k.kid)).toEqual([tokenKeys[0]!.kid, added.kid]);
      expect(new TokenKeyRing(after).primary.kid).toBe(added.kid);
      await retireSharedTokenKey(store.pool, KEKS, tokenKeys[0]!.kid);
      expect(new TokenKeyRing(await readSharedTokenKeys(store.pool, KEKS)).jwks.keys.map((k) => k.kid)).toEqual([added.kid]);
      // The last live key cannot be retired.
      await expect(retireSharedTokenKey(store.pool, KEKS, added.kid)).rejects.toThrow(/live/);
      await expect(retireSharedTokenKey(store.pool, KEKS, 'nope')).rejects.toThrow(/no shared token key/);
    });

    it('says what is wrong when the table is missing', async () => {
      const pool = new pg.Pool({ connectionString: URL_, options: `-c search_path=${schema}_none` });
      try {
        await expect(loadSharedSecrets(pool, KEKS)).rejects.toThrow(/shared_secrets is missing/);
      } finally {
        await pool.end();
      }
    });
  });

  it('opens PostgreSQL when the configuration names it, and keeps no secret file in the data directory', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'riskgate-stores-'));
    try {
      const config = loadConfig({ env: { RISKGATE_DATA_DIR: dataDir, RISKGATE_DATABASE_URL: URL_ }, raw: {} });
      expect(config.databaseUrl).toBe(URL_);
      expect(config.redisUrl).toBeUndefined();
      const directory = prepareDataDirectory(config);
      expect(directory.tokenKeys).toBeUndefined();
      expect(directory.identifierHashKey).toBeUndefined();
      expect(directory.tokenKeyFile).toBeUndefined();
      expect(readdirSync(dataDir).filter((f) => /key/.test(f))).toEqual([]);

      const stores = await openStores(config, { postgres: { schema } });
      try {
        expect(stores.records).toBeInstanceOf(PostgresRecords);
        expect(stores.database).toBe((stores.records as PostgresRecords).pool);
        const secrets = await loadSharedSecrets(stores.database!, KEKS);
        expect(secrets.tokenKeys).toHaveLength(1);
      } finally {
        await stores.records.close();
        await stores.hotState.close();
      }
      expect(existsSync(join(dataDir, 'riskgate.sqlite'))).toBe(false);

      expect(() => loadConfig({ env: { RISKGATE_DATA_DIR: dataDir, RISKGATE_DATABASE_URL: 'mysql://db/x' }, raw: {} })).toThrow(
        /stores\.database_url.*postgres:\/\/ or postgresql:\/\//,
      );
      expect(loadConfig({ env: { RISKGATE_DATA_DIR: dataDir }, raw: { stores: { database_url: 'postgresql://u:p@db:5432/rg?sslmode=require' } } }).databaseUrl).toBe(
        'postgresql://u:p@db:5432/rg?sslmode=require',
      );
      // Configured secrets keep the data directory out of it too, and need nothing from the database.
      const configured = loadConfig({
        env: { RISKGATE_DATA_DIR: dataDir, RISKGATE_DATABASE_URL: URL_ },
        raw: { identifier_hash_key: 'h'.repeat(40), token: { keys: [generateTokenKey()] } },
      });
      const fromConfig = prepareDataDirectory(configured);
      expect(fromConfig.tokenKeys).toHaveLength(1);
      expect(fromConfig.identifierHashKey?.toString()).toBe('h'.repeat(40));
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});

describe.skipIf(skip)('the API on PostgreSQL: control characters (issue 13, item 2)', () => {
  beforeEach(() => postgres.setup());
  afterEach(() => postgres.teardown());
  const start = async () => testApp({}, { records: await PostgresRecords.open(URL_, { schema }), hotState: new MemoryHotState() });

  it('a black-listed IP and device stay declined when the account id carries a NUL', async () => {
    const t = await start();
    try {
      const outcome = await nulAccountOutcomes(t.app, t.auth, APP_KEY);
      expect(outcome.api).toMatchObject({ status: 400, body: { code: 9002, field: 'account_id' } });
      for (const response of [outcome.blackIp, outcome.blackDevice, outcome.blackIpNulEmail]) {
        expect(response).toMatchObject({ decision: 'decline', tags: ['blacklist'] });
      }
    } finally {
      await t.close();
    }
  });

  it('refuses a NUL in a list add or query with 9002, and no route answers a 5xx for a control character', async () => {
    const t = await start();
    try {
      const added = await t.app.inject({ method: 'POST', url: '/v1/lists', headers: t.auth, payload: { list: 'black', dimension: 'account', value: 'x\u0000y' } });
      expect({ status: added.statusCode, body: added.json() }).toMatchObject({ status: 400, body: { code: 9002, field: 'value' } });
      const query = await t.app.inject({ method: 'GET', url: '/v1/lists?dimension=ip&value=1.2.3.4%00', headers: t.auth });
      expect({ status: query.statusCode, body: query.json() }).toMatchObject({ status: 400, body: { code: 9002, field: 'value' } });
      expect(await controlCharacterProblems(t.app, t.auth, APP_KEY)).toEqual([]);
    } finally {
      await t.close();
    }
  });
});
