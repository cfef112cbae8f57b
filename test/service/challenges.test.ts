/**
 * Challenges end to end (issue 4): evaluate advises a slider or SMS with a
 * challenge_token, the SDK (app_key + Origin) or a backend (secret) starts it,
 * answers earn a single-use session_id, and the backend verifies it. Everything
 * goes through `inject` on a real app; the slider answer is known through the
 * `puzzles` seam, SMS codes through a capturing provider.
 */
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { InjectOptions } from 'fastify';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import YAML from 'yaml';
import { DEFAULT_RULES_FILE } from '../../server/app.js';
import { rateLimitIp } from '../../server/engine/identifiers/ip-prefix.js';
import { generateSliderPuzzle, type RandomBytes } from '../../server/engine/challenges/slider/puzzle.js';
import type { SmsMessage, SmsProvider } from '../../server/adapters/sms/provider.js';
import { verifyWebhookSignature, WEBHOOK_SIGNATURE_HEADER, WEBHOOK_TIMESTAMP_HEADER, type SmsWebhookPayload } from '../../server/adapters/sms/webhook.js';
import type { HotState, ObservationBatch, StateKey } from '../../server/adapters/hot-state/hot-state.js';
import { MemoryHotState } from '../../server/adapters/hot-state/memory.js';
import type {
  ChallengeAnswerResponse,
  ChallengeStartResponse,
  EvaluateResponse,
  SliderPuzzleView,
  SmsSendResponse,
  VerifyResponse,
} from '../../shared/schemas.js';
import { APP_KEY, injectJson, OTHER_APP_KEY, OTHER_APP_SECRET, testApp, type TestApp } from '../support/app.js';
import { makeToken, newDevice } from '../support/tokens.js';
import { botTrack, humanTrack, seeded } from '../support/tracks.js';
import { solvePow } from '../support/slider-solver.js';

const ORIGIN = 'https://shop.example';
const FOREIGN_ORIGIN = 'https://evil.example';
const MOBILE = '+8613812345678';
const MINUTE = 60_000;

// ---------------------------------------------------------------- rules

/** Every request scores 25 (level 1: slider); one with a mobile 75 (level 3: sms). Plus the default challenge-loop rules. */
let rulesDir: string;
let rulesFile: string;
beforeAll(() => {
  const defaults = YAML.parse(readFileSync(DEFAULT_RULES_FILE, 'utf8')) as { rules: { id: string }[] };
  const loop = defaults.rules.filter((rule) => rule.id.startsWith('challenge_'));
  expect(loop.map((rule) => rule.id).sort()).toEqual(['challenge_abandoned', 'challenge_failed', 'challenge_passed_recently']);
  rulesDir = mkdtempSync(join(tmpdir(), 'riskgate-challenge-rules-'));
  rulesFile = join(rulesDir, 'rules.yaml');
  writeFileSync(
    rulesFile,
    YAML.stringify({
      version: 1,
      rules: [
        { id: 'flat', when: 'true', score: 25, reason: { en: 'Flat', zh: '固定' } },
        { id: 'has_mobile', when: 'request.has_mobile', score: 50, reason: { en: 'Has a mobile', zh: '有手机号' } },
        ...loop,
      ],
    }),
  );
});
afterAll(() => rmSync(rulesDir, { recursive: true, force: true }));

// ---------------------------------------------------------------- harness

class CapturingSms implements SmsProvider {
  readonly name = 'capture';
  readonly sent: SmsMessage[] = [];
  async send(message: SmsMessage): Promise<void> {
    this.sent.push(message);
  }
  /** The 6-digit code in the last text sent to `to`. */
  lastCode(to = MOBILE): string {
    const text = this.sent.filter((m) => m.to === to).at(-1)?.text;
    const code = text && /\b(\d{6})\b/.exec(text)?.[1];
    if (!code) throw new Error(`no code was sent to ${to}`);
    return code;
  }
}

/** A hot state whose calls throw while `down` (or while their name is in `failing`): an outage. */
class BreakableHotState implements HotState {
  down = false;
  readonly failing = new Set<keyof HotState>();
  readonly inner = new MemoryHotState();
  private guard(name: keyof HotState): void {
    if (this.down || this.failing.has(name)) throw new Error('connection lost');
  }
  async observe(batch: ObservationBatch) {
    this.guard('observe');
    return this.inner.observe(batch);
  }
  async claimOnce(key: StateKey, ttlMs: number) {
    this.guard('claimOnce');
    return this.inner.claimOnce(key, ttlMs);
  }
  async put(key: StateKey, value: string, ttlMs: number) {
    this.guard('put');
    return this.inner.put(key, value, ttlMs);
  }
  async get(key: StateKey) {
    this.guard('get');
    return this.inner.get(key);
  }
  async take(key: StateKey) {
    this.guard('take');
    return this.inner.take(key);
  }
  async increment(key: StateKey, ttlMs: number) {
    this.guard('increment');
    return this.inner.increment(key, ttlMs);
  }
  async ping() {
    return !this.down;
  }
  async close() {
    await this.inner.close();
  }
}

/** Deterministic bytes for the puzzle generator: the same app draws the same puzzles. */
function seededBytes(seed: number): RandomBytes {
  const rand = seeded(seed);
  return (size) => Buffer.from(Array.from({ length: size }, () => Math.floor(rand() * 256)));
}

interface Harness {
  t: TestApp;
  sms: CapturingSms;
  /** The answer of a puzzle the server handed out (looked up by its background image). */
  answerX(view: SliderPuzzleView | undefined): number;
}

let current: TestApp[] = [];
afterEach(async () => {
  vi.useRealTimers();
  await Promise.all(current.map((t) => t.close()));
  current = [];
});

async function harness(raw: Record<string, unknown> = {}, options: Parameters<typeof testApp>[1] = {}): Promise<Harness> {
  const sms = new CapturingSms();
  const answers = new Map<string, number>();
  const random = seededBytes(4);
  const t = await testApp(
    { rules_file: rulesFile, ...raw },
    {
      smsProvider: sms,
      puzzles: () => {
        const puzzle = generateSliderPuzzle(random);
        answers.set(`data:image/png;base64,${puzzle.background.toString('base64')}`, puzzle.answerX);
        return puzzle;
      },
      ...options,
    },
  );
  current.push(t);
  return {
    t,
    sms,
    answerX(view) {
      const x = view && answers.get(view.background);
      if (x === undefined) throw new Error('not a puzzle this app drew');
      return x;
    },
  };
}

const call = injectJson;

/** A browser sends its Origin; a mini-program (or a test that says null) sends none. */
const sdkHeaders = (origin: string | null) => (origin ? { origin } : {});

const evaluate = (t: TestApp, body: Record<string, unknown>) =>
  call<EvaluateResponse>(t, { method: 'POST', url: '/v1/risk/evaluate', headers: t.auth, payload: { event: 'login', ip: '203.0.113.9', ...body } });

