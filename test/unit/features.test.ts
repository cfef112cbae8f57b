/**
 * Feature extraction, one family at a time (server/engine/features/), and
 * their composition (engine/evaluation/extract.ts): pure functions of the
 * checked token, the request and what the hot state answered, with the values
 * the service tests (evaluate, detection) expect through the route. The
 * `wechat` family is in miniprogram.rules.test.ts, the identity heuristics in
 * identity.test.ts.
 */
import { describe, expect, it } from 'vitest';
import { BLACK_BOX_VERSION, TOKEN_FAILURES } from '../../shared/constants.js';
import type { BlackBoxPayload, EvaluateRequest, WebSignals } from '../../shared/schemas.js';
import { NO_ENROLLMENT } from '../../server/engine/enrollment/certificate.js';
import { extractFeatures, type FeatureInputs } from '../../server/engine/evaluation/extract.js';
import { observationBatch, type ObservationResult } from '../../server/engine/evaluation/observations.js';
import { behaviorFeatures } from '../../server/engine/features/behavior.js';
import { fingerprintFeatures, fingerprintKeys, readFingerprint } from '../../server/engine/features/fingerprint.js';
import { identityFeatures } from '../../server/engine/features/identity.js';
import { observedFeatures } from '../../server/engine/features/observed.js';
import { requestFeatures } from '../../server/engine/features/request.js';
import { signalsFeatures } from '../../server/engine/features/signals.js';
import { deviceFeatures, deviceIdOf, MISSING_TOKEN, openedToken, tokenFailureOf, tokenFeatures, type CheckedToken } from '../../server/engine/features/token.js';
import { wechatFeatures } from '../../server/engine/features/wechat.js';
import { quietFeatures } from '../support/features.js';
import { cleanWebSignals, personBehavior } from '../support/tokens.js';

const CHROME_WINDOWS = 'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/156.0.0.0 Safari/537.36';
const SWIFTSHADER = 'ANGLE (Google, Vulkan 1.3.0 (SwiftShader Device (Subzero) (0x0000C0DE)), SwiftShader driver)';

/** What the web SDK puts into a token on an ordinary desktop Chrome, with a person's input. */
function payload(patch: Partial<BlackBoxPayload> = {}): BlackBoxPayload {
  return { v: BLACK_BOX_VERSION, app: 'pk_test_shop_0001', jti: 'jti-0123456789abcdef', iat: 1_700_000_000, platform: 'web', sdk: 'test', degraded: false, signals: cleanWebSignals(), behavior: personBehavior(), ...patch };
}

const decoded = (p: BlackBoxPayload = payload(), ageSeconds = 2): CheckedToken => ({ ok: true, payload: p, deviceId: 'device-1', ageSeconds });
const web = (patch: Partial<WebSignals>): BlackBoxPayload => payload({ signals: { ...cleanWebSignals(), ...patch } });

describe('token and device', () => {
  it('reads a decoded token: ok, its age, the SDK degraded flag and its device', () => {
    const token = decoded(payload({ degraded: true }), 7);
    expect(tokenFeatures(token)).toEqual({ status: 'ok', failure: '', age_s: 7, degraded: true });
    expect(tokenFailureOf(token)).toBeUndefined();
    expect(openedToken(token)?.payload.sdk).toBe('test');
    expect(deviceFeatures(token, true)).toEqual({ id: 'device-1', new: true });
  });

  it('a missing black_box is "missing", a decoder that failed "unavailable": neither has a device or an age', () => {
    expect(tokenFeatures(MISSING_TOKEN)).toEqual({ status: 'missing', failure: 'TOKEN_MISSING', age_s: -1, degraded: false });
    expect(tokenFeatures(undefined)).toEqual({ status: 'unavailable', failure: '', age_s: -1, degraded: false });
    expect(tokenFailureOf(undefined)).toBeUndefined();
    for (const token of [MISSING_TOKEN, undefined]) {
      expect(openedToken(token)).toBeUndefined();
      expect(deviceFeatures(token, false)).toEqual({ id: '', new: false });
    }
  });

  it('names each failure; a replayed token was genuine, so its age and payload are still read', () => {
    for (const failure of TOKEN_FAILURES) {
      if (failure === 'TOKEN_REPLAYED' || failure === 'TOKEN_MISSING') continue;
      const status = failure === 'TOKEN_EXPIRED' ? 'expired' : 'invalid';
      expect(tokenFeatures({ ok: false, failure }), failure).toEqual({ status, failure, age_s: -1, degraded: false });
    }
    const replayed: CheckedToken = { ok: false, failure: 'TOKEN_REPLAYED', payload: payload(), deviceId: 'device-1', ageSeconds: 30 };
    expect(tokenFeatures(replayed)).toEqual({ status: 'replayed', failure: 'TOKEN_REPLAYED', age_s: 30, degraded: false });
    expect(openedToken(replayed)).toBe(replayed);
    // A token for another app still names the device that signed it.
    expect(deviceIdOf({ ok: false, failure: 'TOKEN_APP_MISMATCH', deviceId: 'device-2' })).toBe('device-2');
  });
});

