/**
 * The part of WeChat's `wx` API the SDK uses, typed from the official docs
 * (base library 2.x–3.x). Every member is optional: old base libraries lack
 * some, and a hooked or stripped `wx` may lack any.
 *
 * `wx` is read only inside functions (`currentWx()`), never at import time.
 */

export interface WxError {
  errMsg?: string;
  errno?: number;
}

/** The callback half of an asynchronous wx API's options. */
export interface WxCallbacks<T> {
  success?(result: T): void;
  fail?(error: WxError): void;
}

export interface WxRequestOptions extends WxCallbacks<{ statusCode: number; data: unknown; header?: Record<string, string> }> {
  url: string;
  method?: 'GET' | 'POST';
  data?: unknown;
  header?: Record<string, string>;
  /** Milliseconds (base library 2.10.0+); the SDK also aborts on its own timer. */
  timeout?: number;
  dataType?: 'json' | 'text';
  responseType?: 'text' | 'arraybuffer';
}

export interface WxRequestTask {
  abort?(): void;
}

/** `wx.getDeviceInfo()` (2.20.1); `getSystemInfoSync()` has the same members. */
export interface WxDeviceInfo {
  platform?: string;
  brand?: string;
  model?: string;
  system?: string;
  abi?: string;
  deviceAbi?: string;
  cpuType?: string;
  /** Documented as a string of megabytes; some clients give a number. */
  memorySize?: string | number;
  benchmarkLevel?: number;
}

/** `wx.getWindowInfo()` (2.20.1). */
export interface WxWindowInfo {
  pixelRatio?: number;
  screenWidth?: number;
  screenHeight?: number;
  windowWidth?: number;
  windowHeight?: number;
  statusBarHeight?: number;
}

/** `wx.getAppBaseInfo()` (2.20.1). */
export interface WxAppBaseInfo {
  SDKVersion?: string;
  version?: string;
  language?: string;
  enableDebug?: boolean;
  host?: { appId?: string };
}

export interface Wx {
  request?(options: WxRequestOptions): WxRequestTask | undefined;
  getStorageSync?(key: string): unknown;
  setStorageSync?(key: string, value: unknown): void;
  /** Base library 2.15.0: cryptographically secure bytes. */
  getRandomValues?(options: { length: number } & WxCallbacks<{ randomValues: ArrayBuffer }>): void;
  getDeviceInfo?(): WxDeviceInfo;
  getWindowInfo?(): WxWindowInfo;
  getAppBaseInfo?(): WxAppBaseInfo;
  /** Unmaintained since 2.20.1 but present: the fallback on old base libraries, and a cross-check. */
  getSystemInfoSync?(): WxDeviceInfo & WxWindowInfo & WxAppBaseInfo;
  /** Base library 3.4.5: benchmarkLevel moved here. */
  getDeviceBenchmarkInfo?(options: WxCallbacks<{ benchmarkLevel?: number; modelLevel?: number }>): void;
  getNetworkType?(options: WxCallbacks<{ networkType?: string; signalStrength?: number; hasSystemProxy?: boolean }>): void;
  getBatteryInfo?(options: WxCallbacks<{ level?: number | string; isCharging?: boolean; isLowPowerModeEnabled?: boolean }>): void;
  getAccountInfoSync?(): { miniProgram?: { appId?: string; envVersion?: string; version?: string } };
  getLaunchOptionsSync?(): { scene?: number };
  getEnterOptionsSync?(): { scene?: number };
}

declare const wx: Wx | undefined;

/** The mini-program's `wx`, or undefined outside one (Node, a browser). */
export function currentWx(): Wx | undefined {
  return typeof wx === 'object' && wx !== null ? wx : undefined;
}

/** Thrown into a source's promise when the API is missing: an expected failure. */
export class WxUnsupported extends Error {}

/**
 * Calls a callback-style wx API as a promise. Rejects with `WxUnsupported`
 * when the API is missing, and with an Error carrying `errMsg` on `fail`.
 */
export function callWx<T>(api: ((options: WxCallbacks<T>) => void) | undefined, self: Wx, extra: object = {}): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    if (typeof api !== 'function') return reject(new WxUnsupported('not available'));
    api.call(self, {
      ...extra,
      success: (result: T) => resolve(result),
      fail: (error: WxError) => reject(new Error(error?.errMsg ?? 'wx call failed')),
    });
  });
}
