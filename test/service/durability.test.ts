/**
 * Durability at the API level: the built server (`node dist/server/main.js`)
 * is killed with SIGKILL the moment it acknowledges a list entry, restarted on
 * the same data directory, and must still know the entry (DESIGN.md: "an
 * acknowledged entry survives a crash"). Also: the data directory's secret
 * files are 0600, the token key survives restarts, a token used before a
 * SIGKILL is still a replay after the restart, and an invalid config file
 * stops start-up with a message naming the field.
 *
 * `npm test` builds first. Run alone: `npm run build && npx vitest run durability.test.ts`.
 */
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ServerTokenKey } from '../../shared/jwk.js';
import { Processes, SERVER_MAIN, type ServerProc } from '../support/processes.js';
import { fetchJson } from '../support/http.js';
import { makeToken } from '../support/tokens.js';

const HAS_DIST = existsSync(SERVER_MAIN);
const MISSING = `dist/server/main.js is missing: run \`npm run build\` first (\`npm test\` does) — durability tests skipped`;

const APP = { id: 'durable', name: 'Durable shop', key: 'pk_durable_0001', secret: 'sk_durable_secret_0123456789' };
const AUTH = { authorization: `Bearer ${APP.secret}` };
const START_TIMEOUT_MS = 20_000;

const processes = new Processes();
const tempDir = (prefix: string) => processes.tempDir(prefix);

/** Starts the built server on a free port with this data directory and config file. */
const startServer = (dataDir: string, configFile: string) =>
  processes.startServer('durable', { RISKGATE_DATA_DIR: dataDir, RISKGATE_CONFIG: configFile }, START_TIMEOUT_MS);

async function kill9(server: ServerProc): Promise<void> {
  server.child.kill('SIGKILL');
  const { signal } = await server.exited;
  expect(signal).toBe('SIGKILL');
}

const call = (server: ServerProc, method: string, path: string, body?: unknown) => fetchJson(server.base, method, path, { body, headers: AUTH, timeoutMs: 10_000 });

/** POSTs a list entry and kills the server with SIGKILL as soon as the 200 is in hand. */
async function addThenKill(server: ServerProc, entry: Record<string, unknown>): Promise<string> {
  const response = await fetch(`${server.base}/v1/lists`, {
    method: 'POST',
    headers: { ...AUTH, 'content-type': 'application/json' },
    body: JSON.stringify(entry),
    signal: AbortSignal.timeout(10_000),
  });
  const text = await response.text();
  server.child.kill('SIGKILL'); // the ack is in: no grace period, no clean shutdown
  expect(response.status, text).toBe(200);
  const { signal } = await server.exited;
  expect(signal).toBe('SIGKILL');
  return (JSON.parse(text) as { entry: { id: string } }).entry.id;
}

function writeConfig(dir: string, text: string, name = 'riskgate.yaml'): string {
  const file = join(dir, name);
  writeFileSync(file, text);
  return file;
}

const VALID_CONFIG = [
  'log_level: warn',
  'apps:',
  `  - id: ${APP.id}`,
  `    name: ${APP.name}`,
  `    key: ${APP.key}`,
  `    secret: ${APP.secret}`,
  '',
].join('\n');

const mode = (file: string) => statSync(file).mode & 0o777;

afterAll(async () => {
  // Whatever happened above, no server outlives the tests.
  await processes.cleanup();
});

if (!HAS_DIST) {
  console.warn(MISSING);
  if (process.env.CI) {
    it('has a built server to test (dist/server/main.js)', () => {
      throw new Error(`${MISSING}; in CI this is a failure`);
    });
  }
}

