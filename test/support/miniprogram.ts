/**
 * For the mini-program tests: a fake global `wx` with real devices' values,
 * whose `wx.request` goes through a transport the test gives (real HTTP to a
 * running RiskGate), and a RiskGate server listening on an ephemeral port.
 *
 * `createFakeWx` refers to nothing outside itself, so the components test can
 * also install it in a browser page (Playwright serialises it).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildApp, type BuildAppOptions, type RiskGateApp } from '../../server/app.js';
import { loadConfig } from '../../server/config/config.js';
import { APP_KEY, APP_SECRET } from './app.js';
import { ensureBuilt, ROOT } from './build.js';

export { APP_KEY, APP_SECRET };

/** What wx's sync info APIs and async getters answer on one device. */
export interface WxProfile {
  device: Record<string, unknown>;
  window: Record<string, unknown>;
  app: Record<string, unknown>;
  account: { miniProgram: Record<string, unknown> };
  scene: number;
  network: Record<string, unknown>;
  battery: Record<string, unknown>;
  benchmark?: Record<string, unknown>;
}

/** A Xiaomi 13 on Android 14, WeChat 8.0.50, base library 3.5.8, a release build opened from the chat list. */
export const PHONE: WxProfile = {
  device: {
    platform: 'android',
    brand: 'Xiaomi',
    model: '2211133C',
    system: 'Android 14',
    abi: 'arm64-v8a',
    deviceAbi: 'arm64-v8a',
    cpuType: 'Qualcomm Technologies, Inc SM8550',
    memorySize: '11598',
    benchmarkLevel: 38,
  },
  window: { pixelRatio: 2.75, screenWidth: 393, screenHeight: 873, windowWidth: 393, windowHeight: 779, statusBarHeight: 36 },
  app: { SDKVersion: '3.5.8', version: '8.0.50', language: 'zh_CN', enableDebug: false, host: {} },
  account: { miniProgram: { appId: 'wx5f2c0e4a1b3d7e91', envVersion: 'release', version: '1.4.2' } },
  scene: 1089,
  network: { networkType: 'wifi', signalStrength: 82, hasSystemProxy: false },
  battery: { level: 76, isCharging: false, isLowPowerModeEnabled: false },
  benchmark: { benchmarkLevel: 38, modelLevel: 1 },
};

/** WeChat DevTools' simulator: what its getSystemInfoSync answers. */
export const DEVTOOLS: WxProfile = {
  ...PHONE,
  device: { platform: 'devtools', brand: 'devtools', model: 'iPhone 12/13 (Pro)', system: 'iOS 10.0.1', memorySize: 2048, benchmarkLevel: 1 },
  window: { pixelRatio: 3, screenWidth: 390, screenHeight: 844, windowWidth: 390, windowHeight: 753, statusBarHeight: 47 },
  app: { SDKVersion: '3.5.8', version: '8.0.5', language: 'zh_CN', enableDebug: false, host: {} },
  account: { miniProgram: { appId: 'wx5f2c0e4a1b3d7e91', envVersion: 'develop', version: '' } },
  scene: 1001,
  benchmark: { benchmarkLevel: 1, modelLevel: 0 },
};

/** Android Studio's emulator (x86_64 image), unrated by WeChat. */
export const EMULATOR: WxProfile = {
  ...PHONE,
  device: {
    platform: 'android',
    brand: 'google',
    model: 'sdk_gphone64_x86_64',
    system: 'Android 13',
    abi: 'x86_64',
    deviceAbi: 'x86_64',
    cpuType: 'unknown',
    memorySize: '2048',
    benchmarkLevel: -1,
  },
  benchmark: { benchmarkLevel: -1, modelLevel: 0 },
};

/** One wx.request as the transport sees it. */
export interface FakeRequest {
  url: string;
  method: string;
  header: Record<string, string>;
  data?: unknown;
}

export type FakeResponse = { statusCode: number; data: unknown } | { errMsg: string };

