/**
 * `npm run bench`: what one RiskGate instance does on this machine, measured
 * so that a figure can be trusted or is marked VOID.
 *
 *   1. Max throughput, side by side (side-by-side.ts): a plain Fastify
 *      POST /echo child, RiskGate (dist/server/main.js in a child process,
 *      memory hot state, default rules, one fresh token per request), RiskGate
 *      again with BENCH_SERVER_NODE_ARGS when set, and the bare token-decode
 *      loop in process, in rounds whose order rotates. The load generator is
 *      net-load.ts (pre-serialised requests over node:net keep-alive
 *      connections); its own CPU per request is reported next to the
 *      server's. Server CPU per evaluation is split by thread (main, decode
 *      workers, SQLite writer, V8/libuv/other) and compared with echo (R1) and
 *      with the bare decode (R2), per round.
 *   2. Open-loop latency at 50 % and 80 % of each RiskGate variant's max from
 *      (1), timed from each request's scheduled send, with the server main
 *      thread's minor-GC pause percentiles over the same window.
 *   3. The token-decode detail in process: openBlackBox vs jose, step by step.
 *   4. Redis mode (issue 6): a RiskGate child with RISKGATE_REDIS_URL on an
 *      empty database 9–15 of the local Redis (bench/redis-mode.ts), max
 *      throughput, compared with memory mode (target ≥ 70%). The database is
 *      FLUSHDB'd afterwards; without Redis the row is skipped. Then
 *      RedisHotState.observe alone on one connection, 50 in flight.
 *
 * Every timed run records the CPU other processes used meanwhile
 * (cpu-window.ts); above 0.1 cores the run is VOID: shown, never summarised.
 * The last line says whether the whole bench was quiet.
 *
 * Tokens are made (in worker threads, with the client's buildBlackBox) before
 * each timed run, never during one, and never reused: a run that runs out ends
 * early, and the report says so. Replays are checked from /metrics and from
 * sampled responses.
 *
 * Modes, after `npm run build`:
 *   node dist/bench/evaluate.js --max-only       (1) alone
 *   node dist/bench/evaluate.js --latency-only   RiskGate only: one round of (1), then (2)
 *   node dist/bench/evaluate.js --profile        the server under `node --cpu-prof` at max throughput, summarised
 *   --autocannon                                 adds one autocannon run per server after the rounds (cross-check)
 * Lengths (flag or environment): --rounds / BENCH_ROUNDS (5; 1 with --latency-only),
 * --seconds / BENCH_SECONDS (10), --warmup / BENCH_WARMUP_SECONDS (3),
 * --latency-seconds / BENCH_LATENCY_SECONDS (10), --connections / BENCH_CONNECTIONS (50).
 * RISKGATE_DECODE_THREADS is passed on to the RiskGate children.
 *
 * Environment: BENCH_TOKEN_CRYPTO=webcrypto makes the tokens with the SDK's
 * WebCrypto primitives instead of node:crypto (same format, ~2× slower to make).
 *
 * The process exits 0 when the bench ran, whether or not targets were met.
 */
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { arch, cpus, loadavg, release, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ServerTokenKey } from '../shared/jwk.js';
import { generateTokenKey, TokenKeyRing } from '../server/engine/token/key-ring.js';
import {
  deltaBy,
  installCleanup,
  label,
  onExit,
  mainThreadCpuSeconds,
  processCpuSeconds,
  threadCpuSeconds,
  processMemory,
  samples,
  scrapeMetrics,
  startChild,
  sum,
  systemBusySeconds,
  type Child,
  type Metrics,
} from './children.js';
import { summariseProfile } from './cpu-profile.js';
import { OTHER_RULE, VOID_OTHER_CORES, type CpuWindow } from './cpu-window.js';
import { DecodeLoop, NEW_DEVICE_TOKENS, RETURNING_DEVICES, RETURNING_TOKENS, runDecodeBench, type DecodeBenchResult } from './decode-bench.js';
import { cannon, quantile } from './load.js';
import { closedLoop, RequestSource, serialiseRequest, type LoadResult } from './net-load.js';
import { ProbeLog } from './probe-log.js';
import { fixed, int, mib, passFail, pct, table } from './report.js';
import { benchEvaluateRedis, benchObserveRedis, type RedisOutcome } from './redis-mode.js';
import {
  loadgen,
  marks,
  maxOf,
  printLatency,
  printMaxRounds,
  runSideBySide,
  serverCpuOf,
  windowsOf,
  type DecodeVariant,
  type ServerCpu,
  type ServerVariant,
  type SideBySideResult,
} from './side-by-side.js';
import type { CryptoMode } from './token-crypto.js';
import { TokenFactory } from './token-factory.js';
import { BodySource, makeWorkload } from './workload.js';

const APP_KEY = 'pk_bench_shop_0001';
const APP_SECRET = 'sk_bench_secret_0123456789abcdef';
const AUTH = { authorization: `Bearer ${APP_SECRET}` };

/** Returning devices in the evaluate workload; 20% of requests come from new devices. */
const EVAL_DEVICE_POOL = 2_000;
const NEW_DEVICE_SHARE = 0.2;