/** From the SDK: `{app_key, ...body}`, with an Origin. */
const startFromSdk = (t: TestApp, body: Record<string, unknown>, origin: string | null, extra: Partial<InjectOptions> = {}) =>
  call<ChallengeStartResponse>(t, { method: 'POST', url: '/v1/challenges', headers: sdkHeaders(origin), payload: { app_key: APP_KEY, ...body }, ...extra });

/** From a backend, with the secret. */
const startFromBackend = (t: TestApp, body: Record<string, unknown>) =>
  call<ChallengeStartResponse>(t, { method: 'POST', url: '/v1/challenges', headers: t.auth, payload: { event: 'login', ...body } });

const answer = (t: TestApp, id: string, body: object, origin: string | null = null) =>
  call<ChallengeAnswerResponse>(t, { method: 'POST', url: `/v1/challenges/${id}/answer`, headers: sdkHeaders(origin), payload: { app_key: APP_KEY, ...body } });

/** From the SDK page; `fields` are extra body fields (which the server must ignore). */
const sendSms = (t: TestApp, id: string, extra: { remoteAddress?: string; fields?: Record<string, unknown> } = {}) => {
  const { fields, ...options } = extra;
  return call<SmsSendResponse>(t, { method: 'POST', url: `/v1/challenges/${id}/sms`, headers: sdkHeaders(ORIGIN), payload: { app_key: APP_KEY, ...fields }, ...options });
};

const verify = (t: TestApp, sessionId: string, extra: { account_id?: string; event?: string; sequence_id?: string; min_type?: string; authorization?: string } = {}) => {
  const { authorization = t.auth.authorization, ...body } = extra;
  return call<VerifyResponse>(t, { method: 'POST', url: '/v1/challenges/verify', headers: { authorization }, payload: { session_id: sessionId, ...body } });
};

/** A person's drag onto the puzzle's answer. */
const personFor = (h: Harness, view: SliderPuzzleView | undefined) => {
  const x = h.answerX(view);
  return { ...humanTrack(seeded(x), x, { device: 'mouse', speed: 'normal', style: 'direct' }), ...powFor(view) };
};

/** The solved proof of work of a puzzle, as the SDK adds it to the answer. */
const powFor = (view: SliderPuzzleView | undefined) => (view?.pow ? { pow: solvePow(view.pow) } : {});

/** Starts a slider from the backend and passes it: a session_id. */
async function passedSession(h: Harness, body: Record<string, unknown> = {}): Promise<string> {
  const started = await startFromBackend(h.t, { type: 'slider', ...body });
  expect(started.status).toBe(200);
  const passed = await answer(h.t, started.body.challenge_id, personFor(h, started.body.slider));
  expect(passed.body).toMatchObject({ success: true, session_id: expect.any(String) });
  return passed.body.session_id!;
}

async function metric(t: TestApp, line: string): Promise<number> {
  const text = (await t.app.inject({ method: 'GET', url: '/metrics' })).body;
  const found = text.split('\n').find((l) => l.startsWith(`${line} `));
  return found ? Number(found.slice(line.length + 1)) : 0;
}

const reasonIds = (body: EvaluateResponse) => body.reasons.map((r) => r.id);

// ---------------------------------------------------------------- slider, from evaluate to verify

