/**
 * Redis mode for `npm run bench` (issue 6): a second RiskGate child with
 * RISKGATE_REDIS_URL pointing at an empty database (9–15) of the local Redis,
 * measured at max throughput like memory mode. The database is claimed with a
 * marker key (so two benches running at once pick different ones) and
 * FLUSHDB'd afterwards, only that database. No Redis → the phase is skipped.
 *
 * Also RedisHotState.observe alone (benchObserveRedis): one connection, 50
 * evaluations in flight, the workload of the Redis hot-state tests
 * (test/support/observations.ts), in evaluations/s with p50 and p99.
 *
 * Environment: BENCH_REDIS_URL (default redis://127.0.0.1:6379) is the server
 * to use; the database number is always chosen here.
 */
import { Redis } from 'ioredis';
import { RedisHotState } from '../server/adapters/hot-state/redis.js';
import { evaluationBatch } from '../test/support/observations.js';
import type { Child } from './children.js';

const DEFAULT_REDIS = 'redis://127.0.0.1:6379';
/** Tried from the top: the low numbers are the ones people use by hand. */
const CANDIDATE_DBS = [15, 14, 13, 12, 11, 10, 9];
const CLAIM_KEY = 'riskgate-bench:claim';

export type RedisOutcome<T> =
  | {
      ran: true;
      /** The URL the server was given, database included. */
      url: string;
      db: number;
      result: T;
      /** Keys in the database just before FLUSHDB (what the run left there). */
      keysLeft: number;
      flushed: boolean;
    }
  | { ran: false; reason: string };

export interface RedisModeOptions<T> {
  dir: string;
  startServer: (dir: string, env: Record<string, string>) => Promise<Child>;
  /** Warm-up and the timed window; `redisCpuSeconds` reads redis-server's own CPU time (INFO cpu). */
  runMax: (server: Child, redisCpuSeconds: () => Promise<number>) => Promise<T>;
  step: (line: string) => void;
}

function baseUrl(): string {
  const raw = process.env.BENCH_REDIS_URL ?? DEFAULT_REDIS;
  const url = new URL(raw);
  url.pathname = '';
  return url.toString().replace(/\/$/, '');
}

const message = (error: unknown): string => (error instanceof Error ? error.message : String(error));

/** Claims an empty database: DBSIZE 0, then SET NX of a marker key (a concurrent bench sees DBSIZE 1 and moves on). */
async function claimDb(base: string): Promise<{ client: Redis; db: number } | string> {
  for (const db of CANDIDATE_DBS) {
    const client = new Redis(`${base}/${db}`, { lazyConnect: true, connectTimeout: 2_000, maxRetriesPerRequest: 0, retryStrategy: () => null, enableOfflineQueue: false });
    client.on('error', () => {
      // reported through the rejected commands below
    });
    try {
      await client.connect();
      if ((await client.dbsize()) === 0 && (await client.set(CLAIM_KEY, `${process.pid}`, 'EX', 3_600, 'NX')) === 'OK' && (await client.dbsize()) === 1) {
        return { client, db };
      }
      client.disconnect();
    } catch (error) {
      client.disconnect();
      return `Redis at ${base} unreachable (${message(error)})`;
    }
  }
  return `no empty Redis database among ${CANDIDATE_DBS.join(', ')} at ${base}`;
}

async function redisCpu(client: Redis): Promise<number> {
  const info = await client.info('cpu');
  const read = (name: string) => Number(new RegExp(`^${name}:([\\d.]+)`, 'm').exec(info)?.[1] ?? NaN);
  return read('used_cpu_user') + read('used_cpu_sys');
}

export async function benchEvaluateRedis<T>(options: RedisModeOptions<T>): Promise<RedisOutcome<T>> {
  const base = baseUrl();
  const claimed = await claimDb(base);
  if (typeof claimed === 'string') {
    options.step(`Redis mode skipped: ${claimed}`);
    return { ran: false, reason: claimed };
  }
  const { client, db } = claimed;
  const url = `${base}/${db}`;
  const cleanup = { keysLeft: NaN, flushed: false };
  let cleanupTarget: { keysLeft: number; flushed: boolean } | undefined;
  try {
    const server = await options.startServer(options.dir, { RISKGATE_REDIS_URL: url });
    let result: T;
    try {
      options.step(`riskgate (Redis ${url}, database claimed with ${CLAIM_KEY}) pid ${server.pid} at ${server.url}`);
      result = await options.runMax(server, () => redisCpu(client));
    } catch (error) {
      options.step(`riskgate (Redis) stderr (last lines):\n${server.stderr()}`);
      throw error;
    } finally {
      await server.stop();
    }
    // The same object is filled in by the finally block below.
    const outcome = { ran: true as const, url, db, result, keysLeft: NaN, flushed: false };
    cleanupTarget = outcome;
    return outcome;
  } finally {
    // Only this database, and only after the server is gone.
    try {
      cleanup.keysLeft = await client.dbsize();
      await client.flushdb();
      cleanup.flushed = true;
      options.step(`Redis database ${db}: ${cleanup.keysLeft} keys left by the run, FLUSHDB done`);
    } catch (error) {
      options.step(`Redis database ${db}: FLUSHDB failed (${message(error)}); run \`redis-cli -n ${db} flushdb\``);
    }
    client.disconnect();
    if (cleanupTarget) Object.assign(cleanupTarget, cleanup);
  }
}

/** What RedisHotState.observe carries on one connection with 50 evaluations in flight (the Redis hot-state test asserted more than 1,000/s). */
export async function benchObserveRedis(step: (line: string) => void, durationMs = 3000): Promise<void> {
  const base = baseUrl();
  const claimed = await claimDb(base);
  if (typeof claimed === 'string') {
    step(`RedisHotState.observe skipped: ${claimed}`);
    return;
  }
  const { client, db } = claimed;
  try {
    const state = await RedisHotState.open({ url: `${base}/${db}`, keyPrefix: 'riskgate-bench:observe:' });
    try {
      const inFlight = 50;
      for (let i = 0; i < 2000; i++) await state.observe(evaluationBatch(i));
      let done = 0;
      const latencies: number[] = [];
      const start = performance.now();
      const deadline = start + durationMs;
      await Promise.all(
        Array.from({ length: inFlight }, async (_, worker) => {
          for (let i = worker; performance.now() < deadline; i += inFlight) {
            const t0 = performance.now();
            await state.observe(evaluationBatch(i));
            latencies.push(performance.now() - t0);
            done++;
          }
        }),
      );
      const perSecond = done / ((performance.now() - start) / 1000);
      latencies.sort((a, b) => a - b);
      const p = (q: number) => latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))]!.toFixed(2);
      step(
        `RedisHotState.observe: ${Math.round(perSecond)} evaluations/s, ${inFlight} in flight on one connection ` +
          `(4 counters × 3 windows, 4 distinct sets, 1 first-seen), p50 ${p(0.5)} ms, p99 ${p(0.99)} ms; floor 1,000/s: ${perSecond > 1000 ? 'PASS' : 'FAIL'}`,
      );
    } finally {
      await state.close();
    }
  } finally {
    try {
      await client.flushdb();
    } catch (error) {
      step(`Redis database ${db}: FLUSHDB failed (${message(error)}); run \`redis-cli -n ${db} flushdb\``);
    }
    client.disconnect();
  }
}
