/**
 * The harness of the persona suite (test/browser/personas.test.ts, issue 12): the
 * built server as a process (`trust_proxy: true`, fresh data directory, the
 * generated demo app and shop), Xvfb displays, plain desktop Chromium driven
 * by xdotool, Playwright-driven registrations on the demo page, the answer's
 * details from /v1/decisions, and the persona → score, level, decision,
 * reasons table printed at the end.
 *
 * Every persona has a public-looking IP of its own. The server sees every
 * browser at 127.0.0.1, so it trusts X-Forwarded-For: Playwright contexts send
 * it with `extraHTTPHeaders`, the browsers nothing automates go through a
 * forwarding proxy (reverse-proxy.ts) that adds it. The documentation ranges
 * (192.0.2.0/24, 198.51.100.0/24, 203.0.113.0/24) are "reserved" to
 * server/engine/features/identity.ts and would score private_ip, so the suite uses
 * addresses of 7.0.0.0/8 and 11.0.0.0/8: ordinary unicast to ipaddr.js, and
 * nothing is ever sent to them (all traffic goes to 127.0.0.1).
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer as createHttpServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { Browser, Page } from 'playwright-core';
import { PNG } from 'pngjs';
import type { DecisionRecord } from '../../shared/schemas.js';
import { ROOT } from './build.js';
import { CHROMIUM } from './chromium.js';
import { cleanEnv, freePort } from './processes.js';
import { fetchServerKey } from './forger.js';
import { startForwardingProxy, type ForwardingProxy } from './reverse-proxy.js';
import { makeToken } from './tokens.js';
import { HAS_X11_TOOLS, XDOTOOL, XVFB } from './x11.js';

export { HAS_X11_TOOLS, XDOTOOL, XVFB };
export const MAIN = join(ROOT, 'dist', 'demo', 'main.js');
export const SDK_BUNDLE = join(ROOT, 'dist', 'sdk', 'riskgate.min.js');
export const HAS_DIST = existsSync(MAIN) && existsSync(SDK_BUNDLE);
export const HAS_CHROMIUM = existsSync(CHROMIUM);

const START_TIMEOUT_MS = 30_000;
const execFileAsync = promisify(execFile);
export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

// ---------------------------------------------------------------------------
// Processes and scratch space

type Group = ChildProcess & { output: () => string; exited: Promise<void> };

export class Harness {
  readonly scratch = mkdtempSync(join(tmpdir(), 'riskgate-personas-'));
  readonly #children = new Set<ChildProcess>();
  readonly #closers = new Set<() => Promise<unknown>>();

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

  async end(child: ChildProcess & { exited?: Promise<void> }): Promise<void> {
    if (child.exitCode !== null || child.signalCode !== null) return;
    try {
      process.kill(-child.pid!, 'SIGTERM');
    } catch {
      return;
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

/**
 * `node dist/demo/main.js` on a free port with a fresh data directory and a
 * config file holding only `trust_proxy: true` (no apps: the demo app and shop
 * are generated as on a first `npm start`).
 */
export async function startRiskGate(harness: Harness, name: string): Promise<RiskGateServer> {
  for (let attempt = 1; ; attempt++) {
    const dir = harness.dir(`server-${name}-`);
    const dataDir = join(dir, 'data');
    const configFile = join(dir, 'riskgate.json');
    writeFileSync(configFile, JSON.stringify({ trust_proxy: true }));
    const port = await freePort();
    const child = harness.spawn(
      process.execPath,
      [MAIN],
      cleanEnv({ HOST: '127.0.0.1', PORT: String(port), RISKGATE_DATA_DIR: dataDir, RISKGATE_CONFIG: configFile, RISKGATE_LOG_LEVEL: 'warn' }),
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
      if (!child.output().includes('demo page: ')) throw new Error(`server ${name} did not mount the demo shop:\n${child.output()}`);
      const demo = JSON.parse(readFileSync(join(dataDir, 'demo-app.json'), 'utf8')) as { key: string; secret: string };
      const server = { name, base: started, dataDir, appKey: demo.key, secret: demo.secret, process: child };
      harness.defer(() => harness.end(child));
      await warmUp(server);
      return server;
    }
    await harness.end(child);
    if (/EADDRINUSE/.test(child.output()) && attempt < 3) continue;
    throw new Error(`RiskGate ${name} did not start: ${started.message}\n${child.output()}`);
  }
}

