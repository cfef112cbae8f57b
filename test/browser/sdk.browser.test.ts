/**
 * The web SDK in a real browser: Debian's headless Chromium driven by
 * playwright-core loads dist/sdk/riskgate.min.js (and an app bundle built from
 * the ESM build) from a local server, and the tokens it makes are opened with
 * the server's own decoder.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BlackBoxPayload } from '../../shared/schemas.js';
import { TOKEN_BUDGET_CHARS } from '../../client/core/token/size.js';
import { VERSION } from '../../client/core/version.js';
import { generateTokenKey, TokenKeyRing } from '../../server/engine/token/key-ring.js';
import { openBlackBox } from '../../server/engine/token/decode.js';
import { ensureSdkBuilt, ROOT, SDK_DIR } from '../support/build.js';
import { CHROMIUM, HEADLESS_CHROMIUM_ARGS as CHROMIUM_ARGS } from '../support/chromium.js';

const APP_KEY = 'app_browser_test';

/** Bundles a tiny app that imports the npm ESM build, as an app's own bundler would. */
async function bundleEsmApp(dir: string): Promise<string> {
  const { rollup } = await import('rollup');
  const { nodeResolve } = await import('@rollup/plugin-node-resolve');
  const entry = join(dir, 'app.mjs');
  writeFileSync(
    entry,
    `import { init, VERSION } from ${JSON.stringify(join(SDK_DIR, 'riskgate.mjs'))};
     window.startApp = (options) => { const rg = init(options); return rg.getBlackBox().then((token) => ({ token, version: VERSION })); };`,
  );
  const build = await rollup({ input: entry, plugins: [nodeResolve({ browser: true, rootDir: ROOT, modulePaths: [join(ROOT, 'node_modules')] })] });
  const { output } = await build.generate({ format: 'iife' });
  await build.close();
  return output[0].code;
}

const ring = new TokenKeyRing([generateTokenKey()]);
const publicKey = ring.primary;

let server: Server;
let origin: string;
let esmApp: string;
let scratch: string;
const keyHits = { good: 0, broken: 0 };
const contexts: BrowserContext[] = [];

/** A page that loads the script-tag SDK and starts it with `options` (merged over a publicKey setup). */
function sdkPage(options: Record<string, unknown>, body = '<input id="field" autocomplete="off">'): string {
  return `<!doctype html><html><head><meta charset="utf-8"><title>sdk</title></head><body>${body}
<script>window.__scriptStart = performance.now();</script>
<script src="/sdk/riskgate.min.js"></script>
<script>
  window.rg = RiskGate.init(${JSON.stringify(options)});
  window.firstToken = window.rg.getBlackBox().then(
    (token) => ({ token, ms: performance.now() - window.__scriptStart }),
    (error) => ({ error: { name: error.name, code: error.code, message: error.message } }),
  );
</script></body></html>`;
}

const pages: Record<string, () => string> = {
  '/direct': () => sdkPage({ appKey: APP_KEY, endpoint: origin, publicKey }),
  '/jwks': () => sdkPage({ appKey: APP_KEY, endpoint: origin }),
  '/no-key': () => sdkPage({ appKey: APP_KEY, endpoint: `${origin}/broken` }),
  '/esm': () => `<!doctype html><html><body><script src="/app.js"></script></body></html>`,
  // For a browser no tool drives: the page posts its token back.
  '/report-page': () => `<!doctype html><html><body><script src="/sdk/riskgate.min.js"></script><script>
    const rg = RiskGate.init(${JSON.stringify({ appKey: APP_KEY, endpoint: origin, publicKey })});
    setTimeout(() => rg.getBlackBox().then((token) => fetch('/report', { method: 'POST', body: token })), 1500);
  </script></body></html>`,
};

/** Tokens posted to /report, in arrival order. */
const reported: ((token: string) => void)[] = [];
const nextReport = () => new Promise<string>((resolve) => reported.push(resolve));