describe('slider: evaluate → SDK start → answer → verify', () => {
  it('evaluate advising a slider returns a challenge_token', async () => {
    const { t } = await harness();
    const { status, body } = await evaluate(t, {});
    expect(status).toBe(200);
    expect(body).toMatchObject({ score: 25, level: 1, challenge: 'slider', challenge_token: expect.any(String) });
  });

  it('the SDK starts it with the app key from an allowed origin and gets a puzzle as PNG data URLs, with CORS headers', async () => {
    const h = await harness();
    const token = (await evaluate(h.t, {})).body.challenge_token!;
    const { status, headers, body } = await startFromSdk(h.t, { challenge_token: token }, ORIGIN);
    expect(status).toBe(200);
    expect(headers['access-control-allow-origin']).toBe(ORIGIN);
    expect(String(headers.vary)).toMatch(/origin/i);
    expect(body).toMatchObject({ code: 200, type: 'slider', attempts_left: 5, challenge_id: expect.stringMatching(/^[A-Za-z0-9_-]{8,64}$/) });
    expect(Date.parse(body.expires_at)).toBeGreaterThan(Date.now());
    const slider = body.slider!;
    for (const image of [slider.background, slider.piece]) {
      expect(image).toMatch(/^data:image\/png;base64,/);
      expect(Buffer.from(image.slice('data:image/png;base64,'.length), 'base64').subarray(0, 8)).toEqual(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]));
    }
    expect(slider).toMatchObject({ width: 320, height: 160, piece_size: 56, piece_y: expect.any(Number) });
    // The answer stays on the server.
    expect(JSON.stringify(body)).not.toMatch(/answer/i);
  });

  it('answers the CORS preflight for an allowed origin and refuses a foreign one', async () => {
    const { t } = await harness();
    const preflight = (origin: string, url: string) =>
      t.app.inject({ method: 'OPTIONS', url, headers: { origin, 'access-control-request-method': 'POST', 'access-control-request-headers': 'content-type' } });
    for (const url of ['/v1/challenges', '/v1/challenges/abcdefgh12/answer', '/v1/challenges/abcdefgh12/sms']) {
      const ok = await preflight(ORIGIN, url);
      expect(ok.statusCode, url).toBe(204);
      expect(ok.headers['access-control-allow-origin']).toBe(ORIGIN);
      expect(String(ok.headers['access-control-allow-methods'])).toContain('POST');
      expect(String(ok.headers['access-control-allow-headers'])).toContain('content-type');
      const refused = await preflight(FOREIGN_ORIGIN, url);
      expect(refused.statusCode, url).toBe(403);
      expect(refused.headers['access-control-allow-origin']).toBeUndefined();
    }
  });

  it('a foreign Origin gets 4030 without CORS headers, and does not spend the token', async () => {
    const h = await harness();
    const token = (await evaluate(h.t, {})).body.challenge_token!;
    const foreign = await startFromSdk(h.t, { challenge_token: token }, FOREIGN_ORIGIN);
    expect(foreign.status).toBe(403);
    expect(foreign.body).toMatchObject({ code: 4030, error: 'NOT_ALLOWED', field: 'origin' });
    expect(foreign.headers['access-control-allow-origin']).toBeUndefined();
    expect((await startFromSdk(h.t, { challenge_token: token }, ORIGIN)).status).toBe(200);
  });

  it('an app without that origin (another app key) is refused too', async () => {
    const h = await harness();
    const refused = await startFromSdk(h.t, { app_key: OTHER_APP_KEY, type: 'slider' }, ORIGIN);
    expect(refused.body).toMatchObject({ code: 4030 });
    expect((await startFromSdk(h.t, { app_key: 'pk_unknown_0000' , type: 'slider' }, ORIGIN)).body).toMatchObject({ code: 4010 });
  });

  it('a person-like drag at the answer passes: one session_id, verified once, then already_used', async () => {
    const h = await harness();
    const token = (await evaluate(h.t, { account_id: 'alice' })).body.challenge_token!;
    const started = await startFromSdk(h.t, { challenge_token: token }, ORIGIN);
    const passed = await answer(h.t, started.body.challenge_id, personFor(h, started.body.slider), ORIGIN);
    expect(passed.status).toBe(200);
    expect(passed.headers['access-control-allow-origin']).toBe(ORIGIN);
    expect(passed.body).toMatchObject({ code: 200, success: true, session_id: expect.any(String) });
    const sessionId = passed.body.session_id!;

    // The puzzle is gone: no second answer.
    expect((await answer(h.t, started.body.challenge_id, personFor(h, started.body.slider))).body).toMatchObject({ success: false, failure: 'not_found' });

    const first = await verify(h.t, sessionId);
    expect(first.status).toBe(200);
    expect(first.body).toMatchObject({ code: 200, success: true, type: 'slider', event: 'login', account_id: 'alice' });
    expect(Date.parse(first.body.verified_at!)).not.toBeNaN();
    expect((await verify(h.t, sessionId)).body).toMatchObject({ success: false, error: 'already_used' });
  });

  it('the challenge_token is single use', async () => {
    const h = await harness();
    const token = (await evaluate(h.t, {})).body.challenge_token!;
    expect((await startFromSdk(h.t, { challenge_token: token }, ORIGIN)).status).toBe(200);
    const again = await startFromSdk(h.t, { challenge_token: token }, ORIGIN);
    expect(again.status).toBe(404);
    expect(again.body).toMatchObject({ code: 4040, field: 'challenge_token' });
    // Errors to an allowed origin still carry CORS headers, so the SDK can read them.
    expect(again.headers['access-control-allow-origin']).toBe(ORIGIN);
  });

  it('a start refused by the rate limit does not spend the challenge_token', async () => {
    const h = await harness({ challenges: { starts_per_ip_minute: 1 } });
    const token = (await evaluate(h.t, {})).body.challenge_token!;
    expect((await startFromSdk(h.t, { type: 'slider' }, ORIGIN, { remoteAddress: '198.51.100.7' })).status).toBe(200);
    const limited = await startFromSdk(h.t, { challenge_token: token }, ORIGIN, { remoteAddress: '198.51.100.7' });
    expect(limited.status).toBe(429);
    expect(limited.body).toMatchObject({ code: 4290 });
    expect((await startFromSdk(h.t, { challenge_token: token }, ORIGIN, { remoteAddress: '198.51.100.8' })).status).toBe(200);
  });

  it("another app cannot start (or burn) this app's challenge_token", async () => {
    const h = await harness();
    const token = (await evaluate(h.t, {})).body.challenge_token!;
    const other = await call<ChallengeStartResponse>(h.t, {
      method: 'POST',
      url: '/v1/challenges',
      headers: { authorization: `Bearer ${OTHER_APP_SECRET}` },
      payload: { app_key: OTHER_APP_KEY, challenge_token: token },
    });
    expect(other.body).toMatchObject({ code: 4040 });
    expect((await startFromSdk(h.t, { challenge_token: token }, ORIGIN)).status).toBe(200);
  });

  it('a standalone slider from the SDK (app key, no token) works; so does a start without an Origin (mini-programs)', async () => {
    const h = await harness();
    const started = await startFromSdk(h.t, { type: 'slider' }, null);
    expect(started.status).toBe(200);
    expect(started.headers['access-control-allow-origin']).toBeUndefined();
    const passed = await answer(h.t, started.body.challenge_id, personFor(h, started.body.slider));
    const verified = await verify(h.t, passed.body.session_id!);
    expect(verified.body).toMatchObject({ success: true, type: 'slider', event: 'login', account_id: null });
  });

  it("another app's key cannot answer this app's challenge, and its attempt does not disturb it", async () => {
    const h = await harness();
    const started = await startFromBackend(h.t, { type: 'slider' });
    const foreign = await call<ChallengeAnswerResponse>(h.t, {
      method: 'POST',
      url: `/v1/challenges/${started.body.challenge_id}/answer`,
      payload: { app_key: OTHER_APP_KEY, ...personFor(h, started.body.slider) },
    });
    expect(foreign.body).toMatchObject({ success: false, failure: 'not_found' });
    expect((await answer(h.t, started.body.challenge_id, personFor(h, started.body.slider))).body.success).toBe(true);
  });
});

describe('slider: failures', () => {
  it('a bot track (straight, constant speed) at the right x fails with a fresh puzzle; attempts run out', async () => {
    const h = await harness();
    const started = await startFromSdk(h.t, { type: 'slider' }, ORIGIN);
    const id = started.body.challenge_id;
    let view = started.body.slider;
    for (let left = 4; left >= 1; left--) {
      const failed = await answer(h.t, id, botTrack(h.answerX(view)), ORIGIN);
      expect(failed.body).toMatchObject({ success: false, failure: 'failed', attempts_left: left });
      expect(failed.body.session_id).toBeUndefined();
      // A fresh puzzle each time: the old answer is worth nothing.
      expect(failed.body.slider?.background).toMatch(/^data:image\/png;base64,/);
      expect(failed.body.slider!.background).not.toBe(view!.background);
      // Which track check tripped stays in the server log.
      expect(JSON.stringify(failed.body)).not.toMatch(/y_jitter|constant_speed/);
      view = failed.body.slider;
    }
    const last = await answer(h.t, id, botTrack(h.answerX(view)), ORIGIN);
    expect(last.body).toMatchObject({ success: false, failure: 'too_many_attempts', attempts_left: 0 });
    expect(last.body.slider).toBeUndefined();
    // Nothing left to answer, even correctly.
    expect((await answer(h.t, id, personFor(h, view))).body).toMatchObject({ success: false, failure: 'not_found' });
    expect(await metric(h.t, 'riskgate_challenge_outcomes_total{type="slider",outcome="too_many_attempts"}')).toBe(1);
  });

  it("the previous puzzle's answer does not pass the fresh one", async () => {
    const h = await harness();
    const started = await startFromBackend(h.t, { type: 'slider' });
    const first = started.body.slider;
    // Fail until a fresh puzzle has its answer elsewhere (seeded puzzles: the second one does).
    let view = first;
    let attemptsLeft = 5;
    while (Math.abs(h.answerX(view) - h.answerX(first)) <= 4 && attemptsLeft > 2) {
      const failed = await answer(h.t, started.body.challenge_id, botTrack(h.answerX(view)));
      view = failed.body.slider;
      attemptsLeft = failed.body.attempts_left!;
    }
    expect(Math.abs(h.answerX(view) - h.answerX(first))).toBeGreaterThan(4);
    const stale = await answer(h.t, started.body.challenge_id, personFor(h, first));
    expect(stale.body).toMatchObject({ success: false, failure: 'failed', attempts_left: attemptsLeft - 1 });
  });

  it('parallel answers to one puzzle: at most one passes (answers take the challenge)', async () => {
    const h = await harness();
    const started = await startFromBackend(h.t, { type: 'slider' });
    const track = personFor(h, started.body.slider);
    const results = await Promise.all(Array.from({ length: 20 }, () => answer(h.t, started.body.challenge_id, track)));
    expect(results.filter((r) => r.body.success)).toHaveLength(1);
    expect(new Set(results.filter((r) => !r.body.success).map((r) => r.body.failure))).toEqual(new Set(['not_found']));
  });

  it('an unknown challenge id answers not_found', async () => {
    const { t } = await harness();
    expect((await answer(t, 'nosuchchallenge1', botTrack(100))).body).toMatchObject({ success: false, failure: 'not_found' });
  });
});

