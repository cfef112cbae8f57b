/**
 * RedisHotState against a real Redis: the shared HotState contract, then what
 * is Redis's own (one round trip per evaluation, one slot per script, key
 * prefix, outage behaviour with a private redis-server that is killed and
 * restarted).
 *
 * Redis at RISKGATE_TEST_REDIS_URL (default redis://127.0.0.1:6379; see
 * test/support/redis.ts). When it is unreachable the suites are skipped with a
 * message, except under CI where that is a failure.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../server/config/config.js';
import type { ObservationResult, StateKey } from '../../server/adapters/hot-state/hot-state.js';
import { evictionPolicyWarning, hashTag, RedisHotState } from '../../server/adapters/hot-state/redis.js';
import { openStores } from '../../server/stores.js';
import { recordOutcome } from '../../server/engine/challenges/outcomes.js';
import { observationBatch } from '../../server/engine/evaluation/observations.js';
import { describeHotState } from './hot-state.contract.js';
import { evaluationBatch, WINDOWS } from '../support/observations.js';
import { freePort } from '../support/processes.js';
import { deleteKeys, privateRedisArgs, REDIS_URL, redisServerOnPath, scanKeys, testRedisUrl, untilRedisAnswers } from '../support/redis.js';

const RUN = `rgtest:${process.pid}-${randomBytes(4).toString('hex')}`;

const unreachable = (await testRedisUrl('the Redis hot-state suites')) === undefined;

/** A client for inspecting and cleaning up keys. */
let admin: Redis | undefined;
const adminClient = (): Redis => (admin ??= new Redis(REDIS_URL, { maxRetriesPerRequest: 1 }));

afterAll(async () => {
  if (!admin) return;
  await deleteKeys(admin, `${RUN}:`);
  await admin.quit();
});

let suiteIndex = 0;
describeHotState(
  'RedisHotState',
  async () => {
    const prefix = `${RUN}:${suiteIndex++}:`;
    const state = await RedisHotState.open({ url: REDIS_URL, keyPrefix: prefix });
    return {
      state,
      async keyTtls() {
        const client = adminClient();
        const keys = await scanKeys(client, prefix);
        const ttls = new Map<string, number>();
        for (const key of keys) ttls.set(key, await client.pttl(key));
        return ttls;
      },
      async dispose() {
        await state.close();
        await deleteKeys(adminClient(), prefix);
      },
    };
  },
  { skip: unreachable },
);

/** A replay claim on a token (its app and jti). */
const token = (id: string): StateKey => ({ entity: 'token', id, facet: 'used' });

