/**
 * Who used the CPU during a timed run: the machine as a whole (/proc/stat),
 * the bench's own processes — this process (the load generator, the decode
 * loop, the idle token workers) and all its descendants (servers, browsers),
 * all threads, from /proc/<pid>/stat — and, by difference, everything else.
 * A run during which other processes used more than VOID_OTHER_CORES is void:
 * its figures are printed, marked VOID, and never summarised.
 *
 * The bench's own CPU is summed over the process tree at each end, each
 * process counting its own time plus that of the children it has reaped
 * (cutime, cstime): a descendant that ends inside the window moves its time
 * into its parent's, so the difference of the two sums stays exact.
 *
 * Interrupt time (the irq and softirq columns: mostly the loopback traffic of
 * the run itself) is reported apart. Where it lands depends on the kernel:
 * with tick-based accounting a tick that finds a softirq running charges it
 * to the interrupted process too (so the bench's processes include their own
 * packets' softirq time, and it must be added back to the machine's total
 * before subtracting); with CONFIG_IRQ_TIME_ACCOUNTING it is charged to no
 * process (and counting it as "other" would void busy runs for the bench's
 * own packets). The two are told apart by the hardirq column: precise irq
 * accounting always has some hardirq time, tick-based accounting almost
 * never does (a tick only counts hardirq time when it interrupts another
 * interrupt).
 */
import { readdirSync, readFileSync } from 'node:fs';

/** Other processes' average use above which a run is void. */
export const VOID_OTHER_CORES = 0.1;

const CLOCK_TICKS = 100; // USER_HZ on Linux

interface ProcStat {
  ppid: number;
  /** utime + stime, seconds. */
  own: number;
  /** cutime + cstime: reaped children, seconds. */
  reaped: number;
}

function readStat(file: string): ProcStat | undefined {
  try {
    const stat = readFileSync(file, 'utf8');
    // Fields after the ")" that closes the command name: state is field 3, ppid 4, utime 14, stime 15, cutime 16, cstime 17.
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return { ppid: Number(f[1]), own: (Number(f[11]) + Number(f[12])) / CLOCK_TICKS, reaped: (Number(f[13]) + Number(f[14])) / CLOCK_TICKS };
  } catch {
    return undefined; // gone
  }
}

/** This process and every live descendant, by pid. */
function processTree(): Map<number, ProcStat> {
  const all = new Map<number, ProcStat>();
  for (const name of readdirSync('/proc')) {
    if (name.charCodeAt(0) < 48 || name.charCodeAt(0) > 57) continue;
    const stat = readStat(`/proc/${name}/stat`);
    if (stat) all.set(Number(name), stat);
  }
  const children = new Map<number, number[]>();
  for (const [pid, { ppid }] of all) children.set(ppid, [...(children.get(ppid) ?? []), pid]);
  const tree = new Map<number, ProcStat>();
  const queue = [process.pid];
  while (queue.length > 0) {
    const pid = queue.pop()!;
    const stat = all.get(pid);
    if (!stat || tree.has(pid)) continue;
    tree.set(pid, stat);
    queue.push(...(children.get(pid) ?? []));
  }
  return tree;
}

function machineTicks(): { busy: number; hardirq: number; softirq: number } {
  const line = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0]!;
  const [user = 0, nice = 0, system = 0, , , hardirq = 0, softirq = 0, steal = 0] = line.trim().split(/\s+/).slice(1).map(Number);
  return { busy: user + nice + system + steal, hardirq, softirq };
}

/** Whether the kernel charges interrupt time to the interrupted process as well (tick-based accounting), judged once from the hardirq column. */
export const IRQ_IN_PROCESS_TIME = machineTicks().hardirq === 0;

/** How "other" is computed, for the report. */
export const OTHER_RULE = IRQ_IN_PROCESS_TIME
  ? 'other = machine busy (user+nice+system+steal+irq+softirq, /proc/stat) − the bench\'s processes (/proc/<pid>/stat; tick-based accounting: they include their own interrupt time)'
  : 'other = machine busy (user+nice+system+steal, /proc/stat) − the bench\'s processes (/proc/<pid>/stat); interrupt time is charged to no process (precise irq accounting) and left out';