// ---------------------------------------------------------------- verify

describe('POST /v1/challenges/verify', () => {
  it("another app's secret: app_mismatch (and the session stays usable by its own app)", async () => {
    const h = await harness();
    const sessionId = await passedSession(h);
    expect((await verify(h.t, sessionId, { authorization: `Bearer ${OTHER_APP_SECRET}` })).body).toMatchObject({ success: false, error: 'app_mismatch' });
    expect((await verify(h.t, sessionId)).body.success).toBe(true);
  });

  it('a wrong account_id: account_mismatch; the right one passes', async () => {
    const h = await harness();
    const sessionId = await passedSession(h, { account_id: 'alice' });
    expect((await verify(h.t, sessionId, { account_id: 'mallory' })).body).toMatchObject({ success: false, error: 'account_mismatch' });
    expect((await verify(h.t, sessionId, { account_id: 'alice' })).body).toMatchObject({ success: true, account_id: 'alice' });
  });

  it('a session passed for another event: event_mismatch; the right event passes', async () => {
    const h = await harness();
    const sessionId = await passedSession(h, { event: 'login' });
    expect((await verify(h.t, sessionId, { event: 'withdraw' })).body).toMatchObject({ success: false, error: 'event_mismatch' });
    expect((await verify(h.t, sessionId, { event: 'login' })).body).toMatchObject({ success: true, event: 'login' });
  });

  it('a session without an account does not match an account_id', async () => {
    const h = await harness();
    const sessionId = await passedSession(h);
    expect((await verify(h.t, sessionId, { account_id: 'alice' })).body).toMatchObject({ success: false, error: 'account_mismatch' });
  });

  it('an unknown session_id: not_found', async () => {
    const { t } = await harness();
    expect((await verify(t, 'no-such-session')).body).toMatchObject({ code: 200, success: false, error: 'not_found' });
  });

  it('needs the secret: no secret is 4010', async () => {
    const h = await harness();
    const sessionId = await passedSession(h);
    const response = await call<VerifyResponse>(h.t, { method: 'POST', url: '/v1/challenges/verify', headers: { origin: ORIGIN }, payload: { session_id: sessionId, app_key: APP_KEY } });
    expect(response.status).toBe(401);
    expect(response.body).toMatchObject({ code: 4010 });
    expect((await verify(h.t, sessionId)).body.success).toBe(true);
  });

  it('200 parallel verifies of one session_id: exactly one succeeds', async () => {
    const h = await harness();
    const sessionId = await passedSession(h);
    const results = await Promise.all(Array.from({ length: 200 }, () => verify(h.t, sessionId)));
    expect(results.every((r) => r.status === 200)).toBe(true);
    expect(results.filter((r) => r.body.success)).toHaveLength(1);
    expect(new Set(results.filter((r) => !r.body.success).map((r) => r.body.error))).toEqual(new Set(['already_used']));
  });
});

describe('no challenge downgrade', () => {
  it('once an SMS is advised, asking again (no mobile, no token) advises nothing weaker until an SMS passes', async () => {
    const h = await harness();
    const account = 'victim';
    const first = await evaluate(h.t, { account_id: account, mobile: MOBILE });
    expect(first.body).toMatchObject({ level: 3, challenge: 'sms', challenge_token: expect.any(String) });
    // The bot asks again without the number: the rules alone would advise a slider (level 1).
    const again = await evaluate(h.t, { account_id: account });
    expect(again.body.challenge, JSON.stringify(again.body)).toBe('sms');
    expect(again.body.decision).not.toBe('accept');
    expect(again.body.challenge_token).toBeUndefined();
    expect(reasonIds(again.body)).toContain('challenge_escalated');
    // Another account is not affected.
    expect((await evaluate(h.t, { account_id: 'someone_else' })).body.challenge).toBe('slider');

    // The person passes the SMS the first evaluation advised; then the escalation is released.
    const started = await startFromSdk(h.t, { challenge_token: first.body.challenge_token }, ORIGIN);
    await sendSms(h.t, started.body.challenge_id);
    const passed = await answer(h.t, started.body.challenge_id, { code: h.sms.lastCode() }, ORIGIN);
    expect(passed.body.success).toBe(true);
    const after = await evaluate(h.t, { account_id: account });
    expect(after.body.challenge).not.toBe('sms');
    expect(reasonIds(after.body)).not.toContain('challenge_escalated');
  });

  it('verify binds a session to the evaluation that advised it (sequence_id) and to a minimum type: challenge_mismatch', async () => {
    const h = await harness();
    const advisedSms = await evaluate(h.t, { account_id: 'alice', mobile: MOBILE });
    // A slider the bot passed elsewhere (a standalone captcha, or another evaluation's).
    const sliderSession = await passedSession(h, { account_id: 'alice' });
    expect((await verify(h.t, sliderSession, { sequence_id: advisedSms.body.sequence_id })).body).toMatchObject({ success: false, error: 'challenge_mismatch' });
    expect((await verify(h.t, sliderSession, { min_type: 'sms' })).body).toMatchObject({ success: false, error: 'challenge_mismatch' });
    // Refusals do not use it up: without a binding it still verifies once.
    expect((await verify(h.t, sliderSession, { min_type: 'slider' })).body).toMatchObject({ success: true, type: 'slider' });

    // The SMS that evaluation advised, passed: it verifies with its sequence_id and min_type sms.
    const started = await startFromSdk(h.t, { challenge_token: advisedSms.body.challenge_token }, ORIGIN);
    await sendSms(h.t, started.body.challenge_id);
    const passed = await answer(h.t, started.body.challenge_id, { code: h.sms.lastCode() }, ORIGIN);
    const bound = await verify(h.t, passed.body.session_id!, { account_id: 'alice', sequence_id: advisedSms.body.sequence_id, min_type: 'sms' });
    expect(bound.body).toMatchObject({ success: true, type: 'sms' });
    // A sequence_id that is not one is a 9002, naming the field.
    const junk = await call<{ code: number; field?: string }>(h.t, { method: 'POST', url: '/v1/challenges/verify', headers: h.t.auth, payload: { session_id: 'x', sequence_id: 'nope' } });
    expect(junk.status).toBe(400);
    expect(junk.body).toMatchObject({ code: 9002, field: 'sequence_id' });
  });
});

