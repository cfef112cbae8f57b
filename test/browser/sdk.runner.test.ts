/**
 * The web SDK's browser-independent parts, under Node: the source runner's
 * budgets and caching, the token-size guard, and the mapping of outcomes onto
 * the token's signals.
 */
import { describe, expect, it } from 'vitest';
import { assembleSignals } from '../../client/web/signals.js';
import { flattenComponents } from '../../client/web/sources/fingerprint.js';
import type { Sources } from '../../client/web/sources/index.js';
import { SourceRunner, type Outcomes } from '../../client/core/sources/runner.js';
import { defineSource, Failure } from '../../client/core/sources/source.js';
import { fitPayload, TOKEN_BUDGET_CHARS, tokenLength } from '../../client/core/token/size.js';
import { buildBlackBox } from '../../client/core/token/build.js';
import { hintsOs, isDesktop, parseUserAgent, platformOs, sameOs } from '../../client/web/util/platform.js';
import { BlackBoxPayload } from '../../shared/schemas.js';
import { generateTokenKey, TokenKeyRing } from '../../server/engine/token/key-ring.js';
import { openBlackBox } from '../../server/engine/token/decode.js';
import { newDevice, tokenCrypto } from '../support/tokens.js';

/** The platform's context, handed to every source; these sources read none. */
const context = {};
const clock = () => performance.now();
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const never = () => new Promise<never>(() => {});

describe('source runner', () => {
  it('records values, sentinels, throws, rejections and hangs, each within its own budget', async () => {
    const runner = new SourceRunner(
      {
        ok: defineSource({ budgetMs: 100, stable: false, collect: () => 42 }),
        later: defineSource({ budgetMs: 100, stable: false, collect: async () => (await sleep(5), 'done') }),
        unsupported: defineSource({ budgetMs: 100, stable: false, collect: () => new Failure('unsupported') }),
        throws: defineSource<number>({ budgetMs: 100, stable: false, collect: () => { throw new Error('boom'); } }),
        rejects: defineSource<number>({ budgetMs: 100, stable: false, collect: () => Promise.reject(new Error('boom')) }),
        hangs: defineSource<number>({ budgetMs: 30, stable: false, collect: never }),
      },
      context,
      clock,
    );
    const started = clock();
    const outcomes = await runner.collect(started + 1000);
    expect(clock() - started).toBeLessThan(200);
    expect(outcomes.ok).toMatchObject({ value: 42 });
    expect(outcomes.later).toMatchObject({ value: 'done' });
    expect(outcomes.unsupported).toMatchObject({ error: 'unsupported' });
    expect(outcomes.throws).toMatchObject({ error: 'error' });
    expect(outcomes.rejects).toMatchObject({ error: 'error' });
    expect(outcomes.hangs).toMatchObject({ error: 'timeout' });
    expect((outcomes.hangs as { ms: number }).ms).toBeGreaterThanOrEqual(25);
    expect(Object.keys(outcomes)).toEqual(['ok', 'later', 'unsupported', 'throws', 'rejects', 'hangs']);
  });

  it('never waits past the overall deadline', async () => {
    const runner = new SourceRunner({ slow: defineSource<number>({ budgetMs: 5000, stable: false, collect: never }) }, context, clock);
    const started = clock();
    const outcomes = await runner.collect(started + 40);
    expect(outcomes.slow).toMatchObject({ error: 'timeout' });
    expect(clock() - started).toBeLessThan(150);
  });

  it('runs a stable source once, from prime(), and lets a later collection pick up a late result', async () => {
    let runs = 0;
    let finish: (value: string) => void = () => {};
    const runner = new SourceRunner(
      {
        stable: defineSource({ budgetMs: 1000, stable: true, collect: () => (runs++, new Promise<string>((resolve) => (finish = resolve))) }),
        volatile: defineSource({ budgetMs: 100, stable: false, collect: () => runs }),
      },
      context,
      clock,
    );
    runner.prime();
    expect(runs).toBe(1);
    const first = await runner.collect(clock() + 30);
    expect(first.stable).toMatchObject({ error: 'timeout' });
    finish('fingerprint');
    const second = await runner.collect(clock() + 30);
    expect(second.stable).toMatchObject({ value: 'fingerprint' });
    await runner.collect(clock() + 30);
    expect(runs).toBe(1);
  });

  it('leaves a running optional source out without an error, and includes it once done', async () => {
    let finish: (value: string[]) => void = () => {};
    const runner = new SourceRunner(
      {
        required: defineSource({ budgetMs: 100, stable: false, collect: () => 'ok' }),
        optional: defineSource({ budgetMs: 60, stable: true, optional: true, collect: () => new Promise<string[]>((resolve) => (finish = resolve)) }),
      },
      context,
      clock,
    );
    runner.prime();
    expect((await runner.collect(clock() + 1000)).optional).toMatchObject({ pending: true });
    finish(['worker.platform']);
    await sleep(0);
    expect((await runner.collect(clock() + 1000)).optional).toMatchObject({ value: ['worker.platform'] });
  });

  it('reports an optional source that outlives its budget as a timeout', async () => {
    const runner = new SourceRunner(
      { optional: defineSource<string[]>({ budgetMs: 20, stable: true, optional: true, collect: never }) },
      context,
      clock,
    );
    runner.prime();
    await sleep(40);
    expect((await runner.collect(clock() + 1000)).optional).toMatchObject({ error: 'timeout' });
  });
});