describe.skipIf(!HAS_DIST)(HAS_DIST ? 'list durability across kill -9 (built server)' : `SKIPPED: ${MISSING}`, () => {
  let root: string;
  let dataDir: string;
  let configFile: string;
  const ip = '203.0.113.77';
  const account = 'user-durable-42';
  const mobile = '+86 138 0013 8000';

  beforeAll(() => {
    root = tempDir('riskgate-durability-');
    // Not created yet: the server makes it (0700) on first start.
    dataDir = join(root, 'data');
    configFile = writeConfig(root, VALID_CONFIG);
  });

  it('keeps acknowledged list entries, keys and modes across SIGKILL and restarts', { timeout: 90_000 }, async () => {
    // 1. First start: creates the data directory; a black entry for an ip, then kill -9 on the ack.
    const first = await startServer(dataDir, configFile);
    const keysBefore = await call(first, 'GET', '/v1/keys');
    expect(keysBefore.status).toBe(200);
    const kid = (keysBefore.json.keys as { kid: string }[])[0]!.kid;
    expect(first.stdout()).toContain(`token key: ${kid}`);
    const blackId = await addThenKill(first, { list: 'black', dimension: 'ip', value: ip, reason: 'durability: black ip' });

    const tokenKeyFile = join(dataDir, 'token-keys.json');
    const hashKeyFile = join(dataDir, 'identifier-hash-key');
    const tokenKeyText = readFileSync(tokenKeyFile, 'utf8');
    const hashKeyText = readFileSync(hashKeyFile, 'utf8');

    // 2. Second start: a white entry for an account, then kill -9 on the ack.
    const second = await startServer(dataDir, configFile);
    const keysSecond = await call(second, 'GET', '/v1/keys');
    expect((keysSecond.json.keys as { kid: string }[])[0]!.kid).toBe(kid);
    const whiteId = await addThenKill(second, { list: 'white', dimension: 'account', value: account, reason: 'durability: white account' });

    // 3. Third start: a burst of entries (one of them a keyed-hash mobile), kill -9 on the last ack.
    const third = await startServer(dataDir, configFile);
    const burst: string[] = [];
    for (let i = 0; i < 15; i++) {
      const added = await call(third, 'POST', '/v1/lists', { list: 'black', dimension: 'device', value: `durable-device-${i}` });
      expect(added.status).toBe(200);
      burst.push((added.json.entry as { id: string }).id);
    }
    const mobileId = await addThenKill(third, { list: 'black', dimension: 'mobile', value: mobile, ttl_seconds: 3600 });

    // 4. Fourth start: everything acknowledged is there and in force.
    const fourth = await startServer(dataDir, configFile);
    try {
      const byIp = await call(fourth, 'GET', `/v1/lists?dimension=ip&value=${encodeURIComponent(ip)}`);
      expect(byIp.status).toBe(200);
      expect(byIp.json.entries).toEqual([expect.objectContaining({ id: blackId, list: 'black', dimension: 'ip', value: ip, reason: 'durability: black ip' })]);

      const byAccount = await call(fourth, 'GET', `/v1/lists?dimension=account&value=${encodeURIComponent(account)}`);
      expect(byAccount.json.entries).toEqual([expect.objectContaining({ id: whiteId, list: 'white', dimension: 'account', value: account })]);

      // Mobile entries are found by a keyed hash: this only works if the hash key survived too.
      const byMobile = await call(fourth, 'GET', `/v1/lists?dimension=mobile&value=${encodeURIComponent('13800138000')}`);
      expect(byMobile.json.entries).toEqual([expect.objectContaining({ id: mobileId, list: 'black', value: '138****8000' })]);

      const devices = await call(fourth, 'GET', '/v1/lists?dimension=device&limit=1000');
      const deviceIds = (devices.json.entries as { id: string }[]).map((e) => e.id);
      expect(deviceIds.filter((id) => burst.includes(id)).sort()).toEqual([...burst].sort());

      const fromIp = await call(fourth, 'POST', '/v1/risk/evaluate', { event: 'login', ip });
      expect(fromIp.status).toBe(200);
      expect(fromIp.json).toMatchObject({ code: 200, decision: 'decline', level: 4 });
      expect((fromIp.json.reasons as { id: string }[]).map((r) => r.id)).toContain('list_black');

      const fromAccount = await call(fourth, 'POST', '/v1/risk/evaluate', { event: 'login', ip: '203.0.113.78', account_id: account });
      expect(fromAccount.json).toMatchObject({ code: 200, decision: 'accept' });
      expect((fromAccount.json.reasons as { id: string }[]).map((r) => r.id)).toContain('list_white');

      const fromMobile = await call(fourth, 'POST', '/v1/risk/evaluate', { event: 'register', ip: '203.0.113.79', mobile: '13800138000' });
      expect(fromMobile.json).toMatchObject({ decision: 'decline' });

      // The token key survived every restart: same kid, same file.
      const keysAfter = await call(fourth, 'GET', '/v1/keys');
      expect((keysAfter.json.keys as { kid: string }[]).map((k) => k.kid)).toEqual([kid]);
      expect(readFileSync(tokenKeyFile, 'utf8')).toBe(tokenKeyText);
      expect(readFileSync(hashKeyFile, 'utf8')).toBe(hashKeyText);
      expect(fourth.stdout()).not.toContain('created:');
    } finally {
      await kill9(fourth);
    }

    // Secret files are 0600, the directory 0700.
    expect(mode(tokenKeyFile).toString(8)).toBe('600');
    expect(mode(hashKeyFile).toString(8)).toBe('600');
    expect(mode(dataDir).toString(8)).toBe('700');
  });
});

