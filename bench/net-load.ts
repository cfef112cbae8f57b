/**
 * A light load generator: HTTP/1.1 keep-alive over node:net, no pipelining,
 * requests serialised to Buffers before the run, responses parsed just
 * enough (status line, then content-length or the end of a chunked body).
 * Per request it costs a socket write, one or two 'data' events and a short
 * header scan, so its own CPU per request stays small next to the server's
 * (the bench reports it beside the server's).
 *
 *   - closedLoop: N connections, each sends its next request when the
 *     previous answer is in (max throughput).
 *   - openLoop: request i is due at start + i / rate whatever the server
 *     does; it goes out on an idle connection (a new one if none is idle, a
 *     queue past maxConnections), and its latency is timed from when it was
 *     due, not from when it was written, so a late send or a client-side
 *     queue counts against the server rather than hiding it.
 *
 * Both take a `window` whose start() and end() are called at the first send
 * and at the last answer (or the end of the grace period), so CPU can be
 * sampled around exactly the timed requests (connection set-up excluded).
 */
import { connect, type Socket } from 'node:net';

/** One full request (head and body) as it goes on the wire. */
export function serialiseRequest(url: string, path: string, headers: Record<string, string>, body: string | Buffer): Buffer {
  const payload = typeof body === 'string' ? Buffer.from(body, 'utf8') : body;
  let head = `POST ${path} HTTP/1.1\r\nhost: ${new URL(url).host}\r\nconnection: keep-alive\r\ncontent-type: application/json\r\ncontent-length: ${payload.length}\r\n`;
  for (const [name, value] of Object.entries(headers)) head += `${name}: ${value}\r\n`;
  return Buffer.concat([Buffer.from(`${head}\r\n`, 'latin1'), payload]);
}

/** Pre-serialised requests, each sent once, or cycled when `repeat` (the same request over and over: echo). */
export class RequestSource {
  private next = 0;
  /** performance.now() when the first request past the end was asked for. */
  exhaustedAt: number | undefined;

  constructor(
    private readonly requests: readonly Buffer[],
    private readonly repeat = false,
  ) {
    if (requests.length === 0) throw new Error('RequestSource: no requests');
  }

  get size(): number {
    return this.requests.length;
  }

  get used(): number {
    return this.next;
  }

  take(): Buffer | undefined {
    if (this.repeat) return this.requests[this.next++ % this.requests.length];
    if (this.next < this.requests.length) return this.requests[this.next++];
    this.exhaustedAt ??= performance.now();
    return undefined;
  }
}

export interface LoadWindow {
  start(): void;
  end(): void;
}

type Answer = (status: number, body: Buffer | undefined, at: number) => void;

const HEADER_END = Buffer.from('\r\n\r\n', 'latin1');
const CHUNKED_END = Buffer.from('\r\n0\r\n\r\n', 'latin1');

interface Parsed {
  status: number;
  bodyStart: number;
  bodyEnd: number;
  chunked: boolean;
  close: boolean;
}

/** The response in `buf` if it is complete, else undefined. */
function parseResponse(buf: Buffer): Parsed | undefined {
  const headerEnd = buf.indexOf(HEADER_END);
  if (headerEnd < 0) return undefined;
  // "HTTP/1.1 200 OK": the status is bytes 9–11.
  const status = (buf[9]! - 48) * 100 + (buf[10]! - 48) * 10 + (buf[11]! - 48);
  const head = buf.toString('latin1', 0, headerEnd);
  const bodyStart = headerEnd + 4;
  const close = /\r\nconnection:\s*close/i.test(head);
  const length = /\r\ncontent-length:\s*(\d+)/i.exec(head);
  if (length) {
    const bodyEnd = bodyStart + Number(length[1]);
    return buf.length < bodyEnd ? undefined : { status, bodyStart, bodyEnd, chunked: false, close };
  }
  if (/\r\ntransfer-encoding:\s*chunked/i.test(head)) {
    const end = buf.indexOf(CHUNKED_END, headerEnd);
    return end < 0 ? undefined : { status, bodyStart, bodyEnd: end + 2, chunked: true, close };
  }
  if (status === 204 || status === 304 || (status >= 100 && status < 200)) return { status, bodyStart, bodyEnd: bodyStart, chunked: false, close };
  throw new Error(`net-load: a response with neither content-length nor chunked encoding (status ${status})`);
}

