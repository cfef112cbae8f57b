/**
 * The browser part of `npm run bench` for device enrollment: a real RiskGate
 * (embedded, in this process, on a temporary data directory) serves the
 * script-tag SDK and the enrollment routes, and headless Chromium loads a page
 * in DEVICES fresh browser contexts (each a new device on its own /24, given
 * by X-Forwarded-For, so every puzzle is a base one, as for a normal device).
 * Reported, median and p95:
 *   - enrollment time: from the SDK's puzzle request to the enroll answer
 *     (two round trips and the proof of work in a Worker);
 *   - the first black box (script start → token) while the device enrolls
 *     (a first visit), after a reload once it has enrolled (the certificate
 *     comes from IndexedDB), and on a first visit whose enrollment requests
 *     fail at once (a first visit without the work, for comparison).
 * Target: enrollment ≤ 300 ms median.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser } from 'playwright-core';
import { buildApp } from '../server/app.js';
import { loadConfig } from '../server/config/config.js';

const DEVICES = 20;
const APP_KEY = 'pk_bench_enroll';
const TARGET_ENROLL_MS = 300;

const ms = (value: number) => `${value.toFixed(1)} ms`;
function quantile(values: number[], q: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))]!;
}
const line = (label: string, values: number[]) =>
  values.length ? `  ${label.padEnd(50)} median ${ms(quantile(values, 0.5)).padStart(9)}  p95 ${ms(quantile(values, 0.95)).padStart(9)}  (n=${values.length})` : `  ${label}: no successful runs`;

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

export async function enrollmentPart(startBrowser: () => Promise<{ browser: Browser; stop(): Promise<void> }>): Promise<void> {
  console.log('Device enrollment in headless Chromium (real RiskGate, base puzzles):');
  const dataDir = mkdtempSync(join(tmpdir(), 'riskgate-bench-enroll-'));
  const port = await freePort();
  const origin = `http://127.0.0.1:${port}`;
  const config = loadConfig({
    env: {},
    raw: { data_dir: dataDir, log_level: 'silent', trust_proxy: ['127.0.0.1'], apps: [{ id: 'bench', name: 'Bench', key: APP_KEY, secret: 'sk_bench_enroll_0123456789abcdef', origins: [origin] }] },
  });
  const app = await buildApp({ config, logger: false });
  let session: { browser: Browser; stop(): Promise<void> } | undefined;
  const enrollMs: number[] = [];
  const firstWhileEnrolling: number[] = [];
  const firstEnrolled: number[] = [];
  const firstNoEnrollment: number[] = [];
  const errors: string[] = [];
  try {
    await app.listen({ host: '127.0.0.1', port });
    const publicKey = app.riskgate.keys.current().jwks.keys[0];
    const html = `<!doctype html><html><head><meta charset="utf-8"></head><body>
<script>window.__scriptStart = performance.now();</script>
<script src="/sdk/riskgate.min.js"></script>
<script>
  window.result = RiskGate.init(Object.assign(${JSON.stringify({ appKey: APP_KEY, publicKey })}, { endpoint: location.origin }))
    .getBlackBox().then(() => ({ first: performance.now() - window.__scriptStart }), (error) => ({ error: String(error) }));
</script></body></html>`;
    session = await startBrowser();
    for (let i = 0; i < DEVICES; i++) {
      const context = await session.browser.newContext({ extraHTTPHeaders: { 'x-forwarded-for': `198.18.${i}.7` } });
      try {
        await context.route(`${origin}/bench-enroll`, (route) => route.fulfill({ status: 200, contentType: 'text/html', body: html }));
        const page = await context.newPage();
        let asked = 0;
        page.on('request', (request) => {
          if (request.url().endsWith('/v1/devices/puzzle')) asked = performance.now();
        });
        const enrolled = page.waitForResponse((response) => response.url().endsWith('/v1/devices/enroll'), { timeout: 60_000 });
        await page.goto(`${origin}/bench-enroll`);
        const first = (await page.evaluate('window.result')) as { first?: number; error?: string };
        if (first.error) errors.push(first.error);
        else firstWhileEnrolling.push(first.first!);
        const response = await enrolled;
        if (response.status() !== 200) errors.push(`enroll answered ${response.status()}`);
        else enrollMs.push(performance.now() - asked);
        await page.waitForTimeout(50); // the certificate's IndexedDB write
        await page.reload();
        const again = (await page.evaluate('window.result')) as { first?: number; error?: string };
        if (again.error) errors.push(again.error);
        else firstEnrolled.push(again.first!);
      } catch (error) {
        errors.push(error instanceof Error ? error.message : String(error));
      } finally {
        await context.close().catch(() => {});
      }
      // The same first visit with the enrollment requests failing at once: what enrollment adds to it.
      const bare = await session.browser.newContext({ extraHTTPHeaders: { 'x-forwarded-for': `198.19.${i}.7` } });
      try {
        await bare.route(`${origin}/bench-enroll`, (route) => route.fulfill({ status: 200, contentType: 'text/html', body: html }));
        await bare.route(`${origin}/v1/devices/**`, (route) => route.abort());
        const page = await bare.newPage();
        await page.goto(`${origin}/bench-enroll`);
        const first = (await page.evaluate('window.result')) as { first?: number; error?: string };
        if (first.error) errors.push(first.error);
        else firstNoEnrollment.push(first.first!);
      } finally {
        await bare.close().catch(() => {});
      }
    }
    console.log(line('enrollment (puzzle request → certificate)', enrollMs) + (enrollMs.length ? `  target ≤ ${TARGET_ENROLL_MS} ms median  ${quantile(enrollMs, 0.5) <= TARGET_ENROLL_MS ? 'PASS' : 'FAIL'}` : ''));
    console.log(line('first black box while enrolling (first visit)', firstWhileEnrolling));
    console.log(line('first black box once enrolled (cert from IndexedDB)', firstEnrolled));
    console.log(line('first visit, enrollment requests failing at once', firstNoEnrollment));
    for (const error of new Set(errors)) console.log(`  error: ${error.split('\n')[0]}`);
  } catch (error) {
    console.log(`  skipped: ${error instanceof Error ? error.message : String(error)}`);
  } finally {
    await session?.stop().catch(() => {});
    await app.close();
    rmSync(dataDir, { recursive: true, force: true });
  }
}
