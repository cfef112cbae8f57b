/**
 * The web SDK's builds (rollup.config.mjs → dist/sdk/): the script-tag bundle
 * and the challenge UI chunk it loads on first use stay within their gzip
 * budgets and carry no zod or server code, the npm
 * builds load under Node without touching a browser global (fingerprintjs's
 * `check:ssr`), and the declarations are one self-contained file.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { beforeAll, describe, expect, it } from 'vitest';
import { VERSION } from '../../client/core/version.js';
import { ensureSdkBuilt, ROOT, SDK_DIR } from '../support/build.js';

/**
 * FingerprintJS is 12.3 KB gzipped without its ad-blocker selector list
 * (rollup.config.mjs); the SDK is about 22.0 KB, leaving room for device
 * enrollment (about 1.2 KB) within the budget.
 */
const IIFE_GZIP_BUDGET = 25_000;
/** The slider and SMS dialog, loaded from {endpoint}/sdk/ on the first challenge. */
const CHALLENGE_GZIP_BUDGET = 15_000;

const read = (name: string) => readFileSync(join(SDK_DIR, name), 'utf8');

beforeAll(() => {
  ensureSdkBuilt();
}, 120_000);

describe('web SDK builds', () => {
  it(`keeps the script-tag bundle within ${IIFE_GZIP_BUDGET} bytes gzipped`, () => {
    const bundle = readFileSync(join(SDK_DIR, 'riskgate.min.js'));
    const gzipped = gzipSync(bundle, { level: 9 }).length;
    console.info(`riskgate.min.js: ${bundle.length} B raw, ${gzipped} B gzip -9`);
    expect(gzipped).toBeLessThanOrEqual(IIFE_GZIP_BUDGET);
  });

  it(`keeps the challenge UI chunk within ${CHALLENGE_GZIP_BUDGET} bytes gzipped`, () => {
    const chunk = readFileSync(join(SDK_DIR, 'riskgate-challenge.min.js'));
    const gzipped = gzipSync(chunk, { level: 9 }).length;
    console.info(`riskgate-challenge.min.js: ${chunk.length} B raw, ${gzipped} B gzip -9`);
    expect(gzipped).toBeLessThanOrEqual(CHALLENGE_GZIP_BUDGET);
  });

  it('keeps the challenge UI out of the core: the core only loads the chunk, which registers itself on a private global', () => {
    const chunk = read('riskgate-challenge.min.js');
    // An IIFE that defines no page global of its own: it registers under a registered symbol.
    expect(chunk).toMatch(/^\/\*![^]*?\*\/\s*!function\(\)\{/);
    expect(chunk).not.toMatch(/^(\/\*![^]*?\*\/\s*)?var /);
    expect(chunk).toContain('Symbol.for("riskgate.challenge.v1")');
    expect(chunk).toContain('aria-modal');
    expect(chunk).toContain('getCoalescedEvents');
    for (const name of ['riskgate.min.js', 'riskgate.mjs', 'riskgate.cjs']) {
      const core = read(name);
      expect(core, name).toContain('riskgate-challenge.min.js');
      expect(core, name).toContain('riskgate.challenge.v1');
      expect(core, name).not.toMatch(/aria-modal|getCoalescedEvents|setPointerCapture|one-time-code/);
    }
  });

  it('exposes the RiskGate global from the script-tag bundle and inlines FingerprintJS', () => {
    const bundle = read('riskgate.min.js');
    // Licence banner, then V8's compile hint (eager compilation), then the global.
    expect(bundle).toMatch(/^(\/\*![^]*?\*\/\s*)?\/\/# allFunctionsCalledOnLoad\n\s*var RiskGate=/);
    expect(bundle).not.toMatch(/require\(|@fingerprintjs/);
  });

  it('ships no zod and no server code in any browser build', () => {
    for (const name of ['riskgate.min.js', 'riskgate-challenge.min.js', 'riskgate.mjs', 'riskgate.cjs']) {
      const code = read(name);
      expect(code, name).not.toMatch(/from ['"]zod|require\(['"]zod|ZodError|safeParse|node:crypto|fastify|better-sqlite3/);
    }
  });

  it('keeps FingerprintJS external in the npm builds', () => {
    expect(read('riskgate.mjs')).toMatch(/from '@fingerprintjs\/fingerprintjs'/);
    expect(read('riskgate.cjs')).toMatch(/require\('@fingerprintjs\/fingerprintjs'\)/);
  });

  it('loads the CJS build under Node without touching a browser global (check:ssr)', () => {
    const script = `
      const touched = [];
      for (const name of ['window', 'document', 'navigator', 'indexedDB', 'localStorage', 'sessionStorage', 'location',
        'self', 'screen', 'Worker', 'Notification', 'chrome', 'matchMedia', 'requestIdleCallback', 'HTMLCanvasElement']) {
        Object.defineProperty(globalThis, name, { configurable: true, get() { touched.push(name); return undefined; } });
      }
      const sdk = require(${JSON.stringify(join(SDK_DIR, 'riskgate.cjs'))});
      process.stdout.write(JSON.stringify({ touched, exports: Object.keys(sdk).sort(), init: typeof sdk.init, version: sdk.VERSION }));
    `;
    const result = JSON.parse(execFileSync(process.execPath, ['-e', script], { cwd: ROOT, encoding: 'utf8' })) as Record<string, unknown>;
    expect(result).toEqual({ touched: [], exports: ['RiskGateError', 'VERSION', 'init'], init: 'function', version: VERSION });
  });

  it('imports the ESM build under Node without touching a browser global', () => {
    const script = `
      const touched = [];
      for (const name of ['window', 'document', 'navigator', 'indexedDB', 'localStorage', 'sessionStorage', 'self', 'screen']) {
        Object.defineProperty(globalThis, name, { configurable: true, get() { touched.push(name); return undefined; } });
      }
      const sdk = await import(${JSON.stringify(join(SDK_DIR, 'riskgate.mjs'))});
      process.stdout.write(JSON.stringify({ touched, init: typeof sdk.init }));
    `;
    const out = execFileSync(process.execPath, ['--input-type=module', '-e', script], { cwd: ROOT, encoding: 'utf8' });
    expect(JSON.parse(out)).toEqual({ touched: [], init: 'function' });
  });

  it('refuses to start outside a browser with a TypeError', () => {
    const script = `
      const { init } = require(${JSON.stringify(join(SDK_DIR, 'riskgate.cjs'))});
      try { init({ appKey: 'app', endpoint: 'https://risk.example' }); console.log('no error'); }
      catch (error) { console.log(error.constructor.name + ': ' + error.message); }
    `;
    expect(execFileSync(process.execPath, ['-e', script], { cwd: ROOT, encoding: 'utf8' }).trim()).toBe('TypeError: RiskGate.init: call it in a browser page');
  });

  it('bundles the declarations into one file that imports nothing', () => {
    const dts = read('riskgate.d.ts');
    expect(dts).not.toMatch(/^import /m);
    expect(dts).toMatch(/declare function init\(options: RiskGateOptions\): RiskGateClient;/);
    expect(dts).toMatch(/declare class RiskGateError extends Error/);
    expect(dts).toMatch(/challenge\(challengeToken: string, options\?: ChallengeOptions\): Promise<ChallengeResult>;/);
    expect(dts).toMatch(/'challenge_failed' \| 'challenge_cancelled' \| 'challenge_expired' \| 'challenge_unavailable'/);
    expect(dts).toMatch(/export \{[^}]*\binit\b[^}]*\}/);
  });

  it('reports the package version as the SDK version', () => {
    const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string };
    expect(VERSION).toBe(pkg.version);
  });
});
