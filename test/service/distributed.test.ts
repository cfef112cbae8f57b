/**
 * Distributed mode end to end: built servers (`node dist/server/main.js`)
 * sharing one Redis (hot state) and one PostgreSQL database (records, token
 * keys, identifier hash key), as a load balancer would put them.
 *
 * Two instances, A and B, on different ports:
 *   1. serve the same JWKS; a token made for A's key decodes on B; a token used
 *      on A is a replay on B;
 *   2. a challenge_token from an evaluation on A starts on B, once; an SMS
 *      challenge started on A, sent via B (the code arrives at a webhook in
 *      this test), answered on A gives a session_id that verifies once on B
 *      and is `already_used` on A;
 *   3. a list entry added on A applies on B at once;
 *   4. velocity counts add up across both;
 *   5. a key rotation by the CLI (shared mode) reaches both (SIGHUP reloads at
 *      once instead of waiting for the 30 s poll);
 *   6. every hot-state key the above made has the name the version before
 *      structured keys gave it, so a rolling upgrade keeps them.
 * Two more, D and E: D is SIGKILLed while list entries are being added to it
 * and both answer evaluations. E keeps answering every one; every entry D
 * acknowledged is in the database whole (with its audit row) and enforced by
 * E; D restarted on its own data directory serves the same keys and lists.
 * Then a third instance, C, on a private redis-server that is SIGKILLed in the
 * middle of a bounded load and restarted: no 5xx, answers during the outage
 * are degraded (state_unavailable), challenge verification fails closed
 * (503 / 5030), and answers stop being degraded once Redis is back.
 *
 * Isolation: a fresh PostgreSQL DATABASE per run (dropped WITH (FORCE) in
 * afterAll) and an empty Redis logical database (5–15, claimed with a marker
 * key, flushed in afterAll). Redis at RISKGATE_TEST_REDIS_URL (default
 * redis://127.0.0.1:6379), PostgreSQL at RISKGATE_TEST_DATABASE_URL, else
 * postgres://postgres@127.0.0.1:5432/test or postgres://root@127.0.0.1:5432/test
 * (a role that may CREATE DATABASE). When either is unreachable the file is
 * skipped with a message, except under CI where that is a failure.
 *
 * `npm test` builds first. Run alone: `npm run build && npx vitest run distributed.test.ts`.
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, writeFileSync } from 'node:fs';
import { createServer as createHttpServer, type Server as HttpServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DeviceSigner } from '../../client/core/token/build.js';
import type { ServerTokenKey } from '../../shared/jwk.js';
import { generateKeyEncryptionKey } from '../../server/adapters/keys/key-encryption.js';
import { verifyWebhookSignature, WEBHOOK_SIGNATURE_HEADER, WEBHOOK_TIMESTAMP_HEADER } from '../../server/adapters/sms/webhook.js';
import { ROOT } from '../support/build.js';
import { cleanEnv, freePort, Processes, SERVER_CLI, SERVER_MAIN, stop, type Proc, type ServerProc } from '../support/processes.js';
import { enrollBody } from '../support/enroll.js';
import { firstPostgres, postgresUnreachable } from '../support/postgres.js';
import { privateRedisArgs, REDIS_URL, redisProblem, redisServerOnPath, redisUnreachable } from '../support/redis.js';
import { makeToken, newDevice } from '../support/tokens.js';
import { fetchJson, type Json } from '../support/http.js';
import { poll, sleep } from '../support/wait.js';

const RULES_FILE = join(ROOT, 'test', 'fixtures', 'distributed-rules.yaml');
const START_TIMEOUT_MS = 30_000;

const APP = { id: 'dist', name: 'Distributed shop', key: 'pk_distributed_0001', secret: 'sk_distributed_secret_0123456789' };
const ORIGIN = 'https://shop.distributed.example';
const AUTH = { authorization: `Bearer ${APP.secret}` };
const BROWSER = { origin: ORIGIN };
const SMS_SECRET = `whsec_${randomBytes(16).toString('hex')}`;
const RUN = randomBytes(4).toString('hex');
/** Seals the secrets the instances share through PostgreSQL; the CLI needs it too. */
const SECRETS_KEK = generateKeyEncryptionKey();

// ---------------------------------------------------------------- probes

const HAS_DIST = existsSync(SERVER_MAIN) && existsSync(SERVER_CLI);
const [redisDown, pgProbe] = HAS_DIST ? await Promise.all([redisProblem(), firstPostgres()]) : [undefined, { url: undefined }];
const SKIP_REASON = !HAS_DIST
  ? 'dist/server/main.js or dist/server/cli.js is missing: run `npm run build` first (`npm test` does)'
  : redisDown !== undefined
    ? redisUnreachable(redisDown)
    : pgProbe.url === undefined
      ? postgresUnreachable(pgProbe.error)
      : undefined;
if (SKIP_REASON) {
  if (process.env.CI) throw new Error(`${SKIP_REASON}; CI is set, so this fails instead of skipping the distributed-mode tests`);
  console.warn(`distributed-mode tests SKIPPED: ${SKIP_REASON}`);
}
const redisServerFound = !SKIP_REASON && (await redisServerOnPath('the Redis outage test of the distributed-mode tests'));
const ADMIN_PG_URL = pgProbe.url ?? '';

// ---------------------------------------------------------------- processes

type Server = ServerProc;

const processes = new Processes();
const tempDir = (prefix: string) => processes.tempDir(prefix);