describe.skipIf(unreachable)('RedisHotState on Redis', () => {
  const opened: { state: RedisHotState; prefix: string }[] = [];
  let n = 0;
  const open = async (options: Partial<Parameters<typeof RedisHotState.open>[0]> = {}) => {
    const prefix = `${RUN}:x${n++}:`;
    const state = await RedisHotState.open({ url: REDIS_URL, keyPrefix: prefix, ...options });
    opened.push({ state, prefix });
    return { state, prefix };
  };
  afterEach(async () => {
    for (const { state, prefix } of opened.splice(0)) {
      await state.close();
      await deleteKeys(adminClient(), prefix);
    }
  });

  it('observes an evaluation in one pipeline: one script per entity, each on one slot', async () => {
    const client = new Redis(REDIS_URL, { enableOfflineQueue: false });
    await new Promise((resolve) => client.once('ready', resolve));
    const prefix = `${RUN}:rt:`;
    const state = new RedisHotState({ client, keyPrefix: prefix });
    const sent: { name: string; args: unknown[]; piped: boolean }[] = [];
    const original = client.sendCommand.bind(client);
    client.sendCommand = ((command: { name: string; args: unknown[] }, stream?: unknown) => {
      sent.push({ name: command.name, args: command.args, piped: stream !== undefined });
      return original(command as never, stream as never);
    }) as typeof client.sendCommand;
    let pipelines = 0;
    const pipeline = client.pipeline.bind(client);
    client.pipeline = ((...args: Parameters<typeof client.pipeline>) => {
      pipelines++;
      return pipeline(...args);
    }) as typeof client.pipeline;

    const result = await state.observe(evaluationBatch(1));
    expect(result.counters).toEqual(Array.from({ length: 4 }, () => [1, 1, 1]));
    expect(result.distinct).toEqual(Array.from({ length: 4 }, () => [1, 1, 1]));
    expect(result.firstSeen).toEqual([true]);

    expect(pipelines).toBe(1);
    // ip, device, account, mobile: four entities, four scripts, all written together.
    expect(sent).toHaveLength(4);
    for (const command of sent) {
      expect(['eval', 'evalsha']).toContain(command.name);
      expect(command.piped).toBe(true);
      const numKeys = Number(command.args[1]);
      const keys = command.args.slice(2, 2 + numKeys).map(String);
      expect(new Set(keys.map(hashTag)).size).toBe(1);
      for (const key of keys) expect(key.startsWith(prefix)).toBe(true);
    }

    // A single entity needs no pipeline.
    sent.length = 0;
    await state.observe({ at: Date.now(), counters: [{ app: 'app', entity: 'ip', id: 'x', facet: 'login', windowsMs: WINDOWS }], distinct: [], firstSeen: [] });
    expect(sent).toHaveLength(1);

    await state.close();
    // The client was given, not made: close leaves it open.
    expect(await client.ping()).toBe('PONG');
    await deleteKeys(client, prefix);
    await client.quit();
  });

  it('names every key as callers wrote it before keys were structured, byte for byte, so a rolling upgrade keeps what Redis holds (issue 14)', async () => {
    const { state, prefix } = await open();
    const at = Date.now();
    const HOUR = 3_600_000;
    // An evaluation's batch as the engine builds it, and a challenge outcome.
    const ip = '2001:db8::1';
    const evaluation = observationBatch('shop', 'login', at, { ip, device: 'D', account: 'A', mobile: 'M', email: 'E' }, { visitor: 'V', template: 'T' }, 90 * 86_400_000);
    await state.observe(evaluation.batch);
    await state.observe({ at, counters: recordOutcome('shop', { device: 'D', account: 'A' }, 'sms_advised'), distinct: [], firstSeen: [] });
    // What the challenge and enrollment services keep (services/challenges.ts, services/enrollment.ts).
    await state.observe({
      at,
      keep: true,
      counters: [
        { app: 'shop', entity: 'network', id: 'N', facet: 'puzzles', windowsMs: WINDOWS },
        { app: 'shop', entity: 'network', id: 'N', facet: 'enrolled', windowsMs: WINDOWS },
      ],
      distinct: [
        { app: 'shop', entity: 'ip', id: ip, facet: 'sms_mobiles', member: 'M', windowsMs: [HOUR] },
        { app: 'shop', entity: 'ip', id: ip, facet: 'sms_countries', member: '86', windowsMs: [HOUR] },
        { app: 'shop', entity: 'device', id: 'D', facet: 'sms_mobiles', member: 'M', windowsMs: [HOUR] },
      ],
      firstSeen: [{ app: 'shop', entity: 'device', id: 'D', facet: 'enrolled', ttlMs: HOUR }],
    });
    await state.claimOnce(token('shop:J'), HOUR);
    // A jti with a hash tag of its own kept it (a client makes up its jti).
    await state.claimOnce(token('shop:{x}'), HOUR);
    await state.claimOnce({ entity: 'session', id: 'S', facet: 'used' }, HOUR);
    await state.claimOnce({ entity: 'puzzle', id: 'P', facet: 'used' }, HOUR);
    await state.put({ entity: 'challenge_token', id: 'CT' }, 'x', HOUR);
    await state.put({ entity: 'challenge', id: 'C' }, 'x', HOUR);
    await state.put({ entity: 'session', id: 'S' }, 'x', HOUR);
    await state.increment({ entity: 'ip', id: ip, facet: 'challenge_starts' }, HOUR);
    await state.increment({ entity: 'device', id: 'D', facet: 'slider_answers' }, HOUR);
    await state.increment({ entity: 'network', id: '2001:db8::/64', facet: 'slider_answers' }, HOUR);
    await state.increment({ entity: 'mobile', id: 'M', facet: 'sms_hour' }, HOUR);
    await state.increment({ entity: 'mobile', id: 'M', facet: 'sms_day' }, HOUR);
    await state.increment({ entity: 'ip', id: ip, facet: 'sms_hour' }, HOUR);
    await state.increment({ entity: 'device', id: 'D', facet: 'sms_hour' }, HOUR);
    await state.increment({ entity: 'app', id: 'shop', facet: 'sms_hour' }, HOUR);

    const names = (await scanKeys(adminClient(), prefix)).map((key) => key.slice(prefix.length)).sort();
    expect(names).toEqual(
      [
        // observationBatch: velocity, distinct sets, first-seen marks (outcomes are only read there).
        'c:v:{shop:ip:2001:db8::1}:login',
        'c:v:{shop:device:D}:login',
        'c:v:{shop:account:A}:login',
        'c:v:{shop:mobile:M}:login',
        'z:d:{shop:device:D}:accounts',
        'z:d:{shop:ip:2001:db8::1}:accounts',
        'z:d:{shop:device:D}:mobiles',
        'z:d:{shop:ip:2001:db8::1}:devices',
        'z:d:{shop:visitor:V}:devices',
        'z:d:{shop:template:T}:devices',
        'f:s:{shop:device:D}',
        'f:s:{shop:template:T}',
        'c:o:{shop:device:D}:sms_advised',
        'c:o:{shop:account:A}:sms_advised',
        'c:enr:{shop:N}:puzzles',
        'c:enr:{shop:N}:enrolled',
        'z:p:{shop:ip:2001:db8::1}:mobiles',
        'z:p:{shop:ip:2001:db8::1}:countries',
        'z:p:{shop:device:D}:mobiles',
        'f:enr:dev:{shop:D}',
        'k!{jti:shop:J}',
        'k:jti:shop:{x}',
        'k!{sessu:S}',
        'k!{enr:used:P}',
        'k!{ctok:CT}',
        'k!{chal:C}',
        'k!{sess:S}',
        'k!{rl:start:2001:db8::1}',
        'k!{rl:slider:dev:D}',
        'k!{rl:slider:net:2001:db8::/64}',
        'k!{rl:sms:m:M:h}',
        'k!{rl:sms:m:M:d}',
        'k!{rl:sms:ip:2001:db8::1:h}',
        'k!{rl:sms:dev:D:h}',
        'k!{rl:sms:app:shop:h}',
      ].sort(),
    );
  });

  it('keeps keys under the prefix and refuses a prefix that would put every key in one slot', async () => {
    const { state, prefix } = await open();
    await state.observe(evaluationBatch(2));
    await state.put({ entity: 'challenge', id: '1' }, 'x', 10_000);
    const keys = await scanKeys(adminClient(), prefix);
    // 4 counters, 4 distinct sets, 1 first-seen mark, 1 value: one key each.
    expect(keys.length).toBe(10);
    expect(() => new RedisHotState({ url: REDIS_URL, keyPrefix: 'rg:{all}:' })).toThrow(/must not contain/);
    expect(() => new RedisHotState({})).toThrow(/url or a client/);
  });

  it('warns at start when Redis may evict keys (any maxmemory-policy but noeviction), or when it cannot tell', async () => {
    expect(evictionPolicyWarning('noeviction')).toBeUndefined();
    for (const policy of ['allkeys-lru', 'volatile-ttl', 'volatile-lru', undefined]) expect(evictionPolicyWarning(policy)).toMatch(/set maxmemory-policy noeviction/);
    const warnings: string[] = [];
    const logger = { warn: (message: string) => warnings.push(message), info() {} };
    const real = new Redis(REDIS_URL);
    const policy = ((await real.config('GET', 'maxmemory-policy')) as string[])[1];
    // The local Redis as it is configured: a warning exactly when its policy evicts.
    await open({ logger });
    expect(warnings.some((w) => w.includes('maxmemory-policy'))).toBe(policy !== 'noeviction');
    // A managed Redis that refuses CONFIG: named as unchecked.
    warnings.length = 0;
    const refusing = new Proxy(real, {
      get: (target, property, receiver) => (property === 'config' ? async () => { throw new Error("ERR unknown command 'CONFIG'"); } : Reflect.get(target, property, receiver)),
    });
    const state = await RedisHotState.open({ client: refusing, keyPrefix: `${RUN}:cfg:`, logger });
    expect(warnings).toEqual([expect.stringContaining('could not read maxmemory-policy')]);
    await state.close();
    real.disconnect();
  });

  it('opens a store in distributed mode when the configuration names Redis', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'riskgate-stores-'));
    try {
      const config = loadConfig({ env: { RISKGATE_DATA_DIR: dataDir, RISKGATE_REDIS_URL: REDIS_URL }, raw: {} });
      expect(config.redisUrl).toBe(REDIS_URL);
      expect(config.databaseUrl).toBeUndefined();
      const stores = await openStores(config);
      try {
        expect(stores.hotState).toBeInstanceOf(RedisHotState);
        expect(await stores.hotState.ping()).toBe(true);
      } finally {
        await stores.hotState.close();
        await stores.records.close();
      }
      expect(() => loadConfig({ env: { RISKGATE_DATA_DIR: dataDir, RISKGATE_REDIS_URL: 'http://localhost:6379' }, raw: {} })).toThrow(
        /stores\.redis_url.*redis:\/\/ or rediss:\/\//,
      );
      expect(() => loadConfig({ env: { RISKGATE_DATA_DIR: dataDir }, raw: { stores: { redis_url: 'not a url' } } })).toThrow(/stores\.redis_url/);
      expect(loadConfig({ env: { RISKGATE_DATA_DIR: dataDir }, raw: { stores: { redis_url: 'rediss://:pw@cache.internal:6380/2' } } }).redisUrl).toBe(
        'rediss://:pw@cache.internal:6380/2',
      );
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  });

  // How many evaluations a second one connection carries is a performance figure: bench/redis-mode.ts measures it.
  it('answers 50 evaluations in flight on one connection, each with its own counts', async () => {
    const { state } = await open();
    const inFlight = 50;
    const total = 2000;
    // Every evaluation's identifiers seen once before: each answer below is their second sighting, whatever order they run in.
    for (let i = 0; i < total; i++) await state.observe(evaluationBatch(i));
    const results = new Array<ObservationResult>(total);
    await Promise.all(
      Array.from({ length: inFlight }, async (_, worker) => {
        for (let i = worker; i < total; i += inFlight) results[i] = await state.observe(evaluationBatch(i));
      }),
    );
    results.forEach((result, i) => {
      expect(result.counters, `evaluation ${i}`).toEqual(Array.from({ length: 4 }, () => [2, 2, 2]));
      expect(result.distinct, `evaluation ${i}`).toEqual(Array.from({ length: 4 }, () => [1, 1, 1]));
      expect(result.firstSeen, `evaluation ${i}`).toEqual([false]);
    });
  });
});

