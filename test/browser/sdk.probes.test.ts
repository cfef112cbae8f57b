/**
 * The client's sharper probes in real Chromium: each fires in the automated
 * setups it targets and stays silent in a plain browser.
 *
 * - Headless Chromium under playwright-core, as it comes.
 * - The same with a careful stealth setup (test/support/stealth.ts): a WeakMap
 *   `toString`, method-syntax getters, webdriver hidden, a spoofed GPU, a
 *   desktop Chrome user agent.
 * - Headful Chromium under Xvfb driven by Playwright with `viewport: null`
 *   (no viewport emulation).
 * - Headful Chromium driven by a bare DevTools-protocol client (pipe):
 *   `Runtime.enable`, `Page.navigate`, `Runtime.evaluate`.
 * - A plain headful Chromium under Xvfb, no DevTools client, moved only by
 *   xdotool: none of the probes may fire.
 *
 * Every page posts a token to /report every 0.8 s, made by the page's own
 * code; the tests wait for one that carries what they need (the worker's
 * report comes after FingerprintJS).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { BlackBoxPayload } from '../../shared/schemas.js';
import { generateTokenKey, TokenKeyRing } from '../../server/engine/token/key-ring.js';
import { openBlackBox } from '../../server/engine/token/decode.js';
import { ensureSdkBuilt, SDK_DIR } from '../support/build.js';
import { CHROMIUM, HEADLESS_CHROMIUM_ARGS } from '../support/chromium.js';
import { STEALTH_GPU, STEALTH_INIT_SCRIPT, STEALTH_USER_AGENT } from '../support/stealth.js';
import { endGroup } from '../support/processes.js';
import { HAS_X11_TOOLS, startXvfb, xdotool, type Display } from '../support/x11.js';

const APP_KEY = 'app_probes_test';
const ring = new TokenKeyRing([generateTokenKey()]);
/** The flags of any start here: no first-run UI, no background traffic to hosts this machine cannot reach. */
const QUIET_ARGS = HEADLESS_CHROMIUM_ARGS.filter((arg) => arg !== '--headless' && arg !== '--disable-gpu');
const SCREEN = { width: 1600, height: 1000 };

let server: Server;
let origin: string;
let scratch: string;
let display: Display | undefined;
const reports = new Map<string, BlackBoxPayload[]>();
/** Token lengths by payload, for the summaries. */
const tokenLengths = new WeakMap<BlackBoxPayload, number>();
const contexts: BrowserContext[] = [];
const children: ChildProcess[] = [];
let pageCount = 0;

/** A page that starts the SDK and posts a token every 0.8 s (12 in all), each made by the page's own code. */
function reportingPage(id: string): string {
  const options = { appKey: APP_KEY, endpoint: origin, publicKey: ring.primary };
  return `<!doctype html><html><head><meta charset="utf-8"><title>probes</title></head>
<body style="margin:0;height:100vh"><input id="field" autocomplete="off">
<script src="/sdk/riskgate.min.js"></script>
<script>
  window.rg = RiskGate.init(${JSON.stringify(options)});
  let sent = 0;
  const post = () => window.rg.getBlackBox()
    .then((token) => fetch('/report?id=${id}', { method: 'POST', body: token }))
    .catch(() => {})
    .finally(() => { if (++sent < 12) setTimeout(post, 800); });
  setTimeout(post, 300);
</script></body></html>`;
}

function open(token: string): BlackBoxPayload {
  const opened = openBlackBox(token, ring);
  if (!opened.ok) throw new Error(`token did not open: ${opened.failure}`);
  return opened.payload;
}

/** A fresh page id and its URL. */
function newPage(): { id: string; url: string } {
  const id = `p${++pageCount}`;
  return { id, url: `${origin}/probe?id=${id}` };
}

