/**
 * Detection through the real evaluate route, as a forger and a farm would try
 * it: missing signals are not clean, the server reads the fingerprint itself,
 * and fresh device keys on one machine add up. The browser personas (real
 * Chromium) are in personas.test.ts.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { EvaluateResponse, WebSignals } from '../../shared/schemas.js';
import { APP_KEY, testApp, type TestApp } from '../support/app.js';
import { enroll } from '../support/enroll.js';
import { cleanWebSignals, makeToken, newDevice, personBehavior } from '../support/tokens.js';

let current: TestApp | undefined;
afterEach(async () => {
  await current?.close();
  current = undefined;
});

/** Small puzzles: these tests are about what a token says, not what enrolling costs (enrollment.test.ts). */
async function start(): Promise<TestApp> {
  current = await testApp({}, { enrollment: { baseDerivations: 2, cost: 20 } });
  return current;
}

type Payload = NonNullable<Parameters<typeof makeToken>[0]['payload']>;

/**
 * Evaluates `body` with a token of `payload` from a fresh device key; unless
 * the payload says otherwise, that key enrolled from the request's IP first, as the SDKs do at init.
 */
async function evaluate(t: TestApp, body: Record<string, unknown>, payload?: Payload): Promise<EvaluateResponse> {
  let black_box: string | undefined;
  if (payload !== undefined) {
    const device = await newDevice();
    const enrollment = payload.enrollment ?? { state: 'enrolled' as const, cert: await enroll(t.app, device, APP_KEY, typeof body.ip === 'string' ? body.ip : undefined) };
    black_box = await makeToken({ serverKey: t.app.riskgate.keys.current().primary, appKey: APP_KEY, device, payload: { ...payload, enrollment } });
  }
  const response = await t.app.inject({ method: 'POST', url: '/v1/risk/evaluate', headers: t.auth, payload: { ...body, ...(black_box ? { black_box } : {}) } });
  expect(response.statusCode, response.body).toBe(200);
  return response.json() as EvaluateResponse;
}

const ids = (body: EvaluateResponse) => body.reasons.map((r) => r.id);
const PUBLIC_IP = '36.112.10.20';
/** The one machine a farm runs on: its fresh device keys keep this visitor id. */
const FARM_MACHINE = 'b5f1c3f4e2d94c0a8e7f6a5b4c3d2e1f';
const signals = (patch: Partial<WebSignals>): WebSignals => ({ ...cleanWebSignals(), ...patch });

