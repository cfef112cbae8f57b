/**
 * Tampering probes a mini-program can run on itself.
 *
 * - `lies`: JavaScript built-ins that no longer look native (a hook framework
 *   that patched them to watch or rewrite values). Engines never ship these as
 *   script functions, so one is a strong sign.
 * - `hooks`: wx API functions that differ in kind from their siblings (a native
 *   function or Proxy among script functions, an accessor among values, a
 *   constructible function among methods): the mark of a replaced API. What a
 *   genuine base library looks like varies by version, so this is a separate,
 *   weaker list that the default rules only watch (shadow).
 * - `inconsistencies`: the same fact read through two APIs disagrees
 *   (getDeviceInfo against getSystemInfoSync, getWindowInfo against it): a hook
 *   that spoofs one API and forgets the other.
 *
 * Not seen from here: native hooks (Frida, Xposed) that patch the client below
 * JavaScript and return consistent lies everywhere.
 */
import type { Wx } from './wx.js';

const NATIVE = /\{\s*\[native code\]\s*\}\s*$/;

function looksNative(fn: unknown): boolean {
  try {
    return typeof fn === 'function' && NATIVE.test(Function.prototype.toString.call(fn));
  } catch {
    return false;
  }
}

const hasOwn = (target: object, key: string) => Object.prototype.hasOwnProperty.call(target, key);

/** Built-in methods, by the name a token reports. Read when probing, never at import. */
function builtins(): [string, unknown][] {
  return [
    ['Function.toString', Function.prototype.toString],
    ['Function.call', Function.prototype.call],
    ['Function.apply', Function.prototype.apply],
    ['Function.bind', Function.prototype.bind],
    ['JSON.stringify', JSON.stringify],
    ['JSON.parse', JSON.parse],
    ['Object.defineProperty', Object.defineProperty],
    ['Object.getOwnPropertyDescriptor', Object.getOwnPropertyDescriptor],
    ['Object.keys', Object.keys],
    ['Math.random', Math.random],
    ['Date.now', Date.now],
    ['Array.push', Array.prototype.push],
    ['String.indexOf', String.prototype.indexOf],
  ];
}

/** Built-ins that are not native methods: script source, or a constructible function. */
export function builtinLies(): string[] {
  const lies: string[] = [];
  for (const [name, fn] of builtins()) {
    if (!looksNative(fn) || (typeof fn === 'function' && hasOwn(fn, 'prototype'))) lies.push(name);
  }
  return lies;
}

/** wx APIs compared with each other; the common ones every base library has. */
const PROBED_APIS = [
  'request',
  'getStorageSync',
  'setStorageSync',
  'getSystemInfoSync',
  'getDeviceInfo',
  'getWindowInfo',
  'getAppBaseInfo',
  'getNetworkType',
  'getAccountInfoSync',
  'getLaunchOptionsSync',
  'getEnterOptionsSync',
  'getRandomValues',
  'navigateTo',
  'showToast',
  'login',
] as const;

/** Smallest number of probed APIs for a majority to mean anything. */
const MIN_PROBED = 5;

function shapeOf(wx: Wx, name: string): string | undefined {
  const target = wx as Record<string, unknown>;
  let descriptor: PropertyDescriptor | undefined;
  let fn: unknown;
  try {
    descriptor = Object.getOwnPropertyDescriptor(wx, name);
    fn = target[name];
  } catch {
    return 'throws';
  }
  if (typeof fn !== 'function') return undefined;
  const kind = descriptor ? (descriptor.get ? 'get' : 'value') : 'inherited';
  return `${looksNative(fn) ? 'native' : 'script'}/${hasOwn(fn, 'prototype') ? 'ctor' : 'method'}/${kind}`;
}

/** wx APIs whose shape differs from the majority's. */
export function hookedApis(wx: Wx): string[] {
  const shapes = new Map<string, string>();
  for (const name of PROBED_APIS) {
    const shape = shapeOf(wx, name);
    if (shape) shapes.set(name, shape);
  }
  if (shapes.size < MIN_PROBED) return [];
  const counts = new Map<string, number>();
  for (const shape of shapes.values()) counts.set(shape, (counts.get(shape) ?? 0) + 1);
  let majority = '';
  let most = 0;
  for (const [shape, count] of counts) {
    if (count > most) [majority, most] = [shape, count];
  }
  if (most * 2 <= shapes.size) return [];
  return [...shapes].filter(([, shape]) => shape !== majority).map(([name]) => `wx.${name}`);
}

const same = (a: unknown, b: unknown) => a === undefined || b === undefined || a === b;

/** Facts two APIs both report and that disagree. */
export function apiInconsistencies(wx: Wx): string[] {
  if (typeof wx.getSystemInfoSync !== 'function') return [];
  const system = wx.getSystemInfoSync() ?? {};
  const found: string[] = [];
  if (typeof wx.getDeviceInfo === 'function') {
    const device = wx.getDeviceInfo() ?? {};
    for (const key of ['brand', 'model', 'platform', 'system'] as const) {
      if (!same(device[key], system[key])) found.push(`device.${key}`);
    }
  }
  if (typeof wx.getWindowInfo === 'function') {
    const win = wx.getWindowInfo() ?? {};
    for (const key of ['screenWidth', 'screenHeight', 'pixelRatio'] as const) {
      if (!same(win[key], system[key])) found.push(`window.${key}`);
    }
  }
  return found;
}
