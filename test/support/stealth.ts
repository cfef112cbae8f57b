/**
 * A careful stealth init script, as the better scraping kits write it today
 * (persona 3 of the persona suite, issue 12). It runs before any page script
 * in every frame (Playwright's addInitScript) and hides what a headless
 * Chromium under automation gives away:
 *
 * - `Function.prototype.toString` is replaced by a method whose answers for
 *   the patched functions come from a WeakMap — no Proxy, so `toString` of
 *   `toString` and of every patched getter reads `[native code]`;
 * - getters are defined with method syntax (`{ get webdriver() {…} }`), so
 *   they have no `prototype` and are not constructible, like native getters,
 *   and they are put on the prototypes (Navigator.prototype…), not on the
 *   instances, so `Object.getOwnPropertyNames(navigator)` stays empty;
 * - navigator.webdriver false, plugins and mimeTypes when empty, languages,
 *   platform, hardwareConcurrency, deviceMemory, userAgentData brands without
 *   "HeadlessChrome";
 * - WebGL's unmasked vendor and renderer spoofed to a real NVIDIA GPU (ANGLE
 *   on OpenGL, as Chrome on Linux reports it);
 * - `window.chrome` with runtime/app/csi/loadTimes, the Notification
 *   permission made consistent with permissions.query, outer window size
 *   when headless reports 0.
 *
 * What it cannot reach is the point of the sharper probes: an iframe
 * a page script makes can be read before any init script ran in it (a clean
 * `Function.prototype.toString` to compare with), a SharedWorker sees the
 * unpatched navigator and GPU, native getters called on the wrong receiver
 * throw "Illegal invocation" while these return, and the GPU-less machine
 * still renders with SwiftShader whatever the strings say.
 */

export interface StealthOptions {
  /** navigator.platform; must agree with the user agent. */
  platform?: string;
  languages?: string[];
  hardwareConcurrency?: number;
  deviceMemory?: number;
  webglVendor?: string;
  webglRenderer?: string;
  /** Chrome's major version for userAgentData brands. */
  chromeMajor?: string;
}

const DEFAULTS: Required<StealthOptions> = {
  platform: 'Linux x86_64',
  languages: ['en-US', 'en'],
  hardwareConcurrency: 8,
  deviceMemory: 8,
  webglVendor: 'Google Inc. (NVIDIA Corporation)',
  webglRenderer: 'ANGLE (NVIDIA Corporation, NVIDIA GeForce RTX 3060/PCIe/SSE2, OpenGL 4.5.0)',
  chromeMajor: '',
};

/**
 * The init script's body (runs in the page, so it is plain ES2020 and
 * self-contained). The options are serialised into it.
 */