describe('signals', () => {
  it('are neutral without an opened token', () => {
    expect(Object.values(signalsFeatures(undefined, false)).every((value) => value === false || value === 0)).toBe(true);
  });

  it('a clean web token fires nothing and misses no source', () => {
    expect(signalsFeatures(payload(), false)).toEqual(quietFeatures().signals);
  });

  it('carry the automation marks: webdriver, a headless user agent, a DevTools-protocol client and code it evaluated', () => {
    const automation = cleanWebSignals().automation!;
    expect(signalsFeatures(web({ automation: { ...automation, webdriver: true, headless_ua: true } }), false)).toMatchObject({ webdriver: true, headless_ua: true, cdp: false });
    const attached = signalsFeatures(web({ automation: { ...automation, cdp: true, cdp_signs: ['stack_format', 'error_name'] } }), false);
    expect(attached).toMatchObject({ cdp: true, cdp_inspector: true, cdp_eval: false });
    const injected = signalsFeatures(web({ automation: { ...automation, cdp: true, cdp_signs: ['stack_format', 'error_name', 'eval_stack'] } }), false);
    expect(injected).toMatchObject({ cdp_inspector: true, cdp_eval: true });
    expect(signalsFeatures(web({ automation: { ...automation, automation_globals: ['_selenium', 'callPhantom'], missing_chrome_objects: ['runtime'] } }), false)).toMatchObject({
      automation_globals: 2,
      missing_chrome_objects: 1,
    });
  });

  it("take software rendering from the server's reading, never from the SDK's verdict", () => {
    const claimsHardware = web({ webgl_renderer: SWIFTSHADER, automation: { ...cleanWebSignals().automation, software_renderer: false } });
    expect(signalsFeatures(claimsHardware, readFingerprint(claimsHardware.signals).software_renderer).software_renderer).toBe(true);
    expect(signalsFeatures(claimsHardware, false).software_renderer).toBe(false);
  });

  it('a device key outside a persistent store is a fallback', () => {
    expect(signalsFeatures(web({ device_key_store: 'memory' }), false).device_key_fallback).toBe(true);
    for (const device_key_store of ['indexeddb', 'wx_storage', undefined]) {
      expect(signalsFeatures(web({ device_key_store }), false).device_key_fallback, device_key_store).toBe(false);
    }
  });

  it('missing is not clean: empty groups, or groups the SDK always fills left out, are missing sources', () => {
    expect(signalsFeatures(payload({ signals: {}, behavior: {} }), false).missing_sources).toBe(7);
    for (const drop of ['automation', 'visitor_id', 'user_agent', 'lies', 'inconsistencies', 'webgl_renderer'] as const) {
      const signals = cleanWebSignals();
      delete signals[drop];
      expect(signalsFeatures(payload({ signals }), false).missing_sources, drop).toBe(1);
    }
    expect(signalsFeatures(web({ automation: {} }), false).missing_sources).toBe(1);
    expect(signalsFeatures(payload({ behavior: {} }), false).missing_sources).toBe(1);
  });

  it('a source the SDK names as failed is not missing; the core sources failing together are counted', () => {
    const slowPhone = cleanWebSignals();
    delete slowPhone.visitor_id;
    delete slowPhone.components;
    expect(signalsFeatures(payload({ degraded: true, signals: { ...slowPhone, errors: { fingerprint: 'timeout' } } }), false)).toMatchObject({ missing_sources: 0, source_errors: 1, core_source_errors: 1 });
    const excuses = { environment: 'timeout', fingerprint: 'timeout', automation: 'timeout', webgl: 'timeout', lies: 'timeout', consistency: 'timeout', behavior: 'timeout' };
    expect(signalsFeatures(payload({ degraded: true, signals: { errors: excuses }, behavior: {} }), false)).toMatchObject({ missing_sources: 0, source_errors: 7, core_source_errors: 3 });
  });

  it('a mini-program token must carry the wx sources', () => {
    const wechat = { platform: 'ios', system: 'iOS 17.5', model: 'iPhone 15', screen: { width: 393, height: 852 }, sdk_version: '3.5.0', hooks: [] };
    const behavior = { touches: 5, dwell_ms: 9000, pointer_moves: 0, clicks: 0, key_presses: 0 };
    expect(signalsFeatures(payload({ platform: 'wechat', signals: { wechat, lies: [], inconsistencies: [] }, behavior }), false).missing_sources).toBe(0);
    expect(signalsFeatures(payload({ platform: 'wechat', signals: {}, behavior }), false).missing_sources).toBe(4);
  });
});

