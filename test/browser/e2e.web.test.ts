/**
 * End to end in real browsers, against the real server: what `npm start` runs
 * (`node dist/demo/main.js`, the built server with the demo composed in; no
 * RISKGATE_CONFIG, so it generates the demo app and mounts the demo shop at
 * /demo/) and Debian's Chromium.
 *
 * - Headless Chromium under playwright-core fills in the demo's registration
 *   form; what the page shows, what the demo backend answers and what the server
 *   logged must agree, and automation must be caught.
 * - A person-like visit: a normal, headful Chromium under Xvfb that nothing is
 *   attached to (no Playwright, no DevTools port, no --enable-automation), driven
 *   only by X11 input from xdotool, must score level 1 or lower.
 *
 * The ESM build bundled into a page is covered by sdk.browser.test.ts.
 *
 * `npm test` builds first. Run alone: `npm run build && npx vitest run test/e2e.web.test.ts`.
 * Screenshots go to the OS temp directory; their paths are printed.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer as createHttpServer, type Server as HttpServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import Database from 'better-sqlite3';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { PNG } from 'pngjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DecisionRecord } from '../../shared/schemas.js';
import { CHROMIUM, HEADLESS_CHROMIUM_ARGS as HEADLESS_ARGS } from '../support/chromium.js';
import { cleanEnv, freePort } from '../support/processes.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const MAIN = join(ROOT, 'dist', 'demo', 'main.js');
const SDK_BUNDLE = join(ROOT, 'dist', 'sdk', 'riskgate.min.js');
const XVFB = '/usr/bin/Xvfb';
const XDOTOOL = '/usr/bin/xdotool';

const HAS_DIST = existsSync(MAIN) && existsSync(SDK_BUNDLE);
const HAS_CHROMIUM = existsSync(CHROMIUM);
const HAS_X11_TOOLS = existsSync(XVFB) && existsSync(XDOTOOL);
const MISSING = [
  ...(HAS_DIST ? [] : ['dist/demo/main.js or dist/sdk/riskgate.min.js (run `npm run build`; `npm test` does)']),
  ...(HAS_CHROMIUM ? [] : [`${CHROMIUM} (Debian's chromium package; \`bash .ci/run\` installs it)`]),
].join(' and ');
const MISSING_X11 = `${XVFB} or ${XDOTOOL} (Debian's xvfb and xdotool packages)`;

/** A normal desktop Chrome on Linux, as a scraper would claim to be. */
const DESKTOP_UA = 'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/156.0.0.0 Safari/537.36';
const START_TIMEOUT_MS = 30_000;
/** The SQLite log is flushed every 200 ms; a loaded machine gets far more. */
const DECISION_POLL_MS = 30_000;

const execFileAsync = promisify(execFile);
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

// ---------------------------------------------------------------------------
// Scratch space and clean-up

const scratch = mkdtempSync(join(tmpdir(), 'riskgate-e2e-'));
const children = new Set<ChildProcess>();
const contexts = new Set<BrowserContext>();

function scratchDir(prefix: string): string {
  return mkdtempSync(join(scratch, prefix));
}

