/**
 * Token decoding in worker threads, as `npm start` runs it: the compiled
 * worker from dist/ (npm test builds first). Then workers that crash or hang
 * (test/fixtures/faulty-decode-worker.mjs, the compiled worker with faults on
 * command): replaced, their tokens rejected rather than lost or hung, and
 * evaluations answered `degraded` with `token_unavailable`, never a 5xx.
 */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, describe, expect, it, vi } from 'vitest';
import type { EvaluateResponse } from '../../shared/schemas.js';
import { generateTokenKey, TokenKeyRing } from '../../server/engine/token/key-ring.js';
import { openBlackBox, type OpenResult } from '../../server/engine/token/decode.js';
import type * as Openers from '../../server/adapters/token/openers.js';
import { APP_KEY, testApp, type TestApp } from '../support/app.js';
import { makeToken, newDevice } from '../support/tokens.js';

const FAULTY_WORKER = new URL('../fixtures/faulty-decode-worker.mjs', import.meta.url);

const compiled = new URL('../../dist/server/adapters/token/openers.js', import.meta.url);
const built = existsSync(fileURLToPath(compiled));
if (!built) {
  if (process.env.CI) throw new Error('dist/ is missing: npm test builds it before the tests');
  console.warn('token-workers.test.ts: skipped, run npm run build first');
}

describe.skipIf(!built)('token decoding in worker threads', async () => {
  const { WorkerOpener, createTokenOpener } = (await import(compiled.href)) as typeof Openers;
  const first = generateTokenKey(new Date('2026-01-01T00:00:00Z'));
  const opener = createTokenOpener(2, [first]);
  afterAll(() => opener.close());

  it('uses worker threads when the compiled worker exists', () => {
    expect(opener).toBeInstanceOf(WorkerOpener);
  });

  it('opens tokens exactly as the main thread does, in batches of concurrent requests', async () => {
    const ring = new TokenKeyRing([first]);
    const device = await newDevice();
    const tokens = await Promise.all(Array.from({ length: 40 }, () => makeToken({ serverKey: ring.primary, appKey: 'pk_workers', device })));
    tokens.push('garbage', `${tokens[0]!.slice(0, -4)}AAAA`);
    const results = await Promise.all(tokens.map((token) => opener.open(token)));
    expect(results).toEqual(tokens.map((token) => openBlackBox(token, ring)));
    expect(results.filter((r) => r.ok)).toHaveLength(40);
  });

  it('follows key rotation', async () => {
    const second = generateTokenKey(new Date('2026-06-01T00:00:00Z'));
    const ring = new TokenKeyRing([first, second]);
    const token = await makeToken({ serverKey: ring.primary, appKey: 'pk_workers' });
    expect(await opener.open(token)).toMatchObject({ ok: false, failure: 'TOKEN_UNKNOWN_KEY' });
    opener.setKeys([first, second]);
    expect(await opener.open(token)).toMatchObject({ ok: true });
  });
});

