/**
 * `node dist/bench/browser.js`: what the client SDK costs a page.
 *
 *   1. Bundle sizes, raw and gzip -9, of the web SDK builds and the
 *      mini-program SDK.
 *   2. In Debian's headless Chromium (driven by playwright-core, as
 *      test/sdk.browser.test.ts does), over 20 page loads each with a fresh
 *      profile: the median time from the page's script start (just before the
 *      `<script src=riskgate.min.js>` tag) to the first black box, and the
 *      median time of a second getBlackBox() call. The page is given the
 *      server's public key, so no /v1/keys fetch is timed. FingerprintJS alone
 *      is timed the same way for comparison.
 *
 * Targets: first black box ≤ 150 ms, second ≤ 30 ms. The process exits 0
 * whether or not they are met; without Chromium the browser part is skipped.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { generateTokenKey, TokenKeyRing } from '../server/keys/token-keys.js';

// Compiled to dist/bench/browser.js: the project root is two levels up.
const HERE = dirname(fileURLToPath(import.meta.url));
const ROOT = existsSync(join(HERE, '../package.json')) ? join(HERE, '..') : join(HERE, '../..');
const DIST = join(ROOT, 'dist');
const FP_MIN = join(ROOT, 'node_modules/@fingerprintjs/fingerprintjs/dist/fp.min.js');

const BUNDLES = [
  'sdk/riskgate.min.js',
  'sdk/riskgate-challenge.min.js',
  'sdk/riskgate.mjs',
  'sdk/riskgate.cjs',
  'miniprogram/index.js',
];

const CHROMIUM = '/usr/bin/chromium';
const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];
const LOADS = 20;
const TARGET_FIRST_MS = 150;
const TARGET_SECOND_MS = 30;
const APP_KEY = 'app_bench_browser';

const kb = (bytes: number) => `${(bytes / 1024).toFixed(1)} KiB`;
const ms = (value: number) => `${value.toFixed(1)} ms`;

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

function printSizes(): void {
  console.log('SDK bundle sizes (gzip -9):');
  const width = Math.max(...BUNDLES.map((name) => `dist/${name}`.length));
  for (const name of BUNDLES) {
    const path = join(DIST, name);
    const label = `dist/${name}`.padEnd(width);
    if (!existsSync(path)) {
      console.log(`  ${label}  missing (run npm run build)`);
      continue;
    }
    const raw = readFileSync(path);
    const gz = gzipSync(raw, { level: 9 });
    console.log(`  ${label}  ${String(raw.length).padStart(8)} B (${kb(raw.length).padStart(9)})  gzip ${String(gz.length).padStart(7)} B (${kb(gz.length).padStart(8)})`);
  }
}

interface Timing {
  first?: number;
  second?: number;
  error?: string;
}

function pageHtml(script: string, body: string): string {
  return `<!doctype html><html><head><meta charset="utf-8"><title>bench</title></head><body>
<script>window.__scriptStart = performance.now();</script>
<script src="${script}"></script>
<script>
${body}
</script></body></html>`;
}

async function startServer(publicKey: unknown): Promise<{ server: Server; origin: string; keyHits: () => number }> {
  let hits = 0;
  let origin = '';
  const sdkPage = () =>
    pageHtml(
      '/sdk/riskgate.min.js',
      `window.result = (async () => {
  const rg = RiskGate.init(${JSON.stringify({ appKey: APP_KEY, endpoint: origin, publicKey })});
  await rg.getBlackBox();
  const first = performance.now() - window.__scriptStart;
  const started = performance.now();
  await rg.getBlackBox();
  return { first, second: performance.now() - started };
})().catch((error) => ({ error: String(error && (error.stack || error.message) || error) }));`,
    );
  const fpPage = () =>
    pageHtml(
      '/fp.min.js',
      `window.result = FingerprintJS.load({ monitoring: false })
  .then((agent) => agent.get())
  .then(() => ({ first: performance.now() - window.__scriptStart }))
  .catch((error) => ({ error: String(error && (error.stack || error.message) || error) }));`,
    );
  const server = createServer((request, response) => {
    const path = (request.url ?? '/').split('?')[0]!;
    const send = (status: number, type: string, body: string | Buffer) => {
      response.writeHead(status, { 'content-type': type, 'cache-control': 'no-store' });
      response.end(body);
    };
    if (path === '/sdk/riskgate.min.js') return send(200, 'text/javascript', readFileSync(join(DIST, 'sdk/riskgate.min.js')));
    if (path === '/fp.min.js') return send(200, 'text/javascript', readFileSync(FP_MIN));
    if (path === '/sdk') return send(200, 'text/html', sdkPage());
    if (path === '/fp') return send(200, 'text/html', fpPage());
    if (path === '/v1/keys') hits++;
    if (path === '/favicon.ico') return send(204, 'text/plain', '');
    return send(404, 'text/plain', 'not found');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return { server, origin, keyHits: () => hits };
}

type Chromium = typeof import('playwright-core').chromium;

/** One page load in a fresh browser with a fresh profile under the OS temp dir. */
async function loadOnce(chromium: Chromium, url: string): Promise<Timing> {
  const profile = mkdtempSync(join(tmpdir(), 'riskgate-bench-profile-'));
  try {
    const context = await chromium.launchPersistentContext(profile, { executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS });
    try {
      const page = context.pages()[0] ?? (await context.newPage());
      await page.goto(url);
      return await page.evaluate(() => (window as unknown as { result: Promise<Timing> }).result);
    } finally {
      await context.close().catch(() => {});
    }
  } finally {
    rmSync(profile, { recursive: true, force: true, maxRetries: 10, retryDelay: 100 });
  }
}