/** Starts the built server on a free port with the distributed rules plus `extra`. */
const startServer = (name: string, extra: Record<string, string>): Promise<Server> =>
  processes.startServer(name, { RISKGATE_RULES: RULES_FILE, ...extra }, START_TIMEOUT_MS);

// ---------------------------------------------------------------- HTTP

const call = (server: Server, method: string, path: string, body?: unknown, headers: Record<string, string> = AUTH) => fetchJson(server.base, method, path, { body, headers });
const evaluate = (server: Server, body: Record<string, unknown>) => call(server, 'POST', '/v1/risk/evaluate', body);
const reasonIds = (body: Json): string[] => ((body.reasons ?? []) as { id: string }[]).map((r) => r.id);
const jwks = async (server: Server): Promise<(ServerTokenKey & { use: string; alg: string })[]> => {
  const { status, json } = await call(server, 'GET', '/v1/keys', undefined, {});
  expect(status).toBe(200);
  return json.keys;
};

/**
 * Evaluates one fresh token on `first`, then the same token on `second`, and
 * answers the second response. A first use whose claim was skipped (degraded:
 * the 100 ms store budget blown on a busy machine) proves nothing, so that
 * pair is retried with a new token.
 */
async function usedTwice(first: Server, second: Server, serverKey: ServerTokenKey, ip: string, device?: DeviceSigner): Promise<Json> {
  return poll(`a token used on ${first.name}, then on ${second.name}`, async () => {
    const token = await makeToken({ serverKey, appKey: APP.key, ...(device ? { device } : {}) });
    const used = await evaluate(first, { event: 'login', ip, black_box: token });
    expect(used.status).toBe(200);
    expect(used.json.tags).not.toContain('replayed');
    expect(used.json.device_id).toEqual(expect.any(String));
    if (used.json.degraded) return undefined;
    const again = await evaluate(second, { event: 'login', ip, black_box: token });
    expect(again.status).toBe(200);
    return again.json;
  });
}

/** A logged decision, from whichever instance is asked: polled, since decisions reach PostgreSQL in batches. */
const decision = (server: Server, sequenceId: string) =>
  poll(`decision ${sequenceId} on ${server.name}`, async () => {
    const { status, json } = await call(server, 'GET', `/v1/decisions/${sequenceId}`);
    if (status === 404) return undefined;
    expect(status).toBe(200);
    return json.decision as Json;
  });

// ---------------------------------------------------------------- SMS webhook receiver

interface ReceivedSms {
  to: string;
  text: string;
  app_id: string;
  challenge_id: string;
  code: string;
}
const smsInbox = new Map<string, ReceivedSms>();
const smsRejected: string[] = [];
let smsReceiver: HttpServer | undefined;

