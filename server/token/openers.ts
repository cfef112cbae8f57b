/**
 * Where tokens are opened: on the main thread, or in worker threads.
 *
 * Opening a token is ~300 µs of CPU (P-256 ECDH and ES256 verify), most of an
 * evaluation's cost. Worker threads move it off the event loop onto the other
 * cores. Requests that arrive in the same tick are sent to a worker in
 * messages of a few tokens (TOKENS_PER_MESSAGE), so message passing costs
 * little per token.
 */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { TokenKeyRing, type StoredTokenKey } from '../keys/token-keys.js';
import { openBlackBox, type OpenResult } from './decode.js';

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

interface Pending {
  resolve: (results: OpenResult[]) => void;
  reject: (error: Error) => void;
}

class DecodeWorker {
  readonly worker: Worker;
  readonly pending = new Map<number, Pending>();
  queued: { token: string; resolve: (r: OpenResult) => void; reject: (e: Error) => void }[] = [];

  constructor(url: URL, keys: readonly StoredTokenKey[], onExit: (worker: DecodeWorker, error: Error) => void) {
    this.worker = new Worker(url, { workerData: { keys } });
    this.worker.unref();
    this.worker.on('message', (message: { id: number; results: OpenResult[] }) => {
      const pending = this.pending.get(message.id);
      this.pending.delete(message.id);
      pending?.resolve(message.results);
    });
    const fail = (error: Error) => {
      for (const pending of this.pending.values()) pending.reject(error);
      this.pending.clear();
      onExit(this, error);
    };
    this.worker.on('error', fail);
    this.worker.on('exit', (code) => fail(new Error(`token decode worker exited with code ${code}`)));
  }

  get load(): number {
    return this.pending.size + this.queued.length;
  }
}

/**
 * Tokens per message to a worker. A worker answers a message at once, so the
 * event loop evaluates the first requests of a burst while the worker decodes
 * the rest; one message per token would cost more in messaging than it saves.
 */
const TOKENS_PER_MESSAGE = 4;

export class WorkerOpener implements TokenOpener {
  private workers: DecodeWorker[] = [];
  private keys: readonly StoredTokenKey[];
  private nextId = 1;
  private closed = false;
  private flushScheduled = false;

  constructor(
    private readonly url: URL,
    size: number,
    keys: readonly StoredTokenKey[],
    private readonly onWorkerFailure?: (error: Error) => void,
  ) {
    this.keys = keys;
    for (let i = 0; i < size; i++) this.workers.push(this.spawn());
  }

  private spawn(): DecodeWorker {
    return new DecodeWorker(this.url, this.keys, (dead, error) => {
      if (this.closed) return;
      this.onWorkerFailure?.(error);
      // Replace a worker that died, keeping the pool's size.
      const index = this.workers.indexOf(dead);
      if (index >= 0) this.workers[index] = this.spawn();
    });
  }

  open(token: string): Promise<OpenResult> {
    if (this.closed) return Promise.reject(new Error('token decode workers are closed'));
    let target = this.workers[0]!;
    for (const worker of this.workers) if (worker.load < target.load) target = worker;
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
        const batch = queued.slice(start, start + TOKENS_PER_MESSAGE);
        const id = this.nextId++;
        worker.pending.set(id, {
          resolve: (results) => batch.forEach((item, i) => item.resolve(results[i]!)),
          reject: (error) => batch.forEach((item) => item.reject(error)),
        });
        worker.worker.postMessage({ id, tokens: batch.map((item) => item.token) });
      }
    }
  }

  setKeys(keys: readonly StoredTokenKey[]): void {
    this.keys = keys;
    for (const worker of this.workers) worker.worker.postMessage({ keys });
  }

  async close(): Promise<void> {
    this.closed = true;
    await Promise.all(this.workers.map((w) => w.worker.terminate()));
  }
}

/**
 * Worker threads when the compiled worker is there (npm start runs dist/),
 * else the main thread (tests run the TypeScript sources).
 */
export function createTokenOpener(threads: number, keys: readonly StoredTokenKey[], onWorkerFailure?: (error: Error) => void): TokenOpener {
  const url = new URL('./decode-worker.js', import.meta.url);
  if (threads > 0 && existsSync(fileURLToPath(url))) return new WorkerOpener(url, threads, keys, onWorkerFailure);
  return new InlineOpener(keys);
}