describe.skipIf(!built)('a decode worker that crashes or hangs', async () => {
  const { WorkerOpener } = (await import(compiled.href)) as typeof Openers;
  const key = generateTokenKey(new Date('2026-01-01T00:00:00Z'));
  const ring = new TokenKeyRing([key]);
  const goodTokens = (n: number) => Promise.all(Array.from({ length: n }, () => makeToken({ serverKey: ring.primary, appKey: 'pk_workers' })));
  const openers: Openers.TokenOpener[] = [];
  afterEach(async () => {
    for (const opener of openers.splice(0)) await opener.close();
  });
  const faultyOpener = (size: number, timeoutMs: number) => {
    const failures: { cause: string; message: string }[] = [];
    const opener = new WorkerOpener(FAULTY_WORKER, size, [key], { timeoutMs, onWorkerFailure: (error, cause) => failures.push({ cause, message: error.message }) });
    openers.push(opener);
    return { opener, failures };
  };
  /** Every result opened the token, or was rejected as unavailable: nothing else, nothing left hanging. */
  const expectOpenedOrUnavailable = (results: PromiseSettledResult<OpenResult>[]) => {
    for (const result of results) {
      if (result.status === 'fulfilled') expect(result.value).toMatchObject({ ok: true });
      else expect(result.reason).toMatchObject({ name: 'DecodeUnavailableError' });
    }
  };

  it.each(['fault:exit', 'fault:throw'])('replaces a worker that dies (%s): its tokens are rejected as unavailable, and the next ones decode', { timeout: 30_000 }, async (fault) => {
    const { opener, failures } = faultyOpener(1, 5000);
    expect(await Promise.all((await goodTokens(4)).map((t) => opener.open(t)))).toEqual(Array(4).fill(expect.objectContaining({ ok: true })));

    // One burst: the faulty token shares its message with good ones, and the worker dies on it.
    const burst = await goodTokens(6);
    burst.splice(3, 0, fault);
    const results = await Promise.allSettled(burst.map((t) => opener.open(t)));
    expect(results[3]).toMatchObject({ status: 'rejected', reason: { name: 'DecodeUnavailableError' } });
    expectOpenedOrUnavailable(results);

    // Replaced: the pool decodes again, and the death was reported once.
    const after = await Promise.all((await goodTokens(8)).map((t) => opener.open(t)));
    expect(after.every((r) => r.ok)).toBe(true);
    expect(failures).toEqual([{ cause: 'exit', message: expect.any(String) }]);
  });

  it('terminates and replaces a worker that hangs, rejecting its tokens within the timeout; the other worker decodes meanwhile', { timeout: 30_000 }, async () => {
    const TIMEOUT_MS = 300;
    const { opener, failures } = faultyOpener(2, TIMEOUT_MS);
    // Both threads up first (one token each): the test is about a hang, not a slow start.
    expect((await Promise.all((await goodTokens(2)).map((t) => opener.open(t)))).every((r) => r.ok)).toBe(true);
    const started = performance.now();
    const hung = opener.open('fault:hang').then(
      () => 'opened',
      (error: Error) => ({ name: error.name, ms: performance.now() - started }),
    );
    await new Promise((resolve) => setTimeout(resolve, TIMEOUT_MS / 2));
    // The hung worker holds a token and has answered nothing for a while: new ones go to the other.
    const meanwhile = await Promise.all((await goodTokens(4)).map((t) => opener.open(t)));
    expect(meanwhile.every((r) => r.ok)).toBe(true);

    const outcome = await hung;
    expect(outcome).toMatchObject({ name: 'DecodeUnavailableError' });
    // The timeout, plus the watchdog's period (a quarter of it), plus room for a busy machine.
    expect((outcome as { ms: number }).ms).toBeLessThan(TIMEOUT_MS + 1000);
    // Reported once the spinning thread has actually been terminated.
    await vi.waitFor(() => expect(failures).toEqual([{ cause: 'hang', message: expect.stringMatching(/terminated/) }]), { timeout: 5000, interval: 20 });

    const after = await Promise.all((await goodTokens(8)).map((t) => opener.open(t)));
    expect(after.every((r) => r.ok)).toBe(true);
  });
});

describe.skipIf(!built)('a decode worker slow to start', async () => {
  const { WorkerOpener } = (await import(compiled.href)) as typeof Openers;
  const key = generateTokenKey(new Date('2026-01-01T00:00:00Z'));
  const ring = new TokenKeyRing([key]);

  it('is not taken for hung: tokens given while it starts wait for it (a busy machine starts threads slowly)', { timeout: 30_000 }, async () => {
    const TIMEOUT_MS = 200;
    process.env.RISKGATE_TEST_DECODE_SLOW_START_MS = String(4 * TIMEOUT_MS);
    const failures: string[] = [];
    const opener = new WorkerOpener(FAULTY_WORKER, 1, [key], { timeoutMs: TIMEOUT_MS, onWorkerFailure: (error) => failures.push(error.message) });
    try {
      const tokens = await Promise.all(Array.from({ length: 3 }, () => makeToken({ serverKey: ring.primary, appKey: 'pk_workers' })));
      const results = await Promise.all(tokens.map((t) => opener.open(t)));
      expect(results.every((r) => r.ok)).toBe(true);
      expect(failures).toEqual([]);
    } finally {
      delete process.env.RISKGATE_TEST_DECODE_SLOW_START_MS;
      await opener.close();
    }
  });
});