/** The first token page `id` reported that satisfies `ready` (by default: one that carries the worker's report). */
async function reportFrom(id: string, ready: (payload: BlackBoxPayload) => boolean = (p) => p.signals.worker !== undefined, timeoutMs = 30_000): Promise<BlackBoxPayload> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const found = (reports.get(id) ?? []).find(ready);
    if (found) return found;
    if (Date.now() > deadline) throw new Error(`no fitting token from ${id}; got ${JSON.stringify((reports.get(id) ?? []).map((p) => [p.signals.automation, p.signals.worker, p.signals.errors, p.behavior]))}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

beforeAll(async () => {
  ensureSdkBuilt();
  scratch = mkdtempSync(join(tmpdir(), 'riskgate-probes-'));
  server = createServer((request, response) => {
    const url = new URL(request.url ?? '/', 'http://x');
    const send = (status: number, type: string, body: string | Buffer) => {
      response.writeHead(status, { 'content-type': type, 'cache-control': 'no-store' });
      response.end(body);
    };
    if (url.pathname.startsWith('/sdk/')) return send(200, 'text/javascript', readFileSync(join(SDK_DIR, url.pathname.slice(5).replace(/[^\w.-]/g, ''))));
    const id = (url.searchParams.get('id') ?? '').replace(/\W/g, '');
    if (url.pathname === '/probe') return send(200, 'text/html', reportingPage(id));
    if (url.pathname === '/report' && request.method === 'POST') {
      let body = '';
      request.on('data', (chunk: Buffer) => (body += chunk.toString()));
      request.on('end', () => {
        const payload = open(body);
        tokenLengths.set(payload, body.length);
        reports.set(id, [...(reports.get(id) ?? []), payload]);
        send(204, 'text/plain', '');
      });
      return;
    }
    return send(404, 'text/plain', 'not found');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  if (HAS_X11_TOOLS) display = await startXvfb(SCREEN.width, SCREEN.height);
}, 180_000);

/** Each test's browsers end with it: a two-core machine runs one at a time. */
async function closeBrowsers(): Promise<void> {
  for (const context of contexts.splice(0)) await context.close().catch(() => {});
  for (const child of children.splice(0)) await endGroup(child);
}

afterEach(closeBrowsers, 30_000);

afterAll(async () => {
  await closeBrowsers();
  await display?.stop();
  await new Promise<void>((resolve) => server?.close(() => resolve()));
  if (scratch) rmSync(scratch, { recursive: true, force: true, maxRetries: 10, retryDelay: 200 });
}, 60_000);

async function launch(options: { headful?: boolean; userAgent?: string; initScript?: string } = {}): Promise<Page> {
  const profile = mkdtempSync(join(scratch, 'profile-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: !options.headful,
    args: options.headful ? QUIET_ARGS : HEADLESS_CHROMIUM_ARGS,
    ...(options.headful ? { viewport: null, env: display!.env } : {}),
    ...(options.userAgent ? { userAgent: options.userAgent } : {}),
  });
  contexts.push(context);
  if (options.initScript) await context.addInitScript({ content: options.initScript });
  return context.pages()[0] ?? (await context.newPage());
}

/** A token made by `page.evaluate` (CDP `Runtime.callFunctionOn`), not by the page's own code. */
async function evaluatedToken(page: Page): Promise<BlackBoxPayload> {
  return open(await page.evaluate(() => (window as unknown as { rg: { getBlackBox(): Promise<string> } }).rg.getBlackBox()));
}

/** What a test prints for the report: the probes' answers in one line. */
function summary(setup: string, payload: BlackBoxPayload): void {
  const { automation, worker, lies, errors } = payload.signals;
  console.info(
    `${setup}: cdp=${automation?.cdp} signs=${JSON.stringify(automation?.cdp_signs)} webdriver=${automation?.webdriver} ` +
      `worker=${JSON.stringify(worker)} lies=${JSON.stringify(lies)} untrusted=${payload.behavior.untrusted_events} moves=${payload.behavior.pointer_moves}` +
      ` token=${tokenLengths.get(payload) ?? '?'} chars` +
      (errors ? ` errors=${JSON.stringify(errors)}` : ''),
  );
}

// ---------------------------------------------------------------------------
// A bare DevTools-protocol client over --remote-debugging-pipe (fd 3 in, fd 4 out; NUL-separated JSON).

interface Cdp {
  send(method: string, params?: Record<string, unknown>): Promise<Record<string, unknown>>;
  child: ChildProcess;
}

async function rawCdpChromium(): Promise<Cdp> {
  const profile = mkdtempSync(join(scratch, 'cdp-'));
  const child = spawn(CHROMIUM, [...QUIET_ARGS, '--remote-debugging-pipe', `--user-data-dir=${profile}`, `--window-size=1280,900`, 'about:blank'], {
    env: display!.env,
    stdio: ['ignore', 'ignore', 'ignore', 'pipe', 'pipe'],
    detached: true,
  });
  children.push(child);
  const input = child.stdio[3] as NodeJS.WritableStream;
  const output = child.stdio[4] as NodeJS.ReadableStream;
  let nextId = 0;
  let buffer = '';
  let sessionId: string | undefined;
  const waiting = new Map<number, (message: { result?: Record<string, unknown>; error?: unknown }) => void>();
  output.setEncoding('utf8');
  output.on('data', (chunk: string) => {
    buffer += chunk;
    for (let end = buffer.indexOf('\0'); end >= 0; end = buffer.indexOf('\0')) {
      const message = JSON.parse(buffer.slice(0, end)) as { id?: number; result?: Record<string, unknown>; error?: unknown };
      buffer = buffer.slice(end + 1);
      if (message.id !== undefined) waiting.get(message.id)?.(message);
    }
  });
  const raw = (method: string, params: Record<string, unknown> = {}, session?: string) =>
    new Promise<Record<string, unknown>>((resolve, reject) => {
      const id = ++nextId;
      waiting.set(id, (message) => (message.error ? reject(new Error(`${method}: ${JSON.stringify(message.error)}`)) : resolve(message.result ?? {})));
      input.write(`${JSON.stringify({ id, method, params, ...(session ? { sessionId: session } : {}) })}\0`);
    });
  let targets: { type: string; targetId: string }[] = [];
  for (let attempt = 0; attempt < 50 && !targets.some((t) => t.type === 'page'); attempt++) {
    targets = ((await raw('Target.getTargets')).targetInfos as typeof targets) ?? [];
    if (!targets.some((t) => t.type === 'page')) await new Promise((resolve) => setTimeout(resolve, 100));
  }
  const page = targets.find((t) => t.type === 'page')!;
  sessionId = (await raw('Target.attachToTarget', { targetId: page.targetId, flatten: true })).sessionId as string;
  return { child, send: (method, params) => raw(method, params, sessionId) };
}

// ---------------------------------------------------------------------------

describe.skipIf(!existsSync(CHROMIUM))('client probes in real Chromium', () => {
  it('headless Chromium under Playwright: a DevTools client, a SharedWorker that says HeadlessChrome, untrusted events apart', async () => {
    const page = await launch();
    const { id, url } = newPage();
    await page.goto(url);
    const own = await reportFrom(id);
    summary('headless Playwright (page token)', own);
    const automation = own.signals.automation!;
    expect(automation.cdp).toBe(true);
    expect(automation.cdp_signs).toEqual(expect.arrayContaining(['stack_format', 'error_name', 'viewport']));
    expect(automation.cdp_signs).not.toContain('eval_stack');
    expect(own.signals.worker).toMatchObject({ kind: 'shared', platform: 'Linux x86_64', webgl_renderer: expect.stringMatching(/SwiftShader/) });
    expect(own.signals.worker!.user_agent).toMatch(/HeadlessChrome/);
    expect(own.signals.worker!.hardware_concurrency).toBeGreaterThan(0);
    expect(own.signals.worker!.languages!.length).toBeGreaterThan(0);
    expect(own.signals.lies).toEqual([]);

    // Script-made input counts apart; the browser's own (CDP Input.*) counts as input.
    await page.evaluate(() => {
      const field = document.getElementById('field')!;
      field.dispatchEvent(new MouseEvent('click', { bubbles: true }));
      field.dispatchEvent(new KeyboardEvent('keydown', { key: 'a', bubbles: true }));
      for (let i = 0; i < 5; i++) document.body.dispatchEvent(new PointerEvent('pointermove', { bubbles: true, clientX: i, clientY: i }));
      field.click();
    });
    const synthetic = await evaluatedToken(page);
    summary('headless Playwright (page.evaluate token)', synthetic);
    expect(synthetic.signals.automation!.cdp_signs).toEqual(expect.arrayContaining(['stack_format', 'eval_stack']));
    expect(synthetic.behavior).toMatchObject({ clicks: 0, key_presses: 0, pointer_moves: 0 });
    expect(synthetic.behavior.untrusted_events).toBeGreaterThanOrEqual(8);
    await page.mouse.move(200, 200, { steps: 5 });
    await page.click('#field');
    const trusted = await evaluatedToken(page);
    expect(trusted.behavior.clicks).toBe(1);
    expect(trusted.behavior.pointer_moves).toBeGreaterThanOrEqual(5);
    expect(trusted.behavior.untrusted_events).toBe(synthetic.behavior.untrusted_events);
  }, 90_000);

  it('headless Chromium with a stealth setup: patched natives, the toString patch itself, and the worker that was not patched', async () => {
    const page = await launch({ userAgent: STEALTH_USER_AGENT, initScript: STEALTH_INIT_SCRIPT });
    const { id, url } = newPage();
    await page.goto(url);
    // The page's own toString passes every replacement off as native code.
    expect(
      await page.evaluate(() => [
        Function.prototype.toString.call(Object.getOwnPropertyDescriptor(Navigator.prototype, 'webdriver')!.get),
        Function.prototype.toString.call(Function.prototype.toString),
        navigator.webdriver,
      ]),
    ).toEqual(['function get webdriver() { [native code] }', 'function toString() { [native code] }', false]);
    const payload = await reportFrom(id, (p) => p.signals.worker !== undefined && (p.signals.lies ?? []).includes('worker.userAgent'));
    summary('headless Playwright + stealth', payload);
    const { automation, lies, worker, user_agent } = payload.signals;
    expect(user_agent).toBe(STEALTH_USER_AGENT);
    expect(automation).toMatchObject({ webdriver: false, headless_ua: false, cdp: true });
    expect(automation!.cdp_signs).toContain('stack_format');
    expect(lies).toEqual(
      expect.arrayContaining([
        // Seen through the clean realm's toString, and the page's toString caught hiding them.
        'Function.toString:toString',
        'Function.toString:masks',
        'Navigator.webdriver:toString',
        // Getters and methods that answer off an instance.
        'Navigator.webdriver:invocation',
        'Navigator.hardwareConcurrency:invocation',
        'Navigator.deviceMemory:invocation',
        'Navigator.languages:invocation',
        'WebGLRenderingContext.getParameter:invocation',
        'WebGL2RenderingContext.getParameter:invocation',
        'Permissions.query:invocation',
        // What the SharedWorker sees instead.
        'worker.userAgent',
        'worker.hardwareConcurrency',
        'worker.webgl',
      ]),
    );
    expect(worker).toMatchObject({ kind: 'shared', user_agent: expect.stringMatching(/HeadlessChrome/), webgl_renderer: expect.stringMatching(/SwiftShader/) });
    expect(worker!.webgl_vendor).not.toBe(STEALTH_GPU.vendor);
  }, 90_000);

  it('falls back to a dedicated worker where there is no SharedWorker (which inherits the user-agent override)', async () => {
    const page = await launch({ userAgent: STEALTH_USER_AGENT, initScript: 'delete window.SharedWorker;' });
    const { id, url } = newPage();
    await page.goto(url);
    const payload = await reportFrom(id);
    summary('headless Playwright, desktop UA, no SharedWorker', payload);
    expect(payload.signals.worker).toMatchObject({ kind: 'dedicated', user_agent: STEALTH_USER_AGENT, platform: 'Linux x86_64' });
    expect(payload.signals.lies).not.toContain('worker.userAgent');
    // The override changes the page's client-hint brands, not the worker's.
    expect(payload.signals.lies).toContain('worker.brands');
  }, 90_000);

  it('leaves the console signs out where the page wraps console.debug (error monitors read logged errors themselves)', async () => {
    const page = await launch({
      initScript: `(() => {
        const debug = console.debug;
        console.debug = function (...args) {
          for (const arg of args) if (arg instanceof Error) void (arg.name + arg.stack);
          return debug.apply(console, args);
        };
      })();`,
    });
    const { id, url } = newPage();
    await page.goto(url);
    const payload = await reportFrom(id, () => true);
    expect(payload.signals.automation!.cdp_signs).toEqual(['viewport']);
  }, 90_000);

  it('catches a Proxy-based toString patch as well, and the method-syntax getter it hides', async () => {
    // A Proxy over the real toString: the clean realm's toString still shows it as native, the Proxy probes catch it.
    const page = await launch({
      initScript: `(() => {
        const native = Function.prototype.toString;
        const disguised = new WeakMap();
        Function.prototype.toString = new Proxy(native, { apply: (target, self, args) => disguised.get(self) ?? Reflect.apply(target, self, args) });
        const get = { get webdriver() { return false; } };
        const getter = Object.getOwnPropertyDescriptor(get, 'webdriver').get;
        disguised.set(getter, 'function get webdriver() { [native code] }');
        Object.defineProperty(Navigator.prototype, 'webdriver', { get: getter, configurable: true, enumerable: true });
      })();`,
    });
    const { id, url } = newPage();
    await page.goto(url);
    const payload = await reportFrom(id, () => true);
    expect(payload.signals.lies).toEqual(
      expect.arrayContaining(['Function.toString:proxy', 'Navigator.webdriver:toString', 'Navigator.webdriver:invocation', 'Function.toString:masks']),
    );
  }, 90_000);

  describe.skipIf(!HAS_X11_TOOLS)('headful, under Xvfb', () => {
    it('Playwright with viewport: null: no viewport emulation, the DevTools client still shows', async () => {
      const page = await launch({ headful: true });
      const { id, url } = newPage();
      await page.goto(url);
      const payload = await reportFrom(id);
      summary('headful Playwright viewport:null', payload);
      const automation = payload.signals.automation!;
      expect(automation.cdp).toBe(true);
      expect(automation.cdp_signs).toEqual(expect.arrayContaining(['stack_format', 'error_name']));
      expect(automation.cdp_signs).not.toContain('viewport');
      expect(automation.headless_ua).toBe(false);
      expect(payload.signals.worker).toMatchObject({ kind: 'shared', user_agent: payload.signals.user_agent });
      expect(payload.signals.lies).toEqual([]);
      const evaluated = await evaluatedToken(page);
      expect(evaluated.signals.automation!.cdp_signs).toContain('eval_stack');
    }, 90_000);

    it('a bare CDP client (Runtime.enable, Runtime.evaluate)', async () => {
      const cdp = await rawCdpChromium();
      await cdp.send('Runtime.enable');
      const { id, url } = newPage();
      await cdp.send('Page.navigate', { url });
      const payload = await reportFrom(id);
      summary('raw CDP (page token)', payload);
      expect(payload.signals.automation).toMatchObject({ cdp: true, headless_ua: false });
      expect(payload.signals.automation!.cdp_signs).toEqual(expect.arrayContaining(['stack_format', 'error_name']));
      expect(payload.signals.automation!.cdp_signs).not.toContain('eval_stack');
      const evaluated = (await cdp.send('Runtime.evaluate', { expression: 'rg.getBlackBox()', awaitPromise: true, returnByValue: true })) as {
        result: { value: string };
      };
      const fromEvaluate = open(evaluated.result.value);
      summary('raw CDP (Runtime.evaluate token)', fromEvaluate);
      expect(fromEvaluate.signals.automation!.cdp_signs).toEqual(expect.arrayContaining(['stack_format', 'eval_stack']));
    }, 90_000);

    it('a plain Chromium with no DevTools client, moved only by xdotool: no probe fires', async () => {
      const { id, url } = newPage();
      const profile = mkdtempSync(join(scratch, 'plain-'));
      const child = spawn(CHROMIUM, [...QUIET_ARGS, `--user-data-dir=${profile}`, '--window-size=1280,900', '--window-position=0,0', url], {
        env: display!.env,
        stdio: 'ignore',
        detached: true,
      });
      children.push(child);
      await xdotool(display!, ['search', '--sync', '--onlyvisible', '--class', 'chromium'], 60_000);
      // Move once the SDK is listening: after the page's first token.
      await reportFrom(id, () => true);
      const path: string[] = [];
      for (let step = 0; step < 40; step++) path.push('mousemove', String(300 + step * 9), String(400 + Math.round(30 * Math.sin(step / 6))), 'sleep', (0.015 + (step % 5) * 0.006).toFixed(3));
      await xdotool(display!, path, 60_000);
      const payload = await reportFrom(id, (p) => p.signals.worker !== undefined && (p.behavior.pointer_moves ?? 0) > 0);
      summary('plain headful + xdotool', payload);
      expect(payload.signals.automation).toMatchObject({ webdriver: false, headless_ua: false, cdp: false, cdp_signs: [] });
      expect(payload.signals.lies).toEqual([]);
      expect(payload.signals.worker).toMatchObject({ kind: 'shared', user_agent: payload.signals.user_agent, platform: payload.signals.platform });
      expect(payload.signals.worker!.webgl_renderer).toBe(payload.signals.webgl_renderer);
      expect(payload.behavior.untrusted_events).toBe(0);
    }, 120_000);
  });
});
