/**
 * Where tokens are opened: on the main thread, or in worker threads.
 *
 * Opening a token is ~300 µs of CPU (P-256 ECDH and ES256 verify), most of an
 * evaluation's cost. Worker threads move it off the event loop onto the other
 * cores. Requests that arrive in the same tick are sent to a worker in
 * messages of a few tokens (TOKENS_PER_MESSAGE), so message passing costs
 * little per token.
 *
 * A worker that exits (a crash) or answers nothing for `timeoutMs` while it
 * holds tokens (a hang; it is terminated) is replaced at once, and the tokens
 * it held are rejected with a DecodeUnavailableError rather than retried
 * elsewhere: a token that crashes a worker must not take the others with it.
 */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { TokenKeyRing, type StoredTokenKey } from '../../engine/token/key-ring.js';
import { openBlackBox, type OpenResult } from '../../engine/token/decode.js';

export interface TokenOpener {
  open(token: string): Promise<OpenResult>;
  /** New key set (after a rotation). */
  setKeys(keys: readonly StoredTokenKey[]): void;
  close(): Promise<void>;
}

export class InlineOpener implements TokenOpener {
  private ring: TokenKeyRing;
  constructor(keys: readonly StoredTokenKey[]) {
    this.ring = new TokenKeyRing(keys);
  }
  async open(token: string): Promise<OpenResult> {
    return openBlackBox(token, this.ring);
  }
  setKeys(keys: readonly StoredTokenKey[]): void {
    this.ring = new TokenKeyRing(keys);
  }
  async close(): Promise<void> {}
}

/**
 * A decode worker crashed or hung: the tokens it held were not opened. The
 * evaluator answers such a request degraded (`token_unavailable`).
 */
export class DecodeUnavailableError extends Error {
  override name = 'DecodeUnavailableError';
}

/** How many hang timeouts a worker may take to start before it counts as hung. */
const STARTUP_FACTOR = 10;

/** Why a worker was replaced: it exited (a crash, an uncaught error), or answered nothing in time (terminated). */
export type WorkerFailureCause = 'exit' | 'hang';

interface Job {
  token: string;
  resolve: (result: OpenResult) => void;
  reject: (error: Error) => void;
}

class DecodeWorker {
  readonly worker: Worker;
  /** Messages sent and not answered yet, by id. */
  readonly pending = new Map<number, Job[]>();
  /** Tokens waiting for the next flush. */
  queued: Job[] = [];
  /**
   * When the worker last answered, or was given work while idle. A worker with
   * work that shows no progress for the pool's timeout is hung; one that is only
   * busy answers a message every few milliseconds.
   */
  lastProgress = performance.now();
  /** Until the thread says it is listening, starting up is not hanging (it may take long on a busy machine). */
  #ready = false;
  readonly #startedAt = performance.now();
  #failed = false;

  constructor(
    url: URL,
    keys: readonly StoredTokenKey[],
    private readonly onFailure: (worker: DecodeWorker, error: Error, cause: WorkerFailureCause) => void,
  ) {
    this.worker = new Worker(url, { workerData: { keys } });
    this.worker.unref();
    this.worker.on('message', (message: { id: number; results: OpenResult[] } | { ready: true }) => {
      this.lastProgress = performance.now();
      if ('ready' in message) {
        this.#ready = true;
        return;
      }
      const jobs = this.pending.get(message.id);
      this.pending.delete(message.id);
      jobs?.forEach((job, i) => job.resolve(message.results[i]!));
    });
    // An uncaught error is followed by 'exit': both end here, and count once.
    this.worker.on('error', (error) => this.fail(error, 'exit'));
    this.worker.on('exit', (code) => this.fail(new Error(`token decode worker exited with code ${code}`), 'exit'));
  }

  get load(): number {
    return this.pending.size + this.queued.length;
  }