async function series(chromium: Chromium, url: string): Promise<{ first: number[]; second: number[]; errors: string[] }> {
  const first: number[] = [];
  const second: number[] = [];
  const errors: string[] = [];
  for (let i = 0; i < LOADS; i++) {
    try {
      const timing = await loadOnce(chromium, url);
      if (timing.error) errors.push(timing.error);
      if (typeof timing.first === 'number') first.push(timing.first);
      if (typeof timing.second === 'number') second.push(timing.second);
    } catch (error) {
      errors.push(error instanceof Error ? error.message : String(error));
    }
  }
  return { first, second, errors };
}

const verdict = (value: number, target: number) => (value <= target ? 'PASS' : 'FAIL');

async function browserPart(): Promise<void> {
  console.log('');
  console.log(`Headless Chromium, median of ${LOADS} page loads, fresh profile each:`);
  if (!existsSync(CHROMIUM)) {
    console.log(`  skipped: ${CHROMIUM} not found`);
    return;
  }
  if (!existsSync(join(DIST, 'sdk/riskgate.min.js'))) {
    console.log('  skipped: dist/sdk/riskgate.min.js missing (run npm run build)');
    return;
  }
  let chromium: Chromium;
  try {
    ({ chromium } = await import('playwright-core'));
  } catch (error) {
    console.log(`  skipped: playwright-core unavailable (${error instanceof Error ? error.message : String(error)})`);
    return;
  }

  const publicKey = new TokenKeyRing([generateTokenKey()]).primary;
  const { server, origin, keyHits } = await startServer(publicKey);
  try {
    const version = await chromium
      .launch({ executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS })
      .then(async (browser) => {
        const v = browser.version();
        await browser.close();
        return v;
      })
      .catch((error: unknown) => {
        throw new Error(`Chromium did not start: ${error instanceof Error ? error.message : String(error)}`);
      });
    console.log(`  Chromium ${version}`);

    const sdk = await series(chromium, `${origin}/sdk`);
    if (sdk.first.length) {
      const first = median(sdk.first);
      console.log(
        `  RiskGate first black box (script start → token)  ${ms(first).padStart(9)}  target ≤ ${TARGET_FIRST_MS} ms  ${verdict(first, TARGET_FIRST_MS)}` +
          `  [min ${ms(Math.min(...sdk.first))}, max ${ms(Math.max(...sdk.first))}, n=${sdk.first.length}]`,
      );
    } else console.log('  RiskGate first black box: no successful loads');
    if (sdk.second.length) {
      const second = median(sdk.second);
      console.log(
        `  RiskGate second getBlackBox()                    ${ms(second).padStart(9)}  target ≤ ${TARGET_SECOND_MS} ms  ${verdict(second, TARGET_SECOND_MS)}` +
          `  [min ${ms(Math.min(...sdk.second))}, max ${ms(Math.max(...sdk.second))}, n=${sdk.second.length}]`,
      );
    } else console.log('  RiskGate second getBlackBox(): no successful loads');
    if (keyHits() > 0) console.log(`  note: the SDK fetched /v1/keys ${keyHits()} time(s) although it was given publicKey`);
    for (const error of new Set(sdk.errors)) console.log(`  RiskGate error: ${error.split('\n')[0]}`);

    if (!existsSync(FP_MIN)) {
      console.log(`  FingerprintJS alone: skipped (${FP_MIN} not found)`);
    } else {
      const fp = await series(chromium, `${origin}/fp`);
      if (fp.first.length) {
        console.log(
          `  FingerprintJS alone (script start → get())       ${ms(median(fp.first)).padStart(9)}  (comparison)` +
            `  [min ${ms(Math.min(...fp.first))}, max ${ms(Math.max(...fp.first))}, n=${fp.first.length}]`,
        );
      } else console.log('  FingerprintJS alone: no successful loads');
      for (const error of new Set(fp.errors)) console.log(`  FingerprintJS error: ${error.split('\n')[0]}`);
    }
  } catch (error) {
    console.log(`  skipped: ${error instanceof Error ? error.message : String(error)}`);
  } finally {
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}

printSizes();
await browserPart();
