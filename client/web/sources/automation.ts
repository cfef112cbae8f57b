/**
 * Automation and headless traces. Every check here was tried on Chromium 156
 * (headless and headful under Xvfb, with and without playwright-core 1.65).
 *
 * A DevTools-protocol client (`cdp`, with the techniques that saw it in
 * `cdp_signs`):
 * - `stack_format`: once a client has called `Runtime.enable` (Playwright,
 *   Puppeteer, Selenium 4's CDP, any raw CDP script), V8's inspector formats
 *   the stack of an Error passed to `console.debug`, which runs
 *   `Error.prepareStackTrace`. Without a client, the stack of a logged Error is
 *   never formatted: not in a plain headful or headless Chromium, not with
 *   `--remote-debugging-port` or `--enable-logging` and nobody attached.
 * - `error_name`: the same call reads the Error's `name` three times with a
 *   client (the inspector's description), once without (Blink's own log line).
 * - `eval_stack`: `getBlackBox()` was called from code with no script URL and
 *   not from `eval`: `Runtime.evaluate`/`callFunctionOn` (raw CDP: `at
 *   <anonymous>:1:1`; Playwright: `UtilityScript.evaluate (<anonymous>:…)`).
 * - `viewport` and `content_offset`: the viewport emulation of Playwright's
 *   and Puppeteer's defaults (see below and behavior.ts).
 * Left out because they no longer tell automation apart there: an own `stack`
 * getter on the logged Error (never read now); getters, `toString`,
 * `toJSON` or Proxy traps of logged objects (read alike, or never);
 * `console.table` timing (10 ms vs 0.5 ms, but a busy machine blurs it);
 * CDP input coordinates (`screenX === clientX`: fixed, real offsets now);
 * `sourceURL` markers in stacks (Playwright 1.65 sets none).
 *
 * `software_renderer` is added when the token is assembled, from the WebGL source.
 */
import { defineSource } from '../../core/sources/source.js';
import { isDesktop, parseUserAgent } from '../util/platform.js';
import type { WebSourceContext } from './context.js';

export interface AutomationInfo {
  webdriver: boolean;
  headless_ua: boolean;
  cdp: boolean;
  cdp_signs: string[];
  automation_globals: string[];
  missing_chrome_objects: string[];
  permissions_inconsistent: boolean;
  no_plugins: boolean;
  window_anomaly: boolean;
}

/**
 * Globals that Selenium/ChromeDriver, Playwright, Puppeteer, PhantomJS,
 * Nightmare and Watir leave in the page. Names that sites or wallets use for
 * their own ends (`phantom`, `Buffer`, `emit`) are not listed.
 */
const WINDOW_TRACE =
  /^(?:\$?cdc_|\$wdc_|__(?:playwright|pw[A-Z_]|puppeteer|selenium|webdriver|driver_|fxdriver|nightmare|phantomas|lastWatir)|_selenium|_Selenium_IDE|callSelenium|callPhantom|_phantom$|domAutomation|_WEBDRIVER_ELEM_CACHE|ChromeDriverw|webdriver$)/;
const DOCUMENT_TRACE = /^(?:\$?cdc_|\$wdc_|\$chrome_asyncScriptInfo|__(?:webdriver|selenium|driver|fxdriver))/;
const ROOT_ATTRIBUTES = ['webdriver', 'selenium', 'driver'];
const MAX_NAMES = 16;

function automationGlobals(win: Window & typeof globalThis): string[] {
  const found: string[] = [];
  const scan = (names: string[], pattern: RegExp, prefix: string) => {
    for (const name of names) if (pattern.test(name) && found.length < MAX_NAMES) found.push((prefix + name).slice(0, 64));
  };
  scan(Object.getOwnPropertyNames(win), WINDOW_TRACE, '');
  const doc = win.document;
  if (doc) {
    scan(Object.getOwnPropertyNames(doc), DOCUMENT_TRACE, 'document.');
    const root = doc.documentElement;
    for (const attribute of ROOT_ATTRIBUTES) if (root?.hasAttribute(attribute)) found.push(`html[${attribute}]`);
  }
  return found;
}

function displayMode(win: Window & typeof globalThis): string {
  for (const mode of ['fullscreen', 'standalone', 'minimal-ui', 'browser']) {
    if (win.matchMedia?.(`(display-mode: ${mode})`).matches) return mode;
  }
  return 'unknown';
}

/**
 * DevTools' `Emulation.setDeviceMetricsOverride` (Playwright's and Puppeteer's
 * default viewport) makes the screen exactly the viewport. On a desktop only a
 * fullscreen or kiosk window does that, and those report `display-mode:
 * fullscreen`. Fires in headless and headful Chromium 156 under Playwright.
 */
function viewportIsScreen(win: Window & typeof globalThis, mode: string): boolean {
  return (
    mode === 'browser' &&
    !win.document?.fullscreenElement &&
    win.innerWidth === win.screen.width &&
    win.innerHeight === win.screen.height
  );
}

function windowAnomaly(win: Window & typeof globalThis, chromium: boolean, mode: string): boolean {
  const { outerWidth, outerHeight, innerWidth, innerHeight, screen } = win;
  const dpr = win.devicePixelRatio;
  // The pre-2023 headless mode: a window with no size at all.
  if (outerWidth === 0 || outerHeight === 0) return true;
  // Headless Chromium's default screen when nothing sets a viewport.
  if (screen.width === 800 && screen.height === 600) return true;
  // A viewport bigger than its window. Zooming out does that too, but then the
  // device pixel ratio stops being a whole number (0.8, 1.8…), so only whole ratios count.
  if ((innerWidth > outerWidth + 1 || innerHeight > outerHeight + 1) && Number.isInteger(dpr) && dpr >= 1) return true;
  // A window well beyond its screen (headful Chromium under Playwright: 1288×851 on a 1280×720 "screen").
  if (outerWidth > screen.width * 1.1 + 16 || outerHeight > screen.height * 1.1 + 16) return true;
  // A desktop browser window with no frame at all, outside fullscreen (headless Chromium under Playwright).
  return chromium && mode === 'browser' && !win.document?.fullscreenElement && outerWidth === innerWidth && outerHeight === innerHeight;
}

