/**
 * The mini-program SDK as a mini-program runs it: the built CommonJS bundle
 * (dist/miniprogram, what "build npm" copies) is required under Node with a
 * fake global `wx` answering like real devices, whose wx.request does real
 * HTTP to a running RiskGate. Tokens go through the server's own evaluate.
 */
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { DecisionRecord, EvaluateResponse } from '../../shared/schemas.js';
import { VERSION } from '../../client/core/version.js';
import { openBlackBox } from '../../server/engine/token/decode.js';
import {
  APP_KEY,
  createFakeWx,
  DEVTOOLS,
  EMULATOR,
  ensureMiniprogramBuilt,
  httpTransport,
  loadMiniprogramSdk,
  MINIPROGRAM_DIR,
  PHONE,
  startServer,
  type FakeWx,
  type FakeWxOptions,
  type RunningServer,
  type WxProfile,
} from '../support/miniprogram.js';

interface Client {
  getBlackBox(): Promise<string>;
  trackTouch(event: { type: string; timeStamp: number }): void;
}
interface Sdk {
  init(options: Record<string, unknown>): Client;
  VERSION: string;
}

/** A fresh copy of the bundle: a new run of the mini-program (module state and caches gone, storage kept). */
const loadSdk = () => loadMiniprogramSdk<Sdk>();

let server: RunningServer;

beforeAll(async () => {
  ensureMiniprogramBuilt();
  server = await startServer();
}, 180_000);

afterAll(async () => {
  await server?.close();
});

afterEach(() => {
  delete (globalThis as { wx?: unknown }).wx;
});

/** Installs a fake wx as the global and starts a fresh SDK on it. */
function start(profile: WxProfile = PHONE, options: FakeWxOptions = {}, initOptions: Record<string, unknown> = {}): { rg: Client; wx: FakeWx } {
  const wx = createFakeWx(profile, httpTransport, options);
  (globalThis as { wx?: unknown }).wx = wx;
  const rg = loadSdk().init({ appKey: APP_KEY, endpoint: server.base, ...initOptions });
  return { rg, wx };
}

function open(token: string) {
  const opened = openBlackBox(token, server.app.riskgate.keys.current());
  if (!opened.ok) throw new Error(`token did not open: ${opened.failure}`);
  return opened;
}

async function evaluate(blackBox: string, extra: Record<string, unknown> = {}): Promise<EvaluateResponse> {
  const { status, json } = await server.api<EvaluateResponse>('POST', '/v1/risk/evaluate', {
    event: 'register',
    black_box: blackBox,
    ip: '58.33.10.8',
    account_id: `user-${Math.random().toString(36).slice(2)}`,
    ...extra,
  });
  expect(status, JSON.stringify(json)).toBe(200);
  return json;
}

async function decision(sequenceId: string): Promise<DecisionRecord> {
  const { status, json } = await server.api<{ decision: DecisionRecord }>('GET', `/v1/decisions/${sequenceId}`);
  expect(status).toBe(200);
  return json.decision;
}

