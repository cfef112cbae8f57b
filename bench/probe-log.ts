/**
 * The bench's side of server-probe.ts: the Node flag and environment that load
 * it into a server child, and what its log says — which thread is which, and
 * the main thread's GC pauses over a window.
 */
import { existsSync, readFileSync } from 'node:fs';
import type { CpuWindow } from './cpu-window.js';

/** Thread groups the server's CPU is split into. */
export const THREAD_GROUPS = ['main', 'decode', 'writer', 'other'] as const;
export type ThreadGroup = (typeof THREAD_GROUPS)[number];

export const THREAD_GROUP_NAMES: Record<ThreadGroup, string> = {
  main: 'main thread',
  decode: 'decode worker(s)',
  writer: 'SQLite writer',
  other: 'V8 helpers, libuv, other',
};

export interface GcPauses {
  count: number;
  /** Sorted pause lengths, ms. */
  pauses: Float64Array;
  totalMs: number;
}

export class ProbeLog {
  constructor(readonly file: string) {}

  /** Node flags that load the probe. */
  get nodeArgs(): string[] {
    return [`--import=${new URL('./server-probe.js', import.meta.url).href}`];
  }

  get env(): Record<string, string> {
    return { BENCH_PROBE_LOG: this.file };
  }

  private lines(): string[] {
    return existsSync(this.file) ? readFileSync(this.file, 'utf8').split('\n') : [];
  }

  /** Thread id → group, from the worker scripts' names (a worker whose script is neither is "other"). */
  threadGroups(): Map<number, ThreadGroup> {
    const scripts = new Map<number, string>();
    const tids = new Map<number, number>();
    const groups = new Map<number, ThreadGroup>();
    for (const line of this.lines()) {
      const [what, a, b] = line.split(' ');
      if (what === 'main') groups.set(Number(a), 'main');
      else if (what === 'worker') scripts.set(Number(a), b ?? '');
      else if (what === 'thread') tids.set(Number(a), Number(b));
    }
    for (const [threadId, tid] of tids) {
      const script = scripts.get(threadId) ?? '';
      groups.set(tid, /decode/i.test(script) ? 'decode' : /writer|sqlite/i.test(script) ? 'writer' : 'other');
    }
    return groups;
  }

  /** Main-thread GC pauses of `kind` that started between two epoch times (ms). */
  gcPauses(fromEpochMs: number, toEpochMs: number, kind = 'minor'): GcPauses {
    const pauses: number[] = [];
    for (const line of this.lines()) {
      if (!line.startsWith('gc ')) continue;
      const [, at, ms, k] = line.split(' ');
      const t = Number(at);
      if (k === kind && t >= fromEpochMs && t < toEpochMs) pauses.push(Number(ms));
    }
    return { count: pauses.length, pauses: Float64Array.from(pauses).sort(), totalMs: pauses.reduce((s, p) => s + p, 0) };
  }
}

/** CPU seconds of one server process over a window, by thread group; `exited` is what threads that ended inside it used. */
export function cpuByGroup(window: CpuWindow, pid: number, groups: Map<number, ThreadGroup>): Record<ThreadGroup, number> & { exited: number; total: number } {
  const out = { main: 0, decode: 0, writer: 0, other: 0, exited: 0, total: window.processes.get(pid) ?? NaN };
  let counted = 0;
  for (const [tid, s] of window.threads.get(pid) ?? []) {
    out[tid === pid ? 'main' : (groups.get(tid) ?? 'other')] += s;
    counted += s;
  }
  out.exited = Math.max(0, out.total - counted);
  return out;
}

/** Epoch milliseconds of a performance.now() reading in this process (comparable with the probe's GC times). */
export const epochMs = (now: number): number => performance.timeOrigin + now;
