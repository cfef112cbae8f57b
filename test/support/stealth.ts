/**
 * A careful stealth setup for browser tests, as puppeteer-extra's stealth
 * plugin and anti-detect kits do it, minus their known tells: for
 * `context.addInitScript({ content: STEALTH_INIT_SCRIPT })` with
 * `userAgent: STEALTH_USER_AGENT` on the context.
 *
 * - `Function.prototype.toString` is replaced by a method-syntax function that
 *   looks disguised functions up in a WeakMap (no Proxy: nothing for a
 *   prototype-cycle or stack probe to find), and disguises itself.
 * - Getters are replaced by method-syntax getters (`get webdriver() {…}`: the
 *   right name, no `prototype`, only `length` and `name` as own keys) that
 *   throw "Illegal invocation" for a receiver outside their interface:
 *   `navigator.webdriver` is false, cores, memory and languages are a common
 *   desktop's, `userAgentData` names Google Chrome instead of HeadlessChrome.
 * - WebGL's `getParameter` answers an Intel GPU for the unmasked vendor and
 *   renderer, and `permissions.query` answers the notification permission
 *   consistently with `Notification.permission` (the old headless tell).
 *
 * Everything is patched on prototypes, never as own properties of
 * `navigator`, and every replacement prints as native code through the
 * page's own `toString`.
 */

/** A normal desktop Chrome on Linux, matching Chromium 156. */
export const STEALTH_USER_AGENT = 'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/156.0.0.0 Safari/537.36';

/** The GPU the stealth setup claims. */
export const STEALTH_GPU = { vendor: 'Intel Inc.', renderer: 'Intel Iris OpenGL Engine' };

function stealth(gpu: { vendor: string; renderer: string }): void {
  const nativeToString = Function.prototype.toString;
  const disguises = new WeakMap<object, string>();
  const disguise = (fn: object, name: string) => disguises.set(fn, `function ${name}() { [native code] }`);
  const toString = {
    toString(this: unknown, ...args: []) {
      return (typeof this === 'function' && disguises.get(this)) || Reflect.apply(nativeToString, this, args);
    },
  }.toString;
  disguise(toString, 'toString');
  Object.defineProperty(Function.prototype, 'toString', { value: toString, writable: true, configurable: true, enumerable: false });

  const getter = (proto: object, name: string, value: (self: unknown) => unknown) => {
    const descriptor = Object.getOwnPropertyDescriptor(proto, name);
    if (!descriptor?.get) return;
    // A method-syntax getter with a computed name: its name is `get ${name}`.
    // It refuses a receiver that is no Navigator, as the native does ("Illegal invocation").
    const get = Object.getOwnPropertyDescriptor(
      {
        get [name]() {
          if (!Object.prototype.isPrototypeOf.call(proto, this)) throw new TypeError('Illegal invocation');
          return value(this);
        },
      },
      name,
    )!.get!;
    disguise(get, `get ${name}`);
    Object.defineProperty(proto, name, { ...descriptor, get });
  };
  const method = <F extends (...args: never[]) => unknown>(proto: object, name: string, make: (original: F) => Record<string, F>) => {
    const original = (proto as Record<string, F>)[name];
    if (typeof original !== 'function') return;
    const replacement = make(original)[name]!;
    disguise(replacement, name);
    Object.defineProperty(proto, name, { value: replacement, writable: true, configurable: true, enumerable: true });
  };

  const nav = Navigator.prototype;
  getter(nav, 'webdriver', () => false);
  getter(nav, 'hardwareConcurrency', () => 8);
  getter(nav, 'deviceMemory', () => 8);
  getter(nav, 'languages', () => Object.freeze(['en-US', 'en']));
  if (typeof NavigatorUAData !== 'undefined') {
    getter(NavigatorUAData.prototype, 'brands', () => [
      { brand: 'Chromium', version: '156' },
      { brand: 'Google Chrome', version: '156' },
      { brand: 'Not?A_Brand', version: '99' },
    ]);
  }

  type GetParameter = (this: WebGLRenderingContext, parameter: number) => unknown;
  for (const context of [WebGLRenderingContext, WebGL2RenderingContext]) {
    method<GetParameter>(context.prototype, 'getParameter', (original) => ({
      getParameter(this: WebGLRenderingContext, parameter: number) {
        if (parameter === 0x9245) return gpu.vendor;
        if (parameter === 0x9246) return gpu.renderer;
        return Reflect.apply(original, this, [parameter]);
      },
    }));
  }

  type Query = (this: Permissions, descriptor: PermissionDescriptor) => Promise<PermissionStatus>;
  method<Query>(Permissions.prototype, 'query', (original) => ({
    query(this: Permissions, descriptor: PermissionDescriptor) {
      if (descriptor?.name === 'notifications') {
        const state = Notification.permission === 'default' ? 'prompt' : Notification.permission;
        return Promise.resolve({ name: 'notifications', state, onchange: null } as unknown as PermissionStatus);
      }
      return Reflect.apply(original, this, [descriptor]);
    },
  }));
}

declare const NavigatorUAData: { prototype: object };

/** The init script's source: an immediately invoked function (no helpers from the test's module scope). */
export function stealthInitScript(gpu = STEALTH_GPU): string {
  return `(${stealth.toString()})(${JSON.stringify(gpu)});`;
}

export const STEALTH_INIT_SCRIPT = stealthInitScript();

/** A desktop Chrome user agent on Linux for a given major version, as a scraper claims to be. */
export function desktopChromeUserAgent(major: string): string {
  return `Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/${major}.0.0.0 Safari/537.36`;
}
