/**
 * Variants measured side by side in one bench run, so that drift (thermal,
 * other people's work, the page cache) hits them all alike:
 *
 *   - max throughput: rounds in which every variant runs once (echo, evaluate,
 *     evaluate with BENCH_SERVER_NODE_ARGS, the bare decode loop), the order
 *     rotating each round (A B C D, B C D A, …); each variant is then
 *     reported as the median and range of its quiet rounds, and R1 / R2 are
 *     taken per round from runs of that round;
 *   - open-loop latency at fractions (50 %, 80 %) of each variant's own
 *     median max from those rounds, variants alternating, with the server's
 *     minor-GC pauses over the same window.
 *
 * Every timed run samples CPU at its start and end (cpu-window.ts): the
 * server's threads, the load generator's process, and other processes; a run
 * where other processes used more than VOID_OTHER_CORES is VOID, shown with
 * its figures, and left out of every summary (which then says VOID).
 *
 * Nothing here imports the server: the servers are started by the caller and
 * handed in as variants.
 */
import { cannon, quantile } from './load.js';
import type { Child, Metrics } from './children.js';
import { scrapeMetrics } from './children.js';
import { cpuMark, cpuWindow, VOID_OTHER_CORES, type CpuMark, type CpuWindow } from './cpu-window.js';
import { closedLoop, openLoop, RequestSource, serialiseRequest, type LoadResult, type OpenLoopResult } from './net-load.js';
import { cpuByGroup, epochMs, THREAD_GROUPS, type GcPauses, type ProbeLog, type ThreadGroup } from './probe-log.js';
import { fixed, int, pct, table } from './report.js';
import { BodySource } from './workload.js';

export interface ServerVariant {
  name: string;
  kind: 'echo' | 'evaluate';
  server: Child;
  probe: ProbeLog;
  path: string;
  headers: Record<string, string>;
  /** Bodies for about `count` requests: fresh tokens (evaluate), or one body sent over and over (echo: `repeat`). */
  bodies(count: number): Promise<{ bodies: string[]; repeat: boolean }>;
  /** Scraped before and after each run (evaluate: the replay check and the handler's own timing). */
  metrics: boolean;
  /** Sees one answer in 50. */
  onSample?: (status: number, body: string) => void;
}

export interface DecodeVariant {
  name: string;
  /** Tokens in the evaluate mix for `count` decodes, made before the timed slice. */
  tokens(count: number): Promise<string[]>;
  /** Opens every token on this thread; throws if one does not open. */
  run(tokens: readonly string[]): void;
}

export interface SideBySideOptions {
  rounds: number;
  /** Length of each max-throughput run. */
  seconds: number;
  warmupS: number;
  /** Closed-loop connections for max throughput. */
  connections: number;
  /** Fractions of each variant's max for the open-loop runs; empty for none. */
  latencyLevels: number[];
  latencySeconds: number;
  /** One autocannon run per server variant after the rounds, as a cross-check of the load generator. */
  autocannon: boolean;
  step: (line: string) => void;
}

export interface ServerCpu {
  /** µs of server CPU per answered request, all threads. */
  totalUs: number;
  byGroup: Record<ThreadGroup, number>;
  exitedUs: number;
}

export interface MaxRun {
  round: number;
  variant: string;
  kind: 'echo' | 'evaluate' | 'decode';
  /** Requests (or tokens) per second. */
  rate: number;
  /** Requests answered 2xx, or tokens opened. */
  count: number;
  window: CpuWindow;
  server?: ServerCpu;
  /** Bare decode: CPU µs per token (this process, all threads). */
  decodeUs?: number;
  /** Load generator (this process): µs per request and cores. */
  loadgenUs: number;
  loadgenCores: number;
  load?: LoadResult;
  before?: Metrics;
  after?: Metrics;
  /** Requests asked for past the pre-made ones (none are ever reused). */
  exhausted: boolean;
}