/** A number from --name=value or the environment variable, else the default. */
function setting(flag: string, env: string, fallback: number): number {
  const arg = process.argv.find((a) => a.startsWith(`--${flag}=`));
  const raw = arg !== undefined ? arg.slice(flag.length + 3) : process.env[env];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!(value > 0)) throw new Error(`--${flag} / ${env} must be a positive number, not "${raw}"`);
  return value;
}

const SECONDS = setting('seconds', 'BENCH_SECONDS', 10);
const WARMUP_S = setting('warmup', 'BENCH_WARMUP_SECONDS', 3);
const LATENCY_SECONDS = setting('latency-seconds', 'BENCH_LATENCY_SECONDS', 10);
const MAX_CONNECTIONS = Math.round(setting('connections', 'BENCH_CONNECTIONS', 50));
/** Fractions of each variant's max for the open-loop latency runs. */
const LATENCY_LEVELS = [0.5, 0.8];
/** Pause before a timed run outside the rounds. */
const SETTLE_MS = 700;

const TARGET_THROUGHPUT = 4_000;
const TARGET_P99_MS = 5;
/** Redis mode's max throughput as a share of memory mode's (issue 6). */
const TARGET_REDIS_SHARE = 0.7;

const log = (line = ''): void => void process.stdout.write(`${line}\n`);
const step = (line: string): void => log(`  · ${line}`);
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

// ---------------------------------------------------------------------------
// Children

async function startEcho(probe: ProbeLog): Promise<Child> {
  return startChild(
    'echo server',
    [...probe.nodeArgs, fileURLToPath(new URL('./echo-server.js', import.meta.url))],
    { ...process.env, PORT: '0', ...probe.env },
    /echo listening on (http:\/\/\S+)/,
  );
}

/** Node flags as `npm start` passes them (package.json). */
const SERVER_NODE_ARGS = ['--max-semi-space-size=32'];
/** BENCH_SERVER_NODE_ARGS: more Node flags for a second RiskGate variant (A/B), and for --profile. */
const EXTRA_NODE_ARGS = process.env.BENCH_SERVER_NODE_ARGS?.split(' ').filter(Boolean) ?? [];
/** RISKGATE_DECODE_THREADS is passed on, to compare pool sizes. */
const SERVER_ENV: Record<string, string> = process.env.RISKGATE_DECODE_THREADS ? { RISKGATE_DECODE_THREADS: process.env.RISKGATE_DECODE_THREADS } : {};

async function startRiskGate(dir: string, nodeArgs: string[] = [], extraEnv: Record<string, string> = {}): Promise<Child> {
  mkdirSync(dir, { recursive: true });
  const configFile = join(dir, 'riskgate.yaml');
  writeFileSync(
    configFile,
    [
      'host: 127.0.0.1',
      'port: 0',
      'log_level: warn',
      'apps:',
      '  - id: bench',
      '    name: Bench shop',
      `    key: ${APP_KEY}`,
      `    secret: ${APP_SECRET}`,
      '',
    ].join('\n'),
  );
  // Only this bench's settings: no inherited RISKGATE_* (a Redis or PostgreSQL URL would leave embedded mode).
  const inherited = Object.fromEntries(Object.entries(process.env).filter(([name]) => !name.startsWith('RISKGATE_')));
  const env: NodeJS.ProcessEnv = {
    ...inherited,
    RISKGATE_CONFIG: configFile,
    RISKGATE_DATA_DIR: join(dir, 'data'),
    RISKGATE_LOG_LEVEL: 'warn',
    HOST: '127.0.0.1',
    PORT: '0',
    ...extraEnv,
  };
  const server = await startChild('riskgate', [...SERVER_NODE_ARGS, ...nodeArgs, fileURLToPath(new URL('../server/main.js', import.meta.url))], env, /RiskGate listening on (http:\/\/\S+)/);
  const ready = await fetch(`${server.url}/readyz`);
  if (!ready.ok) throw new Error(`riskgate /readyz answered ${ready.status}: ${await ready.text()}`);
  return server;
}

async function serverKeyOf(server: Child): Promise<ServerTokenKey> {
  const response = await fetch(`${server.url}/v1/keys`);
  const jwks = (await response.json()) as { keys: ServerTokenKey[] };
  const key = jwks.keys[0];
  if (!key) throw new Error('GET /v1/keys returned no key');
  return { kty: key.kty, crv: key.crv, x: key.x, y: key.y, kid: key.kid };
}

async function evaluateBodies(factory: TokenFactory, serverKey: ServerTokenKey, count: number, seed: number): Promise<string[]> {
  const workload = makeWorkload({ count, seed, appKey: APP_KEY, devicePool: EVAL_DEVICE_POOL, newDeviceShare: NEW_DEVICE_SHARE });
  const tokens = await factory.make(serverKey, APP_KEY, workload.specs);
  return workload.bodies.map((body, i) => JSON.stringify({ ...body, black_box: tokens[i] }));
}

// ---------------------------------------------------------------------------
// Measuring a phase (--profile)

interface Phase<T> {
  value: T;
  /** performance.now() at the start. */
  startedAt: number;
  wallS: number;
  /** Cores the server used on average. */
  serverCores: number;
  serverCpuS: number;
  /** CPU seconds of the server's main thread (the event loop); the rest is its worker threads. */
  mainThreadCpuS: number;
  /** CPU seconds of the server's other threads (decode workers, decision writer, GC, libuv), busiest first. */
  otherThreadsCpuS: number[];
  /** Cores this process (the load generator) used on average. */
  benchCores: number;
  /** Cores everything else on the machine used on average (other people's work skews results). */
  otherCores: number;
  before?: Metrics;
  after?: Metrics;
}