describe('missing is not clean', () => {
  it('a clean web token is accepted, and a request without a black_box is at least a challenge', async () => {
    const t = await start();
    const clean = await evaluate(t, { event: 'register', ip: PUBLIC_IP, account_id: 'a1' }, {});
    expect(clean, JSON.stringify(clean)).toMatchObject({ level: 0, decision: 'accept', challenge: 'none' });
    const none = await evaluate(t, { event: 'register', ip: PUBLIC_IP, account_id: 'a2' });
    expect(none.decision).toBe('challenge');
    expect(none.challenge_token).toEqual(expect.any(String));
    expect(ids(none)).toContain('token_missing');
  });

  it('clean signals copied into a token whose device key never enrolled are a challenge, never an accept', async () => {
    const t = await start();
    for (const enrollment of [undefined, { state: 'enrolling' as const }, { state: 'failed' as const, error: 'network' }]) {
      const black_box = await makeToken({ serverKey: t.app.riskgate.keys.current().primary, appKey: APP_KEY, payload: enrollment ? { enrollment } : {} });
      const response = await t.app.inject({ method: 'POST', url: '/v1/risk/evaluate', headers: t.auth, payload: { event: 'register', ip: PUBLIC_IP, black_box } });
      const body = response.json() as EvaluateResponse;
      expect(body.decision, JSON.stringify(enrollment)).toBe('challenge');
      expect(body.challenge_token).toEqual(expect.any(String));
    }
  });

  it('empty signal groups, or groups the SDK always fills left out without a word, score as a forgery', async () => {
    const t = await start();
    const empty = await evaluate(t, { event: 'register', ip: PUBLIC_IP }, { signals: {}, behavior: {} });
    expect(ids(empty)).toContain('token_signals_missing');
    expect(empty.level).toBeGreaterThanOrEqual(3);
    for (const drop of ['automation', 'visitor_id', 'user_agent', 'lies', 'inconsistencies', 'webgl_renderer'] as const) {
      const patched = cleanWebSignals();
      delete patched[drop];
      const body = await evaluate(t, { event: 'login', ip: PUBLIC_IP }, { signals: patched });
      expect(ids(body), drop).toContain('token_signals_missing');
      expect(body.level, drop).toBeGreaterThanOrEqual(3);
    }
    // An automation group with its fields left out reads as missing, not as "no automation".
    const hollow = await evaluate(t, { event: 'login', ip: PUBLIC_IP }, { signals: signals({ automation: {} }) });
    expect(hollow.level).toBeGreaterThanOrEqual(3);
    const noBehavior = await evaluate(t, { event: 'login', ip: PUBLIC_IP }, { behavior: {} });
    expect(ids(noBehavior)).toContain('token_signals_missing');
  });

  it('a source the SDK names as failed costs little; all the core sources "failing" costs a forger level 3', async () => {
    const t = await start();
    const slowPhone = cleanWebSignals();
    delete slowPhone.visitor_id;
    delete slowPhone.components;
    const genuine = await evaluate(t, { event: 'register', ip: PUBLIC_IP }, { degraded: true, signals: { ...slowPhone, errors: { fingerprint: 'timeout' } } });
    expect(genuine.level, JSON.stringify(genuine)).toBeLessThanOrEqual(1);
    expect(ids(genuine)).not.toContain('token_signals_missing');

    const excuses = { environment: 'timeout', fingerprint: 'timeout', automation: 'timeout', webgl: 'timeout', lies: 'timeout', consistency: 'timeout', behavior: 'timeout' };
    const forged = await evaluate(t, { event: 'register', ip: PUBLIC_IP }, { degraded: true, signals: { errors: excuses }, behavior: {} });
    expect(ids(forged)).toEqual(expect.arrayContaining(['collection_core_failed', 'collection_core_failed_all']));
    expect(forged.level).toBeGreaterThanOrEqual(3);
  });

  it('a mini-program token must carry the wx sources too', async () => {
    const t = await start();
    const wechat = { platform: 'ios', system: 'iOS 17.5', model: 'iPhone 15', screen: { width: 393, height: 852 }, sdk_version: '3.5.0', hooks: [] };
    const base = { platform: 'wechat' as const, signals: { wechat, lies: [], inconsistencies: [] }, behavior: { touches: 5, dwell_ms: 9000, pointer_moves: 0, clicks: 0, key_presses: 0 } };
    const good = await evaluate(t, { event: 'register', ip: PUBLIC_IP }, base);
    expect(good.level, JSON.stringify(good)).toBe(0);
    const bare = await evaluate(t, { event: 'register', ip: PUBLIC_IP }, { ...base, signals: {} });
    expect(ids(bare)).toContain('token_signals_missing');
    expect(bare.level).toBeGreaterThanOrEqual(3);
  });
});

