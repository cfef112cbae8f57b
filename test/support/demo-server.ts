/**
 * What `npm start` runs, for browser tests against the real server: the built
 * server with the demo shop composed in (`node dist/demo/main.js`) on a free
 * port with a fresh data directory, the generated demo app's key and secret,
 * the API and the demo page. A `Harness` owns the scratch space and every
 * process and display a test file starts, and ends them in afterAll.
 * Used by e2e.web.test.ts and the persona suite (personas.ts).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { PNG } from 'pngjs';
import { ROOT } from './build.js';
import { CHROMIUM } from './chromium.js';
import { fetchServerKey } from './forger.js';
import { cleanEnv, endGroup, freePort } from './processes.js';
import { makeToken } from './tokens.js';
import { movePointer, pixel, startXvfb, xdotool, type Display } from './x11.js';

export const MAIN = join(ROOT, 'dist', 'demo', 'main.js');
export const SDK_BUNDLE = join(ROOT, 'dist', 'sdk', 'riskgate.min.js');
export const HAS_DIST = existsSync(MAIN) && existsSync(SDK_BUNDLE);
export const HAS_CHROMIUM = existsSync(CHROMIUM);
/** What a test without the build or Chromium says it misses. */
export const MISSING = [
  ...(HAS_DIST ? [] : ['dist/demo/main.js or dist/sdk/riskgate.min.js (run `npm run build`; `npm test` does)']),
  ...(HAS_CHROMIUM ? [] : [`${CHROMIUM} (Debian's chromium package; \`bash .ci/run\` installs it)`]),
].join(' and ');

const START_TIMEOUT_MS = 30_000;
export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

// ---------------------------------------------------------------------------
// Processes and scratch space

export type Group = ChildProcess & { output: () => string; exited: Promise<void> };

export class Harness {
  readonly scratch: string;
  readonly #children = new Set<ChildProcess>();
  readonly #closers = new Set<() => Promise<unknown>>();

  constructor(prefix: string) {
    this.scratch = mkdtempSync(join(tmpdir(), prefix));
  }

  dir(prefix: string): string {
    return mkdtempSync(join(this.scratch, prefix));
  }