// ---------------------------------------------------------------- expiry (a fake clock: Date only)

describe('expiry', () => {
  const advance = (ms: number) => vi.setSystemTime(Date.now() + ms);

  it('a session_id expires after session_ttl_seconds', async () => {
    vi.useFakeTimers({ toFake: ['Date'] });
    const h = await harness();
    const sessionId = await passedSession(h);
    advance(5 * MINUTE + 1000);
    expect((await verify(h.t, sessionId)).body).toMatchObject({ success: false, error: 'expired' });
  });

  it('a session_id just inside its TTL still verifies', async () => {
    vi.useFakeTimers({ toFake: ['Date'] });
    const h = await harness();
    const sessionId = await passedSession(h);
    advance(5 * MINUTE - 1000);
    expect((await verify(h.t, sessionId)).body.success).toBe(true);
  });

  it('a challenge answered after its ttl says expired', async () => {
    vi.useFakeTimers({ toFake: ['Date'] });
    const h = await harness();
    const started = await startFromBackend(h.t, { type: 'slider' });
    advance(10 * MINUTE + 1000);
    expect((await answer(h.t, started.body.challenge_id, personFor(h, started.body.slider))).body).toMatchObject({ success: false, failure: 'expired' });
  });

  it('a challenge_token expires', async () => {
    vi.useFakeTimers({ toFake: ['Date'] });
    const h = await harness();
    const token = (await evaluate(h.t, {})).body.challenge_token!;
    advance(10 * MINUTE + 1000);
    expect((await startFromSdk(h.t, { challenge_token: token }, ORIGIN)).body).toMatchObject({ code: 4040 });
  });

  it('an SMS code expires after code_ttl_seconds; a new code then works', async () => {
    vi.useFakeTimers({ toFake: ['Date'] });
    const h = await harness();
    const started = await startFromBackend(h.t, { type: 'sms', mobile: MOBILE });
    await sendSms(h.t, started.body.challenge_id);
    const code = h.sms.lastCode();
    advance(5 * MINUTE + 1000);
    expect((await answer(h.t, started.body.challenge_id, { code })).body).toMatchObject({ success: false, failure: 'expired', attempts_left: 5 });
    expect((await sendSms(h.t, started.body.challenge_id)).body.sent).toBe(true);
    expect(h.sms.sent).toHaveLength(2);
    expect((await answer(h.t, started.body.challenge_id, { code: h.sms.lastCode() })).body.success).toBe(true);
  });
});

// ---------------------------------------------------------------- SMS