function dechunk(buf: Buffer): Buffer {
  const parts: Buffer[] = [];
  let at = 0;
  while (at < buf.length) {
    const lineEnd = buf.indexOf('\r\n', at, 'latin1');
    if (lineEnd < 0) break;
    const size = parseInt(buf.toString('latin1', at, lineEnd), 16);
    if (!(size > 0)) break;
    parts.push(buf.subarray(lineEnd + 2, lineEnd + 2 + size));
    at = lineEnd + 2 + size + 2;
  }
  return Buffer.concat(parts);
}

/** One keep-alive connection with at most one request in flight. */
class Connection {
  private buf: Buffer | undefined;
  private answer: Answer | undefined;
  private wantBody = false;
  closed = false;

  private constructor(readonly socket: Socket) {
    socket.on('data', this.onData);
    socket.on('error', () => this.onClose());
    socket.on('close', () => this.onClose());
  }

  static open(host: string, port: number): Promise<Connection> {
    return new Promise((resolve, reject) => {
      const socket = connect({ host, port, noDelay: true });
      socket.once('connect', () => {
        socket.removeListener('error', reject);
        resolve(new Connection(socket));
      });
      socket.once('error', reject);
    });
  }

  send(request: Buffer, wantBody: boolean, answer: Answer): void {
    this.answer = answer;
    this.wantBody = wantBody;
    this.socket.write(request);
  }

  get busy(): boolean {
    return this.answer !== undefined;
  }

  close(): void {
    this.closed = true;
    this.socket.destroy();
  }

  private onData = (chunk: Buffer): void => {
    const buf = this.buf ? Buffer.concat([this.buf, chunk]) : chunk;
    let parsed: Parsed | undefined;
    try {
      parsed = parseResponse(buf);
    } catch (error) {
      this.buf = undefined;
      this.finish(0, undefined);
      this.socket.destroy(error as Error);
      return;
    }
    if (!parsed) {
      this.buf = buf;
      return;
    }
    this.buf = undefined;
    const body = this.wantBody ? (parsed.chunked ? dechunk(buf.subarray(parsed.bodyStart, parsed.bodyEnd)) : buf.subarray(parsed.bodyStart, parsed.bodyEnd)) : undefined;
    if (parsed.close) this.closed = true;
    this.finish(parsed.status, body);
    if (parsed.close) this.socket.destroy();
  };

  private onClose(): void {
    this.closed = true;
    this.finish(0, undefined);
  }

  private finish(status: number, body: Buffer | undefined): void {
    const answer = this.answer;
    this.answer = undefined;
    answer?.(status, body, performance.now());
  }
}

function target(url: string): { host: string; port: number } {
  const u = new URL(url);
  return { host: u.hostname, port: Number(u.port || 80) };
}

function sortedPrefix(values: Float64Array, n: number): Float64Array {
  return values.slice(0, n).sort();
}

/** Grows as needed; numbers stay unboxed. */
class Samples {
  private data = new Float64Array(1 << 14);
  n = 0;
  push(value: number): void {
    if (this.n === this.data.length) {
      const bigger = new Float64Array(this.data.length * 2);
      bigger.set(this.data);
      this.data = bigger;
    }
    this.data[this.n++] = value;
  }
  sorted(): Float64Array {
    return sortedPrefix(this.data, this.n);
  }
}

export interface SampleOptions {
  /** Sees the status and body of one answer in `sampleEvery` (to check what the server said). */
  onSample?: (status: number, body: string) => void;
  sampleEvery?: number;
}

