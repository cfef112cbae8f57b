/**
 * "Lies" (CreepJS's term): traces of a page or browser rewriting its own APIs
 * to hide the real device, as anti-detect browsers and stealth plugins do.
 * Each entry names what was caught, e.g. `Navigator.webdriver:proxy`.
 *
 * - Native functions and getters that are not what they claim: a `toString`
 *   that is not `[native code]`, another `name` (bound functions), a
 *   `prototype`, extra own keys, or a Proxy (a prototype cycle through a
 *   Proxy is not refused, and in Blink a Proxy shows in the stack of a
 *   failed `toString`). Their source is read with the `toString` of a fresh,
 *   hidden about:blank iframe, which a page-level patch of
 *   `Function.prototype.toString` (a Proxy, or a WeakMap of disguises) does not
 *   reach; where the page's own `toString` shows native code and the clean one
 *   does not, the patch itself is caught (`Function.toString:masks`).
 * - `:invocation`: a native getter or method called on a mere heir of its
 *   prototype (`Object.create(Navigator.prototype)`) must fail with a
 *   TypeError ("Illegal invocation"; a rejected promise for
 *   `Permissions.query`). A stealth replacement written as a method or arrow
 *   (`get webdriver() { return false }`) answers instead, even one that
 *   checks `this instanceof Navigator` first.
 * - `navigator` with own properties, or a prototype other than `Navigator.prototype`.
 * - Navigator values that disagree with each other or with `userAgentData`
 *   (and with a Web Worker's: see worker.ts).
 * - A time zone that disagrees with the `Date` offset.
 *
 * The probes restore whatever they touch before returning, synchronously.
 * None of them fires in an untouched Chromium 156, headless or not.
 *
 * They take about 10 ms of main thread (30 ms when theirs is the page's first
 * `Intl` call), and the iframe 6–25 ms more in headless Chromium on a busy
 * two-core machine, so they run in a task of their own: `init` returns at
 * once. (The first token's median time was the same with and without the
 * iframe within that machine's noise, ±60 ms: the work fits in FingerprintJS's waits.)
 *
 * Not caught: a kit that patches every new realm with one shared WeakMap of
 * disguises (it has to reach the iframe's window first: a patched
 * `HTMLIFrameElement.contentWindow` getter is itself checked here).
 */
import { defineSource } from '../../core/sources/source.js';
import { parseUserAgent } from '../util/platform.js';
import type { WebSourceContext } from './context.js';

type Win = Window & typeof globalThis;

const MAX_LIES = 64;

const NATIVE_CODE = /^function (?:get |set )?[\w$]*\(\) \{\s*\[native code\]\s*\}$/;

/** What a target is called with in the invocation probe: a getter, or a method with these arguments. */
type Call = unknown[] | 'static';
type Target = [label: string, fn: unknown, name: string, call: Call, proto: object | undefined];

const UNMASKED_RENDERER_WEBGL = 0x9246;
/** Arguments that stealth replacements answer themselves (the spoofed GPU, the notification permission). */
const ARGUMENTS: Record<string, unknown[]> = {
  getParameter: [UNMASKED_RENDERER_WEBGL],
  query: [{ name: 'notifications' }],
};

/** Getters worth lying about, by interface. */
const GETTERS: [string, string[]][] = [
  ['Navigator', ['userAgent', 'appVersion', 'platform', 'webdriver', 'languages', 'hardwareConcurrency', 'deviceMemory', 'maxTouchPoints', 'vendor', 'plugins', 'userAgentData']],
  ['Screen', ['width', 'height', 'availWidth', 'availHeight', 'colorDepth']],
  ['HTMLIFrameElement', ['contentWindow']],
];
/** Methods worth lying about: `Interface.method`. */
const METHODS = [
  'Function.toString',
  'HTMLCanvasElement.toDataURL',
  'HTMLCanvasElement.getContext',
  'CanvasRenderingContext2D.getImageData',
  'WebGLRenderingContext.getParameter',
  'WebGL2RenderingContext.getParameter',
  'AudioBuffer.getChannelData',
  'Date.getTimezoneOffset',
  'Permissions.query',
];

