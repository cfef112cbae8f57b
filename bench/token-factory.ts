/**
 * Makes many fresh black_box tokens quickly: one worker thread per core, each
 * running the client's buildBlackBox. Devices are either "new" (a fresh key
 * per token) or indexes into a shared pool of returning device keys.
 */
import { cpus } from 'node:os';
import { Worker } from 'node:worker_threads';
import type { EcPrivateJwk, ServerTokenKey } from '../shared/jwk.js';
import { generateDeviceJwk, type CryptoMode } from './token-crypto.js';

export interface TokenJob {
  id: number;
  serverKey: ServerTokenKey;
  appKey: string;
  /** Pool index per token, or -1 for a brand-new device. */
  devices: number[];
  /** Profile seed per token (see device-profile.ts). */
  profiles: number[];
}

export type TokenJobResult = { id: number; tokens: string[]; error?: undefined } | { id: number; error: string; tokens?: undefined };

export interface TokenSpec {
  device: number;
  profile: number;
}

const CHUNK = 500;

export class TokenFactory {
  readonly pool: EcPrivateJwk[];
  readonly threads: number;
  private readonly workers: Worker[];
  private nextId = 1;
  private readonly pending = new Map<number, { resolve(tokens: string[]): void; reject(error: Error): void }>();

  constructor(readonly mode: CryptoMode, poolSize: number, threads = cpus().length) {
    this.pool = Array.from({ length: poolSize }, generateDeviceJwk);
    this.threads = Math.max(1, threads);
    this.workers = Array.from({ length: this.threads }, () => {
      const worker = new Worker(new URL('./token-worker.js', import.meta.url), { workerData: { mode, pool: this.pool } });
      worker.on('message', (result: TokenJobResult) => {
        const waiter = this.pending.get(result.id);
        if (!waiter) return;
        this.pending.delete(result.id);
        if (result.error !== undefined) waiter.reject(new Error(`token worker: ${result.error}`));
        else waiter.resolve(result.tokens);
      });
      worker.on('error', (error) => {
        for (const waiter of this.pending.values()) waiter.reject(error);
        this.pending.clear();
      });
      return worker;
    });
  }

  /** Tokens in the order of `specs`; chunks are spread over the workers, each worker one chunk at a time. */
  async make(serverKey: ServerTokenKey, appKey: string, specs: readonly TokenSpec[]): Promise<string[]> {
    const out: string[] = new Array<string>(specs.length);
    let next = 0;
    const runWorker = async (worker: Worker) => {
      while (next < specs.length) {
        const start = next;
        const end = Math.min(start + CHUNK, specs.length);
        next = end;
        const chunk = specs.slice(start, end);
        const id = this.nextId++;
        const tokens = await new Promise<string[]>((resolve, reject) => {
          this.pending.set(id, { resolve, reject });
          worker.postMessage({ id, serverKey, appKey, devices: chunk.map((s) => s.device), profiles: chunk.map((s) => s.profile) } satisfies TokenJob);
        });
        for (let i = 0; i < tokens.length; i++) out[start + i] = tokens[i]!;
      }
    };
    await Promise.all(this.workers.map(runWorker));
    return out;
  }

  async close(): Promise<void> {
    await Promise.all(this.workers.map((w) => w.terminate()));
  }
}
