/**
 * Child processes for the bench (the echo server and RiskGate itself), their
 * clean-up on every way out, and what /proc and /metrics say about them.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';

const children = new Set<ChildProcess>();

function killAll(signal: NodeJS.Signals = 'SIGKILL'): void {
  for (const child of children) {
    if (child.exitCode === null && child.signalCode === null) child.kill(signal);
  }
}

const exitTasks: (() => void)[] = [];
/** Runs `task` (synchronously) when the process exits, however it exits. */
export function onExit(task: () => void): void {
  exitTasks.push(task);
}

let installed = false;
/** Kills children when the bench exits, is interrupted or crashes. */
export function installCleanup(): void {
  if (installed) return;
  installed = true;
  process.on('exit', () => {
    killAll();
    for (const task of exitTasks) {
      try {
        task();
      } catch {
        // best effort
      }
    }
  });
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.once(signal, () => {
      killAll();
      process.stderr.write(`bench: ${signal}, child processes killed\n`);
      process.exit(130);
    });
  }
  process.on('uncaughtException', (error) => {
    killAll();
    process.stderr.write(`bench: ${error.stack ?? String(error)}\n`);
    process.exit(1);
  });
  process.on('unhandledRejection', (error) => {
    killAll();
    process.stderr.write(`bench: unhandled rejection: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    process.exit(1);
  });
}

export interface Child {
  process: ChildProcess;
  pid: number;
  /** Base URL, e.g. http://127.0.0.1:40123. */
  url: string;
  /** Last lines of stderr, for error messages. */
  stderr(): string;
  /** SIGTERM, then SIGKILL after `graceMs`; resolves on exit. */
  stop(graceMs?: number): Promise<void>;
}

/**
 * Starts `node <args>` and waits until stdout matches `ready` (its first group
 * is the base URL).
 */
export function startChild(name: string, args: string[], env: NodeJS.ProcessEnv, ready: RegExp, timeoutMs = 20_000): Promise<Child> {
  const child = spawn(process.execPath, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
  children.add(child);
  let stdout = '';
  let stderr = '';
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => {
    stderr = (stderr + chunk).slice(-8000);
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  void exited.then(() => children.delete(child));

  return new Promise<Child>((resolve, reject) => {
    let started = false;
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${name} did not start within ${timeoutMs} ms.\nstdout: ${stdout}\nstderr: ${stderr}`));
    }, timeoutMs);
    child.once('exit', (code, signal) => {
      if (started) return;
      clearTimeout(timer);
      reject(new Error(`${name} exited before it was ready (code ${code}, signal ${signal}).\nstdout: ${stdout}\nstderr: ${stderr}`));
    });
    child.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
      if (stdout.length < 8000) stdout += chunk;
      if (started) return;
      const match = ready.exec(stdout);
      if (!match) return;
      started = true;
      clearTimeout(timer);
      resolve({
        process: child,
        pid: child.pid!,
        url: match[1]!,
        stderr: () => stderr,
        async stop(graceMs = 5000) {
          if (child.exitCode !== null || child.signalCode !== null) return;
          child.kill('SIGTERM');
          const killer = setTimeout(() => child.kill('SIGKILL'), graceMs);
          await exited;
          clearTimeout(killer);
        },
      });
    });
  });
}

const CLOCK_TICKS = 100; // USER_HZ on Linux

/** CPU seconds (user + system) a process has used so far, all threads. */
export function processCpuSeconds(pid: number): number {
  return cpuSecondsOf(`/proc/${pid}/stat`);
}

/** CPU seconds of a process's main thread alone (its thread id is the process id). */
export function mainThreadCpuSeconds(pid: number): number {
  return cpuSecondsOf(`/proc/${pid}/task/${pid}/stat`);
}

/** CPU seconds of each of a process's threads, by thread id (threads that exit in between are gone). */
export function threadCpuSeconds(pid: number): Map<number, number> {
  const out = new Map<number, number>();
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    try {
      out.set(Number(tid), cpuSecondsOf(`/proc/${pid}/task/${tid}/stat`));
    } catch {
      // The thread ended while we read.
    }
  }
  return out;
}

function cpuSecondsOf(statFile: string): number {
  const stat = readFileSync(statFile, 'utf8');
  // Fields after the ")" that closes the command name; utime and stime are fields 14 and 15.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS;
}

/** VmRSS and VmHWM of a process in bytes. */
export function processMemory(pid: number): { rss: number; peak: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (name: string) => Number(new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN) * 1024;
  return { rss: kb('VmRSS'), peak: kb('VmHWM') };
}

/** Prometheus text → sample name with labels → value. */
export type Metrics = Map<string, number>;

export async function scrapeMetrics(baseUrl: string): Promise<Metrics> {
  const response = await fetch(`${baseUrl}/metrics`);
  if (!response.ok) throw new Error(`GET /metrics answered ${response.status}`);
  const metrics: Metrics = new Map();
  for (const line of (await response.text()).split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const space = line.lastIndexOf(' ');
    metrics.set(line.slice(0, space), Number(line.slice(space + 1)));
  }
  return metrics;
}

/** Sum of the samples of `name` whose labels contain every `label="value"` given, as sample → value. */
export function samples(metrics: Metrics, name: string, labels: Record<string, string> = {}): Map<string, number> {
  const out = new Map<string, number>();
  const wanted = Object.entries(labels).map(([k, v]) => `${k}="${v}"`);
  for (const [key, value] of metrics) {
    if (key !== name && !key.startsWith(`${name}{`)) continue;
    if (wanted.every((w) => key.includes(w))) out.set(key, value);
  }
  return out;
}

export function sum(metrics: Metrics, name: string, labels: Record<string, string> = {}): number {
  let total = 0;
  for (const value of samples(metrics, name, labels).values()) total += value;
  return total;
}

/** The value of one label in a sample key, e.g. label('x{reason="A"}', 'reason') → 'A'. */
export function label(sample: string, name: string): string {
  return new RegExp(`${name}="([^"]*)"`).exec(sample)?.[1] ?? '';
}

/** after − before for every sample of `name`, by the value of `by`. */
export function deltaBy(before: Metrics, after: Metrics, name: string, by: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const [key, value] of samples(after, name)) {
    const delta = value - (before.get(key) ?? 0);
    if (delta === 0) continue;
    const k = label(key, by);
    out.set(k, (out.get(k) ?? 0) + delta);
  }
  return out;
}

/** CPU seconds all processes on the machine have used (busy time from /proc/stat). */
export function systemBusySeconds(): number {
  const line = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0]!;
  const [user = 0, nice = 0, system = 0, , , irq = 0, softirq = 0, steal = 0] = line.trim().split(/\s+/).slice(1).map(Number);
  return (user + nice + system + irq + softirq + steal) / CLOCK_TICKS;
}