describe('mini-program SDK under Node with a fake wx and a real server', () => {
  it('makes a token the server decodes: platform wechat, the wx signals, device key in wx storage', async () => {
    const { rg, wx } = start();
    const token = await rg.getBlackBox();
    const { payload } = open(token);
    expect(payload).toMatchObject({ v: 1, app: APP_KEY, platform: 'wechat', sdk: `wechat/${VERSION}`, degraded: false });
    expect(payload.signals.errors).toBeUndefined();
    expect(payload.signals.device_key_store).toBe('wx_storage');
    expect(payload.signals.lies).toEqual([]);
    expect(payload.signals.inconsistencies).toEqual([]);
    expect(payload.signals.wechat).toMatchObject({
      platform: 'android',
      brand: 'Xiaomi',
      model: '2211133C',
      system: 'Android 14',
      abi: 'arm64-v8a',
      memory_size_mb: 11598,
      benchmark_level: 38,
      model_level: 1,
      sdk_version: '3.5.8',
      wechat_version: '8.0.50',
      env_version: 'release',
      scene: 1089,
      network_type: 'wifi',
      system_proxy: false,
      battery_level: 76,
      random: 'wx',
      hooks: [],
      screen: { width: 393, height: 873, pixel_ratio: 2.75 },
    });
    // Keys came from GET /v1/keys through wx.request, and were cached in wx storage.
    // (Device enrollment's requests run beside it: see test/enrollment.miniprogram.test.ts.)
    expect(wx.requests.map((r) => `${r.method} ${new URL(r.url).pathname}`).filter((r) => !r.includes('/v1/devices/'))).toEqual(['GET /v1/keys']);
    expect(Object.keys(payload.behavior)).toEqual([]);
    console.info(`mini-program token: ${token.length} chars`);

    const verdict = await evaluate(token);
    // The first token of a new device is made while it enrolls (level 1, `device_enrolling`): a challenge; nothing else scores.
    expect(verdict).toMatchObject({ decision: 'challenge', degraded: false });
    expect(verdict.reasons.map((r) => r.id).filter((id) => id !== 'device_enrolling' && id !== 'device_not_enrolled')).toEqual([]);
    expect(verdict.device_id).toMatch(/^[A-Za-z0-9_-]{43}$/);
    const record = await decision(verdict.sequence_id);
    expect(record.features).toMatchObject({
      platform: 'wechat',
      token: { status: 'ok', degraded: false },
      signals: { device_key_fallback: false, lies: 0, inconsistencies: 0, source_errors: 0 },
      behavior: { present: false },
      wechat: { devtools: false, emulator: false, emulator_hints: 0, hooks: 0, low_benchmark: false, system_proxy: false, env_version: 'release', scene: 1089, network_type: 'wifi' },
    });
  });

  it('keeps the device id across runs of the mini-program with the same storage, and not across storages', async () => {
    const storage = new Map<string, unknown>();
    const first = await evaluate(await start(PHONE, { storage }).rg.getBlackBox());
    // A new run: fresh module state, a new wx object, the same storage.
    const second = await evaluate(await start(PHONE, { storage }).rg.getBlackBox());
    const other = await evaluate(await start(PHONE, { storage: new Map() }).rg.getBlackBox());
    expect(second.device_id).toBe(first.device_id);
    expect(other.device_id).not.toBe(first.device_id);
    // The device key, the server key and, once enrollment has finished (it runs beside the tokens), the certificate.
    const keys = [...storage.keys()].sort();
    expect(keys.filter((key) => key !== `riskgate:cert:${APP_KEY}`)).toEqual(['riskgate:device', `riskgate:key:${server.base}`]);
  });

  it('tags WeChat DevTools as devtools at level 3 or more', async () => {
    const token = await start(DEVTOOLS).rg.getBlackBox();
    expect(open(token).payload.signals.wechat).toMatchObject({ platform: 'devtools', env_version: 'develop' });
    const verdict = await evaluate(token);
    expect(verdict.tags).toContain('devtools');
    expect(verdict.level).toBeGreaterThanOrEqual(3);
    expect(verdict.reasons.map((r) => r.id)).toContain('wechat_devtools');
    expect((await decision(verdict.sequence_id)).features).toMatchObject({ wechat: { devtools: true, emulator: false } });
  });

  it('tags an Android emulator as emulator at level 3 or more', async () => {
    const verdict = await evaluate(await start(EMULATOR).rg.getBlackBox());
    expect(verdict.tags).toContain('emulator');
    expect(verdict.level).toBeGreaterThanOrEqual(3);
    const record = await decision(verdict.sequence_id);
    // The model and the x86_64 ABI; benchmarkLevel -1 on top.
    expect(record.features).toMatchObject({ wechat: { emulator: true, emulator_hints: 2, low_benchmark: true } });
  });

  it('names a failing and a hanging wx API in signals.errors and marks the token degraded', async () => {
    const failing = open(await start(PHONE, { broken: { getNetworkType: 'fail' } }).rg.getBlackBox()).payload;
    expect(failing.degraded).toBe(true);
    expect(failing.signals.errors).toEqual({ network: 'error' });
    expect(failing.signals.wechat?.network_type).toBeUndefined();

    const hanging = await start(PHONE, { broken: { getNetworkType: 'hang', getBatteryInfo: 'hang' } }, { timeoutMs: 600 }).rg.getBlackBox();
    const { payload } = open(hanging);
    expect(payload.degraded).toBe(true);
    expect(payload.signals.errors).toEqual({ network: 'timeout', battery: 'timeout' });
    const verdict = await evaluate(hanging);
    expect(verdict.tags).toContain('degraded_token');
    expect((await decision(verdict.sequence_id)).features).toMatchObject({ token: { status: 'ok', degraded: true } });
  });

  it('leaves out APIs an old base library lacks, and falls back to weak randomness without wx.getRandomValues', async () => {
    const { payload } = open(await start(PHONE, { broken: { getBatteryInfo: 'missing', getDeviceBenchmarkInfo: 'missing', getRandomValues: 'missing' } }).rg.getBlackBox());
    expect(payload.degraded).toBe(false);
    expect(payload.signals.errors).toBeUndefined();
    expect(payload.signals.wechat).toMatchObject({ random: 'weak', benchmark_level: 38 });
    expect(payload.signals.wechat?.battery_level).toBeUndefined();
  });

  it('rejects with RiskGateError key_unavailable when wx.request cannot reach /v1/keys, after one retry', async () => {
    const { rg, wx } = start(PHONE, { unreachable: ['/v1/keys'] });
    const error = await rg.getBlackBox().then(
      () => undefined,
      (e: unknown) => e as { name: string; code: string; message: string },
    );
    expect(error).toMatchObject({ name: 'RiskGateError', code: 'key_unavailable' });
    expect(wx.requests.map((r) => new URL(r.url).pathname)).toEqual(['/v1/keys', '/v1/keys']);
    // With the key given to init, no request is needed at all.
    const { keys } = server.app.riskgate.keys.current().jwks;
    const withKey = start(PHONE, { unreachable: ['/v1/keys'] }, { publicKey: keys[0] });
    expect(open(await withKey.rg.getBlackBox()).payload.platform).toBe('wechat');
  });

  it('counts touches the page forwards, from their type and timeStamp only', async () => {
    const { rg } = start();
    rg.trackTouch({ type: 'touchstart', timeStamp: 1000 });
    for (let i = 1; i <= 12; i++) rg.trackTouch({ type: 'touchmove', timeStamp: 1000 + i * 16.6 });
    rg.trackTouch({ type: 'touchend', timeStamp: 1210 });
    rg.trackTouch({ type: 'tap', timeStamp: 1211 });
    for (let i = 0; i < 5; i++) rg.trackTouch({ type: 'input', timeStamp: 2000 + i * 180 });
    const token = await rg.getBlackBox();
    expect(open(token).payload.behavior).toMatchObject({ touches: 1, pointer_moves: 12, clicks: 1, key_presses: 5, move_interval_mean_ms: 16.6 });
    const record = await decision((await evaluate(token)).sequence_id);
    expect(record.features).toMatchObject({ behavior: { present: true, touches: 1, pointer_moves: 12, clicks: 1, key_presses: 5 } });
    expect(record.rules_hit.map((h) => h.id)).not.toContain('reg_no_behavior');
  });

  it('reports a spoofing hook: a proxied wx.getDeviceInfo, a patched built-in and the API that still tells the truth', async () => {
    const wx = createFakeWx(EMULATOR, httpTransport);
    const genuine = wx.getDeviceInfo!;
    // What a hook framework does to hide an emulator: rewrite one API's answer.
    wx.getDeviceInfo = new Proxy(genuine, { apply: (target, self, args) => ({ ...(Reflect.apply(target, self, args) as object), model: 'SM-S9180', brand: 'samsung', abi: 'arm64-v8a', deviceAbi: 'arm64-v8a' }) });
    (globalThis as { wx?: unknown }).wx = wx;
    const original = JSON.parse;
    JSON.parse = function parse(text: string, reviver?: (this: unknown, key: string, value: unknown) => unknown) {
      return original(text, reviver);
    };
    let token: string;
    try {
      token = await loadSdk().init({ appKey: APP_KEY, endpoint: server.base }).getBlackBox();
    } finally {
      JSON.parse = original;
    }
    const { signals } = open(token).payload;
    expect(signals.wechat).toMatchObject({ model: 'SM-S9180', hooks: ['wx.getDeviceInfo'] });
    expect(signals.lies).toEqual(['JSON.parse']);
    expect(signals.inconsistencies).toEqual(expect.arrayContaining(['device.model', 'device.brand']));
    const verdict = await evaluate(token);
    expect(verdict.tags).toEqual(expect.arrayContaining(['tampered', 'inconsistent']));
    const record = await decision(verdict.sequence_id);
    expect(record.features).toMatchObject({ wechat: { hooks: 1, emulator: false } });
    expect(record.rules_hit).toEqual(expect.arrayContaining([expect.objectContaining({ id: 'wechat_hooked_api', state: 'shadow' })]));
  });
});

