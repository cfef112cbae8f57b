/**
 * HTTP timeouts (issue 13, item 7): a real server on a TCP port and real slow
 * clients (node:net) — a body dripped one byte at a time, headers that never
 * end, a kept-alive connection left idle — are closed within their bounds,
 * while ordinary requests still get through.
 */
import { connect, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../server/config/config.js';
import { APP_SECRET, testApp, type TestApp } from '../support/app.js';

let current: TestApp | undefined;
afterEach(async () => {
  await current?.close();
  current = undefined;
});

const BOUNDS = { request_timeout_ms: 1500, headers_timeout_ms: 1000, keep_alive_timeout_ms: 800, check_interval_ms: 200 };

async function listening(http: Record<string, number>): Promise<{ t: TestApp; port: number }> {
  const t = await testApp({ http });
  await t.app.listen({ host: '127.0.0.1', port: 0 });
  return { t, port: (t.app.server.address() as AddressInfo).port };
}

interface Watched {
  socket: Socket;
  received: () => string;
  /** Milliseconds from `connect` to the server closing the connection, or undefined while it is open. */
  closedAfter: () => number | undefined;
  closed: Promise<number>;
}

function open(port: number): Promise<Watched> {
  return new Promise((resolve, reject) => {
    const startedAt = performance.now();
    let data = '';
    let closedAt: number | undefined;
    const socket = connect({ host: '127.0.0.1', port });
    const closed = new Promise<number>((done) => socket.on('close', () => done((closedAt = performance.now() - startedAt))));
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => (data += chunk));
    socket.on('error', () => {});
    socket.once('connect', () => resolve({ socket, received: () => data, closedAfter: () => closedAt, closed }));
    socket.once('error', reject);
  });
}

/** Writes one byte every `everyMs` until the socket closes; returns the stopper. */
function drip(socket: Socket, text: string, everyMs: number): () => void {
  let i = 0;
  const timer = setInterval(() => {
    if (socket.destroyed || socket.writableEnded) return clearInterval(timer);
    socket.write(text.charAt(i++ % text.length));
  }, everyMs);
  socket.on('close', () => clearInterval(timer));
  return () => clearInterval(timer);
}

const within = (promise: Promise<number>, ms: number) =>
  Promise.race([promise, new Promise<number>((resolve) => setTimeout(() => resolve(Infinity), ms))]);

describe('HTTP timeouts against slow clients', () => {
  /** One server with BOUNDS for the slow clients: each test has connections of its own, and every bound is per connection. */
  let port: number;
  let shared: TestApp | undefined;
  beforeAll(async () => {
    ({ t: shared, port } = await listening(BOUNDS));
  });
  afterAll(async () => {
    await shared?.close();
  });

  it('closes a connection that drips its body one byte at a time, within the request timeout', async () => {
    const client = await open(port);
    const body = JSON.stringify({ event: 'login', ip: '203.0.113.5', nickname: 'x'.repeat(400) });
    client.socket.write(
      `POST /v1/risk/evaluate HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer ${APP_SECRET}\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n`,
    );
    // Never idle long enough for a socket-inactivity timeout: only the request timeout can end it.
    const stop = drip(client.socket, body, 100);
    const closedAfter = await within(client.closed, 6000);
    stop();
    client.socket.destroy();
    expect(closedAfter).toBeLessThan(BOUNDS.request_timeout_ms + BOUNDS.check_interval_ms + 1000);
    expect(closedAfter).toBeGreaterThanOrEqual(BOUNDS.request_timeout_ms - 100);
    expect(client.received()).toMatch(/^HTTP\/1\.1 408/);
  });

  it('closes a connection whose headers never end, within the headers timeout', async () => {
    const client = await open(port);
    client.socket.write('GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n');
    const stop = drip(client.socket, 'X-Slow: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n', 100);
    const closedAfter = await within(client.closed, 6000);
    stop();
    client.socket.destroy();
    expect(closedAfter).toBeLessThan(BOUNDS.headers_timeout_ms + BOUNDS.check_interval_ms + 1000);
  });

  it('closes a connection that connects and never sends a byte, within the headers timeout', async () => {
    const client = await open(port);
    const closedAfter = await within(client.closed, 6000);
    client.socket.destroy();
    expect(closedAfter).toBeLessThan(BOUNDS.headers_timeout_ms + BOUNDS.check_interval_ms + 1000);
  });

  it('answers ordinary requests, keeps a connection alive between them, and closes it once idle past the keep-alive timeout', async () => {
    const client = await open(port);
    const request = 'GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n';
    client.socket.write(request);
    await new Promise((resolve) => setTimeout(resolve, 200));
    client.socket.write(request);
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(client.received().match(/HTTP\/1\.1 200/g)).toHaveLength(2);
    expect(client.closedAfter()).toBeUndefined();
    const closedAfter = await within(client.closed, 5000);
    client.socket.destroy();
    expect(closedAfter).toBeLessThan(400 + BOUNDS.keep_alive_timeout_ms + 1000);

    // A normal evaluate over a real connection, with the default bounds.
    const { t, port: defaultPort } = await listening({});
    current = t;
    expect(t.app.server.requestTimeout).toBe(30_000);
    expect(t.app.server.headersTimeout).toBe(10_000);
    expect(t.app.server.keepAliveTimeout).toBe(5_000);
    const response = await fetch(`http://127.0.0.1:${defaultPort}/v1/risk/evaluate`, {
      method: 'POST',
      headers: { authorization: `Bearer ${APP_SECRET}`, 'content-type': 'application/json' },
      body: JSON.stringify({ event: 'login', ip: '203.0.113.8' }),
    });
    expect(response.status).toBe(200);
    expect(await response.json()).toMatchObject({ code: 200, decision: expect.any(String) });
  });

  it('reads the bounds from configuration and the environment, and refuses headers longer than the request', () => {
    const config = loadConfig({ env: { RISKGATE_REQUEST_TIMEOUT_MS: '20000', RISKGATE_KEEP_ALIVE_TIMEOUT_MS: '3000' }, raw: { http: { headers_timeout_ms: 4000 } } });
    expect(config.http).toEqual({ requestTimeoutMs: 20_000, headersTimeoutMs: 4000, keepAliveTimeoutMs: 3000, checkIntervalMs: 1000 });
    expect(() => loadConfig({ env: {}, raw: { http: { request_timeout_ms: 1000, headers_timeout_ms: 2000 } } })).toThrow(ConfigError);
    expect(() => loadConfig({ env: {}, raw: { http: { request_timeout_ms: 1000, headers_timeout_ms: 2000 } } })).toThrow(/http\.headers_timeout_ms/);
  });
});