describe.skipIf(!built)('evaluations while a decode worker crashes or hangs', () => {
  const DECODE_TIMEOUT_MS = 300;
  let t: TestApp | undefined;
  afterEach(async () => {
    await t?.close();
    t = undefined;
  });
  const start = async () => {
    t = await testApp({ token: { decode_threads: 1, decode_timeout_ms: DECODE_TIMEOUT_MS } }, { decodeWorker: FAULTY_WORKER });
    return t;
  };
  const evaluate = async (app: TestApp, black_box: string, ip: string) => {
    const started = performance.now();
    const response = await app.app.inject({ method: 'POST', url: '/v1/risk/evaluate', headers: app.auth, payload: { event: 'login', ip, black_box } });
    return { status: response.statusCode, body: response.json() as EvaluateResponse, ms: performance.now() - started };
  };
  const token = (app: TestApp) => makeToken({ serverKey: app.app.riskgate.keys.current().primary, appKey: APP_KEY });
  const reasonIds = (body: EvaluateResponse) => body.reasons.map((r) => r.id);
  const metric = async (app: TestApp, line: RegExp) => {
    const text = (await app.app.inject({ method: 'GET', url: '/metrics' })).body;
    return Number(text.split('\n').find((l) => line.test(l))?.split(' ').pop() ?? 0);
  };
  /** Answered 200, degraded, because the token could not be checked: at least a challenge, never an accept. */
  const expectUnchecked = async (app: TestApp, answer: { status: number; body: EvaluateResponse }) => {
    expect(answer.status, JSON.stringify(answer.body)).toBe(200);
    expect(answer.body).toMatchObject({ code: 200, degraded: true });
    expect(reasonIds(answer.body)).toContain('token_unavailable');
    expect(answer.body.decision).not.toBe('accept');
    const logged = await app.app.inject({ method: 'GET', url: `/v1/decisions/${answer.body.sequence_id}`, headers: app.auth });
    expect(logged.json().decision.features.token).toMatchObject({ status: 'unavailable', failure: '' });
  };
  /** A good token decodes again: the worker was replaced. */
  const expectDecodesAgain = async (app: TestApp) => {
    const answer = await evaluate(app, await token(app), '203.0.113.200');
    expect(answer.status).toBe(200);
    expect(reasonIds(answer.body)).not.toContain('token_unavailable');
    expect(answer.body.device_id).toEqual(expect.any(String));
  };

  it('a worker that crashes: the requests it held are answered degraded (token_unavailable), it is replaced, no 5xx', { timeout: 30_000 }, async () => {
    const app = await start();
    await expectDecodesAgain(app);
    const goods = await Promise.all([token(app), token(app), token(app)]);
    const answers = await Promise.all([evaluate(app, goods[0]!, '203.0.113.1'), evaluate(app, 'fault:exit', '203.0.113.2'), evaluate(app, goods[1]!, '203.0.113.3'), evaluate(app, goods[2]!, '203.0.113.4')]);
    await expectUnchecked(app, answers[1]!);
    for (const answer of answers) {
      expect(answer.status).toBe(200);
      if (reasonIds(answer.body).includes('token_unavailable')) await expectUnchecked(app, answer);
    }
    await expectDecodesAgain(app);
    await vi.waitFor(async () => expect(await metric(app, /^riskgate_decode_worker_failures_total\{cause="exit"\} /)).toBe(1), { timeout: 5000, interval: 20 });
    expect(await metric(app, /^riskgate_dependency_failures_total\{dependency="token_decoder"\} /)).toBeGreaterThanOrEqual(1);
  });

  it('a worker that hangs: requests are answered degraded within the decode timeout, it is terminated and replaced', { timeout: 30_000 }, async () => {
    const app = await start();
    await expectDecodesAgain(app);
    const hung = evaluate(app, 'fault:hang', '203.0.113.10');
    await new Promise((resolve) => setTimeout(resolve, 50));
    // Sent while the only worker spins: queued behind it, and answered degraded with it.
    const meanwhile = evaluate(app, await token(app), '203.0.113.11');
    for (const answer of [await hung, await meanwhile]) {
      await expectUnchecked(app, answer);
      expect(answer.ms).toBeLessThan(DECODE_TIMEOUT_MS + 1500);
    }
    await expectDecodesAgain(app);
    await vi.waitFor(async () => expect(await metric(app, /^riskgate_decode_worker_failures_total\{cause="hang"\} /)).toBe(1), { timeout: 5000, interval: 20 });
  });
});
