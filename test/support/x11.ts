/**
 * A private X display for headful browser tests: Xvfb on a display number it
 * picks itself (-displayfd: no race with other test runs), xdotool input on
 * it, its framebuffer as a PNG, and what it takes to drive a plain desktop
 * Chromium on it the way a person would (window metrics, curved pointer paths).
 * The one Xvfb launcher of the tests: sdk.probes.test.ts, e2e.web.test.ts and
 * the persona suite all start their displays here.
 */
import { execFile, spawn } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { PNG } from 'pngjs';
import { endGroup } from './processes.js';

export const XVFB = '/usr/bin/Xvfb';
export const XDOTOOL = '/usr/bin/xdotool';
export const HAS_X11_TOOLS = existsSync(XVFB) && existsSync(XDOTOOL);
/** What a test without Xvfb or xdotool says it misses. */
export const MISSING_X11 = `${XVFB} or ${XDOTOOL} (Debian's xvfb and xdotool packages)`;

const execFileAsync = promisify(execFile);
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export interface Display {
  display: string;
  width: number;
  height: number;
  /** The environment of X11 clients on this display (never the tester's own display or a Wayland session). */
  env: NodeJS.ProcessEnv;
  /** Xvfb's framebuffer as an XWD file, when started with `framebufferDir`. */
  framebuffer?: string;
  stop(): Promise<void>;
}

/**
 * Starts Xvfb with one `width`×`height` screen. With `framebufferDir`, Xvfb
 * keeps the screen in a file there (-fbdir), for screenPng().
 */
export async function startXvfb(width: number, height: number, options: { framebufferDir?: string } = {}): Promise<Display> {
  const args = ['-displayfd', '1', '-screen', '0', `${width}x${height}x24`, '-nolisten', 'tcp', ...(options.framebufferDir ? ['-fbdir', options.framebufferDir] : [])];
  const child = spawn(XVFB, args, { stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  // The display number comes alone on stdout; stderr tells of the displays tried before it.
  let displayNumber = '';
  let output = '';
  child.stdout!.setEncoding('utf8').on('data', (chunk: string) => (displayNumber += chunk));
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
  const deadline = Date.now() + 30_000;
  for (;;) {
    const match = /^(\d+)\n/.exec(displayNumber);
    if (match) {
      const display = `:${match[1]}`;
      const env: NodeJS.ProcessEnv = { ...process.env, DISPLAY: display };
      delete env.WAYLAND_DISPLAY;
      delete env.XAUTHORITY;
      return {
        display,
        width,
        height,
        env,
        ...(options.framebufferDir ? { framebuffer: join(options.framebufferDir, 'Xvfb_screen0') } : {}),
        stop: () => endGroup(child),
      };
    }
    if (child.exitCode !== null || Date.now() > deadline) {
      await endGroup(child);
      throw new Error(`Xvfb did not start:\n${output}`);
    }
    await sleep(100);
  }
}

/** The display's X11 client environment plus `extra` (TZ, LANG…). */
export function x11Env(display: Display, extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  return { ...display.env, ...extra };
}

export async function xdotool(display: Display, args: string[], timeoutMs = 30_000): Promise<string> {
  const { stdout } = await execFileAsync(XDOTOOL, args, { env: display.env, timeout: timeoutMs });
  return stdout;
}

// ---------------------------------------------------------------------------
// The framebuffer

/** The screen as a PNG, from Xvfb's XWD framebuffer file (32 bits per pixel, TrueColor). */
export function screenPng(display: Display): PNG {
  if (!display.framebuffer) throw new Error(`Xvfb ${display.display} was started without framebufferDir`);
  const buffer = readFileSync(display.framebuffer);
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

export const sameColour = (a: number[], b: number[], tolerance = 24) => a.every((value, i) => Math.abs(value - b[i]!) <= tolerance);

/** Writes the screen to `name` in the OS temp directory; answers the path. */
export function saveScreen(display: Display, name: string): string {
  const file = join(tmpdir(), name);
  writeFileSync(file, PNG.sync.write(screenPng(display)));
  return file;
}

// ---------------------------------------------------------------------------
// A plain desktop Chromium, and a person's pointer

/** What every desktop Chromium of the tests is started with: a quiet, self-contained browser (no sync, no updates, no QUIC). */
export const DESKTOP_CHROMIUM_FLAGS: readonly string[] = [
  '--no-sandbox',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--disable-quic',
];

/** The flags of a normal desktop start with a fresh profile: no --headless, no --enable-automation, no DevTools port. */
export function desktopChromiumArgs(profile: string, width: number, height: number, url: string, extra: string[] = []): string[] {
  return [
    ...DESKTOP_CHROMIUM_FLAGS,
    `--user-data-dir=${profile}`,
    `--window-size=${width},${height}`,
    '--window-position=0,0',
    ...extra,
    url,
  ];
}

/** What a window's page reports about it: where the page lies in the window, and what the browser says of itself. */
export interface WindowMetrics {
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

/**
 * A page of the test's own for a new window to open first: it reports the
 * window metrics once they settle (the --no-sandbox info bar can come a
 * little after the page), and nothing touches the browser to get them.
 */
export interface WindowProbe {
  url: string;
  /** The metrics, once the page has reported them; throws `failure()` after `timeoutMs`. */
  reported(timeoutMs: number, failure: () => string): Promise<WindowMetrics>;
  close(): void;
}

export async function startWindowProbe(): Promise<WindowProbe> {
  let report!: (metrics: WindowMetrics) => void;
  const metrics = new Promise<WindowMetrics>((resolve) => (report = resolve));
  const server = createServer((request, response) => {
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
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/`,
    async reported(timeoutMs, failure) {
      let timer: NodeJS.Timeout | undefined;
      try {
        return await Promise.race([metrics, new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(failure())), timeoutMs)))]);
      } finally {
        clearTimeout(timer);
      }
    },
    close: () => server.close(),
  };
}

/** CSS pixels of the window's page → screen pixels, from the metrics its probe page reported. */
export function windowToScreen(metrics: WindowMetrics): (x: number, y: number) => [number, number] {
  const offset = { x: metrics.screenX + (metrics.outerWidth - metrics.innerWidth) / 2, y: metrics.screenY + metrics.outerHeight - metrics.innerHeight };
  return (x, y) => [Math.round((offset.x + x) * metrics.dpr), Math.round((offset.y + y) * metrics.dpr)];
}

/**
 * Waits until the screen shows `colour` at `spot`: `what` (a page's button)
 * rendered where the test computed it would be. After `timeoutMs`, saves the
 * screen as `screenshot` and throws, with `detail()` (the browser's output) appended.
 */
export async function untilOnScreen(
  display: Display,
  spot: [number, number],
  colour: [number, number, number],
  options: { what: string; timeoutMs: number; screenshot: string; detail?: () => string },
): Promise<void> {
  const deadline = Date.now() + options.timeoutMs;
  for (;;) {
    const seen = pixel(screenPng(display), spot[0], spot[1]);
    if (sameColour(seen, colour)) return;
    if (Date.now() > deadline) {
      const file = saveScreen(display, options.screenshot);
      throw new Error(`${options.what} is not at (${spot}): colour ${seen} vs ${colour} expected after ${options.timeoutMs} ms; screen in ${file}\n${options.detail?.() ?? ''}`);
    }
    await sleep(500);
  }
}

/** A small deterministic jitter source, so runs are alike but movements are not perfectly regular. */
export function jitter(seed: number): () => number {
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
export async function movePointer(display: Display, from: [number, number], to: [number, number], random: () => number): Promise<void> {
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
  await xdotool(display, args, 60_000);
}
