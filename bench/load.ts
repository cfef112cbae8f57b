/**
 * autocannon (closed loop, whole-millisecond latencies), kept for --profile
 * and as a cross-check of net-load.ts (--autocannon), which the bench
 * otherwise uses; and the quantile of sorted samples.
 */
import autocannon from 'autocannon';
import type { BodySource } from './workload.js';

export type AutocannonResult = autocannon.Result;

export interface CannonOptions {
  url: string;
  path: string;
  connections: number;
  durationS: number;
  headers?: Record<string, string>;
  /** A fixed body for every request. */
  body?: string;
  /** One body per request, taken in setupRequest. */
  bodies?: BodySource;
  /** autocannon's overallRate (requests per second over all connections). */
  overallRate?: number;
  /** Sees one response in `sampleEvery`. */
  onSample?: (status: number, body: string) => void;
  sampleEvery?: number;
  /** Called just before autocannon starts (to sample CPU around the run). */
  onStart?: () => void;
}

export interface CannonRun {
  result: AutocannonResult;
  /** 2xx per second over the run's real duration (up to the moment the bodies ran out, if they did). */
  okPerSecond: number;
  /** The bodies ran out: the run sent GET /healthz until autocannon stopped (≤ 1 s later). */
  exhausted: boolean;
  /** GET /healthz answers after the bodies ran out; they are in autocannon's counts and latencies. */
  fallbackResponses: number;
}

export function cannon(options: CannonOptions): Promise<CannonRun> {
  return new Promise((resolve, reject) => {
    let instance: autocannon.Instance | undefined;
    const { bodies, onSample } = options;
    const sampleEvery = options.sampleEvery ?? 100;
    let responses = 0;
    let fallbackResponses = 0;
    const request: autocannon.Request = {
      method: 'POST',
      path: options.path,
      headers: { 'content-type': 'application/json', ...options.headers },
      ...(options.body !== undefined ? { body: options.body } : {}),
      ...(bodies
        ? {
            setupRequest(req) {
              const body = bodies.take();
              if (body !== undefined) {
                req.body = body;
                return req;
              }
              // Out of tokens: reusing one would measure the replay path. Until autocannon
              // stops (it checks once a second), send something that is not an evaluation.
              req.method = 'GET';
              req.path = '/healthz';
              req.body = Buffer.alloc(0);
              return req;
            },
          }
        : {}),
      onResponse(status, body) {
        if (bodies?.exhaustedAt !== undefined && body.startsWith('{"status":')) {
          fallbackResponses++;
          return;
        }
        if (onSample && responses++ % sampleEvery === 0) onSample(status, body);
      },
    };
    if (bodies) bodies.onExhausted = () => setImmediate(() => instance?.stop());
    options.onStart?.();
    const startedAt = performance.now();
    instance = autocannon(
      {
        url: options.url,
        connections: options.connections,
        duration: options.durationS,
        pipelining: 1,
        timeout: 10,
        requests: [request],
        ...(options.overallRate ? { overallRate: options.overallRate } : {}),
      },
      (error, result) => {
        if (error) return reject(error);
        const exhaustedAt = bodies?.exhaustedAt;
        const seconds = exhaustedAt !== undefined ? (exhaustedAt - startedAt) / 1000 : (result.finish.getTime() - result.start.getTime()) / 1000;
        resolve({ result, okPerSecond: (result['2xx'] - fallbackResponses) / seconds, exhausted: exhaustedAt !== undefined, fallbackResponses });
      },
    );
  });
}

/** The q-quantile (0..1) of sorted values. */
export function quantile(sorted: Float64Array, q: number): number {
  if (sorted.length === 0) return NaN;
  const index = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1));
  return sorted[index]!;
}