function stealthMain(options: Required<StealthOptions>): void {
  const nativeToString = Function.prototype.toString;
  const fakes = new WeakMap<object, string>();
  const nativeText = (name: string) => `function ${name}() { [native code] }`;

  // Method syntax: no prototype, not a constructor, name "toString".
  const patchedToString = {
    toString(this: unknown) {
      if ((typeof this === 'function' || (typeof this === 'object' && this !== null)) && fakes.has(this as object)) return fakes.get(this as object)!;
      return nativeToString.call(this);
    },
  }.toString;
  fakes.set(patchedToString, nativeText('toString'));
  Object.defineProperty(Function.prototype, 'toString', { value: patchedToString, writable: true, configurable: true, enumerable: false });

  /** Replaces a getter on `target` (a prototype) by one defined with method syntax, keeping the descriptor's flags. */
  const defineGetter = (target: object, name: string, get: () => unknown) => {
    const descriptor = Object.getOwnPropertyDescriptor(target, name);
    // Renamed so that its `name` reads "get webdriver", like a native getter.
    const holder = { get [name]() { return get(); } };
    const getter = Object.getOwnPropertyDescriptor(holder, name)!.get!;
    fakes.set(getter, nativeText(`get ${name}`));
    Object.defineProperty(target, name, {
      get: getter,
      set: descriptor?.set,
      enumerable: descriptor?.enumerable ?? true,
      configurable: true,
    });
  };

  /** Replaces a method on `target`, keeping its name and length, with a native-looking toString. */
  const defineMethod = <T extends (...args: never[]) => unknown>(target: object, name: string, make: (original: T) => T) => {
    const original = (target as Record<string, T>)[name]!;
    const replacement = make(original);
    fakes.set(replacement, nativeText(name));
    Object.defineProperty(target, name, { value: replacement, writable: true, configurable: true, enumerable: false });
  };

  const navigatorProto = Object.getPrototypeOf(navigator) as object;
  defineGetter(navigatorProto, 'webdriver', () => false);
  defineGetter(navigatorProto, 'languages', () => Object.freeze([...options.languages]));
  defineGetter(navigatorProto, 'language', () => options.languages[0]);
  defineGetter(navigatorProto, 'platform', () => options.platform);
  defineGetter(navigatorProto, 'hardwareConcurrency', () => options.hardwareConcurrency);
  if ('deviceMemory' in navigator) defineGetter(navigatorProto, 'deviceMemory', () => options.deviceMemory);

  // Plugins: new headless already lists Chrome's five PDF viewers; fill them in only when empty.
  if (navigator.plugins.length === 0) {
    const names = ['PDF Viewer', 'Chrome PDF Viewer', 'Chromium PDF Viewer', 'Microsoft Edge PDF Viewer', 'WebKit built-in PDF'];
    const plugins = names.map((pluginName) => Object.create(Plugin.prototype, {
      name: { value: pluginName, enumerable: true },
      filename: { value: 'internal-pdf-viewer', enumerable: true },
      description: { value: 'Portable Document Format', enumerable: true },
      length: { value: 1, enumerable: true },
    }) as Plugin);
    const array = Object.create(PluginArray.prototype) as Record<string | number, unknown>;
    plugins.forEach((plugin, i) => Object.defineProperty(array, i, { value: plugin, enumerable: true }));
    Object.defineProperty(array, 'length', { value: plugins.length });
    defineGetter(navigatorProto, 'plugins', () => array);
  }

  // userAgentData without "HeadlessChrome".
  const uaData = (navigator as Navigator & { userAgentData?: { brands: { brand: string; version: string }[] } }).userAgentData;
  if (uaData && uaData.brands.some((b) => /headless/i.test(b.brand))) {
    const brands = uaData.brands.map((b) => ({ brand: b.brand.replace(/HeadlessChrome/i, 'Google Chrome'), version: b.version }));
    const uaProto = Object.getPrototypeOf(uaData) as object;
    defineGetter(uaProto, 'brands', () => brands.map((b) => ({ ...b })));
  }

  // WebGL: a real GPU instead of SwiftShader.
  const UNMASKED_VENDOR = 0x9245;
  const UNMASKED_RENDERER = 0x9246;
  for (const proto of [globalThis.WebGLRenderingContext?.prototype, globalThis.WebGL2RenderingContext?.prototype]) {
    if (!proto) continue;
    defineMethod(proto, 'getParameter', (original: (this: WebGLRenderingContext, p: number) => unknown) => ({
      getParameter(this: WebGLRenderingContext, parameter: number) {
        if (parameter === UNMASKED_VENDOR) return options.webglVendor;
        if (parameter === UNMASKED_RENDERER) return options.webglRenderer;
        return original.call(this, parameter);
      },
    }).getParameter as never);
  }

  // window.chrome as a desktop Chrome has it.
  const win = window as unknown as { chrome?: Record<string, unknown> };
  if (!win.chrome) Object.defineProperty(window, 'chrome', { value: {}, writable: true, configurable: true, enumerable: true });
  const chrome = win.chrome!;
  if (!chrome.runtime) chrome.runtime = {};
  if (!chrome.app) {
    chrome.app = {
      isInstalled: false,
      InstallState: { DISABLED: 'disabled', INSTALLED: 'installed', NOT_INSTALLED: 'not_installed' },
      RunningState: { CANNOT_RUN: 'cannot_run', READY_TO_RUN: 'ready_to_run', RUNNING: 'running' },
    };
  }
  const startedAt = Date.now() / 1000;
  if (!chrome.csi) {
    chrome.csi = { csi() { return { startE: startedAt * 1000, onloadT: startedAt * 1000 + 120, pageT: performance.now(), tran: 15 }; } }.csi;
    fakes.set(chrome.csi as object, nativeText('csi'));
  }
  if (!chrome.loadTimes) {
    chrome.loadTimes = { loadTimes() { return { requestTime: startedAt, startLoadTime: startedAt, commitLoadTime: startedAt + 0.05, finishDocumentLoadTime: startedAt + 0.1, finishLoadTime: startedAt + 0.12, firstPaintTime: startedAt + 0.08, navigationType: 'Other', wasFetchedViaSpdy: false, wasNpnNegotiated: false, npnNegotiatedProtocol: 'unknown', wasAlternateProtocolAvailable: false, connectionInfo: 'http/1.1' }; } }.loadTimes;
    fakes.set(chrome.loadTimes as object, nativeText('loadTimes'));
  }

  // Headless answers "denied" for Notification but "prompt" from permissions.query.
  if (navigator.permissions && typeof Notification !== 'undefined') {
    defineMethod(Object.getPrototypeOf(navigator.permissions) as object, 'query', (original: (this: Permissions, d: PermissionDescriptor) => Promise<PermissionStatus>) => ({
      query(this: Permissions, descriptor: PermissionDescriptor) {
        if (descriptor && descriptor.name === 'notifications') {
          const state = Notification.permission === 'default' ? 'prompt' : Notification.permission;
          return Promise.resolve(Object.setPrototypeOf({ state, name: 'notifications', onchange: null }, PermissionStatus.prototype) as PermissionStatus);
        }
        return original.call(this, descriptor);
      },
    }).query as never);
  }

  // Headless windows may have no outer size.
  if (window.outerWidth === 0 || window.outerHeight === 0) {
    defineGetter(window, 'outerWidth', () => window.innerWidth);
    defineGetter(window, 'outerHeight', () => window.innerHeight + 85);
  }
}

/** The init script for `context.addInitScript({ content })`. */
export function stealthInitScript(options: StealthOptions = {}): string {
  const merged = { ...DEFAULTS, ...options };
  return `(${stealthMain.toString()})(${JSON.stringify(merged)});`;
}

/** A desktop Chrome user agent on Linux for a given major version, as a scraper claims to be. */
export function desktopChromeUserAgent(major: string): string {
  return `Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/${major}.0.0.0 Safari/537.36`;
}