/** Spawns a process in its own process group, so that it and its children can be ended together. */
function spawnGroup(command: string, args: string[], env: NodeJS.ProcessEnv): ChildProcess & { output: () => string; exited: Promise<void> } {
  const child = spawn(command, args, { env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  children.add(child);
  let output = '';
  child.stdout!.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
  const exited = new Promise<void>((resolve) => {
    child.once('exit', () => {
      children.delete(child);
      resolve();
    });
  });
  return Object.assign(child, { output: () => output, exited });
}

async function endGroup(child: ChildProcess & { exited?: Promise<void> }): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  try {
    process.kill(-child.pid!, 'SIGTERM');
  } catch {
    return; // already gone
  }
  const gone = await Promise.race([child.exited?.then(() => true) ?? Promise.resolve(true), sleep(10_000).then(() => false)]);
  if (!gone) {
    try {
      process.kill(-child.pid!, 'SIGKILL');
    } catch {
      // gone after all
    }
    await child.exited;
  }
}

afterAll(async () => {
  for (const context of contexts) await context.close().catch(() => {});
  await Promise.all([...children].map((child) => endGroup(child)));
  rmSync(scratch, { recursive: true, force: true, maxRetries: 10, retryDelay: 200 });
}, 60_000);

// ---------------------------------------------------------------------------
// The built server

interface RiskGateServer {
  base: string;
  dataDir: string;
  appKey: string;
  secret: string;
  process: ReturnType<typeof spawnGroup>;
}

/** Starts `node dist/demo/main.js` on a free port with a fresh data directory and the generated demo app. */
async function startRiskGate(): Promise<RiskGateServer> {
  for (let attempt = 1; ; attempt++) {
    const dataDir = join(scratchDir('server-'), 'data');
    const port = await freePort();
    const child = spawnGroup(
      process.execPath,
      [MAIN],
      cleanEnv({ HOST: '127.0.0.1', PORT: String(port), RISKGATE_DATA_DIR: dataDir, RISKGATE_LOG_LEVEL: 'warn' }),
    );
    const started = await new Promise<string | Error>((resolve) => {
      const timer = setTimeout(() => resolve(new Error(`no "RiskGate listening" line after ${START_TIMEOUT_MS} ms`)), START_TIMEOUT_MS);
      const onData = () => {
        const match = /RiskGate listening on (http:\/\/\S+)/.exec(child.output());
        if (match) {
          clearTimeout(timer);
          resolve(match[1]!);
        }
      };
      child.stdout!.on('data', onData);
      void child.exited.then(() => {
        clearTimeout(timer);
        resolve(new Error(`exited (code ${child.exitCode}, signal ${child.signalCode}) before listening`));
      });
    });
    if (typeof started === 'string') {
      expect(child.output(), 'the first start mounts the demo').toContain('demo page: ');
      const demo = JSON.parse(readFileSync(join(dataDir, 'demo-app.json'), 'utf8')) as { key: string; secret: string };
      return { base: started, dataDir, appKey: demo.key, secret: demo.secret, process: child };
    }
    await endGroup(child);
    // Another process may have taken the port between probe and listen.
    if (/EADDRINUSE/.test(child.output()) && attempt < 3) continue;
    throw new Error(`RiskGate did not start: ${started.message}\n${child.output()}`);
  }
}

interface EvaluateAnswer {
  code: number;
  sequence_id: string;
  score: number;
  level: number;
  decision: string;
  challenge: string;
  reasons: { id: string; reason: string }[];
  tags: string[];
  device_id?: string;
  degraded: boolean;
}

async function api<T>(server: RiskGateServer, method: string, path: string, body?: unknown): Promise<{ status: number; json: T }> {
  const response = await fetch(`${server.base}${path}`, {
    method,
    headers: { authorization: `Bearer ${server.secret}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    body: body === undefined ? undefined : JSON.stringify(body),
    signal: AbortSignal.timeout(15_000),
  });
  const text = await response.text();
  return { status: response.status, json: JSON.parse(text) as T };
}

async function decisionOf(server: RiskGateServer, sequenceId: string): Promise<DecisionRecord> {
  const { status, json } = await api<{ decision: DecisionRecord }>(server, 'GET', `/v1/decisions/${sequenceId}`);
  expect(status, JSON.stringify(json)).toBe(200);
  return json.decision;
}

/** Scores, tags and the rules that fired: printed for every browser setup, and the message of failed assertions. */
function summary(record: DecisionRecord): string {
  const features = record.features as { signals?: unknown; behavior?: unknown; token?: unknown };
  return JSON.stringify(
    {
      score: record.score,
      level: record.level,
      decision: record.decision,
      tags: record.tags,
      rules_hit: record.rules_hit.map((rule) => `${rule.id}${rule.state === 'shadow' ? ' (shadow)' : ''} ${rule.score > 0 ? '+' : ''}${rule.score}`),
      reasons: record.reasons.map((reason) => reason.id),
      token: features.token,
      signals: features.signals,
      behavior: features.behavior,
    },
    null,
    1,
  );
}

// ---------------------------------------------------------------------------
// Headless Chromium under Playwright

interface DemoAnswer {
  outcome: string;
  risk: EvaluateAnswer & { fallback?: boolean };
  backend_ms: number;
}

async function launchHeadless(options: { userAgent?: string; profile?: string; viewport?: { width: number; height: number } } = {}): Promise<{ context: BrowserContext; page: Page; profile: string }> {
  const profile = options.profile ?? scratchDir('profile-');
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: [...HEADLESS_ARGS, ...(options.userAgent ? [`--user-agent=${options.userAgent}`] : [])],
    ...(options.userAgent ? { userAgent: options.userAgent } : {}),
    ...(options.viewport ? { viewport: options.viewport } : {}),
    timeout: 60_000,
  });
  contexts.add(context);
  context.setDefaultTimeout(30_000);
  const page = context.pages()[0] ?? (await context.newPage());
  return { context, page, profile };
}

async function closeContext(context: BrowserContext): Promise<void> {
  contexts.delete(context);
  await context.close();
}

/** Opens the demo page and waits until the SDK from the script tag is there. */
async function openDemo(page: Page, server: RiskGateServer): Promise<void> {
  await page.goto(`${server.base}/demo/`);
  await page.waitForFunction(() => typeof (window as unknown as { RiskGate?: { init?: unknown } }).RiskGate?.init === 'function');
}

/** Fills in and submits the registration form as a script would; returns what the demo backend answered. */
async function registerOnDemo(page: Page, username: string): Promise<DemoAnswer> {
  await page.fill('input[name=username]', username);
  await page.fill('input[name=email]', `${username}@example.com`);
  await page.fill('input[name=password]', 'correct-horse-battery');
  const answered = page.waitForResponse((response) => response.url().endsWith('/demo/api/register') && response.request().method() === 'POST');
  await page.click('#register-button');
  const response = await answered;
  expect(response.status(), await response.text()).toBe(200);
  const answer = (await response.json()) as DemoAnswer;
  // The panel shows the same answer.
  await page.waitForSelector('#result:not([hidden])');
  await expect.poll(() => page.textContent('#sequence'), { timeout: 15_000 }).toBe(answer.risk.sequence_id);
  return answer;
}

/** What the panel shows. */
async function panel(page: Page): Promise<{ decision: string; score: number; level: number; sequence: string; device: string; tags: string[]; reasons: string[] }> {
  return page.evaluate(() => {
    const text = (id: string) => document.getElementById(id)?.textContent?.trim() ?? '';
    return {
      decision: text('decision'),
      score: Number(text('score')),
      level: Number(text('level')),
      sequence: text('sequence'),
      device: document.getElementById('device')?.title ?? '',
      tags: [...document.querySelectorAll('#tags .tag')].map((tag) => tag.textContent ?? ''),
      reasons: [...document.querySelectorAll('#reasons code')].map((code) => code.textContent ?? ''),
    };
  });
}

// ---------------------------------------------------------------------------
// Xvfb, xdotool and the framebuffer

interface Xvfb {
  display: string;
  /** The framebuffer Xvfb keeps as an XWD file (-fbdir). */
  framebuffer: string;
  process: ReturnType<typeof spawnGroup>;
}

/** Starts Xvfb on a display number it picks itself (-displayfd: no race with other test runs). */
async function startXvfb(width: number, height: number): Promise<Xvfb> {
  const fbdir = scratchDir('xvfb-');
  const child = spawnGroup(XVFB, ['-displayfd', '1', '-screen', '0', `${width}x${height}x24`, '-nolisten', 'tcp', '-fbdir', fbdir], process.env);
  const deadline = Date.now() + START_TIMEOUT_MS;
  for (;;) {
    // The display number is a line of its own on stdout; stderr may first tell of displays already taken.
    const match = /(?:^|\n)(\d+)\n/.exec(child.output());
    if (match) return { display: `:${match[1]}`, framebuffer: join(fbdir, 'Xvfb_screen0'), process: child };
    if (child.exitCode !== null || Date.now() > deadline) throw new Error(`Xvfb did not start:\n${child.output()}`);
    await sleep(100);
  }
}

/** The screen as a PNG, from Xvfb's XWD framebuffer file (32 bits per pixel, TrueColor). */
function screenPng(xvfb: Xvfb): PNG {
  const buffer = readFileSync(xvfb.framebuffer);
  const word = (index: number) => buffer.readUInt32BE(index * 4);
  const [headerSize, width, height, byteOrder, bitsPerPixel, bytesPerLine, colours] = [word(0), word(4), word(5), word(7), word(11), word(12), word(19)];
  if (bitsPerPixel !== 32) throw new Error(`unexpected XWD depth ${bitsPerPixel}`);
  const start = headerSize + colours * 12;
  const png = new PNG({ width, height });
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const offset = start + y * bytesPerLine + x * 4;
      const pixel = byteOrder === 0 ? buffer.readUInt32LE(offset) : buffer.readUInt32BE(offset);
      const i = (y * width + x) * 4;
      png.data[i] = (pixel >> 16) & 255;
      png.data[i + 1] = (pixel >> 8) & 255;
      png.data[i + 2] = pixel & 255;
      png.data[i + 3] = 255;
    }
  }
  return png;
}

function pixel(png: PNG, x: number, y: number): [number, number, number] {
  const i = (Math.round(y) * png.width + Math.round(x)) * 4;
  return [png.data[i]!, png.data[i + 1]!, png.data[i + 2]!];
}

const sameColour = (a: number[], b: number[], tolerance = 24) => a.every((value, i) => Math.abs(value - b[i]!) <= tolerance);

function saveScreen(xvfb: Xvfb, name: string): string {
  const file = join(tmpdir(), name);
  writeFileSync(file, PNG.sync.write(screenPng(xvfb)));
  return file;
}

/** The flags of a normal desktop start, with a fresh profile: no --headless, no --enable-automation, no DevTools port. */
function desktopChromiumArgs(profile: string, width: number, height: number, url: string): string[] {
  return [
    '--no-sandbox',
    '--no-first-run',
    '--disable-background-networking',
    '--disable-component-update',
    '--disable-sync',
    '--disable-quic',
    `--user-data-dir=${profile}`,
    `--window-size=${width},${height}`,
    '--window-position=0,0',
    url,
  ];
}

/** The environment of X11 clients on the test's display (never the tester's own display or a Wayland session). */
function x11Env(xvfb: Xvfb): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, DISPLAY: xvfb.display };
  delete env.WAYLAND_DISPLAY;
  delete env.XAUTHORITY;
  return env;
}

function startDesktopChromium(xvfb: Xvfb, url: string, width: number, height: number) {
  return spawnGroup(CHROMIUM, desktopChromiumArgs(scratchDir('desktop-profile-'), width, height, url), x11Env(xvfb));
}

async function xdotool(xvfb: Xvfb, args: string[], timeoutMs = 30_000): Promise<string> {
  const { stdout } = await execFileAsync(XDOTOOL, args, { env: x11Env(xvfb), timeout: timeoutMs });
  return stdout;
}

/** A small deterministic jitter source, so runs are alike but movements are not perfectly regular. */
function jitter(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    return state / 2 ** 32;
  };
}

/**
 * Moves the pointer along a curved path (a quadratic Bézier bent sideways) in
 * small steps with short, uneven pauses, in one xdotool run.
 */
async function movePointer(xvfb: Xvfb, from: [number, number], to: [number, number], random: () => number): Promise<void> {
  const [x0, y0] = from;
  const [x1, y1] = to;
  const distance = Math.hypot(x1 - x0, y1 - y0);
  const steps = Math.max(8, Math.round(distance / 12));
  const bend = (random() - 0.5) * 0.6 * distance;
  const cx = (x0 + x1) / 2 - ((y1 - y0) / (distance || 1)) * bend;
  const cy = (y0 + y1) / 2 + ((x1 - x0) / (distance || 1)) * bend;
  const args: string[] = [];
  for (let step = 1; step <= steps; step++) {
    // Ease in and out: slow start, fast middle, slow landing.
    const t = 0.5 - Math.cos((Math.PI * step) / steps) / 2;
    const x = (1 - t) ** 2 * x0 + 2 * (1 - t) * t * cx + t ** 2 * x1;
    const y = (1 - t) ** 2 * y0 + 2 * (1 - t) * t * cy + t ** 2 * y1;
    args.push('mousemove', String(Math.round(x)), String(Math.round(y)), 'sleep', (0.012 + random() * 0.03).toFixed(3));
  }
  await xdotool(xvfb, args, 60_000);
}

// ---------------------------------------------------------------------------
// The tests

if (!HAS_DIST || !HAS_CHROMIUM) {
  console.warn(`e2e web tests skipped: missing ${MISSING}`);
  if (process.env.CI) {
    it('has a built server and Chromium to run the end-to-end web tests', () => {
      throw new Error(`missing ${MISSING}; in CI this is a failure`);
    });
  }
}

if (HAS_DIST && HAS_CHROMIUM && !HAS_X11_TOOLS) {
  console.warn(`e2e person-like visit skipped: missing ${MISSING_X11}`);
  if (process.env.CI) {
    it('has Xvfb and xdotool for the person-like visit', () => {
      throw new Error(`missing ${MISSING_X11}; in CI this is a failure (\`bash .ci/run\` installs them)`);
    });
  }
}

describe.skipIf(!HAS_DIST || !HAS_CHROMIUM)(
  HAS_DIST && HAS_CHROMIUM ? 'demo shop end to end: built server, real Chromium' : `SKIPPED (missing ${MISSING})`,
  () => {
    let server: RiskGateServer;

    beforeAll(async () => {
      server = await startRiskGate();
    }, 60_000);

    it('serves the script-tag SDK with caching headers, and a registration on the demo page shows a decision whose token decoded', { timeout: 120_000 }, async () => {
      // The SDK as pages load it: cacheable, with a strong ETag that revalidates to 304.
      const sdk = await fetch(`${server.base}/sdk/riskgate.min.js`);
      expect(sdk.status).toBe(200);
      expect(sdk.headers.get('content-type')).toMatch(/javascript/);
      expect(sdk.headers.get('cache-control')).toMatch(/max-age=\d+/);
      const etag = sdk.headers.get('etag');
      expect(etag).toMatch(/^"[^"]+"$/);
      expect((await sdk.text()).length).toBeGreaterThan(1000);
      const revalidated = await fetch(`${server.base}/sdk/riskgate.min.js`, { headers: { 'if-none-match': etag! } });
      expect(revalidated.status).toBe(304);
      expect(await revalidated.text()).toBe('');

      const { page } = await launchHeadless();
      const sdkLoaded = page.waitForResponse((response) => new URL(response.url()).pathname === '/sdk/riskgate.min.js');
      await openDemo(page, server);
      expect((await sdkLoaded).status()).toBe(200);
      expect(await page.getAttribute('script[src$="riskgate.min.js"]', 'src')).toBe('/sdk/riskgate.min.js');

      const answer = await registerOnDemo(page, 'e2e_first_visit');
      const shown = await panel(page);
      expect(shown.sequence).toMatch(/^[0-9A-F]{32}$/);
      expect(shown.decision).toBe(answer.risk.decision);
      expect(shown.level).toBe(answer.risk.level);
      expect(shown.score).toBe(answer.risk.score);
      expect(answer.risk.fallback, 'the demo backend reached RiskGate').toBeFalsy();

      const record = await decisionOf(server, shown.sequence);
      console.info(`demo registration, headless Chromium under Playwright: ${summary(record)}`);
      expect((record.features as { token: { status: string } }).token.status, summary(record)).toBe('ok');
      expect(record.device_id).toMatch(/^[A-Za-z0-9_-]{43}$/);
      expect(shown.device).toBe(record.device_id);
      expect(record.event).toBe('register');

      const screenshot = join(tmpdir(), 'riskgate-e2e-demo-after-registration.png');
      await page.screenshot({ path: screenshot, fullPage: true });
      console.info(`screenshot of the demo page after a registration: ${screenshot}`);
    });

    it('tags default headless Chromium under Playwright as a bot at level 3 or more', { timeout: 120_000 }, async () => {
      const { page } = await launchHeadless();
      await openDemo(page, server);
      const answer = await registerOnDemo(page, 'e2e_headless_default');
      const record = await decisionOf(server, answer.risk.sequence_id);
      console.info(`default headless Chromium: ${summary(record)}`);
      expect(answer.risk.tags, summary(record)).toContain('bot');
      expect(answer.risk.level, summary(record)).toBeGreaterThanOrEqual(3);
      expect((await panel(page)).tags).toContain('bot');
    });

    it('still tags headless Chromium that claims a normal desktop Chrome user agent, by its other signals, at level 3 or more', { timeout: 120_000 }, async () => {
      const { page } = await launchHeadless({ userAgent: DESKTOP_UA });
      await openDemo(page, server);
      expect(await page.evaluate(() => navigator.userAgent)).toBe(DESKTOP_UA);
      const answer = await registerOnDemo(page, 'e2e_headless_desktop_ua');
      const record = await decisionOf(server, answer.risk.sequence_id);
      console.info(`headless Chromium with a desktop user agent: ${summary(record)}`);
      expect(answer.risk.tags.some((tag) => tag === 'bot' || tag === 'automation'), summary(record)).toBe(true);
      expect(answer.risk.level, summary(record)).toBeGreaterThanOrEqual(3);
      // Not because of the user agent: the rules other than the headless-UA one reach level 3 on their own.
      const withoutUaRule = record.rules_hit.filter((rule) => rule.state === 'online' && rule.id !== 'bot_headless_ua').reduce((sum, rule) => sum + rule.score, 0);
      expect(withoutUaRule, summary(record)).toBeGreaterThanOrEqual(65);
      expect(record.reasons.map((reason) => reason.id)).not.toContain('ua_mismatch');
    });

    it('answers a replayed black_box with tag replayed and reason token_replayed, and an altered one with a token_* reason at level 4', { timeout: 120_000 }, async () => {
      const { page } = await launchHeadless();
      // Keep the token the page sends from reaching the demo backend, so that its first use is ours.
      let captured: string | undefined;
      await page.route('**/demo/api/register', async (route) => {
        captured = (route.request().postDataJSON() as { black_box?: string }).black_box;
        await route.fulfill({ status: 503, contentType: 'application/json', body: JSON.stringify({ message: 'held back by the test' }) });
      });
      await openDemo(page, server);
      await page.fill('input[name=username]', 'e2e_replayer');
      await page.fill('input[name=password]', 'correct-horse-battery');
      await page.click('#register-button');
      await expect.poll(() => captured, { timeout: 30_000 }).toBeTypeOf('string');
      const blackBox = captured!;
      expect(blackBox.split('.')).toHaveLength(5);

      const request = { event: 'register', account_id: 'e2e_replayer', black_box: blackBox };
      const first = await api<EvaluateAnswer>(server, 'POST', '/v1/risk/evaluate', request);
      expect(first.status).toBe(200);
      const firstIds = first.json.reasons.map((reason) => reason.id);
      expect(firstIds.filter((id) => id.startsWith('token_') && id !== 'token_degraded'), JSON.stringify(first.json)).toEqual([]);
      expect(first.json.tags).not.toContain('replayed');

      const second = await api<EvaluateAnswer>(server, 'POST', '/v1/risk/evaluate', request);
      console.info(`replayed token: ${JSON.stringify({ score: second.json.score, level: second.json.level, tags: second.json.tags, reasons: second.json.reasons.map((r) => r.id) })}`);
      expect(second.status).toBe(200);
      expect(second.json.tags).toContain('replayed');
      expect(second.json.reasons.map((reason) => reason.id)).toContain('token_replayed');
      expect(second.json.level).toBe(4);

      // One character of the ciphertext changed in transit (away from the last character, whose low bits may be padding).
      const segments = blackBox.split('.');
      const ciphertext = segments[3]!;
      const at = Math.floor(ciphertext.length / 2);
      segments[3] = ciphertext.slice(0, at) + (ciphertext[at] === 'A' ? 'B' : 'A') + ciphertext.slice(at + 1);
      const altered = await api<EvaluateAnswer>(server, 'POST', '/v1/risk/evaluate', { ...request, black_box: segments.join('.') });
      console.info(`altered token: ${JSON.stringify({ score: altered.json.score, level: altered.json.level, tags: altered.json.tags, reasons: altered.json.reasons.map((r) => r.id) })}`);
      expect(altered.status).toBe(200);
      expect(altered.json.code).toBe(200);
      expect(altered.json.reasons.map((reason) => reason.id)).toContain('token_decrypt_failed');
      expect(altered.json.tags).toContain('tampered');
      expect(altered.json.level).toBe(4);
      expect(altered.json.decision).toBe('decline');
      expect(altered.json.device_id ?? null).toBeNull();
    });

    it('keeps the device_id across page loads of one persistent profile, and gives two fresh profiles different ones', { timeout: 180_000 }, async () => {
      const one = await launchHeadless();
      await openDemo(one.page, server);
      const a1 = (await registerOnDemo(one.page, 'e2e_device_a1')).risk.device_id;
      await openDemo(one.page, server); // a second page load
      const a2 = (await registerOnDemo(one.page, 'e2e_device_a2')).risk.device_id;
      await closeContext(one.context);
      // The same profile opened again by a new browser process.
      const again = await launchHeadless({ profile: one.profile });
      await openDemo(again.page, server);
      const a3 = (await registerOnDemo(again.page, 'e2e_device_a3')).risk.device_id;
      await closeContext(again.context);

      const other = await launchHeadless();
      await openDemo(other.page, server);
      const b1 = (await registerOnDemo(other.page, 'e2e_device_b1')).risk.device_id;

      console.info(`device ids: profile A ${a1} ${a2} ${a3}; profile B ${b1}`);
      expect(a1).toMatch(/^[A-Za-z0-9_-]{43}$/);
      expect(a2).toBe(a1);
      expect(a3).toBe(a1);
      expect(b1).toMatch(/^[A-Za-z0-9_-]{43}$/);
      expect(b1).not.toBe(a1);
    });

    describe.skipIf(!HAS_X11_TOOLS)(HAS_X11_TOOLS ? 'a person-like visit' : `SKIPPED (missing ${MISSING_X11})`, () => {
      const SCREEN = { width: 1280, height: 800 };

      /**
       * A normal desktop Chromium under Xvfb, driven only by X11 input (xdotool):
       * mouse paths, a click into the form, typing, Tab, a click on "Create account".
       *
       * Where to click is worked out without touching the visited browser: a first
       * desktop Chromium (own profile, same flags) opens a page of the test's own
       * that reports its window metrics (how far below the window's top the page
       * starts: tabs, toolbar, the --no-sandbox info bar); headless Chromium lays the
       * demo page out at that viewport size and gives the fields' boxes. Before the
       * first click the test checks on Xvfb's framebuffer that the button really is
       * where it computed.
       */
      it('scores a person-like visit in a normal headful Chromium (Xvfb, xdotool input only) at level 1 or lower, without the bot tag', { timeout: 300_000 }, async () => {
        // Its own server: the other tests' registrations from 127.0.0.1 must not count against this visitor.
        const personServer = await startRiskGate();
        const xvfb = await startXvfb(SCREEN.width, SCREEN.height);

        // 1. The window metrics of a desktop Chromium started with the same flags.
        const metrics = await new Promise<{ outerWidth: number; outerHeight: number; innerWidth: number; innerHeight: number; screenX: number; screenY: number; dpr: number }>(
          (resolve, reject) => {
            let probeServer: HttpServer | undefined;
            let browser: ReturnType<typeof startDesktopChromium> | undefined;
            const timer = setTimeout(() => finish(new Error(`the probe page did not report its window metrics:\n${browser?.output() ?? ''}`)), 90_000);
            let done = false;
            const finish = (result: Error | Parameters<typeof resolve>[0]) => {
              if (done) return;
              done = true;
              clearTimeout(timer);
              probeServer?.close();
              void (browser ? endGroup(browser) : Promise.resolve()).then(() => (result instanceof Error ? reject(result) : resolve(result)));
            };
            probeServer = createHttpServer((request, response) => {
              if (request.method === 'POST') {
                let body = '';
                request.on('data', (chunk: Buffer) => (body += chunk.toString()));
                request.on('end', () => {
                  response.writeHead(204).end();
                  finish(JSON.parse(body));
                });
                return;
              }
              response.writeHead(200, { 'content-type': 'text/html' }).end(`<!doctype html><title>probe</title><script>
                // Report once the window has settled (the info bar can come a little after the page).
                let last = '';
                const tick = () => {
                  const m = { outerWidth, outerHeight, innerWidth, innerHeight, screenX, screenY, dpr: devicePixelRatio };
                  const now = JSON.stringify(m);
                  if (now === last && document.visibilityState === 'visible') fetch('/report', { method: 'POST', body: now });
                  else { last = now; setTimeout(tick, 1000); }
                };
                setTimeout(tick, 1500);
              </script>`);
            });
            probeServer.listen(0, '127.0.0.1', () => {
              const { port } = probeServer!.address() as AddressInfo;
              browser = startDesktopChromium(xvfb, `http://127.0.0.1:${port}/probe`, SCREEN.width, SCREEN.height);
            });
          },
        );
        console.info(`desktop Chromium window metrics under Xvfb: ${JSON.stringify(metrics)}`);
        expect(metrics.dpr).toBe(1);
        const offset = { x: metrics.screenX + (metrics.outerWidth - metrics.innerWidth) / 2, y: metrics.screenY + metrics.outerHeight - metrics.innerHeight };

        // 2. Where the fields are, from the same page laid out at the same viewport in headless Chromium.
        const layout = await launchHeadless({ viewport: { width: metrics.innerWidth, height: metrics.innerHeight } });
        await openDemo(layout.page, server);
        const boxes: Record<string, { x: number; y: number; width: number; height: number }> = {};
        for (const [name, selector] of Object.entries({ username: 'input[name=username]', email: 'input[name=email]', password: 'input[name=password]', button: '#register-button', heading: '#join h1' })) {
          const box = await layout.page.locator(selector).boundingBox();
          expect(box, selector).not.toBeNull();
          expect(box!.y + box!.height, `${selector} lies below the fold of a ${SCREEN.width}×${SCREEN.height} window`).toBeLessThan(metrics.innerHeight);
          boxes[name] = box!;
        }
        const screen = (name: string, fx = 0.5, fy = 0.5): [number, number] => [
          Math.round(offset.x + boxes[name]!.x + boxes[name]!.width * fx),
          Math.round(offset.y + boxes[name]!.y + boxes[name]!.height * fy),
        ];
        // The colour of the button's left end (no text there), to recognise the rendered page on the framebuffer.
        const buttonSpot = { x: boxes.button!.x + 10, y: boxes.button!.y + boxes.button!.height / 2 };
        const headlessShot = PNG.sync.read(await layout.page.screenshot());
        const buttonColour = pixel(headlessShot, buttonSpot.x, buttonSpot.y);
        await closeContext(layout.context);

        // 3. The visit: a desktop Chromium nothing is attached to.
        const visitor = startDesktopChromium(xvfb, `${personServer.base}/demo/`, SCREEN.width, SCREEN.height);
        const windowId = (await xdotool(xvfb, ['search', '--sync', '--onlyvisible', '--class', 'chromium'], 90_000)).trim().split('\n')[0];
        expect(windowId, visitor.output()).toMatch(/^\d+$/);
        const onScreen = { x: offset.x + buttonSpot.x, y: offset.y + buttonSpot.y };
        let seen: number[] = [];
        await expect
          .poll(
            () => {
              seen = pixel(screenPng(xvfb), onScreen.x, onScreen.y);
              return sameColour(seen, buttonColour);
            },
            { timeout: 90_000, interval: 500 },
          )
          .toBe(true)
          .catch((error: Error) => {
            const file = saveScreen(xvfb, 'riskgate-e2e-xvfb-not-ready.png');
            throw new Error(`the demo page's button is not at (${onScreen.x}, ${onScreen.y}): colour ${seen} vs ${buttonColour} expected; screen in ${file}\n${error.message}`);
          });
        // The page's script fetches its config, then starts the SDK; a person looks at the page first anyway.
        await sleep(2500);

        const random = jitter(0x5eed);
        let at: [number, number] = [Math.round(SCREEN.width / 2), Math.round(SCREEN.height / 2)];
        const moveTo = async (target: [number, number]) => {
          await movePointer(xvfb, at, target, random);
          at = target;
          await sleep(150 + random() * 400);
        };
        const typeText = (text: string) => xdotool(xvfb, ['type', '--delay', '120', text], 60_000);

        await moveTo(screen('heading', 0.3, 0.5)); // reading the heading
        await moveTo(screen('email', 0.8, 0.3));
        await moveTo(screen('username', 0.25, 0.55));
        await xdotool(xvfb, ['click', '1']);
        await sleep(400);
        await typeText('lily_chen');
        await sleep(300);
        await xdotool(xvfb, ['key', 'Tab']);
        await typeText('lily.chen@example.com');
        await sleep(300);
        await xdotool(xvfb, ['key', 'Tab']); // past the optional mobile number
        await sleep(200);
        await xdotool(xvfb, ['key', 'Tab']);
        await typeText('correct-horse-battery');
        await sleep(500);
        await moveTo(screen('password', 0.7, 1.6));
        await moveTo(screen('button', 0.45, 0.5));
        await xdotool(xvfb, ['click', '1']);

        // 4. The decision, from the server's SQLite file (read-only): the test has no sequence id.
        const databaseFile = join(personServer.dataDir, 'riskgate.sqlite');
        let record: DecisionRecord | undefined;
        const deadline = Date.now() + DECISION_POLL_MS;
        while (!record && Date.now() < deadline) {
          await sleep(500);
          if (!existsSync(databaseFile)) continue;
          const database = new Database(databaseFile, { readonly: true, fileMustExist: true });
          try {
            const row = database.prepare("SELECT record FROM decisions WHERE event = 'register' ORDER BY created_at DESC LIMIT 1").get() as { record: string } | undefined;
            if (row) record = JSON.parse(row.record) as DecisionRecord;
          } finally {
            database.close();
          }
        }
        await sleep(1000); // let the panel render for the screenshot
        const shot = saveScreen(xvfb, 'riskgate-e2e-xvfb-person-visit.png');
        console.info(`screen of the person-like visit after submitting: ${shot}`);
        if (!record) throw new Error(`no register decision within ${DECISION_POLL_MS} ms; the screen is in ${shot}\nChromium:\n${visitor.output().slice(-2000)}`);
        expect(await decisionOf(personServer, record.sequence_id)).toMatchObject({ sequence_id: record.sequence_id, score: record.score });
        console.info(`person-like visit, headful Chromium under Xvfb driven by xdotool: ${summary(record)}`);

        const features = record.features as { token: { status: string }; signals: Record<string, unknown>; behavior: Record<string, number> };
        expect(features.token.status, summary(record)).toBe('ok');
        // The X11 input reached the page (else the "no behaviour" rule would be testing nothing).
        expect(features.behavior.pointer_moves, summary(record)).toBeGreaterThan(10);
        expect(features.behavior.key_presses, summary(record)).toBeGreaterThan(20);
        expect(features.behavior.clicks, summary(record)).toBeGreaterThanOrEqual(2);
        expect(record.tags, summary(record)).not.toContain('bot');
        expect(record.level, summary(record)).toBeLessThanOrEqual(1);
        expect(record.decision, summary(record)).toBe('accept');

        await endGroup(visitor);
        await endGroup(xvfb.process);
        await endGroup(personServer.process);
      });
    });
  },
);