beforeAll(async () => {
  ensureSdkBuilt();
  scratch = mkdtempSync(join(tmpdir(), 'riskgate-sdk-test-'));
  esmApp = await bundleEsmApp(scratch);
  server = createServer((request, response) => {
    const path = (request.url ?? '/').split('?')[0]!;
    const send = (status: number, type: string, body: string | Buffer) => {
      response.writeHead(status, { 'content-type': type, 'cache-control': 'no-store' });
      response.end(body);
    };
    if (path.startsWith('/sdk/')) return send(200, 'text/javascript', readFileSync(join(SDK_DIR, path.slice(5).replace(/[^\w.-]/g, ''))));
    if (path === '/app.js') return send(200, 'text/javascript', esmApp);
    if (path === '/report' && request.method === 'POST') {
      let body = '';
      request.on('data', (chunk: Buffer) => (body += chunk.toString()));
      request.on('end', () => {
        reported.shift()?.(body);
        send(204, 'text/plain', '');
      });
      return;
    }
    if (path === '/v1/keys') {
      keyHits.good++;
      return send(200, 'application/json', JSON.stringify(ring.jwks));
    }
    if (path === '/broken/v1/keys') {
      keyHits.broken++;
      return send(503, 'application/json', '{"code":9200}');
    }
    const page = pages[path];
    return page ? send(200, 'text/html', page()) : send(404, 'text/plain', 'not found');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}, 180_000);

afterAll(async () => {
  for (const context of contexts) await context.close().catch(() => {});
  await new Promise<void>((resolve) => server?.close(() => resolve()));
  if (scratch) rmSync(scratch, { recursive: true, force: true, maxRetries: 10, retryDelay: 200 });
});

/** A browser with its own fresh profile directory (kept for the test's lifetime). */
async function launch(profile = mkdtempSync(join(scratch, 'profile-'))): Promise<{ context: BrowserContext; page: Page; profile: string }> {
  const context = await chromium.launchPersistentContext(profile, { executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS });
  contexts.push(context);
  const page = context.pages()[0] ?? (await context.newPage());
  return { context, page, profile };
}

async function close(context: BrowserContext): Promise<void> {
  contexts.splice(contexts.indexOf(context), 1);
  await context.close();
}

interface FirstToken {
  token?: string;
  ms?: number;
  error?: { name: string; code: string; message: string };
}

async function firstToken(page: Page, path: string): Promise<FirstToken> {
  await page.goto(origin + path);
  return page.evaluate(() => (window as unknown as { firstToken: Promise<FirstToken> }).firstToken);
}

/** Another token from the page's SDK instance, and how long it took. */
function nextToken(page: Page): Promise<{ token: string; ms: number }> {
  return page.evaluate(async () => {
    const started = performance.now();
    const token = await (window as unknown as { rg: { getBlackBox(): Promise<string> } }).rg.getBlackBox();
    return { token, ms: performance.now() - started };
  });
}

function open(token: string | undefined): { payload: BlackBoxPayload; deviceId: string } {
  expect(token, 'a token').toBeTypeOf('string');
  const opened = openBlackBox(token!, ring);
  if (!opened.ok) throw new Error(`token did not open: ${opened.failure}`);
  return opened;
}


// Debian's Chromium is what these tests drive; without it they cannot run.
describe.skipIf(!existsSync(CHROMIUM))('web SDK in headless Chromium', () => {
  it('makes a token from the script tag that the server opens, within the SDK\'s size budget', async () => {
    const { page } = await launch();
    const first = await firstToken(page, '/direct');
    const { payload } = open(first.token);
    expect(payload).toMatchObject({ v: 1, app: APP_KEY, platform: 'web', sdk: `web/${VERSION}` });
    expect(first.token!.length).toBeLessThanOrEqual(TOKEN_BUDGET_CHARS);
    const { signals } = payload;
    // A loaded machine may make a slow source time out (its signals are then
    // left out, and it is named in errors); nothing may fail outright.
    const errors = signals.errors ?? {};
    for (const code of Object.values(errors)) expect(code).toBe('timeout');
    expect(payload.degraded).toBe(signals.errors !== undefined);
    if (signals.errors) console.info(`first token: sources timed out: ${JSON.stringify(errors)}`);
    if (!errors.fingerprint) {
      expect(signals.visitor_id).toMatch(/^[0-9a-f]{32}$/);
      expect(Object.keys(signals.components ?? {}).length).toBeGreaterThan(20);
    }
    if (!errors.environment) {
      expect(signals.user_agent).toContain('Chrome/');
      expect(signals.platform).toBe('Linux x86_64');
      expect(signals.screen).toMatchObject({ width: expect.any(Number), height: expect.any(Number), dpr: expect.any(Number), touch_points: 0 });
    }
    if (!errors.webgl) expect(signals.webgl_renderer).toMatch(/SwiftShader/);
    expect(signals.device_key_store).toBe('indexeddb');
    console.info(`first token: ${first.token!.length} chars, script start → token ${first.ms!.toFixed(1)} ms`);
  });

  it('flags headless Chromium under Playwright and reports no lies or inconsistencies in it', async () => {
    const { page } = await launch();
    const { payload } = open((await firstToken(page, '/direct')).token);
    const automation = payload.signals.automation!;
    console.info(`automation signals: ${JSON.stringify(automation)}`);
    // Playwright passes --enable-automation; the user agent says HeadlessChrome.
    expect(automation.webdriver).toBe(true);
    expect(automation.headless_ua).toBe(true);
    // Playwright's default viewport is a CDP Emulation override: the screen is the viewport.
    expect(automation.cdp).toBe(true);
    expect(automation.window_anomaly).toBe(true);
    expect(automation.software_renderer).toBe(true);
    expect(automation.missing_chrome_objects).toEqual([]);
    expect(automation.permissions_inconsistent).toBe(false);
    expect(automation.no_plugins).toBe(false);
    expect(payload.signals.lies).toEqual([]);
    expect(payload.signals.inconsistencies).toEqual([]);
    // Nor once the worker check (optional, after FingerprintJS) has answered.
    await page.waitForTimeout(1000);
    const later = open((await nextToken(page)).token).payload;
    expect(later.signals.lies).toEqual([]);
  });

  // How long the first and the second token take is a performance figure, measured by bench/browser.ts
  // (targets 150 ms and 30 ms, median of 60 loads); here only what the second token carries.
  it('re-uses the slow components for the second token, which is fresh', async () => {
    const { page } = await launch();
    for (let load = 0; load < 5; load++) {
      const first = await firstToken(page, '/direct');
      const second = await nextToken(page);
      const a = open(first.token);
      const b = open(second.token);
      expect(b.payload.jti).not.toBe(a.payload.jti);
      expect(b.payload.signals.visitor_id).toBe(a.payload.signals.visitor_id);
      expect(b.payload.signals.components).toEqual(a.payload.signals.components);
      expect(b.deviceId).toBe(a.deviceId);
    }
  }, 60_000);

  it('counts CDP-dispatched pointer moves, clicks and keys, counts a script-made paste apart, and never records typed or pasted text', async () => {
    const { page } = await launch();
    await firstToken(page, '/direct');
    await page.mouse.move(20, 20);
    await page.mouse.move(300, 200, { steps: 12 });
    await page.click('#field');
    await page.keyboard.type('typed-secret-4711', { delay: 5 });
    await page.evaluate(() => {
      const data = new DataTransfer();
      data.setData('text/plain', 'pasted-secret-0815');
      document.getElementById('field')!.dispatchEvent(new ClipboardEvent('paste', { clipboardData: data, bubbles: true }));
    });
    const { token } = await nextToken(page);
    const { payload } = open(token);
    const behavior = payload.behavior;
    expect(behavior.pointer_moves).toBeGreaterThanOrEqual(12);
    expect(behavior.clicks).toBe(1);
    expect(behavior.key_presses).toBe('typed-secret-4711'.length);
    // The paste event was made by a script (isTrusted false): it counts only as such.
    expect(behavior.pastes).toBe(0);
    expect(behavior.untrusted_events).toBe(1);
    expect(behavior.focus_changes).toBeGreaterThanOrEqual(1);
    expect(behavior.move_interval_mean_ms).toBeGreaterThan(0);
    expect(behavior.key_interval_mean_ms).toBeGreaterThan(0);
    expect(behavior.dwell_ms).toBeGreaterThan(0);
    const plaintext = JSON.stringify(payload);
    expect(plaintext).not.toContain('secret');
    expect(plaintext).not.toContain('4711');
    expect(plaintext).not.toContain('0815');
  });

  it('keeps the device id across page loads of one profile and not across profiles', async () => {
    const one = await launch();
    const a1 = open((await firstToken(one.page, '/direct')).token);
    const a2 = open((await firstToken(one.page, '/direct')).token);
    await close(one.context);
    // The same profile directory opened again: the key survived in IndexedDB.
    const again = await launch(one.profile);
    const a3 = open((await firstToken(again.page, '/direct')).token);
    const other = await launch();
    const b1 = open((await firstToken(other.page, '/direct')).token);
    expect(a1.deviceId).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(a2.deviceId).toBe(a1.deviceId);
    expect(a3.deviceId).toBe(a1.deviceId);
    expect(b1.deviceId).not.toBe(a1.deviceId);
  }, 60_000);

  it('falls back to a page-only device key when IndexedDB is unavailable', async () => {
    const { context, page } = await launch();
    await context.addInitScript(() => {
      Object.defineProperty(window, 'indexedDB', {
        get() {
          throw new DOMException('blocked', 'SecurityError');
        },
      });
    });
    const first = open((await firstToken(page, '/direct')).token);
    const second = open((await nextToken(page)).token);
    expect(first.payload.signals.device_key_store).toBe('memory');
    expect(second.deviceId).toBe(first.deviceId);
    const reloaded = open((await firstToken(page, '/direct')).token);
    expect(reloaded.deviceId).not.toBe(first.deviceId);
  });

  it('fetches the server key from /v1/keys once and re-uses it from storage on the next page', async () => {
    const { page } = await launch();
    const before = keyHits.good;
    open((await firstToken(page, '/jwks')).token);
    open((await nextToken(page)).token);
    open((await firstToken(page, '/jwks')).token);
    expect(keyHits.good - before).toBe(1);
    const cached = await page.evaluate(() => Object.keys(localStorage).filter((key) => key.startsWith('riskgate:')));
    expect(cached).toEqual([`riskgate:key:${origin}`]);
  });

  it('rejects with RiskGateError key_unavailable after one retry when no key can be had', async () => {
    const { page } = await launch();
    const before = keyHits.broken;
    const result = await firstToken(page, '/no-key');
    expect(result.error).toMatchObject({ name: 'RiskGateError', code: 'key_unavailable' });
    expect(keyHits.broken - before).toBe(2);
  });

  it('names a source that hangs in signals.errors, marks the token degraded and still answers in time', async () => {
    const { context, page } = await launch();
    await context.addInitScript(() => {
      // A permissions API that never answers: the automation source runs out of time.
      Permissions.prototype.query = function query() {
        return new Promise(() => {});
      } as typeof Permissions.prototype.query;
    });
    await firstToken(page, '/direct');
    const next = await nextToken(page);
    const { payload } = open(next.token);
    expect(payload.degraded).toBe(true);
    expect(payload.signals.errors).toMatchObject({ automation: 'timeout' });
    expect(payload.signals.automation).toBeUndefined();
    expect(next.ms).toBeLessThan(1000);
  });

  it('catches stealth-style patches of navigator as lies', async () => {
    const { context, page } = await launch();
    await context.addInitScript(() => {
      // What puppeteer-extra's stealth plugin does: hide the patches behind Proxies and a patched toString.
      const nativeToString = Function.prototype.toString;
      const disguised = new WeakMap<object, string>();
      const toString = new Proxy(nativeToString, {
        apply: (target, self: object, args: []) => disguised.get(self) ?? Reflect.apply(target, self, args),
      });
      disguised.set(toString, 'function toString() { [native code] }');
      Function.prototype.toString = toString;
      const descriptor = Object.getOwnPropertyDescriptor(Navigator.prototype, 'webdriver')!;
      const webdriver = new Proxy(descriptor.get!, { apply: () => false });
      disguised.set(webdriver, 'function get webdriver() { [native code] }');
      Object.defineProperty(Navigator.prototype, 'webdriver', { ...descriptor, get: webdriver });
      // And a cruder one: an own property on navigator.
      Object.defineProperty(navigator, 'hardwareConcurrency', { get: () => 8 });
    });
    const { payload } = open((await firstToken(page, '/direct')).token);
    expect(payload.signals.lies).toEqual(
      expect.arrayContaining(['Function.toString:proxy', 'Navigator.webdriver:proxy', 'Navigator.webdriver:invocation', 'navigator.own_property']),
    );
    expect(payload.signals.automation?.webdriver).toBe(false);
    // The worker check answers after FingerprintJS; a later token carries it: the worker sees the real value.
    let lies: string[] = [];
    for (let attempt = 0; attempt < 30 && !lies.includes('worker.hardwareConcurrency'); attempt++) {
      await page.waitForTimeout(100);
      lies = open((await nextToken(page)).token).payload.signals.lies ?? [];
    }
    expect(lies).toContain('worker.hardwareConcurrency');
    expect(lies).toContain('Navigator.webdriver:proxy');
  });

  it('works from the npm ESM build bundled into an app', async () => {
    const { page } = await launch();
    await page.goto(`${origin}/esm`);
    const result = await page.evaluate(
      (options) => (window as unknown as { startApp(o: unknown): Promise<{ token: string; version: string }> }).startApp(options),
      { appKey: APP_KEY, endpoint: origin, publicKey },
    );
    const { payload } = open(result.token);
    expect(result.version).toBe(VERSION);
    expect(payload).toMatchObject({ app: APP_KEY, platform: 'web', sdk: `web/${VERSION}` });
    expect(payload.signals.visitor_id).toMatch(/^[0-9a-f]{32}$/);
  });

  /** Chromium started directly (no DevTools client): headful under Xvfb, or headless. */
  async function undrivenToken(headful: boolean): Promise<BlackBoxPayload> {
    const profile = mkdtempSync(join(scratch, 'undriven-'));
    const flags = CHROMIUM_ARGS.filter((arg) => headful ? arg !== '--headless' : true);
    const command = headful ? ['xvfb-run', '-a', '-s', '-screen 0 1600x1000x24', CHROMIUM] : [CHROMIUM];
    const report = nextReport();
    const child = spawn(command[0]!, [...command.slice(1), ...flags, `--user-data-dir=${profile}`, `${origin}/report-page`], { stdio: 'ignore', detached: true });
    const exited = new Promise((resolve) => child.once('exit', resolve));
    try {
      return open(await report).payload;
    } finally {
      try {
        process.kill(-child.pid!, 'SIGTERM');
      } catch {
        // Already gone.
      }
      await exited;
    }
  }

  it.skipIf(!existsSync('/usr/bin/xvfb-run'))('reports no automation, lies or inconsistencies from a headful Chromium nothing drives', async () => {
    const { signals } = await undrivenToken(true);
    expect(signals.automation).toMatchObject({
      webdriver: false,
      headless_ua: false,
      cdp: false,
      cdp_signs: [],
      automation_globals: [],
      missing_chrome_objects: [],
      permissions_inconsistent: false,
      no_plugins: false,
      window_anomaly: false,
    });
    expect(signals.lies).toEqual([]);
    expect(signals.inconsistencies).toEqual([]);
  }, 60_000);

  it('tells headless Chromium without any DevTools client by its user agent and default window, not by CDP', async () => {
    const { signals } = await undrivenToken(false);
    expect(signals.automation).toMatchObject({ webdriver: false, headless_ua: true, cdp: false, cdp_signs: [], window_anomaly: true, software_renderer: true });
    expect(signals.screen).toMatchObject({ width: 800, height: 600 });
    expect(signals.lies).toEqual([]);
    expect(signals.inconsistencies).toEqual([]);
  }, 60_000);
});