describe('SMS challenges', () => {
  it('evaluate advising sms returns a challenge_token only when the request carried a mobile', async () => {
    const { t } = await harness();
    const withMobile = await evaluate(t, { mobile: MOBILE });
    expect(withMobile.body).toMatchObject({ level: 3, challenge: 'sms', challenge_token: expect.any(String) });
    // Without a number nobody can be texted: the SDK gets no token to start an SMS with.
    const higher = await testApp({ rules_file: rulesFile, scoring: { default: { challenges: { 1: 'sms' } } } }, { smsProvider: new CapturingSms() });
    current.push(higher);
    const withoutMobile = await evaluate(higher, {});
    expect(withoutMobile.body.challenge).toBe('sms');
    expect(withoutMobile.body.challenge_token).toBeUndefined();
  });

  it('backend start with a +86 number → send → wrong code (attempts left) → right code → session_id', async () => {
    const h = await harness();
    const started = await startFromBackend(h.t, { type: 'sms', account_id: 'alice', mobile: MOBILE });
    expect(started.status).toBe(200);
    expect(started.body).toMatchObject({ type: 'sms', attempts_left: 5, sms: { masked_mobile: '138****5678', resend_after_seconds: 0 } });
    expect(JSON.stringify(started.body)).not.toContain('13812345678');
    expect(started.body.slider).toBeUndefined();

    const sent = await sendSms(h.t, started.body.challenge_id);
    expect(sent.status).toBe(200);
    expect(sent.body).toMatchObject({ sent: true, masked_mobile: '138****5678', resend_after_seconds: 60 });
    expect(sent.headers['access-control-allow-origin']).toBe(ORIGIN);
    expect(h.sms.sent).toHaveLength(1);
    const message = h.sms.sent[0]!;
    expect(message).toMatchObject({ to: MOBILE, appId: 'shop', challengeId: started.body.challenge_id });
    const code = h.sms.lastCode();
    expect(code).toMatch(/^\d{6}$/);
    expect(message.text).toContain(code);

    const wrong = String((Number(code) + 1) % 1_000_000).padStart(6, '0');
    expect((await answer(h.t, started.body.challenge_id, { code: wrong }, ORIGIN)).body).toMatchObject({ success: false, failure: 'failed', attempts_left: 4 });
    const right = await answer(h.t, started.body.challenge_id, { code }, ORIGIN);
    expect(right.body).toMatchObject({ success: true, session_id: expect.any(String) });
    expect((await verify(h.t, right.body.session_id!, { account_id: 'alice' })).body).toMatchObject({ success: true, type: 'sms', event: 'login', account_id: 'alice' });
    expect(await metric(h.t, 'riskgate_sms_sent_total')).toBe(1);
  });

  it('5 wrong codes: too_many_attempts, and the right code is worthless after', async () => {
    const h = await harness();
    const started = await startFromBackend(h.t, { type: 'sms', mobile: MOBILE });
    await sendSms(h.t, started.body.challenge_id);
    const code = h.sms.lastCode();
    const wrong = String((Number(code) + 500_000) % 1_000_000).padStart(6, '0');
    for (let left = 4; left >= 1; left--) {
      expect((await answer(h.t, started.body.challenge_id, { code: wrong })).body).toMatchObject({ failure: 'failed', attempts_left: left });
    }
    expect((await answer(h.t, started.body.challenge_id, { code: wrong })).body).toMatchObject({ success: false, failure: 'too_many_attempts', attempts_left: 0 });
    expect((await answer(h.t, started.body.challenge_id, { code })).body).toMatchObject({ success: false, failure: 'not_found' });
  });

  it('a resend does not reset the wrong-code count', async () => {
    vi.useFakeTimers({ toFake: ['Date'] });
    const h = await harness();
    const started = await startFromBackend(h.t, { type: 'sms', mobile: MOBILE });
    await sendSms(h.t, started.body.challenge_id);
    for (let i = 0; i < 3; i++) await answer(h.t, started.body.challenge_id, { code: '000000' === h.sms.lastCode() ? '111111' : '000000' });
    vi.setSystemTime(Date.now() + MINUTE + 1000);
    await sendSms(h.t, started.body.challenge_id);
    const code = h.sms.lastCode();
    expect((await answer(h.t, started.body.challenge_id, { code: code === '000000' ? '111111' : '000000' })).body).toMatchObject({ attempts_left: 1 });
  });

  it('parallel code guesses cannot exceed the wrong-code limit', async () => {
    const h = await harness();
    const started = await startFromBackend(h.t, { type: 'sms', mobile: MOBILE });
    await sendSms(h.t, started.body.challenge_id);
    const code = h.sms.lastCode();
    const guesses = Array.from({ length: 200 }, (_, i) => String(i).padStart(6, '0')).filter((guess) => guess !== code);
    const results = await Promise.all(guesses.map((guess) => answer(h.t, started.body.challenge_id, { code: guess })));
    const judged = results.filter((r) => r.body.failure !== 'not_found');
    expect(judged.length).toBeLessThanOrEqual(5);
    expect(results.some((r) => r.body.success)).toBe(false);
  });

  it('an answer before any code was sent: code_not_sent, and it costs no attempt', async () => {
    const h = await harness();
    const started = await startFromBackend(h.t, { type: 'sms', mobile: MOBILE });
    expect((await answer(h.t, started.body.challenge_id, { code: '123456' })).body).toMatchObject({ success: false, failure: 'code_not_sent', attempts_left: 5 });
  });

  it('a resend inside resend_seconds: 4290', async () => {
    const h = await harness();
    const started = await startFromBackend(h.t, { type: 'sms', mobile: MOBILE });
    expect((await sendSms(h.t, started.body.challenge_id)).status).toBe(200);
    const again = await sendSms(h.t, started.body.challenge_id);
    expect(again.status).toBe(429);
    expect(again.body).toMatchObject({ code: 4290, error: 'RATE_LIMITED' });
    expect(h.sms.sent).toHaveLength(1);
    // The challenge survives the refusal.
    expect((await answer(h.t, started.body.challenge_id, { code: h.sms.lastCode() })).body.success).toBe(true);
  });

  it('the per-mobile hourly limit: 4290 past per_mobile_hour, whichever challenge asks', async () => {
    const h = await harness();
    for (let i = 1; i <= 5; i++) {
      const started = await startFromBackend(h.t, { type: 'sms', mobile: MOBILE });
      expect((await sendSms(h.t, started.body.challenge_id)).status, `send ${i}`).toBe(200);
    }
    const sixth = await startFromBackend(h.t, { type: 'sms', mobile: MOBILE });
    const refused = await sendSms(h.t, sixth.body.challenge_id);
    expect(refused.status).toBe(429);
    expect(refused.body).toMatchObject({ code: 4290 });
    expect(h.sms.sent).toHaveLength(5);
    expect(await metric(h.t, 'riskgate_sms_refused_total{reason="rate_limited"}')).toBe(1);
    // Another number is not limited by this one's count.
    const other = await startFromBackend(h.t, { type: 'sms', mobile: '+8613900000001' });
    expect((await sendSms(h.t, other.body.challenge_id)).status).toBe(200);
  });

  it('SMS pumping: the 4th distinct number from one IP looks sent, but nothing is sent and it shows in metrics', async () => {
    const h = await harness();
    const numbers = ['+8613800000001', '+8613800000002', '+8613800000003', '+8613800000004'];
    const answers: SmsSendResponse[] = [];
    const ids: string[] = [];
    for (const mobile of numbers) {
      const started = await startFromBackend(h.t, { type: 'sms', mobile });
      ids.push(started.body.challenge_id);
      const sent = await sendSms(h.t, started.body.challenge_id, { remoteAddress: '198.51.100.20' });
      expect(sent.status).toBe(200);
      answers.push(sent.body);
    }
    expect(answers.map((a) => a.sent)).toEqual([true, true, true, true]);
    expect(answers[3]).toMatchObject({ masked_mobile: '138****0004', resend_after_seconds: 60 });
    expect(h.sms.sent.map((m) => m.to)).toEqual(numbers.slice(0, 3));
    expect(await metric(h.t, 'riskgate_sms_refused_total{reason="many_mobiles_per_ip"}')).toBe(1);
    // Nobody knows a code for the 4th: the codes sent to the others do not work on it.
    for (const mobile of numbers.slice(0, 3)) {
      expect((await answer(h.t, ids[3]!, { code: h.sms.lastCode(mobile) })).body.success).toBe(false);
    }
    // Another client is not affected.
    const elsewhere = await startFromBackend(h.t, { type: 'sms', mobile: '+8613800000005' });
    await sendSms(h.t, elsewhere.body.challenge_id, { remoteAddress: '198.51.100.21' });
    expect(h.sms.sent.map((m) => m.to)).toContain('+8613800000005');
  });

  it('IPv4 clients seen through a dual-stack listener (::ffff:a.b.c.d) are counted apart (regression: they shared one /64 key)', async () => {
    expect(rateLimitIp('::ffff:203.0.113.5')).toBe('203.0.113.5');
    expect(rateLimitIp('203.0.113.5')).toBe('203.0.113.5');
    expect(rateLimitIp('2001:db8:1:2:3:4:5:6')).toBe('2001:db8:1:2::/64');
    expect(rateLimitIp('2001:db8:1:2::9')).toBe(rateLimitIp('2001:db8:1:2:ffff::1'));
    expect(rateLimitIp('2001:db8:1:3::9')).not.toBe(rateLimitIp('2001:db8:1:2::9'));
    expect(rateLimitIp('fe80::1%eth0')).toBe('fe80:0:0:0::/64');

    const h = await harness();
    const numbers = ['+8613800000011', '+8613800000012', '+8613800000013', '+8613800000014'];
    for (const [i, mobile] of numbers.entries()) {
      const started = await startFromBackend(h.t, { type: 'sms', mobile });
      await sendSms(h.t, started.body.challenge_id, { remoteAddress: `::ffff:198.51.100.${30 + i}` });
    }
    expect(h.sms.sent.map((m) => m.to)).toEqual(numbers);
  });

  it('a number outside the allowed countries, from the backend: 9002', async () => {
    const h = await harness();
    const refused = await startFromBackend(h.t, { type: 'sms', mobile: '+447911123456' });
    expect(refused.status).toBe(400);
    expect(refused.body).toMatchObject({ code: 9002, field: 'mobile' });
    const garbage = await startFromBackend(h.t, { type: 'sms', mobile: 'call me' });
    expect(garbage.body).toMatchObject({ code: 9002, field: 'mobile' });
    expect((await startFromBackend(h.t, { type: 'sms' })).body).toMatchObject({ code: 9001, field: 'mobile' });
    expect(h.sms.sent).toHaveLength(0);
  });

  it('allowed_countries is configurable', async () => {
    const h = await harness({ challenges: { sms: { allowed_countries: ['86', '44'] } } });
    const started = await startFromBackend(h.t, { type: 'sms', mobile: '+447911123456' });
    expect(started.status).toBe(200);
    await sendSms(h.t, started.body.challenge_id);
    expect(h.sms.sent.map((m) => m.to)).toEqual(['+447911123456']);
  });

  it('the browser can never give the number', async () => {
    const h = await harness();
    const ATTACKER = '+8613999999999';
    // An SMS start from the SDK side, naming a number: there is no such request without the secret.
    const sdkSms = await startFromSdk(h.t, { type: 'sms', event: 'login', mobile: ATTACKER }, ORIGIN);
    expect(sdkSms.status).toBe(401);
    expect(sdkSms.body).toMatchObject({ code: 4010 });
    // A slider start with a number: the number is dropped.
    const slider = await startFromSdk(h.t, { type: 'slider', mobile: ATTACKER }, ORIGIN);
    expect(slider.body).toMatchObject({ type: 'slider' });
    expect((await sendSms(h.t, slider.body.challenge_id, { fields: { mobile: ATTACKER } })).body).toMatchObject({ code: 4040 });
    // A token for an SMS, started with another number in the body, then sent with another again: the backend's number wins.
    const token = (await evaluate(h.t, { mobile: MOBILE })).body.challenge_token!;
    const started = await startFromSdk(h.t, { challenge_token: token, mobile: ATTACKER, type: 'sms' }, ORIGIN);
    expect(started.body).toMatchObject({ type: 'sms', sms: { masked_mobile: '138****5678' } });
    await sendSms(h.t, started.body.challenge_id, { fields: { mobile: ATTACKER } });
    expect(h.sms.sent.map((m) => m.to)).toEqual([MOBILE]);
  });

  it('the SMS provider failing: 5020, and the user may try again at once', async () => {
    let fail = true;
    const sent: SmsMessage[] = [];
    const flaky: SmsProvider = {
      name: 'flaky',
      async send(message) {
        if (fail) throw new Error('gateway down');
        sent.push(message);
      },
    };
    const h = await harness({}, { smsProvider: flaky });
    const started = await startFromBackend(h.t, { type: 'sms', mobile: MOBILE });
    const failed = await sendSms(h.t, started.body.challenge_id);
    expect(failed.status).toBe(502);
    expect(failed.body).toMatchObject({ code: 5020, error: 'SMS_FAILED' });
    fail = false;
    expect((await sendSms(h.t, started.body.challenge_id)).status).toBe(200);
    expect(sent).toHaveLength(1);
  });
});