export interface FakeWxOptions {
  /** Shared by fakes that stand for the same WeChat user on the same device. */
  storage?: Map<string, unknown>;
  /** APIs that call `fail`, or never call back (`hang`), or are missing. */
  broken?: Partial<Record<'getNetworkType' | 'getBatteryInfo' | 'getRandomValues' | 'getDeviceBenchmarkInfo', 'fail' | 'hang' | 'missing'>>;
  /** wx.request to URLs containing one of these fails with a network error. */
  unreachable?: string[];
}

export type FakeWx = Record<string, (...args: never[]) => unknown> & { requests: FakeRequest[] };

/**
 * A `wx` with the profile's answers; `transport` carries wx.request. All APIs
 * are method shorthands, like one kind of function, as a real base library's are.
 */
export function createFakeWx(profile: WxProfile, transport: (request: FakeRequest) => Promise<FakeResponse>, settings: FakeWxOptions = {}): FakeWx {
  const storage = settings.storage ?? new Map<string, unknown>();
  const broken = settings.broken ?? {};
  const unreachable = settings.unreachable ?? [];
  const requests: FakeRequest[] = [];
  const clone = <T>(value: T): T => JSON.parse(JSON.stringify(value)) as T;
  type Callbacks = { success?: (result: unknown) => void; fail?: (error: { errMsg: string }) => void };
  /** Answers a callback API a moment later, as the client's bridge does. */
  const later = (name: keyof NonNullable<FakeWxOptions['broken']>, options: Callbacks, result: () => unknown) => {
    const mode = broken[name];
    setTimeout(() => {
      if (mode === 'hang') return;
      if (mode === 'fail') options.fail?.({ errMsg: `${name}:fail system error` });
      else options.success?.(result());
    }, 1);
  };
  const wx = {
    requests,
    getDeviceInfo() {
      return clone(profile.device);
    },
    getWindowInfo() {
      return clone(profile.window);
    },
    getAppBaseInfo() {
      return clone(profile.app);
    },
    getSystemInfoSync() {
      return { ...clone(profile.device), ...clone(profile.window), ...clone(profile.app) };
    },
    getAccountInfoSync() {
      return clone(profile.account);
    },
    getLaunchOptionsSync() {
      return { path: 'pages/register/index', scene: profile.scene, query: {} };
    },
    getEnterOptionsSync() {
      return { path: 'pages/register/index', scene: profile.scene, query: {} };
    },
    getNetworkType(options: Callbacks) {
      later('getNetworkType', options, () => clone(profile.network));
    },
    getBatteryInfo(options: Callbacks) {
      later('getBatteryInfo', options, () => clone(profile.battery));
    },
    getDeviceBenchmarkInfo(options: Callbacks) {
      later('getDeviceBenchmarkInfo', options, () => clone(profile.benchmark ?? {}));
    },
    getRandomValues(options: Callbacks & { length: number }) {
      later('getRandomValues', options, () => ({ randomValues: globalThis.crypto.getRandomValues(new Uint8Array(options.length)).buffer }));
    },
    getStorageSync(key: string) {
      return storage.has(key) ? clone(storage.get(key)) : '';
    },
    setStorageSync(key: string, value: unknown) {
      storage.set(key, clone(value));
    },
    navigateTo() {},
    showToast() {},
    login() {},
    request(options: FakeRequest & Callbacks & { timeout?: number }) {
      const request: FakeRequest = { url: options.url, method: options.method ?? 'GET', header: options.header ?? {}, data: options.data };
      requests.push(request);
      let aborted = false;
      if (unreachable.some((part) => request.url.includes(part))) {
        setTimeout(() => options.fail?.({ errMsg: 'request:fail net::ERR_CONNECTION_REFUSED' }), 1);
      } else {
        void transport(request).then((response) => {
          if (aborted) return;
          if ('errMsg' in response) options.fail?.({ errMsg: response.errMsg });
          else options.success?.({ statusCode: response.statusCode, data: response.data, header: {} });
        });
      }
      return {
        abort() {
          aborted = true;
        },
      };
    },
  };
  for (const name of ['getNetworkType', 'getBatteryInfo', 'getRandomValues', 'getDeviceBenchmarkInfo'] as const) {
    if (broken[name] === 'missing') delete (wx as Record<string, unknown>)[name];
  }
  return wx as unknown as FakeWx;
}