type Interfaces = Record<string, { prototype?: Record<string, unknown> } | undefined>;

/** The native functions worth lying about, with the name each must have. */
function targets(win: Win): Target[] {
  const scope = win as unknown as Interfaces;
  const list: Target[] = [];
  for (const [iface, names] of GETTERS) {
    const proto = scope[iface]?.prototype;
    for (const name of names) list.push([`${iface}.${name}`, proto && Object.getOwnPropertyDescriptor(proto, name)?.get, `get ${name}`, [], proto]);
  }
  for (const label of METHODS) {
    const [iface, name] = label.split('.') as [string, string];
    const proto = scope[iface]?.prototype;
    list.push([label, proto?.[name], name, ARGUMENTS[name] ?? [], proto]);
  }
  const dateTimeFormat = win.Intl?.DateTimeFormat?.prototype;
  list.push(['Intl.DateTimeFormat.resolvedOptions', dateTimeFormat?.resolvedOptions, 'resolvedOptions', [], dateTimeFormat]);
  const notification = win.Notification && Object.getOwnPropertyDescriptor(win.Notification, 'permission');
  // A static attribute: its getter ignores `this`.
  list.push(['Notification.permission', notification?.get, 'get permission', 'static', undefined]);
  return list;
}

/**
 * The first probe a supposedly native function fails, or undefined. `name`
 * catches bound functions, which print as native code and have no prototype.
 */
function probeNative(win: Win, fn: Function, expectedName: string, blink: boolean, toString: Function): string | undefined {
  let source = '';
  try {
    source = toString.call(fn) as string;
  } catch {
    return 'toString';
  }
  if (!NATIVE_CODE.test(source)) return 'toString';
  if (fn.name !== expectedName) return 'name';
  if ('prototype' in fn) return 'prototype';
  if (Reflect.ownKeys(fn).map(String).sort().join() !== 'length,name') return 'keys';
  // A cycle fn → Object.create(fn) → fn is refused with a TypeError, unless fn
  // is a Proxy: the cycle check stops at proxies, and the assignment succeeds.
  const proto = Object.getPrototypeOf(fn) as object | null;
  let proxied = false;
  try {
    Object.setPrototypeOf(fn, Object.create(fn) as object);
    proxied = true;
  } catch (error) {
    proxied = !(error instanceof win.TypeError);
  } finally {
    try {
      Object.setPrototypeOf(fn, proto);
    } catch {
      // Frozen natives refuse both assignments; nothing changed.
    }
  }
  if (proxied) return 'proxy';
  if (blink) {
    try {
      (Object.create(fn) as { toString(): string }).toString();
      return 'proxy';
    } catch (error) {
      const frame = String((error as Error).stack ?? '').split('\n')[1] ?? '';
      if (!(error instanceof win.TypeError) || !/Function\.toString/.test(frame)) return 'proxy';
    }
  }
  return undefined;
}

/**
 * Whether `fn`, called on an object that only inherits from its interface
 * (so `instanceof` holds, but it is no platform object), fails as a native
 * does: with a TypeError, thrown or (for promise-returning methods) as the rejection.
 */
async function failsOffInstance(win: Win, fn: Function, args: unknown[], proto: object | undefined): Promise<boolean> {
  try {
    const result: unknown = Reflect.apply(fn, Object.create(proto ?? null) as object, args);
    if (result instanceof win.Promise) await result;
    return false;
  } catch (error) {
    return error instanceof win.TypeError;
  }
}

/**
 * `Function.prototype.toString` from a new realm: a hidden about:blank iframe,
 * removed again at once (the function keeps working). Undefined when no frame
 * can be made (no DOM yet, or a browser that refuses).
 */
function cleanToString(win: Win): Function | undefined {
  const doc = win.document;
  const parent = doc?.body ?? doc?.documentElement;
  if (!parent) return undefined;
  const frame = doc.createElement('iframe');
  frame.setAttribute('aria-hidden', 'true');
  frame.tabIndex = -1;
  frame.style.cssText = 'display:none';
  try {
    parent.appendChild(frame);
    const toString = (frame.contentWindow as Win | null)?.Function.prototype.toString;
    return typeof toString === 'function' && toString !== win.Function.prototype.toString ? toString : undefined;
  } catch {
    return undefined;
  } finally {
    frame.remove();
  }
}

