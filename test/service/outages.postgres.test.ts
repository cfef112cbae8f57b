/**
 * PostgreSQL outages, played by a TCP proxy between RiskGate and the database
 * (test/support/tcp-proxy.ts): the real server, shared with other tests, is
 * never stopped. The app is built from configuration as `npm start` builds it
 * (`stores.database_url` pointing at the proxy, a schema of its own, memory
 * hot state), and must:
 *
 * - keep answering evaluations 200, `degraded: true` with `lists_unavailable`
 *   (counted in riskgate_dependency_failures_total), never a 5xx;
 * - answer list routes 503 / 5030 (STORE_UNAVAILABLE), half-applying nothing
 *   (every entry with its audit row, every audit row with its entry);
 * - answer within the configured timeouts when the database hangs;
 * - recover by itself when the database is back, writing the decisions it
 *   queued meanwhile (the decision log keeps a batch the database could not
 *   take, rather than dropping it).
 *
 * PostgreSQL at RISKGATE_TEST_DATABASE_URL or the defaults of
 * test/support/postgres.ts; skipped when unreachable (a failure under CI).
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import type { EvaluateResponse } from '../../shared/schemas.js';
import { generateKeyEncryptionKey } from '../../server/adapters/keys/key-encryption.js';
import type { PostgresRecords } from '../../server/adapters/records/postgres.js';
import { APP_KEY, testApp, type TestApp } from '../support/app.js';
import { testPostgresUrl, TestSchemas } from '../support/postgres.js';
import { type Json } from '../support/http.js';
import { startTcpProxy, type TcpProxy } from '../support/tcp-proxy.js';
import { makeToken } from '../support/tokens.js';
import { poll, sleep } from '../support/wait.js';

const PG_URL = await testPostgresUrl('the PostgreSQL outage tests');
const ADMIN_URL = PG_URL ?? '';
const schemas = new TestSchemas(ADMIN_URL, 'rgout');

/** stores.database_timeout_ms: a call waits this for a connection, then as long for its statement. */
const DATABASE_TIMEOUT_MS = 400;
/** stores.dependency_timeout_ms: the evaluate path's budget per store call (roomy for a busy machine). */
const DEPENDENCY_TIMEOUT_MS = 250;

let current: { t: TestApp; proxy: TcpProxy; schema: string } | undefined;
afterEach(async () => {
  if (!current) return;
  const { t, proxy, schema } = current;
  current = undefined;
  proxy.restore();
  await t.close();
  await proxy.close();
  await schemas.drop(schema);
});
afterAll(() => schemas.dropAll());

/** An app whose database is reached through a proxy this test controls. */
async function start(): Promise<{ t: TestApp; proxy: TcpProxy; schema: string }> {
  const target = new URL(ADMIN_URL);
  const proxy = await startTcpProxy({ host: target.hostname, port: Number(target.port || 5432) });
  const throughProxy = new URL(ADMIN_URL);
  throughProxy.hostname = '127.0.0.1';
  throughProxy.port = String(proxy.port);
  const schema = schemas.next();
  try {
    const t = await testApp({
      secrets: { kek_file: kekFile },
      stores: {
        database_url: throughProxy.toString(),
        database_schema: schema,
        database_timeout_ms: DATABASE_TIMEOUT_MS,
        dependency_timeout_ms: DEPENDENCY_TIMEOUT_MS,
      },
    });
    current = { t, proxy, schema };
    return current;
  } catch (error) {
    await proxy.close();
    throw error;
  }
}

/** The key-encryption key that seals the shared secrets these apps keep in PostgreSQL. */
const kekDir = mkdtempSync(join(tmpdir(), 'riskgate-outage-kek-'));
const kekFile = join(kekDir, 'kek');
writeFileSync(kekFile, `${generateKeyEncryptionKey()}\n`, { mode: 0o600 });
afterAll(() => rmSync(kekDir, { recursive: true, force: true }));