/**
 * A few evaluations (event `browse`, from 127.0.0.1, tokens minted in Node)
 * before the personas come: the demo backend gives RiskGate 300 ms and falls
 * back without a sequence id past that, and a cold server (first token
 * decodes, compiled rules, JIT) on a loaded machine can take longer. They
 * touch no registration counter and no persona's IP.
 */
async function warmUp(server: RiskGateServer): Promise<void> {
  const serverKey = await fetchServerKey(server.base);
  for (let i = 0; i < 5; i++) {
    const blackBox = await makeToken({ serverKey, appKey: server.appKey, payload: { sdk: 'warm-up/1' } });
    const { status, json } = await api(server, 'POST', '/v1/risk/evaluate', { event: 'browse', ip: '127.0.0.1', black_box: blackBox });
    if (status !== 200) throw new Error(`warm-up evaluate on ${server.name}: HTTP ${status} ${JSON.stringify(json)}`);
  }
}

/** Throws when the demo backend answered with its fallback (RiskGate did not answer within the client's timeout). */
export function checkNotFallback(answer: DemoAnswer, who: string): void {
  if (answer.risk.fallback || !answer.risk.sequence_id) {
    throw new Error(
      `${who}: the demo backend did not get RiskGate's answer in time and used its fallback (${JSON.stringify(answer.risk)}, backend ${answer.backend_ms} ms); ` +
        'the machine is too loaded for the demo client\'s 300 ms timeout, nothing was scored',
    );
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

/** The logged decision (features, rules hit); the SQLite log is written in batches, so it may take a moment. */
export async function decisionOf(server: RiskGateServer, sequenceId: string, timeoutMs = 30_000): Promise<DecisionRecord> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const { status, json } = await api<{ decision: DecisionRecord }>(server, 'GET', `/v1/decisions/${sequenceId}`);
    if (status === 200) return json.decision;
    if (Date.now() > deadline) throw new Error(`decision ${sequenceId}: HTTP ${status} ${JSON.stringify(json)}`);
    await sleep(300);
  }
}

/** Score, tags, rules that fired and the signals: the message of every failed level assertion. */
export function summary(answer: EvaluateAnswer, record?: DecisionRecord): string {
  const features = record?.features as { token?: unknown; signals?: unknown; behavior?: unknown; ip?: unknown; velocity?: unknown } | undefined;
  return JSON.stringify(
    {
      score: answer.score,
      level: answer.level,
      decision: answer.decision,
      tags: answer.tags,
      reasons: answer.reasons.map((reason) => reason.id),
      rules_hit: record?.rules_hit.map((rule) => `${rule.id}${rule.state === 'shadow' ? ' (shadow)' : ''} ${rule.score > 0 ? '+' : ''}${rule.score}`),
      token: features?.token,
      ip: features?.ip,
      signals: features?.signals,
      behavior: features?.behavior,
    },
    null,
    1,
  );
}

// ---------------------------------------------------------------------------
// The table

export interface PersonaRow {
  persona: string;
  expected: string;
  ok: boolean;
  score?: number;
  level?: number;
  decision?: string;
  reasons?: string[];
  note?: string;
}

export class PersonaTable {
  readonly rows: PersonaRow[] = [];

  add(persona: string, expected: string, ok: boolean, answer?: EvaluateAnswer, note?: string): void {
    this.rows.push({
      persona,
      expected,
      ok,
      ...(answer ? { score: answer.score, level: answer.level, decision: answer.decision, reasons: answer.reasons.map((r) => r.id) } : {}),
      ...(note ? { note } : {}),
    });
  }

  format(): string {
    const header = ['persona', 'expected', 'score', 'level', 'decision', 'result', 'reasons'];
    // In persona order (the farms run side by side and finish in any order); insertion order within a persona.
    const key = (row: PersonaRow) => row.persona.split(' ')[0]!;
    const rows = [...this.rows].sort((a, b) => key(a).localeCompare(key(b), 'en', { numeric: true }));
    const lines = rows.map((row) => [
      row.persona,
      row.expected,
      row.score === undefined ? '-' : String(row.score),
      row.level === undefined ? '-' : String(row.level),
      row.decision ?? '-',
      row.ok ? 'ok' : 'FAIL',
      [row.reasons?.join(', ') || (row.score === undefined ? '' : '(none)'), row.note ?? ''].filter(Boolean).join(' — '),
    ]);
    const widths = header.map((h, i) => Math.max(h.length, ...lines.filter(() => i < 6).map((line) => line[i]!.length)));
    const render = (cells: string[]) => cells.map((cell, i) => (i < 6 ? cell.padEnd(widths[i]!) : cell)).join(' | ');
    return [render(header), widths.map((w, i) => (i < 6 ? '-'.repeat(w) : '-------')).join('-+-'), ...lines.map(render)].join('\n');
  }
}