export interface ClosedLoopOptions extends SampleOptions {
  url: string;
  connections: number;
  durationS: number;
  source: RequestSource;
  window?: LoadWindow;
}

export interface LoadResult {
  /** Requests written. */
  sent: number;
  ok: number;
  non2xx: number;
  /** Connection errors and closes with a request in flight. */
  errors: number;
  /** First send to last answer. */
  wallS: number;
  okPerSecond: number;
  /** Sorted latencies of the 2xx answers, ms. */
  latencies: Float64Array;
  /** The requests ran out before the duration did (the run ended early). */
  exhausted: boolean;
  /** Connections opened in all. */
  connections: number;
}

/** Max throughput: every connection sends its next request as soon as its answer is in, until the duration is over. */
export async function closedLoop(options: ClosedLoopOptions): Promise<LoadResult> {
  const { host, port } = target(options.url);
  const initial = await Promise.all(Array.from({ length: options.connections }, () => Connection.open(host, port)));
  const sampleEvery = options.sampleEvery ?? 100;
  const latencies = new Samples();
  let opened = initial.length;
  let sent = 0;
  let ok = 0;
  let non2xx = 0;
  let errors = 0;
  let exhausted = false;

  return new Promise<LoadResult>((resolve, reject) => {
    let active = initial.length;
    let lastAnswer = 0;
    options.window?.start();
    const t0 = performance.now();
    const deadline = t0 + options.durationS * 1000;
    const all = new Set(initial);

    const retire = (c: Connection) => {
      all.delete(c);
      c.close();
      if (--active > 0) return;
      options.window?.end();
      const wallS = (lastAnswer - t0) / 1000;
      for (const other of all) other.close();
      resolve({ sent, ok, non2xx, errors, wallS, okPerSecond: ok / wallS, latencies: latencies.sorted(), exhausted, connections: opened });
    };

    const next = (c: Connection): void => {
      if (performance.now() >= deadline) return retire(c);
      if (c.closed) {
        all.delete(c);
        Connection.open(host, port).then((fresh) => {
          opened++;
          all.add(fresh);
          next(fresh);
        }, reject);
        return;
      }
      const request = options.source.take();
      if (request === undefined) {
        exhausted = true;
        return retire(c);
      }
      const index = sent++;
      const wantBody = options.onSample !== undefined && index % sampleEvery === 0;
      const sentAt = performance.now();
      c.send(request, wantBody, (status, body, at) => {
        lastAnswer = at;
        if (status === 0) errors++;
        else if (status >= 200 && status < 300) {
          ok++;
          latencies.push(at - sentAt);
        } else non2xx++;
        if (wantBody && status !== 0) options.onSample!(status, body?.toString('utf8') ?? '');
        next(c);
      });
    };
    for (const c of initial) next(c);
  });
}

export interface OpenLoopOptions extends SampleOptions {
  url: string;
  /** Requests per second, on a fixed schedule. */
  rate: number;
  durationS: number;
  source: RequestSource;
  /** Opened before the run starts. Default 32. */
  connections?: number;
  /** Past this many, due requests queue for the next idle connection (still timed from when they were due). Default 1,024. */
  maxConnections?: number;
  /** How long to wait for answers after the last request was due. Default 5 s. */
  graceMs?: number;
  window?: LoadWindow;
}

export interface OpenLoopResult extends LoadResult {
  /** Requests the schedule had (rate × duration). */
  scheduled: number;
  /** Requests still unanswered when the grace period ended (counted as neither ok nor errors). */
  unfinished: number;
  /** Answers per second, first due time to last answer. */
  achievedRate: number;
  /** Sorted lateness of each write behind its due time, ms: the load generator's own delay (it is inside the latencies). */
  sendLag: Float64Array;
  /** Most requests in flight at once. */
  maxInFlight: number;
}

