/**
 * The two ways to run RiskGate, built: `node dist/server/main.js` is the
 * server alone, and `npm start` (`node dist/demo/main.js`) is the same server
 * with the demo shop composed in — the server imports nothing of the demo.
 * Both generate an app on a first start with no configured app and print its
 * key and secret; only the demo mounts /demo/ and names its page, and it
 * shows SMS codes only with the development `log` provider.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { DEMO_MAIN, Processes, SERVER_MAIN } from '../support/processes.js';

const HAS_DIST = existsSync(SERVER_MAIN) && existsSync(DEMO_MAIN);
const MISSING = 'dist/server/main.js or dist/demo/main.js is missing: run `npm run build` first (`npm test` does) — entry point tests skipped';
if (!HAS_DIST) {
  if (process.env.CI) throw new Error(MISSING);
  console.warn(MISSING);
}

const processes = new Processes();
afterAll(() => processes.cleanup(), 30_000);

async function get(base: string, path: string): Promise<{ status: number; text: string }> {
  const response = await fetch(`${base}${path}`, { signal: AbortSignal.timeout(10_000) });
  return { status: response.status, text: await response.text() };
}

describe.skipIf(!HAS_DIST)('entry points', () => {
  it('node dist/server/main.js: the server alone, with the generated app in its banner and no demo', { timeout: 60_000 }, async () => {
    const dataDir = join(processes.tempDir('riskgate-plain-'), 'data');
    const server = await processes.startServer('plain', { RISKGATE_DATA_DIR: dataDir });
    const generated = JSON.parse(readFileSync(join(dataDir, 'demo-app.json'), 'utf8')) as { key: string; secret: string };
    const banner = server.stdout();
    expect(banner).toContain(`  data directory: ${dataDir}`);
    expect(banner).toMatch(/ {2}token key: \S+ {3}API docs: http:\/\/127\.0\.0\.1:\d+\/docs/);
    expect(banner).toContain(`app key ${generated.key}`);
    expect(banner).toContain(`  demo app secret: ${generated.secret}`);
    expect(banner).not.toContain('demo page:');
    expect((await get(server.base, '/v1/keys')).status).toBe(200);
    const demo = await get(server.base, '/demo/');
    expect(demo.status).toBe(404);
    expect(JSON.parse(demo.text)).toMatchObject({ code: 4040, error: 'NOT_FOUND' });
  });

  it('node dist/demo/main.js (npm start): the same server with the demo shop at /demo/, showing codes of the log SMS provider', { timeout: 60_000 }, async () => {
    const dataDir = join(processes.tempDir('riskgate-demo-'), 'data');
    const server = await processes.startServer('demo', { RISKGATE_DATA_DIR: dataDir }, 30_000, DEMO_MAIN);
    const lines = server.stdout().split('\n');
    const at = (prefix: string) => lines.findIndex((line) => line.startsWith(prefix));
    // The banner npm start always printed: the demo page between the token key and the app's key.
    expect(lines[at('  demo page: ')]).toBe(`  demo page: ${server.base}/demo/`);
    expect(at('  token key: ')).toBeLessThan(at('  demo page: '));
    expect(at('  demo page: ')).toBeLessThan(at('  demo app "Demo shop": app key '));
    const page = await get(server.base, '/demo/');
    expect(page.status).toBe(200);
    expect(page.text).toContain('<html');
    const config = JSON.parse((await get(server.base, '/demo/api/config')).text) as { app_key: string };
    expect(server.stdout()).toContain(`app key ${config.app_key}`);
    // The log provider is the demo's: a challenge with no code sent yet, not "codes are shown only with …".
    const code = await get(server.base, '/demo/api/sms-code?challenge_id=nope');
    expect(code.status).toBe(404);
    expect(JSON.parse(code.text)).toMatchObject({ message: 'no code sent for this challenge yet' });
  });

  it('the demo with a webhook SMS provider shows no codes', { timeout: 60_000 }, async () => {
    const dir = processes.tempDir('riskgate-demo-webhook-');
    const configFile = join(dir, 'riskgate.json');
    writeFileSync(
      configFile,
      JSON.stringify({
        challenges: {
          sms: { provider: 'webhook', webhook: { url: 'http://127.0.0.1:9/sms', secret: 'webhook-secret-0123456789abcdef', allow_insecure_http: true, allowed_networks: ['127.0.0.1/32'] } },
        },
      }),
    );
    const server = await processes.startServer('demo-webhook', { RISKGATE_DATA_DIR: join(dir, 'data'), RISKGATE_CONFIG: configFile }, 30_000, DEMO_MAIN);
    expect(server.stdout()).toContain('demo page: ');
    const code = await get(server.base, '/demo/api/sms-code?challenge_id=nope');
    expect(code.status).toBe(404);
    expect(JSON.parse(code.text)).toMatchObject({ message: 'codes are shown only with the development log SMS provider' });
  });
});