/** Minutes east of UTC that `Intl` gives a time zone at `date`. */
function intlOffsetMinutes(win: Win, timeZone: string, date: Date): number {
  const parts = new win.Intl.DateTimeFormat('en-US', {
    timeZone,
    hourCycle: 'h23',
    year: 'numeric',
    month: 'numeric',
    day: 'numeric',
    hour: 'numeric',
    minute: 'numeric',
    second: 'numeric',
  }).formatToParts(date);
  const part = (type: string) => Number(parts.find((p) => p.type === type)?.value);
  const asUtc = Date.UTC(part('year'), part('month') - 1, part('day'), part('hour') % 24, part('minute'), part('second'));
  return Math.round((asUtc - Math.floor(date.getTime() / 1000) * 1000) / 60_000);
}

function timeLies(win: Win): string[] {
  const lies: string[] = [];
  const date = new win.Date();
  const offset = -date.getTimezoneOffset();
  try {
    const timeZone = win.Intl.DateTimeFormat().resolvedOptions().timeZone;
    if (timeZone && intlOffsetMinutes(win, timeZone, date) !== offset) lies.push('timezone.offset');
  } catch {
    // An unknown zone name or no Intl: nothing to compare.
  }
  const shown = /GMT([+-])(\d\d)(\d\d)/.exec(date.toString());
  if (shown && (shown[1] === '-' ? -1 : 1) * (Number(shown[2]) * 60 + Number(shown[3])) !== offset) lies.push('Date.toString');
  return lies;
}

function navigatorLies(win: Win): string[] {
  const nav = win.navigator;
  const lies: string[] = [];
  if (Object.getOwnPropertyNames(nav).length > 0) lies.push('navigator.own_property');
  if (win.Navigator && Object.getPrototypeOf(nav) !== win.Navigator.prototype) lies.push('navigator.prototype');
  const ua = nav.userAgent ?? '';
  // Blink and WebKit derive appVersion from the user agent; Gecko does not.
  if (/AppleWebKit/.test(ua) && ua.startsWith('Mozilla/') && nav.appVersion !== ua.slice('Mozilla/'.length)) lies.push('navigator.appVersion');
  const claims = parseUserAgent(ua);
  const brands = (nav as { userAgentData?: { brands?: { brand: string; version: string }[] } }).userAgentData?.brands;
  const chromiumBrand = brands?.find((b) => b.brand === 'Chromium');
  if (claims.chromium && chromiumBrand && Number(chromiumBrand.version) !== claims.chromiumMajor) lies.push('userAgentData.version');
  return lies;
}

export const liesSource = defineSource<string[], WebSourceContext>({
  budgetMs: 300,
  stable: true,
  async collect({ window: win }) {
    await new Promise((resolve) => win.setTimeout(resolve, 0));
    const blink = parseUserAgent(win.navigator.userAgent ?? '').chromium;
    const pageToString = win.Function.prototype.toString;
    const toString = cleanToString(win) ?? pageToString;
    const lies: string[] = [];
    let masked = false;
    for (const [label, fn, name, call, proto] of targets(win)) {
      if (typeof fn !== 'function') continue;
      const probe = probeNative(win, fn, name, blink, toString);
      if (probe) lies.push(`${label}:${probe}`);
      if (probe === 'toString' && toString !== pageToString && !masked) {
        try {
          masked = NATIVE_CODE.test(pageToString.call(fn) as string);
        } catch {
          // The page's toString refuses it: no disguise.
        }
      }
      if (call !== 'static' && !(await failsOffInstance(win, fn, call, proto))) lies.push(`${label}:invocation`);
    }
    if (masked) lies.push('Function.toString:masks');
    lies.push(...navigatorLies(win), ...timeLies(win));
    return lies.slice(0, MAX_LIES);
  },
});