// ---------------------------------------------------------------- the webhook provider, end to end

describe('the webhook SMS provider, end to end', () => {
  const SECRET = 'webhook-secret-0123456789abcdef';
  /** A receiver in this process: plain http on loopback, which the configuration must allow. */
  const LOCAL_RECEIVER = { allow_insecure_http: true, allowed_networks: ['127.0.0.1'] };
  let server: Server;
  let url: string;
  const received: { headers: IncomingHttpHeaders; body: Buffer }[] = [];
  beforeAll(async () => {
    server = createServer((request, response) => {
      const chunks: Buffer[] = [];
      request.on('data', (chunk: Buffer) => chunks.push(chunk));
      request.on('end', () => {
        received.push({ headers: request.headers, body: Buffer.concat(chunks) });
        response.writeHead(202).end();
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/sms`;
  });
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

  it('POSTs a signed message the receiver can verify; the code in it passes the challenge', async () => {
    const t = await testApp({ rules_file: rulesFile, challenges: { sms: { provider: 'webhook', webhook: { url, secret: SECRET, ...LOCAL_RECEIVER } } } });
    current.push(t);
    const started = await startFromBackend(t, { type: 'sms', mobile: MOBILE });
    expect((await sendSms(t, started.body.challenge_id)).body.sent).toBe(true);
    expect(received).toHaveLength(1);
    const { headers, body } = received[0]!;
    expect(headers['content-type']).toMatch(/^application\/json/);
    const nowSeconds = Math.floor(Date.now() / 1000);
    expect(verifyWebhookSignature(SECRET, headers[WEBHOOK_TIMESTAMP_HEADER], body, headers[WEBHOOK_SIGNATURE_HEADER], nowSeconds)).toEqual({ ok: true });
    expect(verifyWebhookSignature('another-secret-0123456789', headers[WEBHOOK_TIMESTAMP_HEADER], body, headers[WEBHOOK_SIGNATURE_HEADER], nowSeconds)).toEqual({ ok: false, failure: 'bad_signature' });
    const payload = JSON.parse(body.toString('utf8')) as SmsWebhookPayload;
    expect(payload).toMatchObject({ to: MOBILE, app_id: 'shop', challenge_id: started.body.challenge_id });
    const code = /\b(\d{6})\b/.exec(payload.text)![1]!;
    const passed = await answer(t, started.body.challenge_id, { code });
    expect(passed.body).toMatchObject({ success: true, session_id: expect.any(String) });
  });

  it('a receiver that never answers: the send answers 5020 within the configured bound, not a hang or a 500', async () => {
    const silent = createServer(() => {
      // Takes the request, never answers.
    });
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    try {
      const silentUrl = `http://127.0.0.1:${(silent.address() as AddressInfo).port}/sms`;
      const webhook = { url: silentUrl, secret: SECRET, timeout_ms: 200, connect_timeout_ms: 100, ...LOCAL_RECEIVER };
      const t = await testApp({ rules_file: rulesFile, challenges: { sms: { provider: 'webhook', webhook } } });
      current.push(t);
      const started = await startFromBackend(t, { type: 'sms', mobile: MOBILE });
      const before = Date.now();
      const failed = await sendSms(t, started.body.challenge_id);
      // Two attempts of 200 ms and the 200 ms pause between them.
      expect(Date.now() - before).toBeLessThan(2 * 200 + 200 + 500);
      expect(failed.status).toBe(502);
      expect(failed.body).toMatchObject({ code: 5020, error: 'SMS_FAILED' });
    } finally {
      silent.closeAllConnections();
      await new Promise((resolve) => silent.close(resolve));
    }
  });
});

// ---------------------------------------------------------------- the loop

describe('the challenge loop', () => {
  async function device(h: Harness) {
    const signer = await newDevice();
    return () => makeToken({ serverKey: h.t.app.riskgate.keys.current().primary, appKey: APP_KEY, device: signer });
  }

  it('a passed challenge lowers the next score for that device and account: challenge_passed_recently', async () => {
    const h = await harness();
    const blackBox = await device(h);
    const before = await evaluate(h.t, { black_box: await blackBox(), account_id: 'alice' });
    expect(before.body).toMatchObject({ score: 25, challenge: 'slider' });
    const started = await startFromSdk(h.t, { challenge_token: before.body.challenge_token! }, ORIGIN);
    expect((await answer(h.t, started.body.challenge_id, personFor(h, started.body.slider), ORIGIN)).body.success).toBe(true);

    const after = await evaluate(h.t, { black_box: await blackBox(), account_id: 'alice' });
    expect(reasonIds(after.body)).toContain('challenge_passed_recently');
    expect(after.body.score).toBeLessThan(before.body.score);
    expect(after.body.challenge).toBe('none');
    // By the account alone, from a new device, too; not for someone else.
    expect(reasonIds((await evaluate(h.t, { black_box: await (await device(h))(), account_id: 'alice' })).body)).toContain('challenge_passed_recently');
    expect(reasonIds((await evaluate(h.t, { black_box: await (await device(h))(), account_id: 'bob' })).body)).not.toContain('challenge_passed_recently');
  });

  it('a pass counts for an hour', async () => {
    vi.useFakeTimers({ toFake: ['Date'] });
    const h = await harness();
    const blackBox = await device(h);
    const token = (await evaluate(h.t, { black_box: await blackBox(), account_id: 'carol' })).body.challenge_token!;
    const started = await startFromSdk(h.t, { challenge_token: token }, ORIGIN);
    await answer(h.t, started.body.challenge_id, personFor(h, started.body.slider));
    vi.setSystemTime(Date.now() + 61 * MINUTE);
    const later = await evaluate(h.t, { black_box: await blackBox(), account_id: 'carol' });
    expect(reasonIds(later.body)).not.toContain('challenge_passed_recently');
    expect(later.body.score).toBe(25);
  });

  it('after 3 failed answers: challenge_failed, and a higher score', async () => {
    const h = await harness();
    const blackBox = await device(h);
    const before = await evaluate(h.t, { black_box: await blackBox(), account_id: 'bob' });
    const started = await startFromSdk(h.t, { challenge_token: before.body.challenge_token! }, ORIGIN);
    let view = started.body.slider;
    for (let i = 0; i < 3; i++) {
      const failed = await answer(h.t, started.body.challenge_id, botTrack(h.answerX(view)), ORIGIN);
      expect(failed.body.failure).toBe('failed');
      view = failed.body.slider;
    }
    const after = await evaluate(h.t, { black_box: await blackBox(), account_id: 'bob' });
    expect(reasonIds(after.body)).toContain('challenge_failed');
    expect(reasonIds(after.body)).not.toContain('challenge_abandoned');
    expect(after.body.score).toBeGreaterThan(before.body.score);
  });

  it('after 3 abandoned starts: challenge_abandoned', async () => {
    const h = await harness();
    const blackBox = await device(h);
    for (let i = 0; i < 3; i++) {
      const { body } = await evaluate(h.t, { black_box: await blackBox(), account_id: 'dave' });
      expect(reasonIds(body)).not.toContain('challenge_abandoned');
      expect((await startFromSdk(h.t, { challenge_token: body.challenge_token! }, ORIGIN)).status).toBe(200);
    }
    const after = await evaluate(h.t, { black_box: await blackBox(), account_id: 'dave' });
    expect(reasonIds(after.body)).toContain('challenge_abandoned');
    expect(after.body.score).toBe(25 + 20);
  });

  it('wrong answers inside a challenge that then passes do not hide abandoned ones (regression)', async () => {
    const h = await harness();
    const blackBox = await device(h);
    for (let i = 0; i < 3; i++) {
      const { body } = await evaluate(h.t, { black_box: await blackBox(), account_id: 'erin' });
      await startFromSdk(h.t, { challenge_token: body.challenge_token! }, ORIGIN);
    }
    const { body } = await evaluate(h.t, { black_box: await blackBox(), account_id: 'erin' });
    const started = await startFromSdk(h.t, { challenge_token: body.challenge_token! }, ORIGIN);
    const failed = await answer(h.t, started.body.challenge_id, botTrack(h.answerX(started.body.slider)));
    expect((await answer(h.t, started.body.challenge_id, personFor(h, failed.body.slider))).body.success).toBe(true);
    // Counting challenges rather than attempts, started 4 − passed 1 − failed 1 = 2 would hide one.
    expect(reasonIds((await evaluate(h.t, { black_box: await blackBox(), account_id: 'erin' })).body)).toContain('challenge_abandoned');
  });
});

// ---------------------------------------------------------------- store outages fail closed

describe('a hot state outage fails closed (STORE_UNAVAILABLE)', () => {
  const unavailable = { code: 5030, error: 'STORE_UNAVAILABLE' };

  it('start, answer, send and verify answer 503 while the store is down; nothing is lost', async () => {
    const hotState = new BreakableHotState();
    const h = await harness({}, { hotState });
    const slider = await startFromBackend(h.t, { type: 'slider' });
    const sms = await startFromBackend(h.t, { type: 'sms', mobile: MOBILE });
    const sessionId = await passedSession(h);

    hotState.down = true;
    const responses = [
      await startFromBackend(h.t, { type: 'slider' }),
      await startFromSdk(h.t, { type: 'slider' }, ORIGIN),
      await answer(h.t, slider.body.challenge_id, personFor(h, slider.body.slider)),
      await sendSms(h.t, sms.body.challenge_id),
      await verify(h.t, sessionId),
    ];
    for (const response of responses) {
      expect(response.status).toBe(503);
      expect(response.body).toMatchObject(unavailable);
      expect(response.body).not.toHaveProperty('success');
    }
    expect(h.sms.sent).toHaveLength(0);
    // Evaluate never fails on the store: it degrades, and without a store it cannot issue a token.
    const evaluated = await evaluate(h.t, {});
    expect(evaluated.body).toMatchObject({ degraded: true, challenge: 'slider' });
    expect(evaluated.body.challenge_token).toBeUndefined();

    hotState.down = false;
    expect((await answer(h.t, slider.body.challenge_id, personFor(h, slider.body.slider))).body.success).toBe(true);
    expect((await verify(h.t, sessionId)).body.success).toBe(true);
  });

  it('a store that fails while a pass is written gives no session_id', async () => {
    const hotState = new BreakableHotState();
    const h = await harness({}, { hotState });
    const started = await startFromBackend(h.t, { type: 'slider' });
    hotState.failing.add('put');
    const response = await answer(h.t, started.body.challenge_id, personFor(h, started.body.slider));
    expect(response.status).toBe(503);
    expect(response.body).toMatchObject(unavailable);
    expect(response.body.session_id).toBeUndefined();
  });

  it('a verify whose claim fails is not a pass, and does not spend the session', async () => {
    const hotState = new BreakableHotState();
    const h = await harness({}, { hotState });
    const sessionId = await passedSession(h);
    hotState.failing.add('claimOnce');
    expect((await verify(h.t, sessionId)).body).toMatchObject(unavailable);
    hotState.failing.clear();
    expect((await verify(h.t, sessionId)).body.success).toBe(true);
  });
});