async function measure<T>(pid: number, fn: () => Promise<T>, metricsUrl?: string): Promise<Phase<T>> {
  const before = metricsUrl ? await scrapeMetrics(metricsUrl) : undefined;
  const cpu0 = processCpuSeconds(pid);
  const main0 = mainThreadCpuSeconds(pid);
  const threads0 = threadCpuSeconds(pid);
  const bench0 = process.cpuUsage();
  const busy0 = systemBusySeconds();
  const t0 = performance.now();
  const value = await fn();
  const wallS = (performance.now() - t0) / 1000;
  const serverCpuS = processCpuSeconds(pid) - cpu0;
  const mainThreadCpuS = mainThreadCpuSeconds(pid) - main0;
  const otherThreadsCpuS = [...threadCpuSeconds(pid)]
    .filter(([tid]) => tid !== pid)
    .map(([tid, s]) => s - (threads0.get(tid) ?? 0))
    .sort((a, b) => b - a);
  const bench = process.cpuUsage(bench0);
  const busy = systemBusySeconds() - busy0;
  const after = metricsUrl ? await scrapeMetrics(metricsUrl) : undefined;
  const benchCpuS = (bench.user + bench.system) / 1e6;
  return {
    value,
    startedAt: t0,
    wallS,
    serverCores: serverCpuS / wallS,
    serverCpuS,
    mainThreadCpuS,
    otherThreadsCpuS,
    benchCores: benchCpuS / wallS,
    otherCores: Math.max(0, busy - serverCpuS - benchCpuS) / wallS,
    before,
    after,
  };
}

/** Share of evaluations the server itself timed (handler start to reply) within `seconds`, from its latency histogram. */
function handlerShareWithin(p: { before?: Metrics; after?: Metrics }, seconds: number): number {
  if (!p.before || !p.after) return NaN;
  const bucket = `riskgate_evaluate_duration_seconds_bucket{le="${seconds}"}`;
  const count = 'riskgate_evaluate_duration_seconds_count';
  const delta = (key: string) => (p.after!.get(key) ?? NaN) - (p.before!.get(key) ?? NaN);
  return delta(bucket) / delta(count);
}

/** What sampled evaluate responses said. */
class ResponseSample {
  n = 0;
  non200 = 0;
  replayed = 0;
  tokenInvalid = 0;
  withDevice = 0;
  degraded = 0;
  readonly decisions = new Map<string, number>();

  add = (status: number, body: string): void => {
    this.n++;
    if (status !== 200) {
      this.non200++;
      return;
    }
    const answer = JSON.parse(body) as { decision: string; tags: string[]; device_id?: string; degraded: boolean };
    this.decisions.set(answer.decision, (this.decisions.get(answer.decision) ?? 0) + 1);
    if (answer.tags.includes('replayed')) this.replayed++;
    if (answer.tags.includes('token_invalid')) this.tokenInvalid++;
    if (answer.device_id) this.withDevice++;
    if (answer.degraded) this.degraded++;
  };

  describe(): string {
    const decisions = [...this.decisions.entries()].map(([d, n]) => `${d} ${pct(n / this.n, 0)}`).join(', ');
    return `${this.n} sampled: replayed ${this.replayed}, token_invalid ${this.tokenInvalid}, device_id present ${pct(this.withDevice / Math.max(1, this.n - this.non200), 0)}, non-200 ${this.non200}, degraded ${this.degraded}; ${decisions}`;
  }
}

interface TokenCheck {
  phase: string;
  evaluations: number;
  failures: Map<string, number>;
  replayRate: number;
  /** Timed runs that ran out of pre-made requests (and ended early rather than reuse one). */
  ranOut: number;
  sample: ResponseSample;
}

/** Token failures over a set of timed runs, from the metrics scraped around each. */
function tokenCheck(phase: string, runs: { before?: Metrics; after?: Metrics; exhausted?: boolean }[], sample: ResponseSample): TokenCheck {
  let evaluations = 0;
  const failures = new Map<string, number>();
  for (const r of runs) {
    if (!r.before || !r.after) continue;
    evaluations += sum(r.after, 'riskgate_decisions_total') - sum(r.before, 'riskgate_decisions_total');
    for (const [reason, n] of deltaBy(r.before, r.after, 'riskgate_token_failures_total', 'reason')) failures.set(reason, (failures.get(reason) ?? 0) + n);
  }
  return { phase, evaluations, failures, replayRate: (failures.get('TOKEN_REPLAYED') ?? 0) / Math.max(1, evaluations), ranOut: runs.filter((r) => r.exhausted).length, sample };
}

// ---------------------------------------------------------------------------
// The side-by-side part: variants, rounds, open loop

interface EvaluateVariant extends ServerVariant {
  sample: ResponseSample;
}

interface Servers {
  echo?: ServerVariant;
  evaluate: EvaluateVariant[];
  decode?: DecodeVariant;
  tokens: { made: number; ms: number };
}

