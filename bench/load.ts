/**
 * Load generators: autocannon (closed loop, whole-millisecond latencies) and a
 * small open-loop client on node:http with microsecond latencies.
 */
import { Agent, request as httpRequest } from 'node:http';
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
}

export interface CannonRun {
  result: AutocannonResult;
  /** 2xx per second over the run's real duration. */
  okPerSecond: number;
  /** Stopped early because the bodies ran out. */
  exhausted: boolean;
}

export function cannon(options: CannonOptions): Promise<CannonRun> {
  return new Promise((resolve, reject) => {
    let exhausted = false;
    let instance: autocannon.Instance | undefined;
    const { bodies, onSample } = options;
    const sampleEvery = options.sampleEvery ?? 100;
    let responses = 0;
    const request: autocannon.Request = {
      method: 'POST',
      path: options.path,
      headers: { 'content-type': 'application/json', ...options.headers },
      ...(options.body !== undefined ? { body: options.body } : {}),
      ...(bodies
        ? {
            setupRequest(req) {
              req.body = bodies.next();
              return req;
            },
          }
        : {}),
      ...(onSample
        ? {
            onResponse(status, body) {
              if (responses++ % sampleEvery === 0) onSample(status, body);
            },
          }
        : {}),
    };
    if (bodies) {
      // The supply ran out: stop at once rather than replay tokens.
      bodies.onExhausted = () => {
        exhausted = true;
        setImmediate(() => instance?.stop());
      };
    }
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
        const seconds = (result.finish.getTime() - result.start.getTime()) / 1000;
        resolve({ result, okPerSecond: result['2xx'] / seconds, exhausted });
      },
    );
  });
}

export interface PacedOptions {
  url: string;
  path: string;
  headers: Record<string, string>;
  rate: number;
  durationS: number;
  bodies: BodySource;
  onSample?: (status: number, body: string) => void;
  sampleEvery?: number;
}

export interface PacedResult {
  sent: number;
  ok: number;
  non2xx: number;
  errors: number;
  /** Achieved completions per second. */
  rate: number;
  /** Sorted latencies in ms (send → full response), 2xx only. */
  latencies: Float64Array;
  /** Most requests in flight at once. */
  maxInFlight: number;
  /** Sockets the agent opened. */
  sockets: number;
}

/**
 * Open loop: requests start on a fixed schedule (a 1 ms timer sends whatever
 * is due), whatever the server's pace, over a keep-alive socket pool.
 */
export async function paced(options: PacedOptions): Promise<PacedResult> {
  const target = new URL(options.path, options.url);
  const agent = new Agent({ keepAlive: true, maxSockets: 256, maxFreeSockets: 256, scheduling: 'lifo' });
  let sockets = 0;
  const seen = new WeakSet<object>();
  const total = Math.round(options.rate * options.durationS);
  const latencies = new Float64Array(total);
  let ok = 0;
  let non2xx = 0;
  let errors = 0;
  let sent = 0;
  let done = 0;
  let inFlight = 0;
  let maxInFlight = 0;
  const sampleEvery = options.sampleEvery ?? 100;

  return new Promise<PacedResult>((resolve) => {
    const start = performance.now();
    let finishedAt = start;
    const finish = () => {
      if (done < total) return;
      agent.destroy();
      const measured = latencies.subarray(0, ok).sort();
      resolve({ sent, ok, non2xx, errors, rate: done / ((finishedAt - start) / 1000), latencies: measured, maxInFlight, sockets });
    };
    const fire = () => {
      const index = sent++;
      const body = options.bodies.next();
      const startedAt = performance.now();
      inFlight++;
      if (inFlight > maxInFlight) maxInFlight = inFlight;
      const req = httpRequest(
        target,
        { method: 'POST', agent, headers: { ...options.headers, 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (chunk: Buffer) => chunks.push(chunk));
          res.on('end', () => {
            const elapsed = performance.now() - startedAt;
            inFlight--;
            done++;
            finishedAt = performance.now();
            const status = res.statusCode ?? 0;
            if (status >= 200 && status < 300) latencies[ok++] = elapsed;
            else non2xx++;
            if (options.onSample && index % sampleEvery === 0) options.onSample(status, Buffer.concat(chunks).toString('utf8'));
            finish();
          });
        },
      );
      req.on('socket', (socket) => {
        if (!seen.has(socket)) {
          seen.add(socket);
          sockets++;
        }
      });
      req.on('error', () => {
        inFlight--;
        done++;
        errors++;
        finish();
      });
      req.end(body);
    };
    const tick = () => {
      const due = Math.min(total, Math.floor(((performance.now() - start) / 1000) * options.rate) + 1);
      while (sent < due) fire();
      if (sent < total) setTimeout(tick, 1);
    };
    tick();
  });
}

/** The q-quantile (0..1) of sorted values. */
export function quantile(sorted: Float64Array, q: number): number {
  if (sorted.length === 0) return NaN;
  const index = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1));
  return sorted[index]!;
}