describe('token size', () => {
  const ring = new TokenKeyRing([generateTokenKey()]);
  const payload = (signals: Record<string, unknown>) => ({
    v: 1 as const,
    app: 'app_size_test',
    platform: 'web' as const,
    sdk: 'web/0.1.0',
    degraded: false,
    signals,
    behavior: { pointer_moves: 3, dwell_ms: 1200 },
  });

  it('predicts the exact length of the token buildBlackBox makes', async () => {
    const signer = await newDevice();
    for (const signals of [{}, { user_agent: 'Mozilla/5.0 (X11; Linux x86_64) Chrome/156.0.0.0', lies: ['Navigator.webdriver:proxy'] }, { platform: 'Linux ñ 平台' }]) {
      const token = await buildBlackBox({ serverKey: ring.primary, signer, crypto: tokenCrypto, payload: payload(signals) });
      expect(tokenLength(payload(signals), ring.primary.kid)).toBe(token.length);
    }
  });

  it('trims an oversized payload to the budget, components first, and says so', async () => {
    const components = Object.fromEntries(Array.from({ length: 60 }, (_, i) => [`component${i}`, 'f'.repeat(32)]));
    const lies = Array.from({ length: 40 }, (_, i) => `Some.interface.with.a.long.name${i}:proxy`);
    const big = payload({ visitor_id: 'a'.repeat(32), components, lies, user_agent: 'U'.repeat(500) });
    expect(tokenLength(big, ring.primary.kid)).toBeGreaterThan(TOKEN_BUDGET_CHARS);
    const fitted = fitPayload(big, ring.primary.kid);
    expect(tokenLength(fitted, ring.primary.kid)).toBeLessThanOrEqual(TOKEN_BUDGET_CHARS);
    expect(fitted.degraded).toBe(true);
    expect(fitted.signals?.errors).toEqual({ size: 'truncated' });
    expect(fitted.signals?.components).toBeUndefined();
    expect(fitted.signals?.visitor_id).toBe('a'.repeat(32));
    expect(fitted.signals?.lies?.length).toBeGreaterThan(0);
    // The input is left alone, and a payload that fits is returned as it is.
    expect(big.signals.components).toBe(components);
    const small = payload({ visitor_id: 'b'.repeat(32) });
    expect(fitPayload(small, ring.primary.kid)).toBe(small);
    const token = await buildBlackBox({ serverKey: ring.primary, signer: await newDevice(), crypto: tokenCrypto, payload: fitted });
    const opened = openBlackBox(token, ring);
    expect(opened.ok).toBe(true);
  });
});

describe('FingerprintJS components', () => {
  it('keeps primitives, hashes heavy values, nulls failures and drops what the token carries anyway', () => {
    const flat = flattenComponents({
      colorDepth: { value: 24, duration: 0 },
      cookiesEnabled: { value: true, duration: 0 },
      vendor: { value: 'Google Inc.', duration: 0 },
      canvas: { value: { winding: true, geometry: 'data:image/png;base64,' + 'A'.repeat(5000), text: 'x' }, duration: 12 },
      fonts: { value: ['Arial', 'Courier'], duration: 30 },
      longString: { value: 'x'.repeat(100), duration: 0 },
      audio: { value: Number.NaN, duration: 0 },
      broken: { error: new Error('nope'), duration: 0 },
      osCpu: { value: undefined, duration: 0 },
      languages: { value: [['en-US']], duration: 0 },
      timezone: { value: 'UTC', duration: 0 },
    });
    expect(flat).toEqual({
      colorDepth: 24,
      cookiesEnabled: true,
      vendor: 'Google Inc.',
      canvas: expect.stringMatching(/^[0-9a-f]{12}$/),
      fonts: expect.stringMatching(/^[0-9a-f]{12}$/),
      longString: expect.stringMatching(/^[0-9a-f]{12}$/),
      audio: null,
      broken: null,
    });
  });
});