async function startVariants(factory: TokenFactory, work: string, withEcho: boolean, withDecode: boolean): Promise<Servers> {
  const tokens = { made: 0, ms: 0 };
  const timed = async <T>(count: number, what: string, make: () => Promise<T>): Promise<T> => {
    const t0 = performance.now();
    const out = await make();
    tokens.made += count;
    tokens.ms += performance.now() - t0;
    step(`made ${int(count)} tokens for ${what} in ${fixed((performance.now() - t0) / 1000)} s`);
    return out;
  };
  const out: Servers = { evaluate: [], tokens };
  if (withEcho) {
    const probe = new ProbeLog(join(work, 'echo.probe'));
    const server = await startEcho(probe);
    // The echo body is a real evaluate body (a token for a throwaway key) with the same headers, so both servers parse the same bytes.
    const { kty, crv, x, y, kid } = new TokenKeyRing([generateTokenKey()]).primary;
    const [body] = await evaluateBodies(factory, { kty, crv, x, y, kid }, 1, 99);
    out.echo = { name: 'echo', kind: 'echo', server, probe, path: '/echo', headers: AUTH, metrics: false, bodies: async () => ({ bodies: [body!], repeat: true }) };
    step(`echo server pid ${server.pid} at ${server.url} (Fastify POST /echo, same body and headers as evaluate)`);
  }
  const variants: [string, string[]][] = [['evaluate', []]];
  if (EXTRA_NODE_ARGS.length > 0) variants.push([`evaluate ${EXTRA_NODE_ARGS.join(' ')}`, EXTRA_NODE_ARGS]);
  for (const [i, [name, nodeArgs]] of variants.entries()) {
    const probe = new ProbeLog(join(work, `riskgate-${i}.probe`));
    const server = await startRiskGate(join(work, `riskgate-${i}`), [...probe.nodeArgs, ...nodeArgs], { ...SERVER_ENV, ...probe.env });
    const key = await serverKeyOf(server);
    let seed = 1_000 * (i + 1);
    const sample = new ResponseSample();
    out.evaluate.push({
      name,
      kind: 'evaluate',
      server,
      probe,
      path: '/v1/risk/evaluate',
      headers: AUTH,
      metrics: true,
      sample,
      onSample: sample.add,
      bodies: async (count) => ({ bodies: await timed(count, name, () => evaluateBodies(factory, key, count, seed++)), repeat: false }),
    });
    step(`${name}: riskgate pid ${server.pid} at ${server.url}, Node flags ${[...SERVER_NODE_ARGS, ...nodeArgs].join(' ')}; token key ${key.kid}`);
  }
  if (withDecode) {
    const loop = new DecodeLoop();
    let seed = 50_000;
    out.decode = {
      name: 'decode',
      tokens: (count) =>
        timed(count, 'decode', () =>
          factory.make(loop.serverKey, APP_KEY, makeWorkload({ count, seed: seed++, appKey: APP_KEY, devicePool: EVAL_DEVICE_POOL, newDeviceShare: NEW_DEVICE_SHARE }).specs),
        ),
      run: (t) => loop.run(t),
    };
  }
  return out;
}

async function stopVariants(servers: Servers): Promise<void> {
  await Promise.all([servers.echo, ...servers.evaluate].map((v) => v?.server.stop(15_000)));
}

interface AfterRun {
  final: Metrics;
  rss: { rss: number; peak: number };
  pid: number;
}

async function sideBySide(factory: TokenFactory, work: string, mode: 'full' | 'max' | 'latency', autocannon: boolean): Promise<{ result: SideBySideResult; servers: Servers; after: AfterRun }> {
  const servers = await startVariants(factory, work, mode !== 'latency', mode !== 'latency');
  try {
    const result = await runSideBySide([...(servers.echo ? [servers.echo] : []), ...servers.evaluate], servers.decode, {
      rounds: Math.max(1, Math.round(setting('rounds', 'BENCH_ROUNDS', mode === 'latency' ? 1 : 5))),
      seconds: SECONDS,
      warmupS: WARMUP_S,
      connections: MAX_CONNECTIONS,
      latencyLevels: mode === 'max' ? [] : LATENCY_LEVELS,
      latencySeconds: LATENCY_SECONDS,
      autocannon,
      step,
    });
    await sleep(500);
    const base = servers.evaluate[0]!;
    const after = { final: await scrapeMetrics(base.server.url), rss: processMemory(base.server.pid), pid: base.server.pid };
    return { result, servers, after };
  } catch (error) {
    for (const v of [servers.echo, ...servers.evaluate]) if (v) log(`${v.name} stderr (last lines):\n${v.server.stderr()}`);
    throw error;
  } finally {
    await stopVariants(servers);
  }
}

function printSideBySide(result: SideBySideResult, servers: Servers): void {
  log();
  printMaxRounds(result, log, { ...(servers.echo ? { echo: servers.echo.name } : {}), ...(servers.decode ? { decode: servers.decode.name } : {}), evaluate: servers.evaluate.map((v) => v.name) });
  if (result.latency.length > 0) {
    log();
    printLatency(result, log, (r) => handlerShareWithin(r, 0.005));
  }
}

// ---------------------------------------------------------------------------
// Redis mode: max throughput alone on an already started server

