import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import Fastify from 'fastify';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { RiskGateClient, RiskGateRequestError, type VerifyResult } from '../../client/node/index.js';
import { generateSliderPuzzle } from '../../server/engine/challenges/slider/puzzle.js';
import type { HotState, StateKey } from '../../server/adapters/hot-state/hot-state.js';
import { MemoryHotState } from '../../server/adapters/hot-state/memory.js';
import type { ChallengeAnswerResponse, ChallengeStartResponse, EvaluateRequest, EvaluateResponse, VerifyResponse } from '../../shared/schemas.js';
import { APP_SECRET, OTHER_APP_SECRET, testApp, type TestApp } from '../support/app.js';
import { humanTrack, seeded } from '../support/tracks.js';
import { solvePow } from '../support/slider-solver.js';

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

const verified: VerifyResponse = {
  code: 200,
  message: 'ok',
  success: true,
  type: 'slider',
  event: 'login',
  account_id: 'alice',
  verified_at: '2026-01-01T00:00:00.000Z',
};

const request: EvaluateRequest = {
  event: 'register',
  black_box: 'bb.token.value',
  ip: '203.0.113.77',
  mobile: '13800138000',
  email: 'alice@example.com',
};

/** Far beyond any client timeout used here, so only the timeout can end the call (no timing assertions). */
const slowly = () => new Promise((resolve) => setTimeout(resolve, 5_000).unref());

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
    await slowly();
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

  // verify, each mode under the same prefixes. Anything but a well-formed RiskGate answer must fail closed.
  server.post('/ok/v1/challenges/verify', async (req) => {
    seen.push({ authorization: req.headers.authorization, body: req.body, contentType: req.headers['content-type'] });
    return verified;
  });
  server.post('/slow/v1/challenges/verify', async () => {
    await slowly();
    return verified;
  });
  server.post('/stall/v1/challenges/verify', (_req, reply) => {
    reply.hijack();
    reply.raw.writeHead(200, { 'content-type': 'application/json' });
    reply.raw.write('{"code":200,"success":true,'); // and never finishes
  });
  server.post('/fail/v1/challenges/verify', async (_req, reply) => reply.code(503).send({ code: 5030, error: 'STORE_UNAVAILABLE', message: 'down' }));
  server.post('/busy/v1/challenges/verify', async (_req, reply) => reply.code(429).send({ code: 4290, error: 'RATE_LIMITED', message: 'slow down' }));
  server.post('/bad/v1/challenges/verify', async (_req, reply) =>
    reply.code(400).send({ code: 9002, error: 'FIELD_INVALID', message: 'session_id is invalid', field: 'session_id' }),
  );
  server.post('/html/v1/challenges/verify', async (_req, reply) => reply.type('text/html').send('<html>{"success": true}</html>'));
  server.post('/wrong/v1/challenges/verify', async () => ({ hello: 'world' }));
  server.post('/liar/v1/challenges/verify', async () => ({ code: 200, success: true }));
  server.post('/truthy/v1/challenges/verify', async () => ({ ...verified, success: 'true' }));
  server.post('/oddfailure/v1/challenges/verify', async () => ({ code: 200, success: false, error: 'maybe' }));
  server.post('/moved/v1/challenges/verify', async (_req, reply) => reply.redirect('https://elsewhere.example/', 307));
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
    const result = await risk.evaluate(request);
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
    const result = await risk.evaluate(request);
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

// ---------------------------------------------------------------- verify

/** What a refusal for RiskGate's unavailability looks like: never a pass. */
const closed = (reason: string) => ({ success: false, error: 'unavailable', fallback: true, fallback_reason: reason });