// -- Outage: a private redis-server, killed and restarted on the same port. --

const redisServerAvailable = await redisServerOnPath('the Redis outage test');

describe.skipIf(!redisServerAvailable)('RedisHotState during a Redis outage', () => {
  let port: number;
  let server: ChildProcess | undefined;
  let state: RedisHotState | undefined;

  const startServer = async (): Promise<ChildProcess> => {
    const child = spawn('redis-server', privateRedisArgs(port), { stdio: 'ignore' });
    await untilRedisAnswers(`redis://127.0.0.1:${port}`, 5000, () => `redis-server on port ${port} did not start`);
    return child;
  };
  const stopServer = async (signal: NodeJS.Signals = 'SIGKILL') => {
    const child = server;
    server = undefined;
    if (!child || child.exitCode !== null) return;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill(signal);
    await exited;
  };

  beforeAll(async () => {
    port = await freePort();
    server = await startServer();
  });
  afterAll(async () => {
    await state?.close();
    if (server?.pid && server.exitCode === null) process.kill(server.pid, 'SIGCONT');
    await stopServer();
  });

  const timed = async <T>(promise: Promise<T>): Promise<{ ms: number; value?: T; error?: unknown }> => {
    const start = performance.now();
    try {
      const value = await promise;
      return { ms: performance.now() - start, value };
    } catch (error) {
      return { ms: performance.now() - start, error };
    }
  };

  it('fails fast while Redis is down or stalled, and recovers by itself', async () => {
    const logged: string[] = [];
    const logger = { warn: (m: string) => logged.push(`warn ${m}`), info: (m: string) => logged.push(`info ${m}`) };
    state = await RedisHotState.open({ url: `redis://127.0.0.1:${port}`, commandTimeoutMs: 200, maxReconnectDelayMs: 500, logger });
    expect((await state.observe(evaluationBatch(1))).firstSeen).toEqual([true]);
    expect(await state.claimOnce(token('before'), 60_000)).toBe(true);

    // Killed: the connection drops; calls reject at once instead of queueing.
    await stopServer('SIGKILL');
    const calls: (() => Promise<unknown>)[] = [
      () => state!.observe(evaluationBatch(2)),
      () => state!.claimOnce(token('during'), 60_000),
      () => state!.increment({ entity: 'ip', id: '192.0.2.1', facet: 'challenge_starts' }, 1000),
      () => state!.take({ entity: 'challenge', id: 'c' }),
    ];
    for (const call of calls) {
      const outcome = await timed(call());
      expect(outcome.error).toBeInstanceOf(Error);
      expect(outcome.ms).toBeLessThan(100);
    }
    const ping = await timed(state.ping());
    expect(ping.value).toBe(false);
    expect(ping.ms).toBeLessThan(100);
    // Several failed reconnection attempts later, still one warning for the outage.
    await new Promise((resolve) => setTimeout(resolve, 1000));
    expect((await timed(state.observe(evaluationBatch(3)))).error).toBeInstanceOf(Error);
    expect(logged.filter((m) => m.startsWith('warn'))).toHaveLength(1);

    // Restarted on the same port (empty: no data, no scripts): the client reconnects by itself.
    const restartedAt = performance.now();
    server = await startServer();
    let recoveredMs = -1;
    while (performance.now() - restartedAt < 5000) {
      if (await state.ping()) {
        recoveredMs = performance.now() - restartedAt;
        break;
      }
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    console.log(`RedisHotState: reconnected ${Math.round(recoveredMs)} ms after redis-server was restarted`);
    expect(recoveredMs).toBeGreaterThanOrEqual(0);
    expect((await state.observe(evaluationBatch(1))).firstSeen).toEqual([true]);
    expect(await state.claimOnce(token('after'), 60_000)).toBe(true);
    expect(await state.claimOnce(token('after'), 60_000)).toBe(false);
    expect(logged.filter((m) => m.startsWith('info'))).toHaveLength(1);

    // Stalled (SIGSTOP): the connection stays up but nothing answers; calls time out.
    process.kill(server.pid!, 'SIGSTOP');
    try {
      const stalled = await timed(state.observe(evaluationBatch(4)));
      expect(stalled.error).toBeInstanceOf(Error);
      expect(stalled.ms).toBeLessThan(400);
      expect((await timed(state.ping())).value).toBe(false);
    } finally {
      process.kill(server.pid!, 'SIGCONT');
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect((await state.observe(evaluationBatch(5))).firstSeen).toEqual([true]);
    expect(await state.ping()).toBe(true);
  });
});