interface RedisMax {
  load: LoadResult;
  window: CpuWindow;
  server: ServerCpu;
  loadgenUs: number;
  loadgenCores: number;
  check: TokenCheck;
  warmupRate: number;
  tokensMade: number;
  /** Cores redis-server used during the timed window (INFO cpu), NaN if unknown; counted as the bench's own. */
  redisCores: number;
}

async function redisMax(factory: TokenFactory, server: Child, probe: ProbeLog, expectedRate: number, redisCpu: () => Promise<number>): Promise<RedisMax> {
  const key = await serverKeyOf(server);
  let tokensMade = 0;
  const requests = async (count: number, seed: number) => {
    const t0 = performance.now();
    const bodies = await evaluateBodies(factory, key, count, seed);
    tokensMade += count;
    step(`made ${int(count)} tokens + bodies in ${fixed((performance.now() - t0) / 1000)} s (token key ${key.kid})`);
    return new RequestSource(bodies.map((b) => serialiseRequest(server.url, '/v1/risk/evaluate', AUTH, b)));
  };
  const warm = await closedLoop({ url: server.url, connections: MAX_CONNECTIONS, durationS: WARMUP_S, source: await requests(Math.max(2_000, Math.ceil(1_500 * WARMUP_S)), 11) });
  step(`warm-up: ${int(warm.okPerSecond)} evaluations/s${warm.exhausted ? ' (tokens ran out)' : ''}, non-2xx ${warm.non2xx}`);
  if (warm.ok === 0) throw new Error(`no 2xx answers in the warm-up; server stderr:\n${server.stderr()}`);
  // Sized from memory mode's max too: a cold Redis warm-up can be far below what the server then reaches.
  const source = await requests(Math.ceil(Math.max(warm.okPerSecond, expectedRate, 300) * SECONDS * 1.25) + 500, 12);
  await sleep(SETTLE_MS);
  const sample = new ResponseSample();
  const before = await scrapeMetrics(server.url);
  const side0 = await redisCpu().catch(() => NaN);
  const m = marks([server.pid]);
  const load = await closedLoop({ url: server.url, connections: MAX_CONNECTIONS, durationS: SECONDS, source, window: m.window, onSample: sample.add, sampleEvery: 50 });
  const side1 = await redisCpu().catch(() => NaN);
  const after = await scrapeMetrics(server.url);
  const known = Number.isFinite(side0) && Number.isFinite(side1);
  const window = m.result(known ? [side0, side1] : undefined);
  const result: RedisMax = {
    load,
    window,
    server: serverCpuOf(window, server.pid, probe, load.ok),
    ...loadgen(window, load.ok),
    check: tokenCheck('evaluate (Redis) max', [{ before, after, exhausted: load.exhausted }], sample),
    warmupRate: warm.okPerSecond,
    tokensMade,
    redisCores: known ? (side1 - side0) / window.wallS : NaN,
  };
  step(
    `max: ${int(load.okPerSecond)} evaluations/s, server ${fixed(result.server.totalUs, 0)} µs/evaluation, redis-server ${fixed(result.redisCores, 2)} cores, ` +
      `load generator ${fixed(result.loadgenUs, 1)} µs/request, other processes ${fixed(window.otherCores, 2)} cores${window.void ? ' — VOID' : ''}${load.exhausted ? ` (tokens ran out after ${fixed(load.wallS)} s)` : ''}`,
  );
  return result;
}

// ---------------------------------------------------------------------------
// The full run

