/**
 * "Lies" (CreepJS's term): traces of a page or browser rewriting its own APIs
 * to hide the real device, as anti-detect browsers and stealth plugins do.
 * Each entry names what was caught, e.g. `Navigator.webdriver:proxy`.
 *
 * - Native functions and getters that are not what they claim: a `toString`
 *   that is not `[native code]`, another `name` (bound functions), a
 *   `prototype`, extra own keys, or a Proxy (a prototype cycle through a
 *   Proxy is not refused, and in Blink a Proxy shows in the stack of a
 *   failed `toString`).
 * - `navigator` with own properties, or a prototype other than `Navigator.prototype`.
 * - Navigator values that disagree with each other or with `userAgentData`
 *   (and with a Web Worker's: see worker.ts).
 * - A time zone that disagrees with the `Date` offset.
 *
 * The probes restore whatever they touch before returning, synchronously.
 * None of them fires in an untouched Chromium 156, headless or not.
 *
 * They take about 10 ms of main thread (30 ms when theirs is the page's first
 * `Intl` call), so they run in a task of their own: `init` returns at once.
 */
import { parseUserAgent } from '../util/platform.js';
import { defineSource, type SourceContext } from './source.js';

type Win = Window & typeof globalThis;

const MAX_LIES = 64;

const NATIVE_CODE = /^function (?:get |set )?[\w$]*\(\) \{\s*\[native code\]\s*\}$/;

type Target = [label: string, fn: unknown, name: string];

/** Getters worth lying about, by interface. */
const GETTERS: [string, string[]][] = [
  ['Navigator', ['userAgent', 'appVersion', 'platform', 'webdriver', 'languages', 'hardwareConcurrency', 'deviceMemory', 'maxTouchPoints', 'vendor', 'plugins', 'userAgentData']],
  ['Screen', ['width', 'height', 'availWidth', 'availHeight', 'colorDepth']],
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
    for (const name of names) list.push([`${iface}.${name}`, proto && Object.getOwnPropertyDescriptor(proto, name)?.get, `get ${name}`]);
  }
  for (const label of METHODS) {
    const [iface, name] = label.split('.') as [string, string];
    list.push([label, scope[iface]?.prototype?.[name], name]);
  }
  list.push(['Intl.DateTimeFormat.resolvedOptions', win.Intl?.DateTimeFormat?.prototype.resolvedOptions, 'resolvedOptions']);
  const notification = win.Notification && Object.getOwnPropertyDescriptor(win.Notification, 'permission');
  list.push(['Notification.permission', notification?.get, 'get permission']);
  return list;
}

/**
 * The first probe a supposedly native function fails, or undefined. `name`
 * catches bound functions, which print as native code and have no prototype.
 */
function probeNative(win: Win, fn: Function, expectedName: string, blink: boolean): string | undefined {
  let source = '';
  try {
    source = win.Function.prototype.toString.call(fn);
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

export const liesSource = defineSource<string[]>({
  budgetMs: 300,
  stable: true,
  async collect({ window: win }: SourceContext) {
    await new Promise((resolve) => win.setTimeout(resolve, 0));
    const blink = parseUserAgent(win.navigator.userAgent ?? '').chromium;
    const lies: string[] = [];
    for (const [label, fn, name] of targets(win)) {
      if (typeof fn !== 'function') continue;
      const probe = probeNative(win, fn, name, blink);
      if (probe) lies.push(`${label}:${probe}`);
    }
    lies.push(...navigatorLies(win), ...timeLies(win));
    return lies.slice(0, MAX_LIES);
  },
});