describe('the server reads the fingerprint itself', () => {
  it('decides software rendering from the renderer string, whatever the SDK claims', async () => {
    const t = await start();
    const body = await evaluate(t, { event: 'login', ip: PUBLIC_IP }, {
      signals: signals({
        user_agent: 'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/156.0.0.0 Safari/537.36',
        platform: 'Linux x86_64',
        webgl_renderer: 'ANGLE (Google, Vulkan 1.3.0 (SwiftShader Device (Subzero) (0x0000C0DE)), SwiftShader driver)',
        automation: { ...cleanWebSignals().automation, software_renderer: false },
      }),
    });
    expect(ids(body)).toContain('env_software_renderer');
  });

  it('catches a user agent that contradicts the platform, the GPU, touch or the screen', async () => {
    const t = await start();
    const cases: Partial<WebSignals>[] = [
      { platform: 'Linux x86_64' },
      { webgl_renderer: 'ANGLE (Intel, Mesa Intel(R) UHD Graphics 620 (KBL GT2), OpenGL 4.6)' },
      { webgl_renderer: 'ANGLE (Apple, ANGLE Metal Renderer: Apple M2, Unspecified Version)' },
      {
        user_agent: 'Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1',
        platform: 'iPhone',
        webgl_renderer: 'Apple GPU',
        components: { vendor: 'Apple Computer, Inc.' },
        screen: { width: 1920, height: 1080, dpr: 1, touch_points: 0 },
      },
      // Chrome's UA on Firefox (Gecko's empty vendor); an Android phone on an x86 CPU.
      { components: { ...cleanWebSignals().components, vendor: '' } },
      {
        user_agent: 'Mozilla/5.0 (Linux; Android 14; SM-S9180) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/156.0.0.0 Mobile Safari/537.36',
        platform: 'Linux armv81',
        webgl_renderer: 'Adreno (TM) 750',
        components: { vendor: 'Google Inc.', architecture: 255 },
        screen: { width: 384, height: 832, dpr: 3.75, touch_points: 5 },
      },
    ];
    for (const patch of cases) {
      const body = await evaluate(t, { event: 'login', ip: PUBLIC_IP }, { signals: signals(patch) });
      expect(ids(body), JSON.stringify(patch)).toContain('fp_ua_mismatch');
      expect(body.level).toBeGreaterThanOrEqual(2);
    }
    // A Mac with Apple graphics, an iPad asking for the desktop site, Android on a phone GPU: consistent.
    const consistent: Partial<WebSignals>[] = [
      {
        user_agent: 'Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/156.0.0.0 Safari/537.36',
        platform: 'MacIntel',
        webgl_renderer: 'ANGLE (Apple, ANGLE Metal Renderer: Apple M2, Unspecified Version)',
      },
      {
        user_agent: 'Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Safari/605.1.15',
        platform: 'MacIntel',
        webgl_renderer: 'Apple GPU',
        components: { vendor: 'Apple Computer, Inc.', architecture: 127 },
        screen: { width: 1024, height: 1366, dpr: 2, touch_points: 5 },
      },
      {
        user_agent: 'Mozilla/5.0 (Linux; Android 14; SM-S9180) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/156.0.0.0 Mobile Safari/537.36',
        platform: 'Linux armv81',
        webgl_renderer: 'Adreno (TM) 750',
        components: { vendor: 'Google Inc.', architecture: 127 },
        screen: { width: 384, height: 832, dpr: 3.75, touch_points: 5 },
      },
    ];
    for (const patch of consistent) {
      const body = await evaluate(t, { event: 'login', ip: PUBLIC_IP }, { signals: signals(patch) });
      expect(ids(body), JSON.stringify(patch)).not.toContain('fp_ua_mismatch');
    }
  });

  it('compares the page with what a worker saw', async () => {
    const t = await start();
    const page = cleanWebSignals();
    const sameView = { kind: 'shared' as const, user_agent: page.user_agent, platform: page.platform, languages: page.languages, hardware_concurrency: 8, webgl_renderer: page.webgl_renderer };
    const honest = await evaluate(t, { event: 'login', ip: PUBLIC_IP }, { signals: { ...page, worker: sameView } });
    expect(ids(honest)).not.toContain('fp_worker_mismatch');
    const spoofedGpu = await evaluate(t, { event: 'login', ip: PUBLIC_IP }, { signals: { ...page, worker: { ...sameView, webgl_renderer: 'ANGLE (Google, Vulkan 1.3.0 (SwiftShader Device (Subzero)), SwiftShader driver)' } } });
    expect(ids(spoofedGpu)).toEqual(expect.arrayContaining(['fp_worker_mismatch', 'env_software_renderer']));
    const headlessWorker = await evaluate(t, { event: 'login', ip: PUBLIC_IP }, {
      signals: { ...page, worker: { ...sameView, user_agent: page.user_agent!.replace('Chrome/', 'HeadlessChrome/') } },
    });
    expect(ids(headlessWorker)).toContain('fp_worker_headless');
    expect(headlessWorker.level).toBeGreaterThanOrEqual(3);
  });

  it('an attached DevTools-protocol client, and a token asked for by injected code, add up to level 3', async () => {
    const t = await start();
    const automation = (cdp_signs: string[]) => ({ ...cleanWebSignals().automation, cdp: cdp_signs.length > 0, cdp_signs });
    const attached = await evaluate(t, { event: 'login', ip: PUBLIC_IP }, { signals: signals({ automation: automation(['stack_format', 'error_name']) }) });
    expect(ids(attached)).toEqual(expect.arrayContaining(['bot_cdp', 'bot_cdp_inspector']));
    expect(attached.level).toBeGreaterThanOrEqual(3);
    const injected = await evaluate(t, { event: 'login', ip: PUBLIC_IP }, { signals: signals({ automation: automation(['stack_format', 'error_name', 'eval_stack']) }) });
    expect(ids(injected)).toContain('bot_cdp_eval');
    expect(injected.level).toBe(4);
    const none = await evaluate(t, { event: 'login', ip: PUBLIC_IP }, { signals: signals({ automation: automation([]) }) });
    expect(none.level).toBe(0);
  });

  it('turns the behaviour timing into features: scripted events and machine-paced typing', async () => {
    const t = await start();
    const scripted = await evaluate(t, { event: 'register', ip: PUBLIC_IP }, {
      behavior: { ...personBehavior(), pointer_moves: 0, clicks: 0, key_presses: 0, touches: 0, untrusted_events: 12, move_interval_mean_ms: undefined, move_interval_sd_ms: undefined, key_interval_mean_ms: undefined, key_interval_sd_ms: undefined },
    });
    expect(ids(scripted)).toContain('bot_untrusted_input');
    const typed = await evaluate(t, { event: 'register', ip: PUBLIC_IP }, { behavior: { ...personBehavior(), key_interval_mean_ms: 100, key_interval_sd_ms: 0.4 } });
    expect(ids(typed)).toContain('bot_robotic_typing');
    const person = await evaluate(t, { event: 'register', ip: PUBLIC_IP }, { behavior: personBehavior() });
    expect(ids(person)).not.toContain('bot_robotic_typing');
  });
});