function printReport(result: SideBySideResult, servers: Servers, after: AfterRun, decode: DecodeBenchResult, redis: RedisOutcome<RedisMax>, startedAt: number): void {
  printSideBySide(result, servers);
  const base = servers.evaluate[0]!;
  const memoryMax = maxOf(result.runs, base.name);

  log();
  log('== Token decode detail, in process, one thread (median of 3 trials: 1 s each, or a third of the new-device tokens each) ==');
  const decodeVoid = !(decode.otherCores <= VOID_OTHER_CORES);
  log(`  other processes ${fixed(decode.otherCores, 2)} cores during the loops${decodeVoid ? ' — VOID: the figures below are shown, not to be quoted' : ''}`);
  const rows = decode.rows.map((r) => [r.what, r.mix, fixed(r.timing.usPerOp, 0), int(r.timing.opsPerSecond), fixed(r.timing.cpuUsPerOp, 0)]);
  log(table(['Decoder', 'Token mix', 'µs/op', 'ops/s', 'CPU µs/op'], rows, ['l', 'l', 'r', 'r', 'r']));
  const [ownNew, ownRet, joseNew, joseRet] = decode.rows;
  log(
    `openBlackBox vs jose: ${decodeVoid ? 'VOID' : `${fixed(joseNew!.timing.usPerOp / ownNew!.timing.usPerOp, 2)}× faster (new devices), ${fixed(joseRet!.timing.usPerOp / ownRet!.timing.usPerOp, 2)}× (returning)`}. ` +
      `Device-key cache saves ${decodeVoid ? 'VOID' : `${fixed(ownNew!.timing.usPerOp - ownRet!.timing.usPerOp, 0)} µs/token`}.`,
  );
  log('openBlackBox also validates the payload with zod and computes the device id; the jose row does neither (CPU µs/op counts its libuv-pool work too).');
  log(
    `Avg token ${int(decode.tokenBytes)} chars; ${int(NEW_DEVICE_TOKENS)} new-device tokens (each opened once: 300 warm-up + 3 slices) and ${int(RETURNING_TOKENS)} ` +
      `returning-device tokens (${int(RETURNING_DEVICES)} devices, cycled); every token opens, 200 also pass jose.`,
  );
  log(table(['openBlackBox step (same inputs, alone)', 'µs/op'], decode.steps.map((s) => [s.what, fixed(s.timing.usPerOp, 1)])));

  log();
  log('== Redis hot state (max throughput, one run after the rounds) ==');
  if (redis.ran) {
    const r = redis.result;
    const bothQuiet = !r.window.void && memoryMax.quiet;
    log(
      table(
        ['Server', 'req/s', 'server µs/req', 'main', 'decode', 'writer', 'V8/libuv/other', 'redis-server cores', 'loadgen µs/req', 'other procs', 'run'],
        [
          [
            `evaluate, Redis db ${redis.db}`,
            int(r.load.okPerSecond),
            fixed(r.server.totalUs, 0),
            fixed(r.server.byGroup.main, 0),
            fixed(r.server.byGroup.decode, 0),
            fixed(r.server.byGroup.writer, 0),
            fixed(r.server.byGroup.other + r.server.exitedUs, 0),
            fixed(r.redisCores, 2),
            fixed(r.loadgenUs, 1),
            fixed(r.window.otherCores, 2),
            r.window.void ? 'VOID' : 'quiet',
          ],
        ],
        ['l', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'l'],
      ),
    );
    log(
      `Redis / memory: ${bothQuiet ? `${pct(r.load.okPerSecond / memoryMax.rate)} (${int(r.load.okPerSecond)} vs ${int(memoryMax.rate)} evaluations/s, memory mode's median quiet max)` : 'VOID'}. ` +
        `A server with RISKGATE_REDIS_URL=${redis.url}, same config, its own fresh tokens; redis-server's CPU (INFO cpu) counts as the bench's own; ` +
        `${r.check.sample.degraded} of ${r.check.sample.n} sampled answers degraded; database ${redis.flushed ? `flushed (${int(redis.keysLeft)} keys)` : 'NOT flushed'}.`,
    );
  } else {
    log(`Redis row skipped: ${redis.reason}.`);
  }

  printChecks(servers, result, after, redis.ran ? [redis.result.check] : []);

  log();
  log('== Targets (from quiet runs only) ==');
  const maxRow = (): string[] => {
    if (!memoryMax.quiet) return [`≥ ${int(TARGET_THROUGHPUT)} evaluations/s`, 'VOID', 'VOID'];
    return [`≥ ${int(TARGET_THROUGHPUT)} evaluations/s`, `${int(memoryMax.rate)}/s (median)`, passFail(memoryMax.rate >= TARGET_THROUGHPUT)];
  };
  const latencyRows = result.latency
    .filter((r) => r.variant === base.name)
    .map((r): string[] => {
      const p99 = quantile(r.load.latencies, 0.99);
      const name = `p99 ≤ ${TARGET_P99_MS} ms, open loop at ${pct(r.level, 0)} of max`;
      if (r.window.void || !r.basedOn.quiet) return [name, 'VOID', 'VOID'];
      return [name, `${fixed(p99, 2)} ms at ${int(r.load.scheduled / LATENCY_SECONDS)}/s`, passFail(p99 <= TARGET_P99_MS && r.load.unfinished === 0 && r.load.errors === 0)];
    });
  const redisRow = (): string[] => {
    const name = `Redis mode ≥ ${pct(TARGET_REDIS_SHARE, 0)} of memory-mode throughput`;
    if (!redis.ran) return [name, 'not measured', 'SKIPPED (no Redis)'];
    if (redis.result.window.void || !memoryMax.quiet) return [name, 'VOID', 'VOID'];
    const share = redis.result.load.okPerSecond / memoryMax.rate;
    return [name, pct(share), passFail(share >= TARGET_REDIS_SHARE)];
  };
  const checks = [...servers.evaluate.map((v) => tokenCheck(v.name, [...result.runs.filter((r) => r.variant === v.name), ...result.latency.filter((r) => r.variant === v.name)], v.sample)), ...(redis.ran ? [redis.result.check] : [])];
  const replay = Math.max(...checks.map((c) => c.replayRate));
  log(
    table(
      ['Target', 'Measured', 'Result'],
      [maxRow(), ...latencyRows, redisRow(), ['replay rate ≈ 0 (fresh token per request)', pct(replay, 3), passFail(replay < 0.001)]],
      ['l', 'r', 'l'],
    ),
  );
  log();
  log(`Bench wall time ${fixed((performance.now() - startedAt) / 1000)} s (after the build).`);
  quietLine([
    ...windowsOf(result),
    { name: 'decode detail', otherCores: decode.otherCores },
    ...(redis.ran ? [{ name: 'Redis max', window: redis.result.window }] : []),
  ]);
}

function printChecks(servers: Servers, result: SideBySideResult, after: AfterRun, extra: TokenCheck[]): void {
  const checks = [
    ...servers.evaluate.map((v) => tokenCheck(v.name, [...result.runs.filter((r) => r.variant === v.name), ...result.latency.filter((r) => r.variant === v.name)], v.sample)),
    ...extra,
  ];
  log();
  log('== Fresh tokens: replay check (metrics deltas over every timed run, plus sampled responses) ==');
  log(
    table(
      ['Variant', 'evaluations', 'token failures by reason', 'replay rate', 'runs that ran out of tokens'],
      checks.map((c) => [c.phase, int(c.evaluations), c.failures.size === 0 ? 'none' : [...c.failures.entries()].map(([r, n]) => `${r} ${n}`).join(', '), pct(c.replayRate, 3), c.ranOut]),
      ['l', 'r', 'l', 'r', 'r'],
    ),
  );
  for (const c of checks) log(`  ${c.phase}: ${c.sample.describe()}`);
  const allFailures = samples(after.final, 'riskgate_token_failures_total');
  log(`  ${servers.evaluate[0]!.name}, whole server life: riskgate_token_failures_total ${allFailures.size === 0 ? '= 0 (no failures)' : [...allFailures.entries()].map(([k, v]) => `${label(k, 'reason')} ${v}`).join(', ')}`);
  const decisions = deltaBy(new Map(), after.final, 'riskgate_decisions_total', 'decision');
  const total = [...decisions.values()].reduce((a, b) => a + b, 0);
  log(`  decisions over the whole run: ${[...decisions.entries()].map(([d, n]) => `${d} ${pct(n / total)}`).join(', ')} over ${int(total)} evaluations (IPs from a pool of 3,000, accounts from 50,000, so velocity rules fire as the run goes on)`);
  const degraded = sum(after.final, 'riskgate_dependency_failures_total');
  if (degraded > 0) log(`  riskgate_dependency_failures_total: ${degraded}`);

  log();
  log('== Server memory after the run ==');
  log(`  VmRSS ${mib(after.rss.rss)} (peak VmHWM ${mib(after.rss.peak)}) from /proc/${after.pid}/status; process_resident_memory_bytes ${mib(after.final.get('process_resident_memory_bytes') ?? NaN)}`);
  log(`  heap used ${mib(after.final.get('nodejs_heap_size_used_bytes') ?? NaN)}; ${int(servers.tokens.made)} tokens made for the side-by-side part in ${fixed(servers.tokens.ms / 1000)} s`);
}

/** The last line: was every timed run quiet? */
function quietLine(runs: ({ name: string; window: CpuWindow } | { name: string; otherCores: number })[]): void {
  const others = runs.map((r) => ({ name: r.name, other: 'window' in r ? r.window.otherCores : r.otherCores }));
  const loud = others.filter((r) => !(r.other <= VOID_OTHER_CORES));
  log();
  if (loud.length === 0) {
    log(`QUIET: all ${others.length} timed runs had other processes ≤ ${VOID_OTHER_CORES} cores (most ${fixed(Math.max(...others.map((r) => r.other)), 2)}); the figures above may be quoted.`);
  } else {
    const worst = loud.reduce((a, b) => (b.other > a.other ? b : a));
    log(
      `NOT QUIET: ${loud.length} of ${others.length} timed runs were VOID (other processes > ${VOID_OTHER_CORES} cores; worst ${fixed(worst.other, 2)} cores in ${worst.name}). ` +
        'Summaries leave them out and say VOID where nothing quiet was left; quote no figure from a VOID run — rerun on an idle machine.',
    );
  }
}

function header(): void {
  log(`Timed runs are VOID when other processes used more than ${VOID_OTHER_CORES} cores on average: ${OTHER_RULE}.`);
}

async function fullRun(factory: TokenFactory, work: string, startedAt: number, autocannon: boolean): Promise<void> {
  log();
  log('[1/3] Side by side: echo, evaluate' + (EXTRA_NODE_ARGS.length > 0 ? `, evaluate ${EXTRA_NODE_ARGS.join(' ')}` : '') + ', bare decode; max throughput in rounds, then open-loop latency');
  const { result, servers, after } = await sideBySide(factory, work, 'full', autocannon);

  log('[2/3] Token decode detail, in process (servers stopped)');
  const decode = await runDecodeBench(factory, step);
  step(`other processes used ${fixed(decode.otherCores, 2)} cores during the decode loop`);

  log('[3/3] RiskGate POST /v1/risk/evaluate, Redis hot state (max throughput only)');
  const redisProbe = new ProbeLog(join(work, 'riskgate-redis.probe'));
  const memoryMax = maxOf(result.runs, servers.evaluate[0]!.name);
  const redis = await benchEvaluateRedis({
    dir: join(work, 'riskgate-redis'),
    startServer: (dir, env) => startRiskGate(dir, redisProbe.nodeArgs, { ...SERVER_ENV, ...env, ...redisProbe.env }),
    runMax: (server, redisCpu) => redisMax(factory, server, redisProbe, memoryMax.rate, redisCpu),
    step,
  });

  printReport(result, servers, after, decode, redis, startedAt);

  log();
  log('RedisHotState.observe alone, in process (servers stopped):');
  await benchObserveRedis(step);
}

// ---------------------------------------------------------------------------
// --max-only and --latency-only: the side-by-side part alone, for quick comparisons while tuning.

async function partRun(factory: TokenFactory, work: string, mode: 'max' | 'latency', autocannon: boolean): Promise<void> {
  log(
    mode === 'max'
      ? '--max-only: max throughput side by side (echo, evaluate, bare decode) in rounds'
      : `--latency-only: RiskGate alone, ${Math.round(setting('rounds', 'BENCH_ROUNDS', 1))} round(s) of max throughput, then open loop at ${LATENCY_LEVELS.map((l) => pct(l, 0)).join(' and ')} of it`,
  );
  const { result, servers, after } = await sideBySide(factory, work, mode, autocannon);
  printSideBySide(result, servers);
  printChecks(servers, result, after, []);
  quietLine(windowsOf(result));
}

// ---------------------------------------------------------------------------
// --profile

async function profileRun(factory: TokenFactory, work: string): Promise<void> {
  const profDir = mkdtempSync(join(tmpdir(), 'riskgate-cpuprof-'));
  const seconds = 8;
  log(`--profile: riskgate under node --cpu-prof, ${MAX_CONNECTIONS} connections, 2 s warm-up + ${seconds} s; profile in ${profDir}`);
  const server = await startRiskGate(join(work, 'riskgate-prof'), [...EXTRA_NODE_ARGS, '--cpu-prof', `--cpu-prof-dir=${profDir}`], SERVER_ENV);
  try {
    const serverKey = await serverKeyOf(server);
    const warm = new BodySource(await evaluateBodies(factory, serverKey, 8_000, 3));
    const w = await cannon({ url: server.url, path: '/v1/risk/evaluate', connections: MAX_CONNECTIONS, durationS: 2, headers: AUTH, bodies: warm });
    const source = new BodySource(await evaluateBodies(factory, serverKey, Math.ceil(Math.max(w.okPerSecond, 500) * seconds * 1.4) + 2_000, 4));
    step(`warm-up ${int(w.okPerSecond)}/s; made ${int(source.size)} tokens for the profiled run`);
    const run = await measure(server.pid, () => cannon({ url: server.url, path: '/v1/risk/evaluate', connections: MAX_CONNECTIONS, durationS: seconds, headers: AUTH, bodies: source }), server.url);
    step(`${int(run.value.okPerSecond)} evaluations/s under the profiler (${run.value.exhausted ? 'tokens ran out early; ' : ''}${source.missed} asked for past the end), server ${fixed(run.serverCores, 2)} cores, other processes ${fixed(run.otherCores, 2)} cores`);
  } finally {
    await server.stop(15_000);
  }
  const file = readdirSync(profDir).find((f) => f.endsWith('.cpuprofile'));
  if (!file) throw new Error(`no .cpuprofile written in ${profDir}`);
  const summary = summariseProfile(join(profDir, file), 30);
  log();
  log(`Profile ${join(profDir, file)}: ${fixed(summary.totalMs / 1000, 1)} s of non-idle main-thread samples (whole server life, start-up and warm-up included)`);
  log(table(['Area', 'self ms', 'share'], summary.areas.slice(0, 20).map((a) => [a.area, fixed(a.selfMs, 0), pct(a.share)])));
  log();
  log(table(['Function (self time)', 'where', 'self ms', 'share'], summary.functions.map((f) => [f.name, f.where, fixed(f.selfMs, 0), pct(f.share)]), ['l', 'l', 'r', 'r']));
  log();
  log(table(['RiskGate function (inclusive time)', 'where', 'total ms', 'share'], summary.inclusive.map((f) => [f.name, f.where, fixed(f.totalMs, 0), pct(f.share)]), ['l', 'l', 'r', 'r']));
}

// ---------------------------------------------------------------------------

async function main(): Promise<void> {
  installCleanup();
  const startedAt = performance.now();
  const mode: CryptoMode = process.env.BENCH_TOKEN_CRYPTO === 'webcrypto' ? 'webcrypto' : 'node';
  const cpuList = cpus();
  log(`RiskGate bench — Node ${process.version}, os.cpus().length = ${cpuList.length} (${cpuList[0]?.model ?? 'unknown'}), ${process.platform} ${arch()} ${release()}`);
  log(`Load average at start: ${loadavg().map((l) => l.toFixed(2)).join(' / ')} (1 / 5 / 15 min)`);
  const factory = new TokenFactory(mode, EVAL_DEVICE_POOL);
  log(`Tokens: client buildBlackBox on ${mode === 'node' ? 'node:crypto' : 'WebCrypto'} primitives, ${factory.threads} worker threads (BENCH_TOKEN_CRYPTO=webcrypto|node)`);
  const work = mkdtempSync(join(tmpdir(), 'riskgate-bench-'));
  onExit(() => rmSync(work, { recursive: true, force: true }));
  try {
    const autocannon = process.argv.includes('--autocannon');
    if (process.argv.includes('--profile')) await profileRun(factory, work);
    else {
      header();
      if (process.argv.includes('--max-only')) await partRun(factory, work, 'max', autocannon);
      else if (process.argv.includes('--latency-only')) await partRun(factory, work, 'latency', autocannon);
      else await fullRun(factory, work, startedAt, autocannon);
    }
  } finally {
    await factory.close();
    rmSync(work, { recursive: true, force: true });
  }
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    process.stderr.write(`bench failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    process.exit(1);
  },
);