describe('fingerprint', () => {
  it('reads a clean desktop Chrome as consistent hardware rendering', () => {
    expect(readFingerprint(cleanWebSignals())).toEqual({ present: true, low_entropy: false, software_renderer: false, ua_mismatches: 0, worker_mismatch: false, worker_headless: false });
    expect(readFingerprint({}).present).toBe(false);
  });

  it('catches a user agent that contradicts the platform or the GPU, and passes a consistent Mac', () => {
    expect(readFingerprint({ ...cleanWebSignals(), platform: 'Linux x86_64' }).ua_mismatches).toBeGreaterThan(0);
    expect(readFingerprint({ ...cleanWebSignals(), webgl_renderer: 'ANGLE (Apple, ANGLE Metal Renderer: Apple M2, Unspecified Version)' }).ua_mismatches).toBeGreaterThan(0);
    const mac = {
      ...cleanWebSignals(),
      user_agent: 'Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/156.0.0.0 Safari/537.36',
      platform: 'MacIntel',
      webgl_renderer: 'ANGLE (Apple, ANGLE Metal Renderer: Apple M2, Unspecified Version)',
    };
    expect(readFingerprint(mac).ua_mismatches).toBe(0);
  });

  it('compares the page with what a worker saw', () => {
    const page = cleanWebSignals();
    const sameView = { kind: 'shared' as const, user_agent: page.user_agent, platform: page.platform, languages: page.languages, hardware_concurrency: 8, webgl_renderer: page.webgl_renderer };
    expect(readFingerprint({ ...page, worker: sameView })).toMatchObject({ worker_mismatch: false, worker_headless: false });
    expect(readFingerprint({ ...page, worker: { ...sameView, webgl_renderer: SWIFTSHADER } })).toMatchObject({ worker_mismatch: true, software_renderer: true });
    expect(readFingerprint({ ...page, worker: { ...sameView, user_agent: CHROME_WINDOWS.replace('Chrome/', 'HeadlessChrome/') } }).worker_headless).toBe(true);
  });

  it('a template is new only on a device that is new too', () => {
    const reading = readFingerprint(cleanWebSignals());
    for (const [deviceNew, templateNew, expected] of [
      [true, true, true],
      [true, false, false],
      [false, true, false],
      [false, false, false],
    ] as const) {
      expect(fingerprintFeatures(reading, { deviceNew, templateNew })).toEqual({ ...reading, template_new: expected });
    }
  });
});

describe('behavior', () => {
  it('is absent without an opened token or without input: counts 0, intervals -1', () => {
    const absent = { ...quietFeatures().behavior, present: false, pointer_moves: 0, clicks: 0, key_presses: 0, focus_changes: 0, dwell_ms: 0 };
    const none = { ...absent, move_interval_mean_ms: -1, move_interval_sd_ms: -1, key_interval_mean_ms: -1, key_interval_sd_ms: -1 };
    expect(behaviorFeatures(undefined)).toEqual(none);
    expect(behaviorFeatures(payload({ behavior: {} }))).toEqual(none);
  });

  it("carries a person's input, and scripted events without timing", () => {
    expect(behaviorFeatures(payload())).toEqual({ present: true, ...personBehavior() });
    const scripted = behaviorFeatures(payload({ behavior: { dwell_ms: 800, untrusted_events: 12 } }));
    expect(scripted).toMatchObject({ present: true, untrusted_events: 12, pointer_moves: 0, move_interval_mean_ms: -1, key_interval_sd_ms: -1 });
  });
});

describe('request and identity', () => {
  it('says which identifiers the backend sent', () => {
    expect(requestFeatures({ event: 'login', ip: '36.112.10.20', account_id: 'u1' }, undefined)).toEqual({
      has_account: true,
      has_mobile: false,
      has_email: false,
      has_ip: true,
      has_user_agent: false,
      ua_mismatch: false,
    });
  });

  it("compares the backend's user agent with the token's", () => {
    const request: EvaluateRequest = { event: 'login', ip: '36.112.10.20', user_agent: CHROME_WINDOWS };
    expect(requestFeatures(request, CHROME_WINDOWS).ua_mismatch).toBe(false);
    expect(requestFeatures(request, 'Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:128.0) Gecko/20100101 Firefox/128.0').ua_mismatch).toBe(true);
    expect(requestFeatures(request, undefined).ua_mismatch).toBe(false);
  });

  it('a disposable email, a virtual-operator mobile and a private ip', () => {
    expect(identityFeatures({ ip: '10.1.2.3', email: 'x@mailinator.com', mobile: '17012345678' })).toEqual({
      ip: { kind: 'private' },
      email: { domain: 'mailinator.com', disposable: true },
      mobile: { country_code: '86', virtual_operator: true },
    });
    expect(identityFeatures({})).toEqual({ ip: { kind: 'missing' }, email: { domain: '', disposable: false }, mobile: { country_code: '', virtual_operator: false } });
  });
});

