import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import Fastify from 'fastify';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { RiskGateClient, RiskGateRequestError } from '../client/node/index.js';
import type { EvaluateRequest, EvaluateResponse } from '../shared/schemas.js';

const SECRET = 'test-secret-0123456789';

const answer: EvaluateResponse = {
  code: 200,
  message: 'ok',
  sequence_id: 'seq-1',
  score: 42,
  level: 2,
  decision: 'accept',
  challenge: 'slider',
  challenge_token: 'ct-1',
  reasons: [{ id: 'VELOCITY_IP', reason: 'Many registrations from this IP' }],
  tags: ['velocity'],
  device_id: 'dev-1',
  degraded: false,
};

const request: EvaluateRequest = {
  event: 'register',
  black_box: 'bb.token.value',
  ip: '203.0.113.77',
  mobile: '13800138000',
  email: 'alice@example.com',
};

let server: FastifyInstance;
let base: string;
const seen: { authorization?: string; body?: unknown; contentType?: string }[] = [];

// Each behaviour lives under its own path prefix, which also exercises base URLs with a path.
beforeAll(async () => {
  server = Fastify({ forceCloseConnections: true });
  server.post('/ok/v1/risk/evaluate', async (req) => {
    seen.push({ authorization: req.headers.authorization, body: req.body, contentType: req.headers['content-type'] });
    return answer;
  });
  server.post('/slow/v1/risk/evaluate', async () => {
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    return answer;
  });
  server.post('/stall/v1/risk/evaluate', (_req, reply) => {
    reply.hijack();
    reply.raw.writeHead(200, { 'content-type': 'application/json' });
    reply.raw.write('{"code":200,'); // and never finishes
  });
  server.post('/fail/v1/risk/evaluate', async (_req, reply) =>
    reply.code(500).send({ code: 9200, error: 'SYSTEM_ERROR', message: 'boom' }),
  );
  server.post('/busy/v1/risk/evaluate', async (_req, reply) =>
    reply.code(429).send({ code: 4290, error: 'RATE_LIMITED', message: 'slow down' }),
  );
  server.post('/bad/v1/risk/evaluate', async (_req, reply) =>
    reply.code(400).send({ code: 9002, error: 'FIELD_INVALID', message: 'ip is not an IP address', field: 'ip' }),
  );
  server.post('/auth/v1/risk/evaluate', async (_req, reply) => reply.code(401).type('text/plain').send('nope'));
  server.post('/html/v1/risk/evaluate', async (_req, reply) => reply.type('text/html').send('<html>proxy login</html>'));
  server.post('/wrong/v1/risk/evaluate', async () => ({ hello: 'world' }));
  server.post('/moved/v1/risk/evaluate', async (_req, reply) => reply.redirect('https://elsewhere.example/', 307));
  await server.listen({ host: '127.0.0.1', port: 0 });
  base = `http://127.0.0.1:${(server.server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  await server.close();
});

function client(mode: string, extra: Partial<ConstructorParameters<typeof RiskGateClient>[0]> = {}) {
  const logger = { warn: vi.fn() };
  const risk = new RiskGateClient({ baseUrl: `${base}/${mode}`, secret: SECRET, timeoutMs: 150, logger, ...extra });
  return { risk, logger };
}

/** A port nothing listens on: bind one, then close it. */
async function closedPort(): Promise<number> {
  const probe = createServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  const { port } = probe.address() as AddressInfo;
  await new Promise((resolve) => probe.close(resolve));
  return port;
}

describe('RiskGateClient', () => {
  it('passes a normal answer through and authenticates with the secret', async () => {
    const { risk, logger } = client('ok');
    const result = await risk.evaluate(request);
    expect(result).toEqual(answer);
    expect(result.fallback).toBeUndefined();
    const call = seen.at(-1)!;
    expect(call.authorization).toBe(`Bearer ${SECRET}`);
    expect(call.contentType).toMatch(/^application\/json/);
    expect(call.body).toEqual(request);
    expect(risk.stats).toEqual({ requests: 1, timeouts: 0, errors: 0, fallbacks: 0 });
    expect(logger.warn).not.toHaveBeenCalled();
  });

  it('falls back within the timeout when the server is slow', async () => {
    const { risk, logger } = client('slow', { timeoutMs: 100 });
    const started = performance.now();
    const result = await risk.evaluate(request);
    const elapsed = performance.now() - started;
    expect(elapsed).toBeGreaterThanOrEqual(95);
    expect(elapsed).toBeLessThan(100 + 150);
    expect(result).toMatchObject({
      decision: 'accept',
      score: 0,
      level: 0,
      challenge: 'none',
      degraded: true,
      fallback: true,
      fallback_reason: 'timeout',
    });
    expect(risk.stats).toEqual({ requests: 1, timeouts: 1, errors: 0, fallbacks: 1 });
    expect(logger.warn).toHaveBeenCalledTimes(1);
    expect(logger.warn.mock.calls[0]![0]).toMatchObject({ riskgate: { reason: 'timeout', timeout_ms: 100 } });
  });

  it('times out a server that stalls in the middle of its answer', async () => {
    const { risk } = client('stall', { timeoutMs: 100 });
    const started = performance.now();
    const result = await risk.evaluate(request);
    expect(performance.now() - started).toBeLessThan(100 + 150);
    expect(result.fallback_reason).toBe('timeout');
    expect(risk.stats.timeouts).toBe(1);
  });

  it('never logs request fields', async () => {
    const { risk, logger } = client('slow', { timeoutMs: 50 });
    await risk.evaluate(request);
    const logged = JSON.stringify(logger.warn.mock.calls);
    for (const value of [request.ip!, request.mobile!, request.email!, request.black_box!, SECRET]) {
      expect(logged).not.toContain(value);
    }
  });

  it('falls back on a refused connection', async () => {
    const port = await closedPort();
    const { risk, logger } = client('', { baseUrl: `http://127.0.0.1:${port}` });
    const result = await risk.evaluate(request);
    expect(result).toMatchObject({ fallback: true, fallback_reason: 'network', decision: 'accept', degraded: true });
    expect(risk.stats).toEqual({ requests: 1, timeouts: 0, errors: 1, fallbacks: 1 });
    expect(logger.warn.mock.calls[0]![0]).toMatchObject({ riskgate: { reason: 'network', cause: 'ECONNREFUSED' } });
  });

  it('falls back on a 5xx', async () => {
    const { risk } = client('fail');
    const result = await risk.evaluate(request);
    expect(result).toMatchObject({ fallback: true, fallback_reason: 'server_error', decision: 'accept' });
    expect(risk.stats).toEqual({ requests: 1, timeouts: 0, errors: 1, fallbacks: 1 });
  });

  it('falls back when rate limited', async () => {
    const { risk } = client('busy');
    expect(await risk.evaluate(request)).toMatchObject({ fallback: true, fallback_reason: 'rate_limited' });
  });

  it('falls back on answers it cannot read', async () => {
    for (const mode of ['html', 'wrong', 'moved']) {
      const { risk } = client(mode);
      const result = await risk.evaluate(request);
      expect(result, mode).toMatchObject({ fallback: true, fallback_reason: 'bad_response' });
      expect(risk.stats.fallbacks).toBe(1);
    }
  });

  it('rejects a 4xx with the error body', async () => {
    const { risk, logger } = client('bad');
    const error = await risk.evaluate(request).catch((err: unknown) => err);
    expect(error).toBeInstanceOf(RiskGateRequestError);
    expect(error).toMatchObject({
      name: 'RiskGateRequestError',
      status: 400,
      code: 9002,
      error: 'FIELD_INVALID',
      field: 'ip',
      message: 'ip is not an IP address',
    });
    expect(risk.stats).toEqual({ requests: 1, timeouts: 0, errors: 1, fallbacks: 0 });
    expect(logger.warn).not.toHaveBeenCalled();
  });

  it('rejects a 4xx without an error body', async () => {
    const { risk } = client('auth');
    await expect(risk.evaluate(request)).rejects.toMatchObject({ status: 401, code: 0, error: 'HTTP_401', field: undefined });
  });

  it('uses the configured fallback decision', async () => {
    const { risk } = client('fail', { fallback: { decision: 'review' } });
    expect(await risk.evaluate(request)).toMatchObject({
      decision: 'review',
      score: 0,
      level: 0,
      challenge: 'none',
      fallback: true,
    });
    const custom = client('fail', { fallback: { decision: 'decline', score: 90, level: 4, challenge: 'block' } }).risk;
    expect(await custom.evaluate(request)).toMatchObject({ decision: 'decline', score: 90, level: 4, challenge: 'block' });
  });

  it('survives a logger that throws', async () => {
    const risk = new RiskGateClient({
      baseUrl: `${base}/fail`,
      secret: SECRET,
      logger: {
        warn() {
          throw new Error('logger down');
        },
      },
    });
    expect(await risk.evaluate(request)).toMatchObject({ fallback: true });
  });

  it('accepts an injected fetch', async () => {
    const spy = vi.fn(globalThis.fetch);
    const { risk } = client('ok', { fetch: spy });
    await risk.evaluate(request);
    expect(String(spy.mock.calls[0]![0])).toBe(`${base}/ok/v1/risk/evaluate`);
  });

  it('validates its options', () => {
    const ok = { baseUrl: base, secret: SECRET };
    expect(() => new RiskGateClient({ ...ok, secret: '' })).toThrow(TypeError);
    expect(() => new RiskGateClient({ ...ok, secret: `${SECRET}\n` })).toThrow(TypeError);
    for (const timeoutMs of [0, -1, Number.NaN, Number.POSITIVE_INFINITY]) {
      expect(() => new RiskGateClient({ ...ok, timeoutMs })).toThrow(TypeError);
    }
    expect(() => new RiskGateClient({ ...ok, baseUrl: 'not a url' })).toThrow(TypeError);
    expect(() => new RiskGateClient({ ...ok, fallback: { decision: 'maybe' as 'accept' } })).toThrow(TypeError);
    expect(() => new RiskGateClient(ok)).not.toThrow();
  });
});