/** Busy CPU seconds of the whole machine: process time (user, nice, system, and steal: time the hypervisor gave away), and interrupt time. */
export function machineSeconds(): { busy: number; irq: number } {
  const t = machineTicks();
  return { busy: t.busy / CLOCK_TICKS, irq: (t.hardirq + t.softirq) / CLOCK_TICKS };
}

export interface CpuMark {
  /** performance.now() */
  at: number;
  machine: { busy: number; irq: number };
  /** The bench's process tree: own and reaped-children CPU seconds so far, by pid. */
  processes: Map<number, { own: number; reaped: number }>;
  /** CPU seconds so far of each thread of the processes asked for. */
  threads: Map<number, Map<number, number>>;
  /** CPU seconds of helpers outside the tree (redis-server, read over INFO), if any. */
  side: number;
}

/** Reads everything now. `threadsOf`: processes to split by thread (the server under test). */
export function cpuMark(threadsOf: readonly number[] = [], side = 0): CpuMark {
  const machine = machineSeconds();
  const processes = new Map<number, { own: number; reaped: number }>();
  for (const [pid, { own, reaped }] of processTree()) processes.set(pid, { own, reaped });
  const threads = new Map<number, Map<number, number>>();
  for (const pid of threadsOf) {
    const byThread = new Map<number, number>();
    let tids: string[] = [];
    try {
      tids = readdirSync(`/proc/${pid}/task`);
    } catch {
      // gone
    }
    for (const tid of tids) {
      const stat = readStat(`/proc/${pid}/task/${tid}/stat`);
      if (stat) byThread.set(Number(tid), stat.own);
    }
    threads.set(pid, byThread);
  }
  return { at: performance.now(), machine, processes, threads, side };
}

export interface CpuWindow {
  wallS: number;
  /** Own CPU seconds (utime + stime, all threads) over the window of each of the bench's processes alive at both ends. */
  processes: Map<number, number>;
  /** The bench's own processes, cores on average. */
  oursCores: number;
  /** Everything else on the machine, cores on average. */
  otherCores: number;
  /** Interrupt time, cores on average (see OTHER_RULE for where it counts). */
  irqCores: number;
  /** otherCores > VOID_OTHER_CORES. */
  void: boolean;
  /** CPU seconds per thread over the window, for the processes split by thread (a thread born inside it counts from 0). */
  threads: Map<number, Map<number, number>>;
}

export function cpuWindow(a: CpuMark, b: CpuMark): CpuWindow {
  const wallS = (b.at - a.at) / 1000;
  const total = (m: CpuMark) => [...m.processes.values()].reduce((s, p) => s + p.own + p.reaped, 0) + m.side;
  const ours = total(b) - total(a);
  const processes = new Map<number, number>();
  for (const [pid, end] of b.processes) {
    const start = a.processes.get(pid);
    if (start) processes.set(pid, end.own - start.own);
  }
  const threads = new Map<number, Map<number, number>>();
  for (const [pid, end] of b.threads) {
    const start = a.threads.get(pid) ?? new Map<number, number>();
    threads.set(pid, new Map([...end].map(([tid, s]) => [tid, s - (start.get(tid) ?? 0)])));
  }
  const irq = b.machine.irq - a.machine.irq;
  const otherCores = Math.max(0, b.machine.busy - a.machine.busy + (IRQ_IN_PROCESS_TIME ? irq : 0) - ours) / wallS;
  return {
    wallS,
    processes,
    oursCores: ours / wallS,
    otherCores,
    irqCores: irq / wallS,
    void: !(otherCores <= VOID_OTHER_CORES),
    threads,
  };
}

/** Marks now; the returned function measures from here (for parts that are not single runs: a whole section of a script). */
export function quietSince(): () => CpuWindow {
  const a = cpuMark();
  return () => cpuWindow(a, cpuMark());
}

/** "other processes 0.04 cores: quiet" or "… 0.62 cores: VOID (figures above not to be quoted)". */
export function quietLabel(window: CpuWindow): string {
  return `other processes ${window.otherCores.toFixed(2)} cores (VOID above ${VOID_OTHER_CORES}): ${window.void ? 'VOID — do not quote these figures' : 'quiet'}`;
}