describe.skipIf(!HAS_DIST)(HAS_DIST ? 'replay claims across kill -9 (built server, memory mode)' : `SKIPPED: ${MISSING}`, () => {
  it('a token evaluated just before a SIGKILL is a replay after the restart; a fresh one is not (issue 13, item 9)', { timeout: 90_000 }, async () => {
    const root = tempDir('riskgate-claims-');
    const dataDir = join(root, 'data');
    const configFile = writeConfig(root, VALID_CONFIG);
    const first = await startServer(dataDir, configFile);
    const [serverKey] = (await call(first, 'GET', '/v1/keys')).json.keys as ServerTokenKey[];
    const used = await makeToken({ serverKey: serverKey!, appKey: APP.key });
    const fresh = await makeToken({ serverKey: serverKey!, appKey: APP.key });
    const firstUse = await call(first, 'POST', '/v1/risk/evaluate', { event: 'login', ip: '203.0.113.90', black_box: used });
    // The answer is in: no grace period, no clean shutdown.
    await kill9(first);
    expect(firstUse.status).toBe(200);
    const reasons = (json: Record<string, unknown>) => (json.reasons as { id: string }[]).map((r) => r.id);
    expect(firstUse.json.degraded, JSON.stringify(firstUse.json)).toBe(false);
    expect(reasons(firstUse.json)).not.toContain('token_replayed');

    const second = await startServer(dataDir, configFile);
    try {
      const replay = await call(second, 'POST', '/v1/risk/evaluate', { event: 'login', ip: '203.0.113.90', black_box: used });
      expect(replay.status).toBe(200);
      expect(reasons(replay.json)).toContain('token_replayed');
      expect(replay.json).toMatchObject({ decision: 'decline' });
      const other = await call(second, 'POST', '/v1/risk/evaluate', { event: 'login', ip: '203.0.113.91', black_box: fresh });
      expect(reasons(other.json)).not.toContain('token_replayed');
    } finally {
      await kill9(second);
    }
    const claims = join(dataDir, 'claims');
    expect(mode(claims).toString(8)).toBe('700');
    for (const name of readdirSync(claims)) expect(mode(join(claims, name)).toString(8)).toBe('600');
  });
});

describe.skipIf(!HAS_DIST)(HAS_DIST ? 'invalid configuration stops start-up (built server)' : `SKIPPED: ${MISSING}`, () => {
  /**
   * Runs the server on a config and waits for it to exit. Neither PORT nor
   * RISKGATE_LOG_LEVEL is set, so the file's values are the ones validated.
   */
  async function runWith(config: string, env: Record<string, string> = {}, name?: string) {
    const dir = tempDir('riskgate-badconfig-');
    const server = processes.spawnServer({ HOST: '127.0.0.1', RISKGATE_DATA_DIR: join(dir, 'data'), RISKGATE_CONFIG: writeConfig(dir, config, name), ...env });
    const timer = setTimeout(() => server.child.kill('SIGKILL'), START_TIMEOUT_MS);
    const { code, signal } = await server.exited;
    clearTimeout(timer);
    return { code, signal, stderr: server.stderr(), stdout: server.stdout() };
  }

  const appLines = (secret: string) => ['apps:', `  - id: ${APP.id}`, `    name: ${APP.name}`, `    key: ${APP.key}`, `    secret: ${secret}`].join('\n');

  it.each([
    { what: 'a port that is not a number', config: `port: "abc"\n${appLines(APP.secret)}\n`, field: 'port' },
    { what: 'a port out of range', config: `port: 70000\n${appLines(APP.secret)}\n`, field: 'port' },
    { what: 'an app secret of 5 characters', config: `${appLines('short')}\n`, field: 'apps.0.secret' },
    { what: 'an unknown log level', config: `log_level: loud\n${appLines(APP.secret)}\n`, field: 'log_level' },
    { what: 'an app key with spaces', config: `${appLines(APP.secret).replace(APP.key, '"not a key"')}\n`, field: 'apps.0.key' },
  ])('exits non-zero naming the field for $what', { timeout: 30_000 }, async ({ config, field }) => {
    const { code, signal, stderr, stdout } = await runWith(config);
    expect(signal, `killed after ${START_TIMEOUT_MS} ms: the server started on an invalid config\n${stdout}`).toBeNull();
    expect(code).not.toBe(0);
    expect(stderr).toContain(`"${field}"`);
    expect(stdout).not.toContain('RiskGate listening');
    // A configuration mistake is a message, not a crash dump.
    expect(stderr).not.toMatch(/\n\s+at /);
  });

  it('exits non-zero naming PORT when the environment gives a bad one', { timeout: 30_000 }, async () => {
    const { code, stderr } = await runWith(`${appLines(APP.secret)}\n`, { PORT: 'abc' });
    expect(code).not.toBe(0);
    expect(stderr).toContain('"port"');
  });

  it('exits non-zero with a message for a file that is not YAML', { timeout: 30_000 }, async () => {
    const { code, stderr } = await runWith('apps: [\n  - {id: x\n');
    expect(code).not.toBe(0);
    expect(stderr).toMatch(/not valid YAML/);
  });
});
