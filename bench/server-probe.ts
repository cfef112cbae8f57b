/**
 * Loaded into the bench's server children with `node --import` (never into a
 * production server). When BENCH_PROBE_LOG names a file, it appends to it:
 *
 *   main <tid>                        the main thread's thread id
 *   worker <threadId> <script>        each worker thread the main thread starts
 *   thread <threadId> <tid>           from inside each worker thread, its thread id
 *   gc <epoch ms> <pause ms> <kind>   each garbage collection on the main thread
 *
 * so the bench can split the server's CPU by thread (decode workers, SQLite
 * writer) and give GC pause percentiles over exactly a timed window. GC lines
 * are written in batches every 100 ms; the rest at once.
 */
import { appendFileSync, readlinkSync } from 'node:fs';
import { syncBuiltinESMExports } from 'node:module';
import { basename } from 'node:path';
import { constants, performance, PerformanceObserver } from 'node:perf_hooks';
import workerThreads, { type WorkerOptions } from 'node:worker_threads';

const file = process.env.BENCH_PROBE_LOG;

const GC_KINDS = new Map<number, string>([
  [constants.NODE_PERFORMANCE_GC_MINOR, 'minor'],
  [constants.NODE_PERFORMANCE_GC_MAJOR, 'major'],
  [constants.NODE_PERFORMANCE_GC_INCREMENTAL, 'incremental'],
  [constants.NODE_PERFORMANCE_GC_WEAKCB, 'weakcb'],
]);

function ownTid(): number {
  // "/proc/thread-self" links to "<pid>/task/<tid>".
  return Number(readlinkSync('/proc/thread-self').split('/').pop());
}

if (file) {
  if (workerThreads.isMainThread) {
    appendFileSync(file, `main ${ownTid()}\n`);

    // Name each worker thread by its script: a subclass that only logs, so the server's `new Worker(...)` is unchanged.
    const Original = workerThreads.Worker;
    class Worker extends Original {
      constructor(filename: string | URL, options?: WorkerOptions) {
        super(filename, options);
        appendFileSync(file!, `worker ${this.threadId} ${basename(String(filename))}\n`);
      }
    }
    (workerThreads as { Worker: typeof Original }).Worker = Worker;
    syncBuiltinESMExports();

    const pending: string[] = [];
    const origin = performance.timeOrigin;
    new PerformanceObserver((list) => {
      for (const entry of list.getEntries()) {
        const kind = (entry as { detail?: { kind?: number } }).detail?.kind ?? 0;
        pending.push(`gc ${(origin + entry.startTime).toFixed(3)} ${entry.duration.toFixed(4)} ${GC_KINDS.get(kind) ?? kind}`);
      }
    }).observe({ entryTypes: ['gc'] });
    const flush = () => {
      if (pending.length === 0) return;
      appendFileSync(file, `${pending.join('\n')}\n`);
      pending.length = 0;
    };
    setInterval(flush, 100).unref();
    process.on('exit', flush);
  } else {
    appendFileSync(file, `thread ${workerThreads.threadId} ${ownTid()}\n`);
  }
}
