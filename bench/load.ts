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

export interface PacedOptions {
  url: string;
  path: string;
  headers: Record<string, string>;
  rate: number;
  durationS: number;
  bodies: BodySource;
  onSample?: (status: number, body: string) => void;
  sampleEvery?: number;
  /** How long to wait for answers after the last request was sent. Default 5 s. */
  graceMs?: number;
}

export interface PacedResult {
  /** Requests still unanswered when the grace period ended (aborted). */
  unfinished: number;
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
    let resolved = false;
    let grace: NodeJS.Timeout | undefined;
    const finish = (force = false) => {
      if (resolved || (done < total && !force)) return;
      resolved = true;
      clearTimeout(grace);
      const unfinished = sent - done;
      agent.destroy();
      const measured = latencies.subarray(0, ok).sort();
      resolve({ unfinished, sent, ok, non2xx, errors, rate: done / ((finishedAt - start) / 1000), latencies: measured, maxInFlight, sockets });
    };
    const fire = () => {
      const index = sent++;
      const body = options.bodies.take();
      if (body === undefined) throw new Error('paced: fewer bodies than rate × duration');
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
            if (resolved) return;
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
        if (resolved) return;
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
      // Sending is over; answers still missing after the grace period are aborted.
      else grace = setTimeout(() => finish(true), options.graceMs ?? 5000);
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