type Win = Window & typeof globalThis;

/**
 * `stack_format` and `error_name` (see the top of this file): one `console.debug`
 * of an Error. Not where the page wraps `console.debug` (error monitors such
 * as Sentry do, and read the logged error's name or stack themselves).
 */
function consoleSigns(win: Win): string[] {
  try {
    if (!/\{\s*\[native code\]\s*\}$/.test(win.Function.prototype.toString.call(win.console.debug))) return [];
  } catch {
    return [];
  }
  const ErrorType = win.Error as ErrorConstructor & { prepareStackTrace?: (error: Error, frames: unknown[]) => unknown };
  const previous = ErrorType.prepareStackTrace;
  let formatted = false;
  let nameReads = 0;
  class Probe extends ErrorType {
    override get name(): string {
      nameReads++;
      return 'Error';
    }
  }
  try {
    ErrorType.prepareStackTrace = function prepareStackTrace(error, frames) {
      formatted = true;
      return previous ? previous.call(this, error, frames) : String(error);
    };
    const error = new Probe('riskgate');
    win.console.debug(error);
  } catch {
    // A console that throws: nothing seen.
  } finally {
    ErrorType.prepareStackTrace = previous;
    if (previous === undefined) Reflect.deleteProperty(ErrorType, 'prepareStackTrace');
  }
  return [...(formatted ? ['stack_format'] : []), ...(nameReads > 1 ? ['error_name'] : [])];
}

/** A frame of code with no script URL that is not `eval`'s: `Runtime.evaluate` or `callFunctionOn`. */
const EVALUATED_FRAME = /^\s*at (?:[^(]*\()?<anonymous>:\d+:\d+\)?$/m;

/**
 * The stack of whoever called `getBlackBox()`: the automation source starts
 * synchronously inside that call (sources/runner.ts), so the caller's frames
 * are on the stack here, a dozen frames down.
 */
function callerStack(win: Win): string {
  const ErrorType = win.Error as ErrorConstructor & { stackTraceLimit?: number };
  const limit = ErrorType.stackTraceLimit;
  try {
    ErrorType.stackTraceLimit = 40;
    return String(new ErrorType().stack ?? '');
  } catch {
    return '';
  } finally {
    ErrorType.stackTraceLimit = limit;
  }
}

async function notificationPermissionsDisagree(win: Window & typeof globalThis): Promise<boolean> {
  const notification = (win as { Notification?: { permission?: string } }).Notification;
  const permissions = win.navigator.permissions;
  if (!notification || typeof notification.permission !== 'string' || !permissions?.query) return false;
  try {
    const { state } = await permissions.query({ name: 'notifications' as PermissionName });
    const shown = notification.permission;
    // Old headless Chrome: Notification says "denied" while the permission is still "prompt".
    return (shown === 'denied' && state === 'prompt') || (shown === 'granted') !== (state === 'granted');
  } catch {
    return false;
  }
}

export const automationSource = defineSource<AutomationInfo, WebSourceContext>({
  budgetMs: 150,
  stable: false,
  async collect({ window: win, behavior }) {
    const evaluated = EVALUATED_FRAME.test(callerStack(win).split('\n').filter((line) => !/\beval at\b/.test(line)).join('\n'));
    const nav = win.navigator;
    const ua = nav.userAgent ?? '';
    const claims = parseUserAgent(ua);
    const uaData = (nav as { userAgentData?: { brands?: { brand: string }[]; platform?: string } }).userAgentData;
    const desktop = isDesktop(claims, nav.platform ?? '', uaData?.platform);
    const mode = displayMode(win);
    const brands = uaData?.brands ?? [];
    const chrome = (win as { chrome?: Record<string, unknown> }).chrome;

    let missingChromeObjects: string[] = [];
    if (claims.chromium && desktop && !claims.webView) {
      missingChromeObjects = chrome ? ['app', 'csi', 'loadTimes'].filter((name) => chrome[name] === undefined) : ['chrome'];
    }
    const plugins = nav.plugins?.length ?? 0;
    // Inside a frame the viewport is the frame's, which says nothing about the window.
    const windowChecks = desktop && win.self === win.top;
    const cdpSigns = [
      ...consoleSigns(win),
      ...(evaluated ? ['eval_stack'] : []),
      ...(claims.chromium && windowChecks && viewportIsScreen(win, mode) ? ['viewport'] : []),
      ...(claims.chromium && windowChecks && behavior.contentOffsetMismatch ? ['content_offset'] : []),
    ];

    return {
      webdriver: nav.webdriver === true,
      headless_ua: /Headless|PhantomJS/i.test(ua) || /Headless/i.test(nav.appVersion ?? '') || brands.some((b) => /Headless/i.test(b.brand)),
      cdp: cdpSigns.length > 0,
      cdp_signs: cdpSigns,
      automation_globals: automationGlobals(win),
      missing_chrome_objects: missingChromeObjects,
      permissions_inconsistent: await notificationPermissionsDisagree(win),
      // Per the HTML standard a browser with a PDF viewer lists five PDF plugins; with none, the list is empty.
      no_plugins: desktop && plugins === 0 && (nav as { pdfViewerEnabled?: boolean }).pdfViewerEnabled !== false,
      window_anomaly: windowChecks && windowAnomaly(win, claims.chromium, mode),
    };
  },
});