  /** Holds work and has answered nothing for `ms`: maybe hung, so best given nothing more. */
  stalled(now: number, ms: number): boolean {
    if (this.pending.size === 0) return false;
    // A thread that never gets going is hung too, given far longer (STARTUP_FACTOR × the timeout).
    if (!this.#ready) return now - this.#startedAt > ms * STARTUP_FACTOR;
    return now - this.lastProgress > ms;
  }

  send(id: number, jobs: Job[]): void {
    if (this.pending.size === 0) this.lastProgress = performance.now();
    this.pending.set(id, jobs);
    this.worker.postMessage({ id, tokens: jobs.map((job) => job.token) });
  }

  /** Rejects every token it holds (sent or queued) and reports it, once. */
  fail(error: Error, cause: WorkerFailureCause): void {
    if (this.#failed) return;
    this.#failed = true;
    const unavailable = new DecodeUnavailableError(`token not opened: ${error.message}`, { cause: error });
    const jobs = [...[...this.pending.values()].flat(), ...this.queued];
    this.pending.clear();
    this.queued = [];
    for (const job of jobs) job.reject(unavailable);
    this.onFailure(this, error, cause);
  }
}

/**
 * Tokens per message to a worker. A worker answers a message at once, so the
 * event loop evaluates the first requests of a burst while the worker decodes
 * the rest; one message per token would cost more in messaging than it saves.
 */
const TOKENS_PER_MESSAGE = 4;

export interface WorkerOpenerOptions {
  /**
   * A worker that holds tokens and answers nothing for this long is hung: its
   * tokens are rejected (DecodeUnavailableError), and it is terminated and
   * replaced. Default 1000 ms.
   */
  timeoutMs?: number;
  /** Called once a failed worker is replaced (for a hung one: once it has been terminated). */
  onWorkerFailure?: (error: Error, cause: WorkerFailureCause) => void;
}

export class WorkerOpener implements TokenOpener {
  private workers: DecodeWorker[] = [];
  private keys: readonly StoredTokenKey[];
  private nextId = 1;
  private closed = false;
  private flushScheduled = false;
  private readonly timeoutMs: number;
  private readonly checkEveryMs: number;
  private readonly watchdog: NodeJS.Timeout;
  private lastCheck = performance.now();

  constructor(
    private readonly url: URL,
    size: number,
    keys: readonly StoredTokenKey[],
    private readonly options: WorkerOpenerOptions = {},
  ) {
    this.keys = keys;
    this.timeoutMs = options.timeoutMs ?? 1000;
    for (let i = 0; i < size; i++) this.workers.push(this.spawn());
    this.checkEveryMs = Math.max(10, Math.floor(this.timeoutMs / 4));
    this.watchdog = setInterval(() => this.terminateHung(), this.checkEveryMs);
    this.watchdog.unref();
  }

  private spawn(): DecodeWorker {
    return new DecodeWorker(this.url, this.keys, (dead, error, cause) => {
      if (this.closed) return;
      // Replace a worker that failed, keeping the pool's size.
      const index = this.workers.indexOf(dead);
      if (index >= 0) this.workers[index] = this.spawn();
      if (cause === 'exit') this.options.onWorkerFailure?.(error, cause);
    });
  }

  /** The watchdog: rejects the tokens of a worker that shows no progress in time, then terminates it. */
  private terminateHung(): void {
    const now = performance.now();
    // A late check means this thread was blocked: answers may be waiting unread. Judge on the next one.
    const late = now - this.lastCheck > 2 * this.checkEveryMs;
    this.lastCheck = now;
    if (late || this.closed) return;
    for (const worker of [...this.workers]) {
      if (!worker.stalled(now, this.timeoutMs)) continue;
      const error = new Error(`token decode worker answered nothing for ${this.timeoutMs} ms; terminated`);
      worker.fail(error, 'hang');
      void worker.worker.terminate().then(() => this.options.onWorkerFailure?.(error, 'hang'));
    }
  }

  open(token: string): Promise<OpenResult> {
    if (this.closed) return Promise.reject(new DecodeUnavailableError('token decode workers are closed'));
    // The least loaded worker, passing over one that looks stalled while another does not.
    const now = performance.now();
    let target: DecodeWorker | undefined;
    for (const worker of this.workers) {
      if (!worker.stalled(now, this.checkEveryMs) && (!target || worker.load < target.load)) target = worker;
    }
    target ??= this.workers[0]!;
    return new Promise<OpenResult>((resolve, reject) => {
      target.queued.push({ token, resolve, reject });
      if (!this.flushScheduled) {
        this.flushScheduled = true;
        setImmediate(() => this.flush());
      }
    });
  }

  private flush(): void {
    this.flushScheduled = false;
    for (const worker of this.workers) {
      const queued = worker.queued;
      worker.queued = [];
      for (let start = 0; start < queued.length; start += TOKENS_PER_MESSAGE) {
        worker.send(this.nextId++, queued.slice(start, start + TOKENS_PER_MESSAGE));
      }
    }
  }

  setKeys(keys: readonly StoredTokenKey[]): void {
    this.keys = keys;
    for (const worker of this.workers) worker.worker.postMessage({ keys });
  }

  async close(): Promise<void> {
    this.closed = true;
    clearInterval(this.watchdog);
    await Promise.all(this.workers.map((w) => w.worker.terminate()));
  }
}

/**
 * Worker threads when the compiled worker is there (npm start runs dist/),
 * else the main thread (tests run the TypeScript sources).
 */
export function createTokenOpener(
  threads: number,
  keys: readonly StoredTokenKey[],
  options: WorkerOpenerOptions & { /** Another worker script (tests: one that crashes or hangs on command). */ workerUrl?: URL } = {},
): TokenOpener {
  const url = options.workerUrl ?? new URL('./decode-worker.js', import.meta.url);
  if (threads > 0 && existsSync(fileURLToPath(url))) return new WorkerOpener(url, threads, keys, options);
  return new InlineOpener(keys);
}