async function call(t: TestApp, method: 'GET' | 'POST' | 'DELETE', url: string, payload?: unknown): Promise<{ status: number; json: Json; ms: number }> {
  const started = performance.now();
  // A request that never answers fails here with a message, not as a test timeout.
  let timer: NodeJS.Timeout | undefined;
  const response = await Promise.race([
    t.app.inject({ method, url, headers: t.auth, ...(payload === undefined ? {} : { payload: payload as Json }) }),
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${method} ${url}: no answer within 10 s`)), 10_000);
    }),
  ]).finally(() => clearTimeout(timer));
  return { status: response.statusCode, json: response.json() as Json, ms: performance.now() - started };
}

const evaluate = (t: TestApp, body: Json) => call(t, 'POST', '/v1/risk/evaluate', body);
const token = (t: TestApp) => makeToken({ serverKey: t.app.riskgate.keys.current().primary, appKey: APP_KEY });
const reasonIds = (body: Json): string[] => ((body as EvaluateResponse).reasons ?? []).map((r) => r.id);
/** How long a recovery may take on a busy machine. */
const RECOVERY_MS = 10_000;

/** Rows written by halves: an entry without its audit row, or an audit row without its change. */
async function halfApplied(schema: string): Promise<string[]> {
  const { rows } = await schemas.admin().query<{ problem: string }>(`
    SELECT 'entry ' || e.id || ' has no list.add audit row' AS problem FROM "${schema}".list_entries e
      WHERE NOT EXISTS (SELECT 1 FROM "${schema}".audit_log a WHERE a.target = e.id AND a.action = 'list.add')
    UNION ALL
    SELECT 'audit ' || a.id || ' adds no entry' FROM "${schema}".audit_log a
      WHERE a.action = 'list.add' AND NOT EXISTS (SELECT 1 FROM "${schema}".list_entries e WHERE e.id = a.target)
    UNION ALL
    SELECT 'entry ' || e.id || ' deleted without a list.delete audit row' FROM "${schema}".list_entries e
      WHERE e.deleted_at IS NOT NULL AND NOT EXISTS (SELECT 1 FROM "${schema}".audit_log a WHERE a.target = e.id AND a.action = 'list.delete')
    UNION ALL
    SELECT 'audit ' || a.id || ' deletes an entry that is live' FROM "${schema}".audit_log a
      WHERE a.action = 'list.delete' AND NOT EXISTS (SELECT 1 FROM "${schema}".list_entries e WHERE e.id = a.target AND e.deleted_at IS NOT NULL)`);
  return rows.map((r) => r.problem);
}

async function entriesWithValue(schema: string, value: string): Promise<number> {
  const { rows } = await schemas.admin().query<{ n: string }>(`SELECT count(*) AS n FROM "${schema}".list_entries WHERE display_value = $1`, [value]);
  return Number(rows[0]!.n);
}

async function writtenDecisions(schema: string, sequenceIds: readonly string[]): Promise<number> {
  const { rows } = await schemas.admin().query<{ n: string }>(`SELECT count(*) AS n FROM "${schema}".decisions WHERE sequence_id = ANY($1)`, [sequenceIds]);
  return Number(rows[0]!.n);
}

async function metric(t: TestApp, line: RegExp): Promise<number> {
  const text = (await t.app.inject({ method: 'GET', url: '/metrics' })).body;
  const match = text.split('\n').find((l) => line.test(l));
  return match ? Number(match.split(' ').pop()) : 0;
}
const listFailures = (t: TestApp) => metric(t, /^riskgate_dependency_failures_total\{dependency="lists"\} /);

/** Adds a black ip entry and checks it is enforced, not degraded: the healthy starting point. */
async function healthyWithBlackIp(t: TestApp, ip: string): Promise<string> {
  const added = await call(t, 'POST', '/v1/lists', { list: 'black', dimension: 'ip', value: ip, reason: 'outage test' });
  expect(added.status, JSON.stringify(added.json)).toBe(200);
  await poll('a non-degraded decline of the black ip', async () => {
    const { status, json } = await evaluate(t, { event: 'login', ip });
    expect(status).toBe(200);
    return json.degraded === false && json.decision === 'decline' ? true : undefined;
  }, RECOVERY_MS);
  return added.json.entry.id as string;
}

/** Back to normal without a restart: lists enforced again, answers not degraded. */
async function recovered(t: TestApp, blackIp: string): Promise<void> {
  await poll('a non-degraded decline of the black ip after the outage', async () => {
    const { status, json } = await evaluate(t, { event: 'login', ip: blackIp });
    expect(status).toBe(200);
    return json.degraded === false && json.decision === 'decline' ? true : undefined;
  }, RECOVERY_MS);
  expect((await call(t, 'GET', '/readyz')).status).toBe(200);
}

describe.skipIf(PG_URL === undefined)('PostgreSQL outages (through a proxy)', () => {
  it('down: evaluations answer degraded, list routes 5030 with nothing half-applied; recovers without a restart and writes the queued decisions', { timeout: 60_000 }, async () => {
    const { t, proxy, schema } = await start();
    const blackIp = '203.0.113.50';
    const entryId = await healthyWithBlackIp(t, blackIp);
    const failuresBefore = await listFailures(t);

    proxy.cut();
    const outageDecisions: string[] = [];
    for (let i = 0; i < 12; i++) {
      const { status, json } = await evaluate(t, { event: 'login', ip: `198.51.100.${i}`, account_id: `down-${i}`, black_box: await token(t) });
      expect(status, JSON.stringify(json)).toBe(200);
      expect(json.degraded).toBe(true);
      expect(reasonIds(json)).toContain('lists_unavailable');
      outageDecisions.push(json.sequence_id as string);
    }
    // The black entry cannot be read meanwhile: decided without lists, and saying so.
    const blind = await evaluate(t, { event: 'login', ip: blackIp });
    expect(blind.status).toBe(200);
    expect(blind.json).toMatchObject({ degraded: true });
    expect(reasonIds(blind.json)).toContain('lists_unavailable');
    outageDecisions.push(blind.json.sequence_id as string);
    expect(await listFailures(t)).toBeGreaterThanOrEqual(failuresBefore + 13);

    const unavailable = { code: 5030, error: 'STORE_UNAVAILABLE' };
    const refusedAdd = await call(t, 'POST', '/v1/lists', { list: 'black', dimension: 'ip', value: '203.0.113.51' });
    expect(refusedAdd.status, JSON.stringify(refusedAdd.json)).toBe(503);
    expect(refusedAdd.json).toMatchObject(unavailable);
    const refusedDelete = await call(t, 'DELETE', `/v1/lists/${entryId}`);
    expect(refusedDelete.status, JSON.stringify(refusedDelete.json)).toBe(503);
    expect(refusedDelete.json).toMatchObject(unavailable);
    const refusedRead = await call(t, 'GET', `/v1/lists?dimension=ip&value=${blackIp}`);
    expect(refusedRead.status).toBe(503);
    expect(refusedRead.json).toMatchObject(unavailable);
    // A decision still queued is served from memory; readiness says which store is down.
    expect((await call(t, 'GET', `/v1/decisions/${outageDecisions[0]}`)).status).toBe(200);
    const ready = await call(t, 'GET', '/readyz');
    expect(ready.status).toBe(503);
    expect(ready.json).toMatchObject({ records: false, hot_state: true });
    // The outage outlasts a few of the decision log's flushes (every 200 ms), each of which fails.
    await sleep(700);
    expect((t.records as PostgresRecords).queuedDecisions).toBeGreaterThanOrEqual(outageDecisions.length);

    proxy.restore();
    await recovered(t, blackIp);
    // The decisions made during the outage were kept and written, none dropped.
    await poll('the outage decisions in the decisions table', async () =>
      (await writtenDecisions(schema, outageDecisions)) === outageDecisions.length ? true : undefined,
      RECOVERY_MS,
    );
    expect((t.records as PostgresRecords).droppedDecisions).toBe(0);
    // What was refused did not happen: no entry for the refused add, the refused delete deleted nothing.
    expect(await entriesWithValue(schema, '203.0.113.51')).toBe(0);
    const listed = await call(t, 'GET', `/v1/lists?dimension=ip&value=${blackIp}`);
    expect(listed.json.entries).toEqual([expect.objectContaining({ id: entryId })]);
    expect(await halfApplied(schema)).toEqual([]);
    // And list changes work again.
    const again = await call(t, 'POST', '/v1/lists', { list: 'black', dimension: 'ip', value: '203.0.113.52' });
    expect(again.status).toBe(200);
    expect((await evaluate(t, { event: 'login', ip: '203.0.113.52' })).json).toMatchObject({ decision: 'decline' });
  });

  it('hung (connections accepted, nothing answered): every call answers within its timeout; recovers; nothing half-applied', { timeout: 60_000 }, async () => {
    const { t, proxy, schema } = await start();
    const blackIp = '203.0.113.60';
    await healthyWithBlackIp(t, blackIp);
    // Deleted during the hang: applied or not, never by halves (the black ip's entry stays out of it).
    const victim = await call(t, 'POST', '/v1/lists', { list: 'black', dimension: 'device', value: 'hang-victim' });
    expect(victim.status).toBe(200);
    // Idle pooled connections, as a running server has: a statement on one of them would wait forever.
    await Promise.all(Array.from({ length: 4 }, () => call(t, 'GET', '/v1/lists?dimension=ip&value=203.0.113.60')));

    proxy.hang();
    // List changes first, while idle pooled connections are there to take them.
    // A connection wait, then a statement wait, at most (plus room for a busy machine).
    const bound = 2 * DATABASE_TIMEOUT_MS + 1500;
    const [add, remove, read] = await Promise.all([
      call(t, 'POST', '/v1/lists', { list: 'black', dimension: 'ip', value: '203.0.113.61' }),
      call(t, 'DELETE', `/v1/lists/${victim.json.entry.id}`),
      call(t, 'GET', `/v1/lists?dimension=ip&value=${blackIp}`),
    ]);
    for (const answer of [add, remove, read]) {
      expect(answer.status, JSON.stringify(answer.json)).toBe(503);
      expect(answer.json).toMatchObject({ code: 5030, error: 'STORE_UNAVAILABLE' });
      expect(answer.ms).toBeLessThan(bound);
    }
    const evaluations = await Promise.all(
      Array.from({ length: 8 }, async (_, i) => evaluate(t, { event: 'login', ip: `198.51.100.${100 + i}`, black_box: await token(t) })),
    );
    for (const { status, json, ms } of evaluations) {
      expect(status, JSON.stringify(json)).toBe(200);
      expect(json.degraded).toBe(true);
      expect(reasonIds(json)).toContain('lists_unavailable');
      // The evaluate path's budget, plus room for a busy machine.
      expect(ms).toBeLessThan(DEPENDENCY_TIMEOUT_MS + 1500);
    }
    const ready = await call(t, 'GET', '/readyz');
    expect(ready.status).toBe(503);
    expect(ready.ms).toBeLessThan(1000 + 1500);

    proxy.restore();
    await recovered(t, blackIp);
    await poll('the hang-time decisions in the decisions table', async () =>
      (await writtenDecisions(schema, evaluations.map((e) => e.json.sequence_id as string))) === evaluations.length ? true : undefined,
      RECOVERY_MS,
    );
    expect((t.records as PostgresRecords).droppedDecisions).toBe(0);
    // A statement that reached the database before its answer was lost may have been applied
    // (the caller got 5030: not acknowledged); whatever happened, it happened whole.
    expect(await entriesWithValue(schema, '203.0.113.61')).toBeLessThanOrEqual(1);
    expect(await halfApplied(schema)).toEqual([]);
    const again = await call(t, 'POST', '/v1/lists', { list: 'white', dimension: 'account', value: 'after-hang' });
    expect(again.status).toBe(200);
  });
});