// ---------------------------------------------------------------------------
// Playwright-driven registrations on the demo page

export interface DemoAnswer {
  outcome: string;
  risk: EvaluateAnswer & { fallback?: boolean };
  backend_ms: number;
}

export async function openDemo(page: Page, base: string): Promise<void> {
  await page.goto(`${base}/demo/`);
  await page.waitForFunction(() => typeof (window as unknown as { RiskGate?: { init?: unknown } }).RiskGate?.init === 'function');
}

/**
 * Fills in and submits the registration form the way a careful script does:
 * trusted input through CDP, a few mouse paths, typing with small delays.
 */
export async function registerOnDemo(page: Page, username: string, options: { careful?: boolean } = {}): Promise<DemoAnswer> {
  const type = async (selector: string, text: string) => {
    if (options.careful) {
      const box = await page.locator(selector).boundingBox();
      if (box) await page.mouse.move(box.x + box.width * 0.3, box.y + box.height / 2, { steps: 6 });
      await page.click(selector);
      await page.locator(selector).pressSequentially(text, { delay: 12 });
    } else {
      await page.fill(selector, text);
    }
  };
  await type('input[name=username]', username);
  await type('input[name=email]', `${username}@example.com`);
  await type('input[name=password]', 'correct-horse-battery');
  const answered = page.waitForResponse((response) => response.url().endsWith('/demo/api/register') && response.request().method() === 'POST');
  if (options.careful) {
    const box = await page.locator('#register-button').boundingBox();
    if (box) await page.mouse.move(box.x + box.width * 0.4, box.y + box.height / 2, { steps: 8 });
  }
  await page.click('#register-button');
  const response = await answered;
  if (response.status() !== 200) throw new Error(`the demo backend answered HTTP ${response.status()}: ${await response.text()}`);
  const answer = (await response.json()) as DemoAnswer;
  checkNotFallback(answer, username);
  return answer;
}

// ---------------------------------------------------------------------------
// Xvfb, xdotool and the framebuffer

export interface Xvfb {
  display: string;
  framebuffer: string;
  width: number;
  height: number;
  process: Group;
}

/** Starts Xvfb on a display number it picks itself (-displayfd). */
export async function startXvfb(harness: Harness, width: number, height: number): Promise<Xvfb> {
  const fbdir = harness.dir('xvfb-');
  const child = harness.spawn(XVFB, ['-displayfd', '1', '-screen', '0', `${width}x${height}x24`, '-nolisten', 'tcp', '-fbdir', fbdir], process.env);
  const deadline = Date.now() + START_TIMEOUT_MS;
  for (;;) {
    // The display number is a line of its own on stdout; warnings (a display taken by a racing Xvfb) may come first on stderr.
    const match = /(?:^|\n)(\d+)\n/.exec(child.output());
    if (match) {
      harness.defer(() => harness.end(child));
      return { display: `:${match[1]}`, framebuffer: join(fbdir, 'Xvfb_screen0'), width, height, process: child };
    }
    if (child.exitCode !== null || Date.now() > deadline) throw new Error(`Xvfb did not start:\n${child.output()}`);
    await sleep(100);
  }
}

/** The environment of X11 clients on the display (never the tester's own display or a Wayland session). */
export function x11Env(xvfb: Xvfb, extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, DISPLAY: xvfb.display, ...extra };
  delete env.WAYLAND_DISPLAY;
  delete env.XAUTHORITY;
  return env;
}

export async function xdotool(xvfb: Xvfb, args: string[], timeoutMs = 30_000): Promise<string> {
  const { stdout } = await execFileAsync(XDOTOOL, args, { env: x11Env(xvfb), timeout: timeoutMs });
  return stdout;
}