/** Open loop: requests fall due on a fixed schedule whatever the server's pace; latency runs from the due time to the full answer. */
export async function openLoop(options: OpenLoopOptions): Promise<OpenLoopResult> {
  const { host, port } = target(options.url);
  const maxConnections = options.maxConnections ?? 1_024;
  const idle: Connection[] = await Promise.all(Array.from({ length: options.connections ?? 32 }, () => Connection.open(host, port)));
  const all = new Set(idle);
  let opened = idle.length;
  let opening = 0;
  const total = Math.round(options.rate * options.durationS);
  const interval = 1000 / options.rate;
  const sampleEvery = options.sampleEvery ?? 100;
  const latencies = new Float64Array(total);
  const sendLag = new Float64Array(total);
  const waiting: number[] = [];
  let waitingHead = 0;
  let scheduled = 0;
  let sent = 0;
  let done = 0;
  let ok = 0;
  let non2xx = 0;
  let errors = 0;
  let inFlight = 0;
  let maxInFlight = 0;
  let exhausted = false;

  return new Promise<OpenLoopResult>((resolve) => {
    let finished = false;
    let grace: NodeJS.Timeout | undefined;
    let lastAnswer = 0;
    options.window?.start();
    const t0 = performance.now();
    const dueAt = (i: number) => t0 + i * interval;

    const finish = () => {
      if (finished) return;
      finished = true;
      clearTimeout(grace);
      options.window?.end();
      const end = lastAnswer > 0 ? lastAnswer : performance.now();
      for (const c of all) c.close();
      const wallS = (end - t0) / 1000;
      resolve({
        scheduled: total,
        sent,
        ok,
        non2xx,
        errors,
        unfinished: total - done,
        wallS,
        okPerSecond: ok / wallS,
        achievedRate: done / wallS,
        latencies: sortedPrefix(latencies, ok),
        sendLag: sortedPrefix(sendLag, sent),
        maxInFlight,
        exhausted,
        connections: opened,
      });
    };
    const answered = () => {
      done++;
      if (done === total) finish();
    };

    const send = (c: Connection, i: number) => {
      const request = options.source.take();
      if (request === undefined) {
        exhausted = true;
        release(c);
        answered();
        return;
      }
      const now = performance.now();
      sendLag[sent++] = now - dueAt(i);
      inFlight++;
      if (inFlight > maxInFlight) maxInFlight = inFlight;
      const wantBody = options.onSample !== undefined && i % sampleEvery === 0;
      c.send(request, wantBody, (status, body, at) => {
        if (finished) return;
        inFlight--;
        lastAnswer = at;
        if (status === 0) errors++;
        else if (status >= 200 && status < 300) latencies[ok++] = at - dueAt(i);
        else non2xx++;
        if (wantBody && status !== 0) options.onSample!(status, body?.toString('utf8') ?? '');
        release(c);
        answered();
      });
    };

    const release = (c: Connection) => {
      if (c.closed) {
        all.delete(c);
        if (waitingHead < waiting.length && all.size + opening < maxConnections) grow();
        return;
      }
      if (waitingHead < waiting.length) send(c, waiting[waitingHead++]!);
      else idle.push(c);
    };

    // A new connection for the oldest waiting request (connecting counts in its latency, as for a real client).
    const grow = () => {
      opening++;
      Connection.open(host, port).then(
        (c) => {
          opening--;
          opened++;
          all.add(c);
          if (finished) return c.close();
          release(c);
        },
        () => {
          opening--;
          if (finished || waitingHead >= waiting.length) return;
          waitingHead++;
          errors++;
          answered();
        },
      );
    };

    const dispatch = (i: number) => {
      const c = idle.pop();
      if (c) return send(c, i);
      waiting.push(i);
      if (all.size + opening < maxConnections) grow();
    };

    const tick = () => {
      if (finished) return;
      const due = Math.min(total, Math.floor((performance.now() - t0) / interval) + 1);
      while (scheduled < due) dispatch(scheduled++);
      if (scheduled < total) setTimeout(tick, Math.max(1, dueAt(scheduled) - performance.now()));
      else grace = setTimeout(finish, options.graceMs ?? 5_000);
    };
    tick();
  });
}