/** wx.request over real HTTP (fetch): what WeChat's client does, without an Origin header. */
export async function httpTransport(request: FakeRequest): Promise<FakeResponse> {
  try {
    const response = await fetch(request.url, {
      method: request.method,
      headers: request.header,
      body: request.data === undefined ? undefined : JSON.stringify(request.data),
      signal: AbortSignal.timeout(15_000),
    });
    const text = await response.text();
    let data: unknown = text;
    try {
      data = JSON.parse(text);
    } catch {
      // Not JSON: wx.request hands over the text.
    }
    return { statusCode: response.status, data };
  } catch (error) {
    return { errMsg: `request:fail ${(error as Error).message}` };
  }
}

export interface RunningServer {
  app: RiskGateApp;
  base: string;
  /** A call with the app secret, as a business backend makes it. */
  api<T = Record<string, unknown>>(method: 'GET' | 'POST', path: string, body?: unknown): Promise<{ status: number; json: T }>;
  close(): Promise<void>;
}

/** RiskGate on 127.0.0.1 and an ephemeral port, in a fresh data directory. */
export async function startServer(options: Partial<BuildAppOptions> = {}): Promise<RunningServer> {
  const dataDir = mkdtempSync(join(tmpdir(), 'riskgate-mp-test-'));
  const config = loadConfig({
    env: {},
    raw: {
      data_dir: dataDir,
      log_level: 'silent',
      apps: [{ id: 'shop', name: 'Shop', key: APP_KEY, secret: APP_SECRET, origins: ['https://shop.example'] }],
    },
  });
  // Every fake phone enrolls from 127.0.0.1: small puzzles that do not escalate keep the suite fast.
  const app = await buildApp({ config, logger: false, enrollment: { baseDerivations: 8, cost: 200, maxMultiplier: 1 }, ...options });
  await app.listen({ host: '127.0.0.1', port: 0 });
  const base = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
  return {
    app,
    base,
    async api(method, path, body) {
      const response = await fetch(`${base}${path}`, {
        method,
        headers: { authorization: `Bearer ${APP_SECRET}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: AbortSignal.timeout(15_000),
      });
      return { status: response.status, json: (await response.json()) as never };
    },
    async close() {
      // SDKs enroll in the background: a request still in flight would keep its
      // keep-alive connection (and so the close) open for the keep-alive timeout.
      const closing = app.close();
      app.server.closeAllConnections();
      await closing;
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

export { ROOT };
/** The package's `miniprogram` folder: what WeChat DevTools' "build npm" copies. */
export const MINIPROGRAM_DIR = join(ROOT, 'dist/miniprogram');

/**
 * Builds the SDKs (`rollup -c`) unless dist/miniprogram is newer than every
 * input; one build at a time across test files (the web SDK tests' lock).
 */
export function ensureMiniprogramBuilt(): void {
  ensureBuilt(['client/miniprogram', 'client/core', 'shared/jwk.ts'], ['index.js', 'components/riskgate-slider/index.js', 'components/riskgate-sms/index.js'].map((name) => `dist/miniprogram/${name}`));
}

const require = createRequire(import.meta.url);

/** A fresh copy of the built bundle: a new run of the mini-program (module state and caches gone, wx storage kept). */
export function loadMiniprogramSdk<Sdk>(): Sdk {
  for (const key of Object.keys(require.cache)) if (key.startsWith(MINIPROGRAM_DIR)) delete require.cache[key];
  return require(join(MINIPROGRAM_DIR, 'index.js')) as Sdk;
}