describe('RiskGateClient.verify fails closed', () => {
  it('passes a success through, sending the session_id and account_id with the secret', async () => {
    const { risk, logger } = client('ok');
    const result = await risk.verify('sess-1', { accountId: 'alice' });
    expect(result).toEqual(verified);
    expect(seen.at(-1)).toMatchObject({ authorization: `Bearer ${SECRET}`, body: { session_id: 'sess-1', account_id: 'alice' } });
    await risk.verify('sess-2');
    expect(seen.at(-1)!.body).toEqual({ session_id: 'sess-2' });
    await risk.verify('sess-3', { sequenceId: '0000019A9F3C2B1D6E8F0A1B2C3D4E5F', minType: 'sms', event: 'register' });
    expect(seen.at(-1)!.body).toEqual({ session_id: 'sess-3', sequence_id: '0000019A9F3C2B1D6E8F0A1B2C3D4E5F', min_type: 'sms', event: 'register' });
    expect(risk.stats).toEqual({ requests: 3, timeouts: 0, errors: 0, fallbacks: 0 });
    expect(logger.warn).not.toHaveBeenCalled();
  });

  it('a timeout is not a pass', async () => {
    const { risk, logger } = client('slow', { timeoutMs: 100 });
    const result = await risk.verify('sess-1');
    expect(result).toMatchObject(closed('timeout'));
    expect(risk.stats).toEqual({ requests: 1, timeouts: 1, errors: 0, fallbacks: 1 });
    expect(logger.warn.mock.calls[0]![0]).toMatchObject({ riskgate: { path: 'v1/challenges/verify', reason: 'timeout', timeout_ms: 100 } });
    expect(logger.warn.mock.calls[0]![1]).toMatch(/NOT verified/);
  });

  it('a server that stalls with `"success":true,` half-sent is not a pass', async () => {
    const { risk } = client('stall', { timeoutMs: 100 });
    expect(await risk.verify('sess-1')).toMatchObject(closed('timeout'));
  });

  it('a refused connection is not a pass', async () => {
    const port = await closedPort();
    const { risk } = client('', { baseUrl: `http://127.0.0.1:${port}` });
    expect(await risk.verify('sess-1')).toMatchObject(closed('network'));
    expect(risk.stats).toEqual({ requests: 1, timeouts: 0, errors: 1, fallbacks: 1 });
  });

  it('a 5xx or 429 is not a pass', async () => {
    expect(await client('fail').risk.verify('sess-1')).toMatchObject(closed('server_error'));
    expect(await client('busy').risk.verify('sess-1')).toMatchObject(closed('rate_limited'));
  });

  it('an answer it cannot read is not a pass, however much it looks like one', async () => {
    for (const mode of ['html', 'wrong', 'liar', 'truthy', 'oddfailure', 'moved']) {
      const { risk } = client(mode);
      expect(await risk.verify('sess-1'), mode).toMatchObject(closed('bad_response'));
      expect(risk.stats.fallbacks, mode).toBe(1);
    }
  });

  it('ignores the evaluate fallback decision: even `accept` does not make verify pass', async () => {
    const { risk } = client('fail', { fallback: { decision: 'accept' } });
    expect((await risk.verify('sess-1')).success).toBe(false);
  });

  it('rejects a 4xx with the error body', async () => {
    const { risk } = client('bad');
    await expect(risk.verify('sess-1')).rejects.toMatchObject({ name: 'RiskGateRequestError', status: 400, code: 9002, field: 'session_id' });
    expect(risk.stats).toEqual({ requests: 1, timeouts: 0, errors: 1, fallbacks: 0 });
  });

  it('rejects an empty session id or account id as the caller\'s mistake, without a call', async () => {
    const { risk } = client('ok');
    await expect(risk.verify('')).rejects.toBeInstanceOf(TypeError);
    await expect(risk.verify(undefined as unknown as string)).rejects.toBeInstanceOf(TypeError);
    await expect(risk.verify('sess-1', { accountId: '' })).rejects.toBeInstanceOf(TypeError);
    expect(risk.stats.requests).toBe(0);
  });

  it('never logs the session id', async () => {
    const { risk, logger } = client('slow', { timeoutMs: 50 });
    await risk.verify('sess-secret-value-123', { accountId: 'alice@example.com' });
    const logged = JSON.stringify(logger.warn.mock.calls);
    for (const value of ['sess-secret-value-123', 'alice@example.com', SECRET]) expect(logged).not.toContain(value);
  });
});

// ---------------------------------------------------------------- against a real RiskGate

/** A hot state that can go down. */
class OutageHotState extends MemoryHotState implements HotState {
  down = false;
  override async get(key: StateKey) {
    if (this.down) throw new Error('connection lost');
    return super.get(key);
  }
}