  /** Runs `close` in cleanup() unless it was run (and forgotten) before. */
  defer(close: () => Promise<unknown>): () => Promise<void> {
    this.#closers.add(close);
    return async () => {
      if (!this.#closers.delete(close)) return;
      await close().catch(() => {});
    };
  }

  /** Spawns a process in its own process group, so that it and its children end together. */
  spawn(command: string, args: string[], env: NodeJS.ProcessEnv): Group {
    const child = spawn(command, args, { env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    this.#children.add(child);
    let output = '';
    const keep = (chunk: string) => (output = (output + chunk).slice(-100_000));
    child.stdout!.setEncoding('utf8').on('data', keep);
    child.stderr!.setEncoding('utf8').on('data', keep);
    const exited = new Promise<void>((resolve) => {
      child.once('exit', () => {
        this.#children.delete(child);
        resolve();
      });
    });
    return Object.assign(child, { output: () => output, exited });
  }

  end(child: ChildProcess): Promise<void> {
    return endGroup(child);
  }

  /** An Xvfb display whose framebuffer is kept in the scratch space (support/x11.ts), stopped in cleanup() at the latest. */
  async xvfb(width: number, height: number): Promise<Display> {
    const display = await startXvfb(width, height, { framebufferDir: this.dir('xvfb-') });
    this.defer(() => display.stop());
    return display;
  }

  async cleanup(): Promise<void> {
    for (const close of [...this.#closers].reverse()) {
      this.#closers.delete(close);
      await close().catch(() => {});
    }
    await Promise.all([...this.#children].map((child) => this.end(child)));
    rmSync(this.scratch, { recursive: true, force: true, maxRetries: 10, retryDelay: 200 });
  }
}

// ---------------------------------------------------------------------------
// The built server

export interface RiskGateServer {
  name: string;
  base: string;
  dataDir: string;
  appKey: string;
  secret: string;
  process: Group;
}

export interface StartOptions {
  /**
   * A config file holding just this (RISKGATE_CONFIG); without it the server
   * starts as a bare `npm start` does. Either way there are no apps in it, so
   * the demo app and shop are generated.
   */
  config?: Record<string, unknown>;
  /** A few evaluations before the visitors come (see warmUp). */
  warmUp?: boolean;
}

/** `node dist/demo/main.js` on a free port of 127.0.0.1 with a fresh data directory; retried if the port was taken meanwhile. */
export async function startRiskGate(harness: Harness, name: string, options: StartOptions = {}): Promise<RiskGateServer> {
  for (let attempt = 1; ; attempt++) {
    const dir = harness.dir(`server-${name}-`);
    const dataDir = join(dir, 'data');
    const env: Record<string, string> = { HOST: '127.0.0.1', RISKGATE_DATA_DIR: dataDir, RISKGATE_LOG_LEVEL: 'warn' };
    if (options.config) {
      const configFile = join(dir, 'riskgate.json');
      writeFileSync(configFile, JSON.stringify(options.config));
      env.RISKGATE_CONFIG = configFile;
    }
    const port = await freePort();
    const child = harness.spawn(process.execPath, [MAIN], cleanEnv({ ...env, PORT: String(port) }));
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
      if (!child.output().includes('demo page: ')) throw new Error(`server ${name} did not mount the demo shop:\n${child.output()}`);
      const demo = JSON.parse(readFileSync(join(dataDir, 'demo-app.json'), 'utf8')) as { key: string; secret: string };
      const server = { name, base: started, dataDir, appKey: demo.key, secret: demo.secret, process: child };
      harness.defer(() => harness.end(child));
      if (options.warmUp) await warmUp(server);
      return server;
    }
    await harness.end(child);
    // Another process may have taken the port between probe and listen.
    if (/EADDRINUSE/.test(child.output()) && attempt < 3) continue;
    throw new Error(`RiskGate ${name} did not start: ${started.message}\n${child.output()}`);
  }
}

/**
 * A few evaluations (event `browse`, from 127.0.0.1, tokens minted in Node)
 * before the visitors come: the demo backend gives RiskGate 300 ms and falls
 * back without a sequence id past that, and a cold server (first token
 * decodes, compiled rules, JIT) on a loaded machine can take longer. They
 * touch no registration counter, but they are five devices seen from
 * 127.0.0.1: only for servers whose visitors come with IPs of their own.
 */
async function warmUp(server: RiskGateServer): Promise<void> {
  const serverKey = await fetchServerKey(server.base);
  for (let i = 0; i < 5; i++) {
    const blackBox = await makeToken({ serverKey, appKey: server.appKey, payload: { sdk: 'warm-up/1' } });
    const { status, json } = await api(server, 'POST', '/v1/risk/evaluate', { event: 'browse', ip: '127.0.0.1', black_box: blackBox });
    if (status !== 200) throw new Error(`warm-up evaluate on ${server.name}: HTTP ${status} ${JSON.stringify(json)}`);
  }
}

export interface EvaluateAnswer {
  code: number;
  sequence_id: string;
  score: number;
  level: number;
  decision: string;
  challenge: string;
  reasons: { id: string; reason: string }[];
  tags: string[];
  device_id?: string | null;
  degraded: boolean;
}

/** A call to the server's API with the demo app's secret. */
export async function api<T>(server: RiskGateServer, method: string, path: string, body?: unknown): Promise<{ status: number; json: T }> {
  const response = await fetch(`${server.base}${path}`, {
    method,
    headers: { authorization: `Bearer ${server.secret}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    body: body === undefined ? undefined : JSON.stringify(body),
    signal: AbortSignal.timeout(15_000),
  });
  const text = await response.text();
  return { status: response.status, json: JSON.parse(text) as T };
}

// ---------------------------------------------------------------------------
// The demo page

/** What the demo backend answers a registration. */
export interface DemoAnswer {
  outcome: string;
  risk: EvaluateAnswer & { fallback?: boolean };
  backend_ms: number;
}

/** Opens the demo page and waits until the SDK from the script tag is there. */
export async function openDemo(page: Page, base: string): Promise<void> {
  await page.goto(`${base}/demo/`);
  await page.waitForFunction(() => typeof (window as unknown as { RiskGate?: { init?: unknown } }).RiskGate?.init === 'function');
}

// ---------------------------------------------------------------------------
// A person at the demo form, on a desktop window under Xvfb

/** The parts of the registration form a person looks at, clicks into and types into. */
const DEMO_FORM = { username: 'input[name=username]', email: 'input[name=email]', password: 'input[name=password]', button: '#register-button', heading: '#join h1' } as const;
export type DemoFormPart = keyof typeof DEMO_FORM;
type Box = { x: number; y: number; width: number; height: number };

export interface DemoFormLayout {
  /** In CSS pixels of the page. */
  boxes: Record<DemoFormPart, Box>;
  /** The button's left end (no text there): where the rendered page is recognised on the screen. */
  buttonSpot: { x: number; y: number };
  buttonColour: [number, number, number];
}

/**
 * Where the form's parts are on the demo page open in `page` (laid out at a
 * desktop window's viewport, `viewportHeight` CSS pixels high): each must be
 * there and above the fold; and the button's colour, from a screenshot.
 */
export async function demoFormLayout(page: Page, viewportHeight: number): Promise<DemoFormLayout> {
  const boxes: Partial<Record<DemoFormPart, Box>> = {};
  for (const [name, selector] of Object.entries(DEMO_FORM) as [DemoFormPart, string][]) {
    const box = await page.locator(selector).boundingBox();
    if (!box) throw new Error(`no ${selector} on the demo page`);
    if (!(box.y + box.height < viewportHeight)) throw new Error(`${selector} lies below the fold of a viewport ${viewportHeight} px high`);
    boxes[name] = box;
  }
  const button = boxes.button!;
  const buttonSpot = { x: button.x + 10, y: button.y + button.height / 2 };
  const shot = PNG.sync.read(await page.screenshot());
  return { boxes: boxes as Record<DemoFormPart, Box>, buttonSpot, buttonColour: pixel(shot, buttonSpot.x, buttonSpot.y) };
}

/**
 * A person fills in the demo form by X11 input only: reads the heading,
 * wanders over the fields, clicks into the username, types it, Tabs to the
 * email, Tabs past the optional mobile number, types the password, and clicks
 * "Create account". `at` maps a part and a point of its box (fractions of its
 * width and height) to the screen; the pointer starts at `pointer`.
 */
export async function personFillsDemoForm(
  display: Display,
  at: (part: DemoFormPart, fx?: number, fy?: number) => [number, number],
  person: { username: string; email: string; random: () => number; pointer: [number, number]; typeDelayMs: number },
): Promise<void> {
  const { random } = person;
  let pointer = person.pointer;
  const moveTo = async (target: [number, number]) => {
    await movePointer(display, pointer, target, random);
    pointer = target;
    await sleep(150 + random() * 400);
  };
  const typeText = (text: string) => xdotool(display, ['type', '--delay', String(person.typeDelayMs), text], 60_000);
  await moveTo(at('heading', 0.3, 0.5)); // reading the heading
  await moveTo(at('email', 0.8, 0.3));
  await moveTo(at('username', 0.25, 0.55));
  await xdotool(display, ['click', '1']);
  await sleep(400);
  await typeText(person.username);
  await sleep(300);
  await xdotool(display, ['key', 'Tab']);
  await typeText(person.email);
  await sleep(300);
  await xdotool(display, ['key', 'Tab']); // past the optional mobile number
  await sleep(200);
  await xdotool(display, ['key', 'Tab']);
  await typeText('correct-horse-battery');
  await sleep(500);
  await moveTo(at('password', 0.7, 1.6));
  await moveTo(at('button', 0.45, 0.5));
  await xdotool(display, ['click', '1']);
}