export interface LatencyRun {
  variant: string;
  level: number;
  /** The variant's max the level is a fraction of, and whether that max came from quiet runs. */
  basedOn: { rate: number; quiet: boolean };
  load: OpenLoopResult;
  window: CpuWindow;
  server: ServerCpu;
  loadgenUs: number;
  loadgenCores: number;
  gc: GcPauses;
  majorGc: GcPauses;
  before?: Metrics;
  after?: Metrics;
}

export interface CrossCheck {
  variant: string;
  rate: number;
  window: CpuWindow;
  serverUs: number;
  loadgenUs: number;
  loadgenCores: number;
  p50: number;
  p99: number;
}

export interface SideBySideResult {
  options: SideBySideOptions;
  variants: string[];
  runs: MaxRun[];
  latency: LatencyRun[];
  crossChecks: CrossCheck[];
  warmup: Map<string, number>;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
/** Pause before each timed run: the previous run's tail (decision-log writes, GC) settles, and the probe's GC batch is written. */
const SETTLE_MS = 700;
/** Decode slices are this fraction of a server run: one thread, no connections, so shorter suffices. */
const DECODE_SHARE = 0.4;

async function serialised(variant: ServerVariant, count: number): Promise<RequestSource> {
  const { bodies, repeat } = await variant.bodies(count);
  return new RequestSource(
    bodies.map((b) => serialiseRequest(variant.server.url, variant.path, variant.headers, b)),
    repeat,
  );
}

/** Server CPU per request by thread group, from a window over `count` requests. */
function serverCpu(window: CpuWindow, variant: ServerVariant, count: number): ServerCpu {
  return serverCpuOf(window, variant.server.pid, variant.probe, count);
}

/** CPU per request of the server `pid` over a window of `count` requests, split by thread group. */
export function serverCpuOf(window: CpuWindow, pid: number, probe: ProbeLog, count: number): ServerCpu {
  const cpu = cpuByGroup(window, pid, probe.threadGroups());
  const us = (s: number) => (s / Math.max(1, count)) * 1e6;
  const byGroup = Object.fromEntries(THREAD_GROUPS.map((g) => [g, us(cpu[g])])) as Record<ThreadGroup, number>;
  return { totalUs: us(cpu.total), byGroup, exitedUs: us(cpu.exited) };
}

export function loadgen(window: CpuWindow, count: number): { loadgenUs: number; loadgenCores: number } {
  const s = window.processes.get(process.pid) ?? NaN;
  return { loadgenUs: (s / Math.max(1, count)) * 1e6, loadgenCores: s / window.wallS };
}

/** A LoadWindow that takes CPU marks for `pids` split by thread. */
export function marks(pids: number[]): { window: { start(): void; end(): void }; result(side?: [number, number]): CpuWindow; epochSpan(): [number, number] } {
  let a: CpuMark | undefined;
  let b: CpuMark | undefined;
  return {
    window: { start: () => void (a = cpuMark(pids)), end: () => void (b = cpuMark(pids)) },
    // side: CPU seconds of a helper outside /proc's view of ours (redis-server), read just before and after.
    result: (side) => (side ? cpuWindow({ ...a!, side: side[0] }, { ...b!, side: side[1] }) : cpuWindow(a!, b!)),
    epochSpan: () => [epochMs(a!.at), epochMs(b!.at)],
  };
}

function rotate<T>(items: readonly T[], by: number): T[] {
  const k = by % items.length;
  return [...items.slice(k), ...items.slice(0, k)];
}

export async function runSideBySide(servers: ServerVariant[], decode: DecodeVariant | undefined, options: SideBySideOptions): Promise<SideBySideResult> {
  const { step } = options;
  const estimate = new Map<string, number>();
  const warmup = new Map<string, number>();

  // Warm-up: every server at max for warmupS, the decode loop for a few thousand tokens. Their rates size the first round.
  for (const v of servers) {
    const source = await serialised(v, v.kind === 'evaluate' ? Math.max(2_000, Math.ceil(1_500 * options.warmupS)) : 1);
    const run = await closedLoop({ url: v.server.url, connections: options.connections, durationS: options.warmupS, source });
    if (run.ok === 0) throw new Error(`${v.name}: no 2xx answer in the warm-up (${run.non2xx} non-2xx, ${run.errors} errors); server stderr:\n${v.server.stderr()}`);
    warmup.set(v.name, run.okPerSecond);
    // The warm-up starts cold (and may run out of tokens): the first round gets room to go faster.
    estimate.set(v.name, run.okPerSecond * 1.5);
    step(`warm-up ${v.name}: ${int(run.okPerSecond)}/s over ${fixed(run.wallS)} s${run.exhausted ? ' (tokens ran out)' : ''}, non-2xx ${run.non2xx}, errors ${run.errors}`);
  }
  if (decode) {
    const tokens = await decode.tokens(3_000);
    const t0 = performance.now();
    decode.run(tokens);
    const rate = tokens.length / ((performance.now() - t0) / 1000);
    warmup.set(decode.name, rate);
    estimate.set(decode.name, rate * 1.3);
    step(`warm-up ${decode.name}: ${int(rate)} tokens/s`);
  }

  type Item = { server: ServerVariant } | { decode: DecodeVariant };
  const items: Item[] = [...servers.map((server) => ({ server })), ...(decode ? [{ decode }] : [])];
  const runs: MaxRun[] = [];

  for (let round = 1; round <= options.rounds; round++) {
    // Everything this round sends is made first (token making uses every core; it is never timed).
    const sources = new Map<string, RequestSource>();
    let decodeTokens: string[] = [];
    for (const v of servers) {
      const count = v.kind === 'evaluate' ? Math.ceil(estimate.get(v.name)! * options.seconds * 1.25) + 500 : 1;
      sources.set(v.name, await serialised(v, count));
    }
    if (decode) decodeTokens = await decode.tokens(Math.max(500, Math.ceil(estimate.get(decode.name)! * options.seconds * DECODE_SHARE)));
    await sleep(1_000);

    for (const item of rotate(items, round - 1)) {
      await sleep(SETTLE_MS);
      if ('decode' in item) {
        const m = marks([]);
        m.window.start();
        const t0 = performance.now();
        item.decode.run(decodeTokens);
        const wallS = (performance.now() - t0) / 1000;
        m.window.end();
        const window = m.result();
        const cpuS = window.processes.get(process.pid) ?? NaN;
        const count = decodeTokens.length;
        const run: MaxRun = { round, variant: item.decode.name, kind: 'decode', rate: count / wallS, count, window, decodeUs: (cpuS / count) * 1e6, loadgenUs: NaN, loadgenCores: NaN, exhausted: false };
        runs.push(run);
        estimate.set(item.decode.name, Math.max(estimate.get(item.decode.name)!, run.rate));
        step(`round ${round} ${run.variant}: ${int(run.rate)} tokens/s, ${fixed(run.decodeUs!, 0)} µs CPU per token, other processes ${fixed(window.otherCores, 2)} cores${window.void ? ' — VOID' : ''}`);
        continue;
      }
      const v = item.server;
      const before = v.metrics ? await scrapeMetrics(v.server.url) : undefined;
      const m = marks([v.server.pid]);
      const source = sources.get(v.name)!;
      const load = await closedLoop({
        url: v.server.url,
        connections: options.connections,
        durationS: options.seconds,
        source,
        window: m.window,
        ...(v.onSample ? { onSample: v.onSample, sampleEvery: 50 } : {}),
      });
      const after = v.metrics ? await scrapeMetrics(v.server.url) : undefined;
      if (load.ok === 0) throw new Error(`${v.name}: no 2xx answer (${load.non2xx} non-2xx, ${load.errors} errors); server stderr:\n${v.server.stderr()}`);
      const window = m.result();
      const run: MaxRun = {
        round,
        variant: v.name,
        kind: v.kind,
        rate: load.okPerSecond,
        count: load.ok,
        window,
        server: serverCpu(window, v, load.ok),
        ...loadgen(window, load.ok),
        load,
        ...(before ? { before } : {}),
        ...(after ? { after } : {}),
        exhausted: load.exhausted,
      };
      runs.push(run);
      estimate.set(v.name, Math.max(estimate.get(v.name)!, run.rate));
      step(
        `round ${round} ${v.name}: ${int(run.rate)}/s, server ${fixed(run.server!.totalUs, 0)} µs/request, load generator ${fixed(run.loadgenUs, 1)} µs/request, ` +
          `other processes ${fixed(window.otherCores, 2)} cores${window.void ? ' — VOID' : ''}${load.exhausted ? ` (requests ran out after ${fixed(load.wallS)} s)` : ''}${load.non2xx + load.errors > 0 ? `, non-2xx ${load.non2xx}, errors ${load.errors}` : ''}`,
      );
    }
  }

  const latency: LatencyRun[] = [];
  const evaluators = servers.filter((v) => v.kind === 'evaluate');
  for (const [li, level] of options.latencyLevels.entries()) {
    const order = li % 2 === 0 ? evaluators : [...evaluators].reverse();
    const planned = order.map((v) => {
      const basedOn = maxOf(runs, v.name);
      return { v, basedOn, rate: Math.max(1, Math.round(level * basedOn.rate)) };
    });
    const sources = new Map<string, RequestSource>();
    for (const p of planned) sources.set(p.v.name, await serialised(p.v, Math.round(p.rate * options.latencySeconds)));
    await sleep(1_000);
    for (const { v, basedOn, rate } of planned) {
      await sleep(SETTLE_MS);
      const before = v.metrics ? await scrapeMetrics(v.server.url) : undefined;
      const m = marks([v.server.pid]);
      const load = await openLoop({
        url: v.server.url,
        rate,
        durationS: options.latencySeconds,
        source: sources.get(v.name)!,
        window: m.window,
        ...(v.onSample ? { onSample: v.onSample, sampleEvery: 50 } : {}),
      });
      const after = v.metrics ? await scrapeMetrics(v.server.url) : undefined;
      const window = m.result();
      await sleep(250); // the probe writes GC pauses every 100 ms
      const [from, to] = m.epochSpan();
      const run: LatencyRun = {
        variant: v.name,
        level,
        basedOn,
        load,
        window,
        server: serverCpu(window, v, load.ok),
        ...loadgen(window, load.ok),
        gc: v.probe.gcPauses(from, to, 'minor'),
        majorGc: v.probe.gcPauses(from, to, 'major'),
        ...(before ? { before } : {}),
        ...(after ? { after } : {}),
      };
      latency.push(run);
      step(
        `open loop ${v.name} at ${pct(level, 0)} of max (${int(rate)}/s): p50 ${ms(quantile(load.latencies, 0.5))}, p99 ${ms(quantile(load.latencies, 0.99))}, ` +
          `minor GC ${run.gc.count} × p99 ${ms(quantile(run.gc.pauses, 0.99))}, other processes ${fixed(window.otherCores, 2)} cores${window.void ? ' — VOID' : ''}${load.unfinished > 0 ? `, ${load.unfinished} unanswered` : ''}`,
      );
    }
  }

  const crossChecks: CrossCheck[] = [];
  if (options.autocannon) {
    for (const v of servers) {
      const { bodies, repeat } = await v.bodies(v.kind === 'evaluate' ? Math.ceil(estimate.get(v.name)! * options.seconds * 1.25) + 500 : 1);
      await sleep(SETTLE_MS);
      let a: CpuMark | undefined;
      const run = await cannon({
        url: v.server.url,
        path: v.path,
        connections: options.connections,
        durationS: options.seconds,
        headers: v.headers,
        ...(repeat ? { body: bodies[0]! } : { bodies: new BodySource(bodies) }),
        onStart: () => void (a = cpuMark([v.server.pid])),
      });
      const b = cpuMark([v.server.pid]);
      const window = cpuWindow(a ?? b, b);
      const n = run.result['2xx'] - run.fallbackResponses;
      crossChecks.push({
        variant: v.name,
        rate: run.okPerSecond,
        window,
        serverUs: ((window.processes.get(v.server.pid) ?? NaN) / Math.max(1, n)) * 1e6,
        ...loadgen(window, n),
        p50: run.result.latency.p50,
        p99: run.result.latency.p99,
      });
      step(`autocannon ${v.name}: ${int(run.okPerSecond)}/s, other processes ${fixed(window.otherCores, 2)} cores${window.void ? ' — VOID' : ''}`);
    }
  }

  return { options, variants: items.map((i) => ('decode' in i ? i.decode.name : i.server.name)), runs, latency, crossChecks, warmup };
}

// ---------------------------------------------------------------------------
// Summaries: medians over quiet runs only

export interface Spread {
  median: number;
  min: number;
  max: number;
  n: number;
}

export function spread(values: number[]): Spread | undefined {
  const v = values.filter(Number.isFinite).sort((a, b) => a - b);
  if (v.length === 0) return undefined;
  const mid = v.length >> 1;
  const median = v.length % 2 === 1 ? v[mid]! : (v[mid - 1]! + v[mid]!) / 2;
  return { median, min: v[0]!, max: v[v.length - 1]!, n: v.length };
}

/** "1,234 [1,200–1,260]", or VOID when no quiet run gave a value. */
export function showSpread(s: Spread | undefined, format: (n: number) => string = int): string {
  if (!s) return 'VOID';
  return s.n === 1 ? format(s.median) : `${format(s.median)} [${format(s.min)}–${format(s.max)}]`;
}

/** A variant's max: the median of its quiet runs, else (flagged) of all its runs. */
export function maxOf(runs: MaxRun[], variant: string): { rate: number; quiet: boolean } {
  const mine = runs.filter((r) => r.variant === variant);
  const quiet = spread(mine.filter((r) => !r.window.void).map((r) => r.rate));
  if (quiet) return { rate: quiet.median, quiet: true };
  return { rate: spread(mine.map((r) => r.rate))?.median ?? NaN, quiet: false };
}

const quietRuns = (runs: MaxRun[], variant: string) => runs.filter((r) => r.variant === variant && !r.window.void);

/** Per-round ratio of `num`'s server CPU per request to `den`'s CPU per request (server or decode), both quiet in that round. */
export function ratio(runs: MaxRun[], num: string, den: string): Spread | undefined {
  const values: number[] = [];
  for (const r of quietRuns(runs, num)) {
    const d = runs.find((x) => x.variant === den && x.round === r.round && !x.window.void);
    if (!d) continue;
    values.push(r.server!.totalUs / (d.kind === 'decode' ? d.decodeUs! : d.server!.totalUs));
  }
  return spread(values);
}


const ms = (v: number): string => (Number.isFinite(v) ? `${v.toFixed(2)} ms` : 'n/a');
const us0 = (v: number): string => fixed(v, 0);
const verdict = (w: CpuWindow): string => (w.void ? 'VOID' : 'quiet');

// ---------------------------------------------------------------------------
// Report

export function printMaxRounds(result: SideBySideResult, log: (line?: string) => void, names: { echo?: string; decode?: string; evaluate: string[] }): void {
  const { options, runs } = result;
  log(
    `== Max throughput, side by side: ${options.rounds} round(s) of ${result.variants.join(' / ')} (order rotating), ` +
      `${options.seconds} s each, ${options.connections} keep-alive connections, light node:net load generator ==`,
  );
  log(
    table(
      ['Round', 'Variant', 'req/s', 'server µs/req', 'main', 'decode', 'writer', 'V8/libuv/other', 'loadgen µs/req', 'loadgen cores', 'other procs', 'irq', 'run'],
      runs.map((r) => [
        r.round,
        r.variant,
        `${int(r.rate)}${r.kind === 'decode' ? ' tok' : ''}${r.exhausted ? '*' : ''}`,
        r.kind === 'decode' ? `${us0(r.decodeUs!)} /tok` : us0(r.server!.totalUs),
        r.server ? us0(r.server.byGroup.main) : '—',
        r.server && r.kind === 'evaluate' ? us0(r.server.byGroup.decode) : '—',
        r.server && r.kind === 'evaluate' ? us0(r.server.byGroup.writer) : '—',
        r.server ? us0(r.server.byGroup.other + r.server.exitedUs) : '—',
        r.kind === 'decode' ? '—' : fixed(r.loadgenUs, 1),
        r.kind === 'decode' ? '—' : fixed(r.loadgenCores, 2),
        fixed(r.window.otherCores, 2),
        fixed(r.window.irqCores, 2),
        verdict(r.window),
      ]),
      ['r', 'l', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'l'],
    ),
  );
  log(
    'server µs/req: CPU of every server thread (/proc/<pid>/task/*/stat) per 2xx answer; main, decode, writer and V8/libuv/other split it by thread ' +
      '(worker threads named by their script through the bench probe; "other" includes threads that ended in the window). ' +
      'loadgen: this process (load generator, plus its idle token workers). "tok" rows: the bare decode loop (openBlackBox on one thread, CPU per token).' +
      (runs.some((r) => r.exhausted) ? ' * the pre-made requests ran out before the end (never reused); the rate counts up to then.' : ''),
  );
  log();
  log(`Summary: median [min–max] over quiet runs only (other processes ≤ ${VOID_OTHER_CORES} cores); VOID where no run was quiet.`);
  const rows = result.variants.map((name) => {
    const all = runs.filter((r) => r.variant === name);
    const quiet = quietRuns(runs, name);
    const isDecode = all[0]?.kind === 'decode';
    const group = (g: ThreadGroup) => (isDecode || (all[0]?.kind === 'echo' && (g === 'decode' || g === 'writer')) ? '—' : showSpread(spread(quiet.map((r) => r.server!.byGroup[g] + (g === 'other' ? r.server!.exitedUs : 0))), us0));
    return [
      name,
      `${quiet.length}/${all.length}`,
      showSpread(spread(quiet.map((r) => r.rate))),
      showSpread(spread(quiet.map((r) => (isDecode ? r.decodeUs! : r.server!.totalUs))), us0),
      group('main'),
      group('decode'),
      group('writer'),
      group('other'),
      isDecode ? '—' : showSpread(spread(quiet.map((r) => r.loadgenUs)), (n) => fixed(n, 1)),
    ];
  });
  log(table(['Variant', 'quiet', 'req/s (tokens/s)', 'server µs/req (decode µs/tok)', 'main', 'decode', 'writer', 'V8/libuv/other', 'loadgen µs/req'], rows, ['l', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'r']));
  for (const ev of names.evaluate) {
    if (names.echo) {
      log(
        `R1 ${ev} = server CPU per evaluation ÷ echo server CPU per request (same load generator, paired per round): ${showSpread(ratio(runs, ev, names.echo), (n) => fixed(n, 2))}`,
      );
    }
    if (names.decode) {
      log(`R2 ${ev} = server CPU per evaluation ÷ bare decode CPU per token (paired per round): ${showSpread(ratio(runs, ev, names.decode), (n) => fixed(n, 2))}`);
    }
  }
  if (result.crossChecks.length > 0) {
    log();
    log('Cross-check with autocannon (same connections and duration, one run each after the rounds; whole-ms latencies):');
    log(
      table(
        ['Variant', 'req/s', 'server µs/req', 'autocannon µs/req', 'autocannon cores', 'p50', 'p99', 'other procs', 'run'],
        result.crossChecks.map((c) => [c.variant, int(c.rate), us0(c.serverUs), fixed(c.loadgenUs, 1), fixed(c.loadgenCores, 2), `${c.p50} ms`, `${c.p99} ms`, fixed(c.window.otherCores, 2), verdict(c.window)]),
        ['l', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'l'],
      ),
    );
  }
}

export function printLatency(result: SideBySideResult, log: (line?: string) => void, handlerWithin5ms: (run: LatencyRun) => number): void {
  const { latency, options } = result;
  if (latency.length === 0) return;
  log(
    `== Open-loop latency at ${options.latencyLevels.map((l) => pct(l, 0)).join(' and ')} of each variant's max (from the rounds above), ${options.latencySeconds} s each ==`,
  );
  log(
    table(
      ['Variant', 'level', 'rate/s', 'achieved/s', 'p50', 'p90', 'p99', 'max', 'send lag p99', 'in flight max', 'non-2xx/err/unanswered', 'other procs', 'run'],
      latency.map((r) => [
        r.variant,
        `${pct(r.level, 0)}${r.basedOn.quiet ? '' : ' of a VOID max'}`,
        int(r.load.scheduled / options.latencySeconds),
        int(r.load.achievedRate),
        ms(quantile(r.load.latencies, 0.5)),
        ms(quantile(r.load.latencies, 0.9)),
        ms(quantile(r.load.latencies, 0.99)),
        ms(r.load.latencies[r.load.latencies.length - 1] ?? NaN),
        ms(quantile(r.load.sendLag, 0.99)),
        r.load.maxInFlight,
        `${r.load.non2xx}/${r.load.errors}/${r.load.unfinished}`,
        fixed(r.window.otherCores, 2),
        verdict(r.window),
      ]),
      ['l', 'l', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'l'],
    ),
  );
  log(
    table(
      ['Variant', 'level', 'minor GCs', 'GC p50', 'GC p90', 'GC p99', 'GC max', 'GC share', 'major GCs', 'server µs/eval', 'main', 'loadgen µs/req', 'handler ≤ 5 ms', 'run'],
      latency.map((r) => [
        r.variant,
        pct(r.level, 0),
        r.gc.count,
        ms(quantile(r.gc.pauses, 0.5)),
        ms(quantile(r.gc.pauses, 0.9)),
        ms(quantile(r.gc.pauses, 0.99)),
        ms(r.gc.pauses[r.gc.pauses.length - 1] ?? NaN),
        pct(r.gc.totalMs / 1000 / r.window.wallS, 2),
        `${r.majorGc.count}${r.majorGc.count > 0 ? ` (max ${ms(r.majorGc.pauses[r.majorGc.pauses.length - 1]!)})` : ''}`,
        us0(r.server.totalUs),
        us0(r.server.byGroup.main),
        fixed(r.loadgenUs, 1),
        pct(handlerWithin5ms(r)),
        verdict(r.window),
      ]),
      ['l', 'l', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'l'],
    ),
  );
  log(
    'Latency: from the moment each request was due on the schedule (not when it was written) to its full answer, 2xx only, in µs resolution; ' +
      'send lag is how late the load generator wrote it (inside the latency). GC: the server main thread\'s pauses (PerformanceObserver in the bench probe) that started in the window.',
  );
  for (const r of latency) {
    const p99 = quantile(r.load.latencies, 0.99);
    log(`  ${r.variant} at ${pct(r.level, 0)} of max: p99 ${r.window.void ? 'VOID' : ms(p99)}${!r.basedOn.quiet ? ' (the max it is a fraction of was VOID)' : ''}`);
  }
}

/** Every timed run of the side-by-side part, for the final quiet line. */
export function windowsOf(result: SideBySideResult): { name: string; window: CpuWindow }[] {
  return [
    ...result.runs.map((r) => ({ name: `round ${r.round} ${r.variant}`, window: r.window })),
    ...result.latency.map((r) => ({ name: `open loop ${r.variant} ${pct(r.level, 0)}`, window: r.window })),
    ...result.crossChecks.map((c) => ({ name: `autocannon ${c.variant}`, window: c.window })),
  ];
}