async function startSmsReceiver(): Promise<string> {
  smsReceiver = createHttpServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      const raw = Buffer.concat(chunks);
      const check = verifyWebhookSignature(
        SMS_SECRET,
        request.headers[WEBHOOK_TIMESTAMP_HEADER],
        raw,
        request.headers[WEBHOOK_SIGNATURE_HEADER],
        Math.floor(Date.now() / 1000),
      );
      if (!check.ok) {
        smsRejected.push(check.failure);
        response.writeHead(401).end();
        return;
      }
      const payload = JSON.parse(raw.toString('utf8')) as Omit<ReceivedSms, 'code'>;
      const code = /\b(\d{6})\b/.exec(payload.text)?.[1] ?? '';
      smsInbox.set(payload.challenge_id, { ...payload, code });
      response.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
  });
  await new Promise<void>((resolve) => smsReceiver!.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(smsReceiver.address() as AddressInfo).port}/sms`;
}

// ---------------------------------------------------------------- shared stores

let adminPool: pg.Pool | undefined;
let databaseName = '';
let databaseUrl = '';
let redisAdmin: Redis | undefined;
let redisDb = -1;
let redisUrl = '';
const REDIS_MARKER = 'riskgate-distributed-test:owner';
let configFile = '';

function withPath(url: string, path: string): string {
  const parsed = new URL(url);
  parsed.pathname = `/${path}`;
  return parsed.toString();
}

/** A fresh database for this run (a schema cannot be chosen through the URL). */
async function createDatabase(): Promise<void> {
  adminPool = new pg.Pool({ connectionString: ADMIN_PG_URL, max: 2 });
  adminPool.on('error', () => {});
  databaseName = `riskgate_test_${process.pid}_${RUN}`;
  await adminPool.query(`CREATE DATABASE "${databaseName}"`);
  databaseUrl = withPath(ADMIN_PG_URL, databaseName);
}

/**
 * Claims an empty Redis logical database between 5 and 15: nothing else may be
 * using it. The claim is a marker key set with NX, so two runs at once cannot
 * take the same one; a database holding anything else is left alone. (A
 * FLUSHDB before the claim could wipe another run's fresh marker; an empty
 * database needs none. afterAll flushes it while the marker is still ours.)
 */
async function claimRedisDb(): Promise<void> {
  const candidates = Array.from({ length: 11 }, (_, i) => i + 5).sort(() => Math.random() - 0.5);
  for (const db of candidates) {
    const client = new Redis(withPath(REDIS_URL, String(db)), { maxRetriesPerRequest: 1 });
    client.on('error', () => {});
    if ((await client.dbsize()) === 0) {
      if ((await client.set(REDIS_MARKER, RUN, 'EX', 3600, 'NX')) === 'OK' && (await client.dbsize()) === 1) {
        redisAdmin = client;
        redisDb = db;
        redisUrl = withPath(REDIS_URL, String(db));
        return;
      }
    }
    await client.quit();
  }
  throw new Error(`no empty Redis logical database between 5 and 15 at ${REDIS_URL}: all are in use`);
}

function writeConfig(smsUrl: string): string {
  const dir = tempDir('riskgate-distributed-');
  const file = join(dir, 'riskgate.yaml');
  writeFileSync(
    file,
    [
      'log_level: warn',
      'apps:',
      `  - id: ${APP.id}`,
      `    name: ${APP.name}`,
      `    key: ${APP.key}`,
      `    secret: ${APP.secret}`,
      `    origins: ["${ORIGIN}"]`,
      'challenges:',
      '  sms:',
      '    provider: webhook',
      '    webhook:',
      `      url: "${smsUrl}"`,
      `      secret: "${SMS_SECRET}"`,
      '      allow_insecure_http: true        # the receiver is this test, on loopback',
      '      allowed_networks: ["127.0.0.1"]',
      '',
    ].join('\n'),
  );
  return file;
}

/** Environment of a server sharing this run's stores; each instance has its own (unused) data directory. */
const sharedEnv = (name: string, redis = redisUrl): Record<string, string> => ({
  RISKGATE_CONFIG: configFile,
  RISKGATE_DATA_DIR: join(tempDir(`riskgate-distributed-${name}-`), 'data'),
  RISKGATE_REDIS_URL: redis,
  RISKGATE_DATABASE_URL: databaseUrl,
  RISKGATE_SECRETS_KEK: SECRETS_KEK,
});

afterAll(async () => {
  // Whatever happened above: no process outlives the tests, and nothing is left in the stores.
  const problems: string[] = [];
  await processes.cleanup();
  if (smsReceiver) await new Promise<void>((resolve) => smsReceiver!.close(() => resolve()));
  if (adminPool) {
    if (databaseName) {
      await adminPool.query(`DROP DATABASE IF EXISTS "${databaseName}" WITH (FORCE)`).catch((e: Error) => problems.push(`drop database ${databaseName}: ${e.message}`));
    }
    await adminPool.end().catch(() => {});
  }
  if (redisAdmin) {
    try {
      // Only our database, and only while it is still ours.
      if ((await redisAdmin.get(REDIS_MARKER)) === RUN) await redisAdmin.flushdb();
      else problems.push(`Redis db ${redisDb}: the marker is gone or changed; not flushed`);
    } catch (e) {
      problems.push(`flush Redis db ${redisDb}: ${(e as Error).message}`);
    }
    await redisAdmin.quit().catch(() => {});
  }
  if (problems.length > 0) throw new Error(`distributed-mode cleanup: ${problems.join('; ')}`);
});

// ---------------------------------------------------------------- tests

describe.skipIf(SKIP_REASON !== undefined)(SKIP_REASON ? `SKIPPED distributed mode: ${SKIP_REASON}` : 'distributed mode (built servers, Redis, PostgreSQL)', () => {
  beforeAll(async () => {
    await createDatabase();
    await claimRedisDb();
    configFile = writeConfig(await startSmsReceiver());
  }, 60_000);

  describe('two instances sharing Redis and PostgreSQL', () => {
    let A: Server;
    let B: Server;
    let device: DeviceSigner;

    beforeAll(async () => {
      // Both first-start together on an empty database: migrations and shared secrets are created once, under the lock.
      const started = performance.now();
      [A, B] = await Promise.all([startServer('A', sharedEnv('a')), startServer('B', sharedEnv('b'))]);
      console.log(`distributed: instances A and B listening ${Math.round(performance.now() - started)} ms after spawn (fresh database)`);
      device = await newDevice();
    }, 90_000);

    it('serves one JWKS; a token made for A decodes on B; a token used on A is a replay on B', { timeout: 60_000 }, async () => {
      const [keysA, keysB] = await Promise.all([jwks(A), jwks(B)]);
      expect(keysA).toHaveLength(1);
      expect(keysB).toEqual(keysA);
      expect(A.stdout()).toContain(`token key: ${keysA[0]!.kid}`);
      expect(B.stdout()).toContain(`token key: ${keysA[0]!.kid}`);

      // Made for A's key, evaluated on B.
      const fresh = await makeToken({ serverKey: keysA[0]!, appKey: APP.key, device });
      const onB = await evaluate(B, { event: 'login', ip: '198.51.100.10', black_box: fresh });
      expect(onB.status).toBe(200);
      // Decoded on B; its device never enrolled, so the engine asks for a challenge (this test's rules score nothing).
      expect(onB.json).toMatchObject({ code: 200, decision: 'challenge' });
      expect(onB.json.device_id).toEqual(expect.any(String));
      expect(reasonIds(onB.json).filter((id) => id.startsWith('token_'))).toEqual([]);
      expect((await decision(B, onB.json.sequence_id)).features.token).toMatchObject({ status: 'ok', failure: '' });

      // Used on A, then replayed on B.
      const replay = await usedTwice(A, B, keysA[0]!, '198.51.100.11', device);
      expect(replay.tags).toContain('replayed');
      expect(reasonIds(replay)).toContain('token_replayed');
      expect(replay).toMatchObject({ decision: 'decline', device_id: onB.json.device_id });
      expect((await decision(A, replay.sequence_id)).features.token).toMatchObject({ status: 'replayed', failure: 'TOKEN_REPLAYED' });
    });

    it('enrolls a device across instances: a puzzle from A is solved on B once, and A accepts B\'s certificate', { timeout: 60_000 }, async () => {
      const enroller = await newDevice();
      const asked = await call(A, 'POST', '/v1/devices/puzzle', { app_key: APP.key }, BROWSER);
      expect(asked.status).toBe(200);
      const body = await enrollBody(enroller, APP.key, asked.json.puzzle as string);
      const enrolled = await call(B, 'POST', '/v1/devices/enroll', body, BROWSER);
      expect(enrolled.status, JSON.stringify(enrolled.json)).toBe(200);
      // The same puzzle on A: already used (the claim is in the shared Redis).
      expect((await call(A, 'POST', '/v1/devices/enroll', body, BROWSER)).json).toMatchObject({ code: 4091, error: 'PUZZLE_USED' });
      // The same key with a fresh puzzle from B, on A: already enrolled.
      const again = await call(B, 'POST', '/v1/devices/puzzle', { app_key: APP.key }, BROWSER);
      const second = await call(A, 'POST', '/v1/devices/enroll', await enrollBody(enroller, APP.key, again.json.puzzle as string), BROWSER);
      expect(second.json).toMatchObject({ code: 4092, error: 'DEVICE_ENROLLED' });
      // B's certificate (keyed by the shared identifier hash key) checks out on A.
      const [key] = await jwks(A);
      const token = await makeToken({ serverKey: key!, appKey: APP.key, device: enroller, payload: { enrollment: { state: 'enrolled', cert: enrolled.json.cert as string } } });
      const verdict = await evaluate(A, { event: 'login', ip: '127.0.0.1', black_box: token });
      expect(verdict.status).toBe(200);
      const record = await decision(A, verdict.json.sequence_id as string);
      expect(record.features.enrollment).toMatchObject({ status: 'ok', prefix_match: true });
    });

    it('runs a challenge across instances: token from A starts on B once; an SMS session passes on A, verifies once on B', { timeout: 60_000 }, async () => {
      // evaluate on A advises a slider (score 25, level 1) with a challenge_token.
      const advised = await evaluate(A, { event: 'marketing', ip: '198.51.100.20', account_id: 'acct-slider' });
      expect(advised.status).toBe(200);
      expect(advised.json).toMatchObject({ score: 25, level: 1, decision: 'challenge', challenge: 'slider', degraded: false });
      expect(reasonIds(advised.json)).toEqual(['distributed_test_slider']);
      const challengeToken = advised.json.challenge_token as string;
      expect(challengeToken).toEqual(expect.any(String));

      // Started on B from the page (app_key + Origin).
      const started = await call(B, 'POST', '/v1/challenges', { app_key: APP.key, challenge_token: challengeToken }, BROWSER);
      expect(started.status, JSON.stringify(started.json)).toBe(200);
      expect(started.json).toMatchObject({ code: 200, type: 'slider', attempts_left: 5 });
      expect(started.json.slider).toMatchObject({ background: expect.stringMatching(/^data:image\/png;base64,/), piece_y: expect.any(Number) });
      // The token was single use, whichever instance is asked next.
      const again = await call(A, 'POST', '/v1/challenges', { app_key: APP.key, challenge_token: challengeToken }, BROWSER);
      expect(again.status).toBe(404);
      // The running slider is visible on A (a wrong answer costs an attempt there); its answer cannot be known here.
      const wrong = await call(A, 'POST', `/v1/challenges/${started.json.challenge_id}/answer`, { app_key: APP.key, x: 0, track: [[0, 0, 0], [50, 0, 0]] }, BROWSER);
      expect(wrong.status).toBe(200);
      expect(wrong.json).toMatchObject({ success: false, failure: 'failed', attempts_left: 4 });

      // SMS, started by the backend on A with the secret and a +86 number.
      const sms = await call(A, 'POST', '/v1/challenges', { type: 'sms', event: 'login', account_id: 'acct-sms', mobile: '+8613800138000' });
      expect(sms.status, JSON.stringify(sms.json)).toBe(200);
      expect(sms.json).toMatchObject({ type: 'sms', sms: { masked_mobile: '138****8000' } });
      const challengeId = sms.json.challenge_id as string;

      // The code is sent via B; the webhook (this test) receives it, signed.
      const sent = await call(B, 'POST', `/v1/challenges/${challengeId}/sms`, { app_key: APP.key }, BROWSER);
      expect(sent.status, JSON.stringify(sent.json)).toBe(200);
      expect(sent.json).toMatchObject({ sent: true, masked_mobile: '138****8000' });
      const received = await poll('the SMS webhook call', async () => smsInbox.get(challengeId), 10_000, 50);
      expect(smsRejected).toEqual([]);
      expect(received).toMatchObject({ to: '+8613800138000', app_id: APP.id, code: expect.stringMatching(/^\d{6}$/) });

      // Answered on A.
      const answered = await call(A, 'POST', `/v1/challenges/${challengeId}/answer`, { app_key: APP.key, code: received.code }, BROWSER);
      expect(answered.status, JSON.stringify(answered.json)).toBe(200);
      expect(answered.json).toMatchObject({ success: true, session_id: expect.any(String) });
      const sessionId = answered.json.session_id as string;

      // Verified once on B; a second verify on A is already_used.
      const verified = await call(B, 'POST', '/v1/challenges/verify', { session_id: sessionId });
      expect(verified.status).toBe(200);
      expect(verified.json).toMatchObject({ success: true, type: 'sms', event: 'login', account_id: 'acct-sms', verified_at: expect.any(String) });
      const reused = await call(A, 'POST', '/v1/challenges/verify', { session_id: sessionId });
      expect(reused.status).toBe(200);
      expect(reused.json).toMatchObject({ success: false, error: 'already_used' });
    });

    it('applies a list entry added on A on B at once', { timeout: 30_000 }, async () => {
      const ip = '198.51.100.30';
      const before = await evaluate(B, { event: 'login', ip });
      // No black_box: a challenge, not a decline.
      expect(before.json).toMatchObject({ decision: 'challenge' });
      expect(reasonIds(before.json)).not.toContain('list_black');

      const added = await call(A, 'POST', '/v1/lists', { list: 'black', dimension: 'ip', value: ip, reason: 'distributed test' });
      expect(added.status).toBe(200);
      // No wait: the entry is acknowledged once durable in the shared database.
      const after = await evaluate(B, { event: 'login', ip });
      expect(after.status).toBe(200);
      expect(after.json).toMatchObject({ decision: 'decline', level: 4 });
      expect(reasonIds(after.json)).toContain('list_black');
      expect(after.json.tags).toContain('blacklist');

      const listed = await call(B, 'GET', `/v1/lists?dimension=ip&value=${encodeURIComponent(ip)}`);
      expect(listed.json.entries).toEqual([expect.objectContaining({ id: added.json.entry.id, list: 'black', value: ip })]);
    });

    it('adds velocity up across instances', { timeout: 60_000 }, async () => {
      // Six registrations from one ip, alternating A and B. A round where one call
      // skipped the store (degraded: a blown 100 ms budget on a busy machine) is
      // redone from a fresh ip.
      let made: { on: Server; sequenceId: string }[] = [];
      for (let round = 0; ; round++) {
        const ip = `198.51.100.${40 + round}`;
        made = [];
        let degraded = false;
        for (let i = 0; i < 6; i++) {
          const on = i % 2 === 0 ? A : B;
          const { status, json } = await evaluate(on, { event: 'register', ip, account_id: `velocity-${round}-${i}` });
          expect(status).toBe(200);
          degraded ||= json.degraded === true;
          made.push({ on, sequenceId: json.sequence_id });
        }
        if (!degraded) break;
        if (round >= 2) throw new Error('three rounds of six registrations each had a degraded answer');
      }
      // The last one (made on B), read from the decision log on A.
      const last = await decision(A, made[5]!.sequenceId);
      expect(last.features.velocity).toMatchObject({ ip_5m: 6, ip_1h: 6, ip_24h: 6 });
      expect(last.features.distinct).toMatchObject({ ip_accounts_5m: 6 });
      // Each one counted everything before it, whichever instance served it.
      const counts: number[] = [];
      for (const { on, sequenceId } of made) counts.push((await decision(on === A ? B : A, sequenceId)).features.velocity.ip_5m);
      expect(counts).toEqual([1, 2, 3, 4, 5, 6]);
    });

    it('picks up a key rotation by the CLI (shared keys) on both instances', { timeout: 60_000 }, async () => {
      const [oldKey] = await jwks(A);
      const cliEnv = cleanEnv({ RISKGATE_CONFIG: configFile, RISKGATE_DATABASE_URL: databaseUrl, RISKGATE_SECRETS_KEK: SECRETS_KEK, RISKGATE_DATA_DIR: join(tempDir('riskgate-distributed-cli-'), 'data') });
      const output = await new Promise<string>((resolve, reject) => {
        execFile(process.execPath, [SERVER_CLI, 'keys', 'rotate'], { cwd: ROOT, env: cliEnv, timeout: 30_000 }, (error, stdout, stderr) =>
          error ? reject(new Error(`keys rotate failed: ${error.message}\n${stdout}\n${stderr}`)) : resolve(stdout),
        );
      });
      const newKid = /new primary key (\S+);/.exec(output)?.[1];
      expect(newKid, output).toBeDefined();
      expect(newKid).not.toBe(oldKey!.kid);

      // Instances poll the shared keys every 30 s; SIGHUP makes them reload now.
      const signalled = performance.now();
      A.child.kill('SIGHUP');
      B.child.kill('SIGHUP');
      for (const server of [A, B]) {
        const keys = await poll(`${server.name} advertising ${newKid} first`, async () => {
          const current = await jwks(server);
          return current[0]?.kid === newKid ? current : undefined;
        });
        // The old key stays live (tokens made for it are in flight).
        expect(keys.map((k) => k.kid)).toEqual([newKid, oldKey!.kid]);
      }
      console.log(`distributed: rotated key advertised by A and B ${Math.round(performance.now() - signalled)} ms after SIGHUP`);
      expect(A.child.exitCode).toBeNull();
      expect(B.child.exitCode).toBeNull();

      // Tokens for the new key decode on both; one for the old key still does.
      const [newKey] = await jwks(B);
      for (const [server, serverKey, ip] of [
        [A, newKey!, '198.51.100.50'],
        [B, newKey!, '198.51.100.51'],
        [A, oldKey!, '198.51.100.52'],
      ] as const) {
        const { status, json } = await evaluate(server, { event: 'login', ip, black_box: await makeToken({ serverKey, appKey: APP.key, device }) });
        expect(status).toBe(200);
        expect(json).toMatchObject({ decision: 'challenge', device_id: expect.any(String) });
        expect(reasonIds(json).filter((id) => id.startsWith('token_'))).toEqual([]);
      }
    });

    it('names every hot-state key in Redis as the version before structured keys did, so a rolling upgrade keeps them (issue 14)', { timeout: 30_000 }, async () => {
      const keys: string[] = [];
      let cursor = '0';
      do {
        const [next, batch] = await redisAdmin!.scan(cursor, 'MATCH', 'rg:*', 'COUNT', 1000);
        cursor = next;
        keys.push(...batch);
      } while (cursor !== '0');
      // The layouts callers wrote out before keys were structured: counters (c), sets (z), marks (f), values and claims (k).
      const app = APP.id;
      const before = [
        new RegExp(`^rg:c:v:\\{${app}:(ip|device|account|mobile):.+\\}:[a-z_]+$`),
        new RegExp(`^rg:z:d:\\{${app}:(device|ip|visitor|template):.+\\}:(accounts|mobiles|devices)$`),
        new RegExp(`^rg:f:s:\\{${app}:(device|template):.+\\}$`),
        new RegExp(`^rg:c:o:\\{${app}:(device|account):.+\\}:(started|passed|failed|sms_advised|sms_passed)$`),
        new RegExp(`^rg:c:enr:\\{${app}:.+\\}:(puzzles|enrolled)$`),
        new RegExp(`^rg:f:enr:dev:\\{${app}:.+\\}$`),
        new RegExp(`^rg:z:p:\\{${app}:(ip|device):.+\\}:(mobiles|countries)$`),
        /^rg:k!\{(jti|ctok|chal|sess|sessu|enr:used|rl:start|rl:slider:(dev|net)):.+\}$/,
        /^rg:k!\{rl:sms:(m|ip|dev|app):.+:(h|d)\}$/,
      ];
      expect(keys.filter((key) => !before.some((layout) => layout.test(key)))).toEqual([]);
      // Every kind the tests above made is there.
      for (const head of ['c:v:', 'z:d:', 'f:s:', 'c:o:', 'c:enr:', 'f:enr:dev:', 'z:p:', 'k!{jti:', 'k!{ctok:', 'k!{chal:', 'k!{sess:', 'k!{sessu:', 'k!{enr:used:', 'k!{rl:start:', 'k!{rl:sms:m:']) {
        expect(keys.some((key) => key.startsWith(`rg:${head}`)), head).toBe(true);
      }
    });
  });

  describe('kill -9 of an instance under load (instances D and E)', () => {
    let envD: Record<string, string>;
    let D: Server;
    let E: Server;
    let restarted: Server | undefined;

    beforeAll(async () => {
      envD = sharedEnv('d');
      [D, E] = await Promise.all([startServer('D', envD), startServer('E', sharedEnv('e'))]);
    }, 90_000);

    afterAll(async () => {
      for (const server of [D, E, restarted]) if (server) await stop(server);
    });

    it('keeps every acknowledged list entry, whole and enforced by the other instance, which never stops answering; a restart serves the same keys and lists', { timeout: 180_000 }, async () => {
      const KILL_AFTER = 25; // acknowledged adds on D before it is killed, with more in flight
      const ipOf = (i: number) => `198.18.${i >> 8}.${i & 255}`;
      const keys = await jwks(E);
      expect(await jwks(D)).toEqual(keys);
      const serverKey = keys[0];

      const acknowledged: { id: string; ip: string }[] = [];
      const refused: { i: number; status: number; body: Json }[] = [];
      let unanswered = 0; // in flight when D died: never acknowledged, may or may not be there
      let nextAdd = 0;
      let killed = false;
      const adder = async () => {
        while (!killed) {
          const i = nextAdd++;
          try {
            const { status, json } = await call(D, 'POST', '/v1/lists', { list: 'black', dimension: 'ip', value: ipOf(i), reason: 'kill -9 test' });
            if (status === 200) acknowledged.push({ id: json.entry.id, ip: ipOf(i) });
            else refused.push({ i, status, body: json });
          } catch {
            unanswered++;
          }
        }
      };

      // Evaluations on E all along (and on D until it dies): E must answer every one.
      const onE: { status: number; error?: string }[] = [];
      let evaluating = true;
      const evaluator = async (n: number) => {
        for (let k = 0; evaluating; k++) {
          const black_box = await makeToken({ serverKey: serverKey!, appKey: APP.key });
          try {
            const { status } = await evaluate(E, { event: 'login', ip: `198.19.${n}.${k % 250}`, black_box });
            onE.push({ status });
          } catch (error) {
            onE.push({ status: 0, error: (error as Error).message });
          }
          await evaluate(D, { event: 'login', ip: `198.19.${n}.${k % 250}` }).catch(() => undefined);
        }
      };

      const adders = Promise.all(Array.from({ length: 4 }, adder));
      const evaluators = Promise.all(Array.from({ length: 2 }, (_, n) => evaluator(n)));
      await poll(`${KILL_AFTER} acknowledged adds on D and evaluations on E`, async () => (acknowledged.length >= KILL_AFTER && onE.length >= 5 ? true : undefined), 60_000, 5);
      killed = true;
      D.child.kill('SIGKILL');
      expect((await D.exited).signal).toBe('SIGKILL');
      await adders;
      const answeredBeforeKill = onE.length;
      // E goes on answering after the kill.
      await poll('E answering after the kill', async () => (onE.length >= answeredBeforeKill + 10 ? true : undefined), 60_000, 20);
      evaluating = false;
      await evaluators;
      console.log(
        `distributed: kill -9 of D: ${acknowledged.length} adds acknowledged, ${unanswered} in flight at the kill, ${refused.length} refused; ` +
          `${onE.length} evaluations on E, ${onE.length - answeredBeforeKill} after the kill`,
      );
      expect(refused).toEqual([]);
      expect(onE.filter((r) => r.status !== 200)).toEqual([]);
      expect(E.child.exitCode).toBeNull();

      // Every acknowledged entry is there, listed and enforced by E.
      const listed = await call(E, 'GET', '/v1/lists?dimension=ip&limit=1000');
      expect(listed.status).toBe(200);
      const listedIds = new Set((listed.json.entries as { id: string }[]).map((e) => e.id));
      expect(acknowledged.filter((a) => !listedIds.has(a.id))).toEqual([]);
      for (const { ip } of acknowledged) {
        const { status, json } = await evaluate(E, { event: 'login', ip });
        expect(status).toBe(200);
        expect(json, ip).toMatchObject({ decision: 'decline' });
        expect(reasonIds(json)).toContain('list_black');
      }
      // Whatever D was doing when it died, nothing is in the database by halves.
      const db = new pg.Client({ connectionString: databaseUrl });
      await db.connect();
      try {
        const { rows } = await db.query<{ n: string }>(`
          SELECT count(*) AS n FROM list_entries e
          WHERE NOT EXISTS (SELECT 1 FROM audit_log a WHERE a.target = e.id AND a.action = 'list.add')`);
        expect(Number(rows[0]!.n)).toBe(0);
        const orphans = await db.query<{ n: string }>(
          `SELECT count(*) AS n FROM audit_log a WHERE a.action = 'list.add' AND NOT EXISTS (SELECT 1 FROM list_entries e WHERE e.id = a.target)`,
        );
        expect(Number(orphans.rows[0]!.n)).toBe(0);
      } finally {
        await db.end();
      }

      // D restarted on its own data directory: the same keys and lists, enforced.
      restarted = await startServer('D (restarted)', envD);
      expect(await jwks(restarted)).toEqual(keys);
      const relisted = await call(restarted, 'GET', '/v1/lists?dimension=ip&limit=1000');
      expect((relisted.json.entries as { id: string }[]).map((e) => e.id).sort()).toEqual([...listedIds].sort());
      const sample = acknowledged[acknowledged.length - 1]!;
      const onRestarted = await evaluate(restarted, { event: 'login', ip: sample.ip, black_box: await makeToken({ serverKey: serverKey!, appKey: APP.key }) });
      expect(onRestarted.status).toBe(200);
      expect(onRestarted.json).toMatchObject({ decision: 'decline' });
      expect(reasonIds(onRestarted.json)).toContain('list_black');
      // The token made for the shared key decoded there.
      expect(reasonIds(onRestarted.json).filter((id) => id.startsWith('token_'))).toEqual([]);
    });
  });

  describe.skipIf(!redisServerFound)('Redis outage under load (private redis-server)', () => {
    let redisPort: number;
    let redis: Proc | undefined;
    let C: Server;

    const startRedis = async (): Promise<Proc> => {
      const proc = processes.track('redis-server', privateRedisArgs(redisPort));
      const url = `redis://127.0.0.1:${redisPort}`;
      const deadline = Date.now() + 10_000;
      for (;;) {
        if ((await redisProblem(url)) === undefined) return proc;
        if (proc.child.exitCode !== null || Date.now() > deadline) {
          await stop(proc);
          throw new Error(`redis-server on port ${redisPort} did not start\n${proc.stdout()}\n${proc.stderr()}`);
        }
        await sleep(50);
      }
    };

    beforeAll(async () => {
      for (let attempt = 1; ; attempt++) {
        redisPort = await freePort();
        try {
          redis = await startRedis();
          break;
        } catch (error) {
          if (attempt >= 3) throw error;
        }
      }
      C = await startServer('C', sharedEnv('c', `redis://127.0.0.1:${redisPort}`));
    }, 90_000);

    afterAll(async () => {
      if (redis) await stop(redis);
      if (C) await stop(C);
    });

    it('answers degraded (never 5xx) while Redis is down, fails verify closed, and recovers', { timeout: 180_000 }, async () => {
      const TOTAL = 300;
      const IN_FLIGHT = 10;
      const KILL_AFTER = 60; // responses in before redis-server is killed (the rest of the first 100 are in flight around it)
      const OUTAGE_FROM = 100; // requests from here on are sent only once redis-server is dead
      const RESTART_FROM = 200; // and from here on once it was restarted

      const [serverKey] = await jwks(C);
      // Healthy to begin with (polled: a busy machine may blow the 100 ms store budget of one call).
      await poll('a non-degraded answer before the outage', async () => {
        const { status, json } = await evaluate(C, { event: 'login', ip: '203.0.113.1', black_box: await makeToken({ serverKey: serverKey!, appKey: APP.key }) });
        expect(status).toBe(200);
        return json.degraded === false ? true : undefined;
      });

      type Phase = 'before' | 'outage' | 'after';
      interface Result {
        i: number;
        phase: Phase;
        status: number;
        /** performance.now() when the answer came in. */
        at: number;
        degraded?: boolean;
        reasons: string[];
        error?: string;
      }
      const results: Result[] = [];
      let phase: Phase = 'before';
      let next = 0;
      const gate = () => {
        let open!: () => void;
        const promise = new Promise<void>((resolve) => (open = resolve));
        return { promise, open };
      };
      const outage = gate();
      const restarted = gate();
      const waitUntil = (what: string, condition: () => boolean) => poll(what, async () => (condition() ? true : undefined), 90_000, 20);

      const worker = async () => {
        const signer = await newDevice();
        for (;;) {
          const i = next++;
          if (i >= TOTAL) return;
          if (i >= RESTART_FROM) await restarted.promise;
          else if (i >= OUTAGE_FROM) await outage.promise;
          const black_box = await makeToken({ serverKey: serverKey!, appKey: APP.key, device: signer });
          const sentIn = phase;
          try {
            const { status, json } = await evaluate(C, { event: 'login', ip: `203.0.113.${10 + (i % 200)}`, account_id: `load-${i}`, black_box });
            results.push({ i, phase: sentIn, status, at: performance.now(), degraded: json.degraded, reasons: reasonIds(json) });
          } catch (error) {
            results.push({ i, phase: sentIn, status: 0, at: performance.now(), reasons: [], error: (error as Error).message });
          }
        }
      };

      const loadStarted = performance.now();
      const workers = Promise.all(Array.from({ length: IN_FLIGHT }, worker));
      let restartedAt = 0;
      const control = (async () => {
        await waitUntil(`${KILL_AFTER} answers before the outage`, () => results.length >= KILL_AFTER);
        await stop(redis!, 'SIGKILL');
        phase = 'outage';
        outage.open();
        await waitUntil('every request before the restart answered', () => results.filter((r) => r.i < RESTART_FROM).length === RESTART_FROM);

        // Still down: challenge verification fails closed, readiness says why.
        const verify = await call(C, 'POST', '/v1/challenges/verify', { session_id: 'outage-session-0123456789' });
        expect(verify.status).toBe(503);
        expect(verify.json).toMatchObject({ code: 5030, error: 'STORE_UNAVAILABLE' });
        const ready = await call(C, 'GET', '/readyz', undefined, {});
        expect(ready.status).toBe(503);
        expect(ready.json).toMatchObject({ hot_state: false, records: true });

        phase = 'after';
        restartedAt = performance.now();
        redis = await startRedis();
        restarted.open();
      })();
      // If the controller fails, open the gates so the workers end and the failure is reported.
      await control.catch((error: unknown) => {
        outage.open();
        restarted.open();
        throw error;
      });
      await workers;
      const loadMs = performance.now() - loadStarted;

      // Keep sending until the answers are no longer degraded (the client reconnects by itself).
      const firstHealthyInLoad = results.filter((r) => r.phase === 'after' && r.degraded === false).sort((a, b) => a.at - b.at)[0];
      const recovered = firstHealthyInLoad ? firstHealthyInLoad.at - restartedAt : await poll(
        'a non-degraded answer after the restart',
        async () => {
          const { status, json } = await evaluate(C, {
            event: 'login',
            ip: '203.0.113.250',
            black_box: await makeToken({ serverKey: serverKey!, appKey: APP.key }),
          });
          expect(status).toBe(200);
          return json.degraded === false ? performance.now() - restartedAt : undefined;
        },
        20_000,
        100,
      );
      const ready = await call(C, 'GET', '/readyz', undefined, {});
      expect(ready.status).toBe(200);
      expect(ready.json).toMatchObject({ hot_state: true, records: true });
      // Claims work again on the restarted (empty) Redis: a token used twice is a replay.
      const replayed = await usedTwice(C, C, serverKey!, '203.0.113.251');
      expect(replayed.tags).toContain('replayed');
      const verifyAfter = await call(C, 'POST', '/v1/challenges/verify', { session_id: 'outage-session-0123456789' });
      expect(verifyAfter.status).toBe(200);
      expect(verifyAfter.json).toMatchObject({ success: false, error: 'not_found' });

      const byPhase = (p: Phase) => results.filter((r) => r.phase === p);
      const degradedIn = (p: Phase) => byPhase(p).filter((r) => r.degraded).length;
      if (process.env.RISKGATE_TEST_DUMP_LOGS) console.log(`C output (unique lines):\n${[...new Set((C.stdout() + C.stderr()).split('\n').map((l) => l.replace(/"(time|pid|reqId|hostname)":[^,]*,/g, '')))].join('\n')}`);
      console.log(
        `distributed: Redis outage load: ${results.length} evaluations (${IN_FLIGHT} in flight) in ${Math.round(loadMs)} ms; ` +
          `degraded before ${degradedIn('before')}/${byPhase('before').length}, during ${degradedIn('outage')}/${byPhase('outage').length}, ` +
          `after restart ${degradedIn('after')}/${byPhase('after').length}; first non-degraded answer ${Math.round(recovered)} ms after restart`,
      );

      expect(results).toHaveLength(TOTAL);
      expect(results.filter((r) => r.error !== undefined)).toEqual([]);
      expect(results.filter((r) => r.status >= 500 || r.status === 0)).toEqual([]);
      expect(results.every((r) => r.status === 200)).toBe(true);
      // Sent while redis-server was dead: every one degraded, and says why.
      const duringOutage = byPhase('outage');
      expect(duringOutage.length).toBeGreaterThanOrEqual(RESTART_FROM - OUTAGE_FROM);
      expect(duringOutage.filter((r) => r.degraded !== true || !r.reasons.includes('state_unavailable'))).toEqual([]);
      // Before the kill the store was healthy.
      expect(byPhase('before').some((r) => r.degraded === false)).toBe(true);
      expect(C.child.exitCode).toBeNull();
    });
  });
});