describe('what the hot state observed', () => {
  const signals = cleanWebSignals();
  const batch = observationBatch('shop', 'register', 1_700_000_000_000, { ip: 'ip-key', device: 'device-1', account: 'account-key' }, fingerprintKeys(signals), 86_400_000);

  it('no answer reads as nothing seen: not new, every count 0', () => {
    expect(observedFeatures(batch, undefined)).toEqual({
      deviceNew: false,
      templateNew: false,
      velocity: quietFeatures().velocity,
      distinct: quietFeatures().distinct,
      challenge: { passed_1h: 0, failed_24h: 0, abandoned_24h: 0, sms_pending: false },
    });
  });

  it('reads the first-seen marks, counts per identifier and pair, and the challenge loop from the answer', () => {
    // The first registration of a new device: each counted entity once; challenges passed once this hour, failed twice today.
    const result: ObservationResult = {
      counters: batch.batch.counters.map((counter) => (counter.record === false ? [1, 2] : counter.windowsMs.map(() => 1))),
      distinct: batch.batch.distinct.map((entry) => entry.windowsMs.map(() => 1)),
      firstSeen: batch.batch.firstSeen.map(() => false),
    };
    result.firstSeen[batch.deviceSeenIndex] = true;
    const observed = observedFeatures(batch, result);
    expect(observed).toMatchObject({ deviceNew: true, templateNew: false });
    expect(observed.velocity).toMatchObject({ ip_5m: 1, ip_24h: 1, device_1h: 1, account_5m: 1, mobile_5m: 0 });
    expect(observed.distinct).toMatchObject({ device_accounts_1h: 1, ip_accounts_24h: 1, ip_devices_5m: 1, visitor_devices_1h: 1, template_devices_1h: 1, device_mobiles_1h: 0 });
    expect(observed.challenge).toEqual({ passed_1h: 1, failed_24h: 2, abandoned_24h: 0, sms_pending: false });
  });
});

describe('extraction composes the families', () => {
  const inputs = (token: CheckedToken, request: EvaluateRequest = { event: 'login', ip: '36.112.10.20', account_id: 'u1' }): FeatureInputs => {
    const opened = openedToken(token);
    const batch = observationBatch('shop', request.event, 1_700_000_000_000, { ip: 'ip-key', device: deviceIdOf(token), account: 'account-key' }, opened ? fingerprintKeys(opened.payload.signals) : { visitor: '', template: '' }, 86_400_000);
    return { appId: 'shop', request, token, observations: batch, observed: undefined, lists: { black: false, white: false }, enrollment: { ...NO_ENROLLMENT } };
  };

  it('into every group of the rules language, in its order', () => {
    const features = extractFeatures(inputs(decoded()));
    const quiet = quietFeatures();
    expect(Object.keys(features)).toEqual(Object.keys(quiet));
    for (const [group, value] of Object.entries(features)) {
      if (value !== null && typeof value === 'object') expect(Object.keys(value), group).toEqual(Object.keys(quiet[group as keyof typeof quiet] as object));
    }
    expect(features).toMatchObject({ event: 'login', app: 'shop', platform: 'web', token: { status: 'ok' }, device: { id: 'device-1', new: false }, signals: quiet.signals, ip: { kind: 'public' } });
  });

  it('reads no payload from a token that did not open, and wechat signals only from a mini-program token', () => {
    const features = extractFeatures(inputs(MISSING_TOKEN));
    expect(features).toMatchObject({ platform: 'unknown', token: { status: 'missing' }, device: { id: '' }, behavior: { present: false }, fingerprint: { present: false } });
    const wechat = { platform: 'devtools', system: 'x', screen: { width: 1, height: 2 }, sdk_version: '3.5.0' };
    expect(extractFeatures(inputs(decoded(web({ wechat })))).wechat).toEqual(wechatFeatures(undefined));
    expect(extractFeatures(inputs(decoded(payload({ platform: 'wechat', signals: { wechat } })))).wechat.devtools).toBe(true);
  });
});