/** The screen from Xvfb's XWD framebuffer file (32 bits per pixel, TrueColor). */
export function screenPng(xvfb: Xvfb): PNG {
  const buffer = readFileSync(xvfb.framebuffer);
  const word = (index: number) => buffer.readUInt32BE(index * 4);
  const [headerSize, width, height, byteOrder, bitsPerPixel, bytesPerLine, colours] = [word(0), word(4), word(5), word(7), word(11), word(12), word(19)];
  if (bitsPerPixel !== 32) throw new Error(`unexpected XWD depth ${bitsPerPixel}`);
  const start = headerSize + colours * 12;
  const png = new PNG({ width, height });
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const offset = start + y * bytesPerLine + x * 4;
      const value = byteOrder === 0 ? buffer.readUInt32LE(offset) : buffer.readUInt32BE(offset);
      const i = (y * width + x) * 4;
      png.data[i] = (value >> 16) & 255;
      png.data[i + 1] = (value >> 8) & 255;
      png.data[i + 2] = value & 255;
      png.data[i + 3] = 255;
    }
  }
  return png;
}

export function pixel(png: PNG, x: number, y: number): [number, number, number] {
  const i = (Math.round(y) * png.width + Math.round(x)) * 4;
  return [png.data[i]!, png.data[i + 1]!, png.data[i + 2]!];
}

const sameColour = (a: number[], b: number[], tolerance = 24) => a.every((value, i) => Math.abs(value - b[i]!) <= tolerance);

export function saveScreen(xvfb: Xvfb, name: string): string {
  const file = join(tmpdir(), name);
  writeFileSync(file, PNG.sync.write(screenPng(xvfb)));
  return file;
}

/** The flags of a normal desktop start with a fresh profile: no --headless, no --enable-automation. */
export function desktopChromiumArgs(profile: string, width: number, height: number, url: string, extra: string[] = []): string[] {
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
    ...extra,
    url,
  ];
}

/** A small deterministic jitter source, so runs are alike but movements are not perfectly regular. */
export function jitter(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    return state / 2 ** 32;
  };
}

/** Moves the pointer along a curved, eased path in small steps with uneven pauses, in one xdotool run. */
export async function movePointer(xvfb: Xvfb, from: [number, number], to: [number, number], random: () => number): Promise<void> {
  const [x0, y0] = from;
  const [x1, y1] = to;
  const distance = Math.hypot(x1 - x0, y1 - y0);
  const steps = Math.max(8, Math.round(distance / 12));
  const bend = (random() - 0.5) * 0.6 * distance;
  const cx = (x0 + x1) / 2 - ((y1 - y0) / (distance || 1)) * bend;
  const cy = (y0 + y1) / 2 + ((x1 - x0) / (distance || 1)) * bend;
  const args: string[] = [];
  for (let step = 1; step <= steps; step++) {
    const t = 0.5 - Math.cos((Math.PI * step) / steps) / 2;
    const x = (1 - t) ** 2 * x0 + 2 * (1 - t) * t * cx + t ** 2 * x1;
    const y = (1 - t) ** 2 * y0 + 2 * (1 - t) * t * cy + t ** 2 * y1;
    args.push('mousemove', String(Math.round(x)), String(Math.round(y)), 'sleep', (0.012 + random() * 0.03).toFixed(3));
  }
  await xdotool(xvfb, args, 60_000);
}

// ---------------------------------------------------------------------------
// A person at a desktop Chromium, moved only by xdotool

/** One machine: its screen, device scale factor, time zone and language. */
export interface Machine {
  width: number;
  height: number;
  dpr: number;
  tz: string;
  /** BCP 47, e.g. de-DE. */
  lang: string;
}

export interface PersonVisit {
  answer: DemoAnswer;
  /** The black_box the page posted with the form (to read its signals with openRawPayload). */
  blackBox: string | undefined;
  /** What the browser itself reported on the probe page before the visit. */
  seen: { language: string; timeZone: string; dpr: number; screen: string; userAgent: string };
  screenshot: string;
}

interface WindowMetrics {
  outerWidth: number;
  outerHeight: number;
  innerWidth: number;
  innerHeight: number;
  screenX: number;
  screenY: number;
  dpr: number;
  language: string;
  timeZone: string;
  screen: string;
  userAgent: string;
}