describe('signals assembly', () => {
  const outcomes = (overrides: Partial<Outcomes<Sources>>): Outcomes<Sources> => ({
    fingerprint: { value: { visitor_id: 'v'.repeat(32), components: { colorDepth: 24 } }, ms: 90 },
    webgl: { value: { renderer: 'ANGLE (Google, Vulkan 1.3.0 (SwiftShader Device (Subzero)), SwiftShader driver)', vendor: 'Google Inc.' }, ms: 1 },
    lies: { value: ['Navigator.webdriver:proxy'], ms: 2 },
    consistency: { value: [], ms: 1 },
    worker: { value: { view: { kind: 'shared', user_agent: 'UA', platform: 'Win32', languages: ['en-US'], hardware_concurrency: 8 }, lies: ['worker.platform'] }, ms: 40 },
    environment: {
      value: { user_agent: 'UA', platform: 'Linux x86_64', languages: ['en-US'], timezone: 'UTC', screen: { width: 1280, height: 720, dpr: 1, touch_points: 0 } },
      ms: 0,
    },
    automation: {
      value: {
        webdriver: true,
        headless_ua: false,
        cdp: false,
        cdp_signs: [],
        automation_globals: [],
        missing_chrome_objects: [],
        permissions_inconsistent: false,
        no_plugins: false,
        window_anomaly: false,
      },
      ms: 3,
    },
    behavior: { value: { pointer_moves: 5, dwell_ms: 900 }, ms: 0 },
    ...overrides,
  });

  it('maps every source onto the schema the server validates', () => {
    const { signals, behavior, degraded } = assembleSignals(outcomes({}), 'indexeddb');
    expect(degraded).toBe(false);
    expect(signals).toMatchObject({
      visitor_id: 'v'.repeat(32),
      webgl_renderer: expect.stringContaining('SwiftShader'),
      automation: { webdriver: true, software_renderer: true },
      lies: ['worker.platform', 'Navigator.webdriver:proxy'],
      worker: { kind: 'shared', user_agent: 'UA', platform: 'Win32', languages: ['en-US'], hardware_concurrency: 8 },
      inconsistencies: [],
      device_key_store: 'indexeddb',
      platform: 'Linux x86_64',
    });
    expect(signals.errors).toBeUndefined();
    expect(behavior).toEqual({ pointer_moves: 5, dwell_ms: 900 });
    const parsed = BlackBoxPayload.parse({ v: 1, app: 'a', jti: 'j'.repeat(22), iat: 1, platform: 'web', sdk: 'web/0.1.0', degraded, signals, behavior });
    expect(parsed.signals).toEqual(signals);
  });

  it('names an unsupported feature without degrading the token (WebGL blocklisted on a machine without a GPU)', () => {
    const { signals, degraded } = assembleSignals(outcomes({ webgl: { error: 'unsupported', ms: 1 } }), 'indexeddb');
    expect(degraded).toBe(false);
    expect(signals.errors).toEqual({ webgl: 'unsupported' });
  });

  it('names failed sources, leaves their signals out and marks the token degraded; a pending optional source is no failure', () => {
    const { signals, degraded } = assembleSignals(
      outcomes({ fingerprint: { error: 'timeout', ms: 900 }, webgl: { error: 'unsupported', ms: 1 }, worker: { pending: true, ms: 50 } }),
      'memory',
    );
    expect(degraded).toBe(true);
    expect(signals.errors).toEqual({ fingerprint: 'timeout', webgl: 'unsupported' });
    expect(signals.visitor_id).toBeUndefined();
    expect(signals.webgl_renderer).toBeUndefined();
    expect(signals.automation?.software_renderer).toBeUndefined();
    expect(signals.lies).toEqual(['Navigator.webdriver:proxy']);
    expect(signals.device_key_store).toBe('memory');
  });
});

describe('user agent claims', () => {
  it('reads the OS, form factor and engine of common user agents', () => {
    expect(parseUserAgent('Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/156.0.0.0 Safari/537.36')).toEqual({
      os: 'windows',
      mobile: false,
      chromium: true,
      chromiumMajor: 156,
      webView: false,
    });
    expect(parseUserAgent('Mozilla/5.0 (Linux; Android 14; Pixel 8; wv) AppleWebKit/537.36 (KHTML, like Gecko) Version/4.0 Chrome/156.0.0.0 Mobile Safari/537.36')).toMatchObject({
      os: 'android',
      mobile: true,
      webView: true,
    });
    expect(parseUserAgent('Mozilla/5.0 (iPhone; CPU iPhone OS 18_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) CriOS/156.0 Mobile/15E148 Safari/604.1')).toMatchObject({
      os: 'ios',
      mobile: true,
      chromium: false,
    });
    expect(parseUserAgent('Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.0 Safari/605.1.15')).toMatchObject({
      os: 'mac',
      mobile: false,
      chromium: false,
    });
  });

  it('does not take an Android tablet in desktop mode for a Linux desktop', () => {
    const desktopModeUa = parseUserAgent('Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/156.0.0.0 Safari/537.36');
    expect(isDesktop(desktopModeUa, 'Linux armv8l', 'Android')).toBe(false);
    expect(isDesktop(desktopModeUa, 'Linux aarch64', undefined)).toBe(false);
    expect(isDesktop(desktopModeUa, 'Linux x86_64', 'Linux')).toBe(true);
    expect(isDesktop(parseUserAgent('Mozilla/5.0 (Windows NT 10.0; Win64; x64) Chrome/156.0.0.0'), 'Win32', 'Windows')).toBe(true);
  });

  it('treats Android and ChromeOS as Linux-like when comparing claims', () => {
    expect(sameOs('android', platformOs('Linux armv8l'))).toBe(true);
    expect(sameOs('windows', platformOs('MacIntel'))).toBe(false);
    expect(sameOs('mac', hintsOs('macOS'))).toBe(true);
    expect(sameOs('windows', hintsOs('Linux'))).toBe(false);
    expect(sameOs('linux', hintsOs('Chrome OS'))).toBe(true);
  });
});