describe('farms that escalate, households that do not', () => {
  it('fresh device keys on one machine from one IP reach level 3 by the 5th registration and stay there', async () => {
    const t = await start();
    const levels: number[] = [];
    for (let i = 0; i < 12; i++) {
      const body = await evaluate(t, { event: 'register', ip: PUBLIC_IP, account_id: `farm${i}` }, { signals: cleanWebSignals(FARM_MACHINE) });
      levels.push(body.level);
    }
    expect(levels.slice(4).every((level) => level >= 3), levels.join(',')).toBe(true);
  });

  it('the same farm spread over many IPs is caught by its shared fingerprint', async () => {
    const t = await start();
    const levels: number[] = [];
    for (let i = 0; i < 12; i++) {
      const body = await evaluate(t, { event: 'register', ip: `36.112.${10 + i}.${20 + i}`, account_id: `farm${i}` }, { signals: cleanWebSignals(FARM_MACHINE) });
      levels.push(body.level);
    }
    expect(levels.slice(4).every((level) => level >= 3), levels.join(',')).toBe(true);
  });

  it('a household of five machines behind one IP, one registration each, stays at level 1 or lower', async () => {
    const t = await start();
    const machines: Partial<WebSignals>[] = [
      { visitor_id: '0a1b2c3d4e5f60718293a4b5c6d7e8f9', screen: { width: 1920, height: 1080, dpr: 1, touch_points: 0 } },
      { visitor_id: '1b2c3d4e5f60718293a4b5c6d7e8f90a', screen: { width: 1366, height: 768, dpr: 1, touch_points: 0 } },
      {
        visitor_id: '2c3d4e5f60718293a4b5c6d7e8f90a1b',
        user_agent: 'Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/156.0.0.0 Safari/537.36',
        platform: 'MacIntel',
        webgl_renderer: 'ANGLE (Apple, ANGLE Metal Renderer: Apple M1, Unspecified Version)',
        screen: { width: 1440, height: 900, dpr: 2, touch_points: 0 },
      },
      { visitor_id: '3d4e5f60718293a4b5c6d7e8f90a1b2c', screen: { width: 2560, height: 1440, dpr: 1, touch_points: 0 } },
      {
        visitor_id: '4e5f60718293a4b5c6d7e8f90a1b2c3d',
        user_agent: 'Mozilla/5.0 (Linux; Android 14; SM-S9180) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/156.0.0.0 Mobile Safari/537.36',
        platform: 'Linux armv81',
        webgl_renderer: 'Adreno (TM) 750',
        screen: { width: 384, height: 832, dpr: 3.75, touch_points: 5 },
      },
    ];
    const levels: number[] = [];
    for (const [i, machine] of machines.entries()) {
      const body = await evaluate(t, { event: 'register', ip: PUBLIC_IP, account_id: `member${i}` }, { signals: signals(machine) });
      levels.push(body.level);
    }
    expect(Math.max(...levels), levels.join(',')).toBeLessThanOrEqual(1);
  });

  it('one person who clears storage once or twice is not a farm', async () => {
    const t = await start();
    // Each token here comes from a fresh device key on the same machine (the same visitor id).
    const first = await evaluate(t, { event: 'login', ip: PUBLIC_IP, account_id: 'me' }, { signals: cleanWebSignals(FARM_MACHINE) });
    const second = await evaluate(t, { event: 'login', ip: PUBLIC_IP, account_id: 'me' }, { signals: cleanWebSignals(FARM_MACHINE) });
    expect(first.level).toBe(0);
    expect(second.level, JSON.stringify(second)).toBeLessThanOrEqual(1);
  });
});