/** The page a new window opens first: it reports its window metrics once they settle. */
async function startProbe(): Promise<{ url: string; metrics: Promise<WindowMetrics>; close(): void }> {
  let report!: (metrics: WindowMetrics) => void;
  const metrics = new Promise<WindowMetrics>((resolve) => (report = resolve));
  const server = createHttpServer((request, response) => {
    if (request.method === 'POST') {
      let body = '';
      request.on('data', (chunk: Buffer) => (body += chunk.toString()));
      request.on('end', () => {
        response.writeHead(204).end();
        report(JSON.parse(body) as WindowMetrics);
      });
      return;
    }
    response.writeHead(200, { 'content-type': 'text/html' }).end(`<!doctype html><title>new tab</title><body style="background:#fff"><script>
      let last = '';
      const tick = () => {
        const m = { outerWidth, outerHeight, innerWidth, innerHeight, screenX, screenY, dpr: devicePixelRatio,
          language: navigator.language, timeZone: Intl.DateTimeFormat().resolvedOptions().timeZone, screen: screen.width + 'x' + screen.height, userAgent: navigator.userAgent };
        const now = JSON.stringify(m);
        if (now === last && document.visibilityState === 'visible') fetch('/report', { method: 'POST', body: now });
        else { last = now; setTimeout(tick, 1000); }
      };
      setTimeout(tick, 1500);
    </script>`);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/`, metrics, close: () => server.close() };
}

/**
 * A person on their own machine: a plain desktop Chromium (no Playwright, no
 * DevTools port, no --enable-automation) under its own Xvfb display with the
 * machine's screen, scale factor, TZ and language, behind a forwarding proxy
 * that gives it `ip`. It opens a blank-looking page of the test's own first
 * (which reports the window metrics), then the person clicks into it, types
 * the shop's address into the address bar, reads, fills in the form and
 * clicks "Create account", all through X11 input. Where the fields are comes
 * from the same page laid out at the same viewport by `layoutBrowser`
 * (headless, SDK and API blocked so it leaves no trace on the server).
 */
export async function personVisit(
  harness: Harness,
  options: { server: RiskGateServer; ip: string; machine: Machine; username: string; email: string; seed: number; layoutBrowser: Browser },
): Promise<PersonVisit> {
  const { machine } = options;
  const proxy: ForwardingProxy = await startForwardingProxy(options.server.base, options.ip);
  const closeProxy = harness.defer(() => proxy.close());
  const xvfb = await startXvfb(harness, machine.width, machine.height);
  const probe = await startProbe();
  const windowSize = [Math.round(machine.width / machine.dpr), Math.round(machine.height / machine.dpr)] as const;
  const [language] = machine.lang.split('-');
  // Debian's Chromium ships only the en-US UI locale, so --lang and LANG leave navigator.languages at en-US;
  // the languages a person picked live in the profile's preferences (also Accept-Language).
  const profile = harness.dir('desktop-profile-');
  mkdirSync(join(profile, 'Default'));
  const languages = [machine.lang, ...(language && language !== machine.lang ? [language] : [])].join(',');
  writeFileSync(join(profile, 'Default', 'Preferences'), JSON.stringify({ intl: { accept_languages: languages, selected_languages: languages } }));
  const browser = harness.spawn(
    CHROMIUM,
    desktopChromiumArgs(profile, windowSize[0], windowSize[1], probe.url, [`--lang=${machine.lang}`, `--force-device-scale-factor=${machine.dpr}`]),
    x11Env(xvfb, { TZ: machine.tz, LANG: `${machine.lang.replace('-', '_')}.UTF-8`, LANGUAGE: `${machine.lang.replace('-', '_')}:${language}` }),
  );
  try {
    const metrics = await Promise.race([
      probe.metrics,
      sleep(90_000).then(() => {
        throw new Error(`the probe page did not report its window metrics:\n${browser.output().slice(-2000)}`);
      }),
    ]);
    probe.close();
    // CSS pixels → screen pixels.
    const offset = { x: metrics.screenX + (metrics.outerWidth - metrics.innerWidth) / 2, y: metrics.screenY + metrics.outerHeight - metrics.innerHeight };
    const toScreen = (x: number, y: number): [number, number] => [Math.round((offset.x + x) * metrics.dpr), Math.round((offset.y + y) * metrics.dpr)];

    // Where the fields are, and the button's colour, from a headless layout at the same viewport.
    const layout = await options.layoutBrowser.newContext({ viewport: { width: metrics.innerWidth, height: metrics.innerHeight } });
    const boxes: Record<string, { x: number; y: number; width: number; height: number }> = {};
    let buttonColour: [number, number, number];
    try {
      await layout.route(/\/(sdk|v1)\//, (route) => route.abort());
      const page = await layout.newPage();
      await page.goto(`${options.server.base}/demo/`);
      for (const [name, selector] of Object.entries({ username: 'input[name=username]', email: 'input[name=email]', password: 'input[name=password]', button: '#register-button', heading: '#join h1' })) {
        const box = await page.locator(selector).boundingBox();
        if (!box) throw new Error(`no ${selector} on the demo page`);
        if (box.y + box.height > metrics.innerHeight) throw new Error(`${selector} lies below the fold of a ${metrics.innerWidth}×${metrics.innerHeight} viewport`);
        boxes[name] = box;
      }
      const shot = PNG.sync.read(await page.screenshot());
      buttonColour = pixel(shot, boxes.button!.x + 10, boxes.button!.y + boxes.button!.height / 2);
    } finally {
      await layout.close();
    }
    const at = (name: string, fx = 0.5, fy = 0.5) => toScreen(boxes[name]!.x + boxes[name]!.width * fx, boxes[name]!.y + boxes[name]!.height * fy);

    // The person: into the window, the shop's address typed into the address bar.
    const random = jitter(options.seed);
    let pointer: [number, number] = [Math.round(machine.width / 2), Math.round(machine.height * 0.6)];
    const moveTo = async (target: [number, number]) => {
      await movePointer(xvfb, pointer, target, random);
      pointer = target;
      await sleep(150 + random() * 400);
    };
    await xdotool(xvfb, ['mousemove', String(pointer[0]), String(pointer[1])]);
    await xdotool(xvfb, ['click', '1']);
    await sleep(300);
    await xdotool(xvfb, ['key', 'ctrl+l']);
    await sleep(300);
    await xdotool(xvfb, ['type', '--delay', '60', `${proxy.base}/demo/`], 60_000);
    await sleep(200);
    await xdotool(xvfb, ['key', 'Return']);

    const spot = toScreen(boxes.button!.x + 10, boxes.button!.y + boxes.button!.height / 2);
    const deadline = Date.now() + 90_000;
    let seen: number[] = [];
    for (;;) {
      seen = pixel(screenPng(xvfb), spot[0], spot[1]);
      if (sameColour(seen, buttonColour)) break;
      if (Date.now() > deadline) {
        const file = saveScreen(xvfb, `riskgate-personas-not-ready-${options.username}.png`);
        throw new Error(`the demo page's button is not at (${spot}): colour ${seen} vs ${buttonColour}; screen in ${file}\n${browser.output().slice(-2000)}`);
      }
      await sleep(500);
    }
    // The page fetches its config and starts the SDK; a person reads the page first anyway.
    await sleep(2500);

    const typeText = (text: string) => xdotool(xvfb, ['type', '--delay', '110', text], 60_000);
    await moveTo(at('heading', 0.3, 0.5));
    await moveTo(at('email', 0.8, 0.3));
    await moveTo(at('username', 0.25, 0.55));
    await xdotool(xvfb, ['click', '1']);
    await sleep(400);
    await typeText(options.username);
    await sleep(300);
    await xdotool(xvfb, ['key', 'Tab']);
    await typeText(options.email);
    await sleep(300);
    await xdotool(xvfb, ['key', 'Tab']); // past the optional mobile number
    await sleep(200);
    await xdotool(xvfb, ['key', 'Tab']);
    await typeText('correct-horse-battery');
    await sleep(500);
    await moveTo(at('password', 0.7, 1.6));
    await moveTo(at('button', 0.45, 0.5));
    await xdotool(xvfb, ['click', '1']);

    const answer = (await proxy.registration(1, 60_000)) as DemoAnswer;
    await sleep(800);
    const screenshot = saveScreen(xvfb, `riskgate-personas-${options.username}.png`);
    checkNotFallback(answer, `${options.username} (browser saw ${JSON.stringify(metrics)}; screen in ${screenshot})`);
    const form = proxy.forms[0] as { black_box?: string } | undefined;
    return { answer, blackBox: form?.black_box, seen: { language: metrics.language, timeZone: metrics.timeZone, dpr: metrics.dpr, screen: metrics.screen, userAgent: metrics.userAgent }, screenshot };
  } finally {
    probe.close();
    await harness.end(browser);
    await harness.end(xvfb.process);
    await closeProxy();
  }
}