describe('the bundle outside a mini-program', () => {
  it('requires with no wx and touches no global at import', () => {
    const script = `
      const touched = [];
      for (const name of ['wx', 'window', 'document', 'navigator', 'crypto', 'getApp', 'getCurrentPages', 'App', 'Page', 'Component', 'Behavior', 'localStorage']) {
        Object.defineProperty(globalThis, name, { configurable: true, get() { touched.push(name); return undefined; } });
      }
      const sdk = require(${JSON.stringify(join(MINIPROGRAM_DIR, 'index.js'))});
      const atImport = touched.slice();
      const loaded = Object.keys(require.cache).map((p) => require('path').basename(p));
      let error;
      try { sdk.init({ appKey: 'app', endpoint: 'https://risk.example' }); } catch (e) { error = e.constructor.name + ': ' + e.message; }
      process.stdout.write(JSON.stringify({ atImport, touched, loaded, exports: Object.keys(sdk).sort(), version: sdk.VERSION, error }));
    `;
    const result = JSON.parse(execFileSync(process.execPath, ['-e', script], { encoding: 'utf8' })) as Record<string, unknown>;
    expect(result).toEqual({
      atImport: [],
      // init looked for wx, and only then.
      touched: ['wx'],
      // The crypto chunk is not loaded at import.
      loaded: ['index.js'],
      exports: ['ChallengeSession', 'RiskGateError', 'TrackRecorder', 'VERSION', 'challengeTexts', 'getClient', 'init', 'registerChallengeUi'],
      version: VERSION,
      error: 'TypeError: RiskGate.init: call it in a WeChat mini-program (no global wx)',
    });
  });
});