describe('RiskGateClient.verify against a real RiskGate', () => {
  let riskgate: TestApp;
  let url: string;
  const hotState = new OutageHotState();
  const answers = new Map<string, number>();

  beforeAll(async () => {
    riskgate = await testApp(
      {},
      {
        hotState,
        puzzles: () => {
          const puzzle = generateSliderPuzzle();
          answers.set(`data:image/png;base64,${puzzle.background.toString('base64')}`, puzzle.answerX);
          return puzzle;
        },
      },
    );
    await riskgate.app.listen({ host: '127.0.0.1', port: 0 });
    url = `http://127.0.0.1:${(riskgate.app.server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    await riskgate.close();
  });

  /** A backend starts a slider for the account; a person passes it. */
  async function passedSession(accountId?: string): Promise<string> {
    const started = await riskgate.app.inject({
      method: 'POST',
      url: '/v1/challenges',
      headers: riskgate.auth,
      payload: { type: 'slider', event: 'withdraw', ...(accountId ? { account_id: accountId } : {}) },
    });
    const { challenge_id, slider } = started.json() as ChallengeStartResponse;
    const x = answers.get(slider!.background)!;
    const track = humanTrack(seeded(x), x, { device: 'mouse', speed: 'normal', style: 'direct' });
    const pow = slider!.pow ? { pow: solvePow(slider!.pow) } : {};
    const passed = await riskgate.app.inject({ method: 'POST', url: `/v1/challenges/${challenge_id}/answer`, headers: riskgate.auth, payload: { ...track, ...pow } });
    const body = passed.json() as ChallengeAnswerResponse;
    expect(body.success).toBe(true);
    return body.session_id!;
  }

  // Generous: the machine is loaded, and these calls are not about timeouts.
  const real = (secret = APP_SECRET) => new RiskGateClient({ baseUrl: url, secret, timeoutMs: 10_000, logger: { warn: vi.fn() } });

  it('a passed session verifies once: success, then already_used', async () => {
    const sessionId = await passedSession('alice');
    const risk = real();
    const first: VerifyResult = await risk.verify(sessionId, { accountId: 'alice' });
    expect(first).toMatchObject({ code: 200, success: true, type: 'slider', event: 'withdraw', account_id: 'alice' });
    expect(first.fallback).toBeUndefined();
    expect(await risk.verify(sessionId, { accountId: 'alice' })).toMatchObject({ success: false, error: 'already_used' });
    expect(risk.stats).toEqual({ requests: 2, timeouts: 0, errors: 0, fallbacks: 0 });
  });

  it('says why it refuses: account_mismatch, not_found, app_mismatch', async () => {
    const sessionId = await passedSession('alice');
    const risk = real();
    expect(await risk.verify(sessionId, { accountId: 'mallory' })).toMatchObject({ success: false, error: 'account_mismatch' });
    expect(await risk.verify('no-such-session')).toMatchObject({ success: false, error: 'not_found' });
    expect(await real(OTHER_APP_SECRET).verify(sessionId)).toMatchObject({ success: false, error: 'app_mismatch' });
    expect((await risk.verify(sessionId)).success).toBe(true);
  });

  it('rejects a wrong secret (4010)', async () => {
    const sessionId = await passedSession();
    await expect(real('sk_wrong_secret_0123456789').verify(sessionId)).rejects.toMatchObject({ name: 'RiskGateRequestError', status: 401, code: 4010 });
    expect((await real().verify(sessionId)).success).toBe(true);
  });

  it("RiskGate's store down (503 STORE_UNAVAILABLE) is not a pass, and the session survives it", async () => {
    const sessionId = await passedSession();
    const risk = real();
    hotState.down = true;
    try {
      expect(await risk.verify(sessionId)).toMatchObject(closed('server_error'));
    } finally {
      hotState.down = false;
    }
    expect((await risk.verify(sessionId)).success).toBe(true);
  });

  it('of many concurrent verifies through the client, one succeeds', async () => {
    const sessionId = await passedSession();
    const risk = real();
    const results = await Promise.all(Array.from({ length: 50 }, () => risk.verify(sessionId)));
    expect(results.filter((r) => r.success)).toHaveLength(1);
    expect(results.filter((r) => !r.success).every((r) => r.error === 'already_used')).toBe(true);
  });
});
