/**
 * `trust_proxy` and X-Forwarded-For: only the configured proxies are believed.
 *
 * The client IP (`request.ip`) matters on the browser-facing routes: challenge
 * starts, SMS sends and slider answers are rate limited by it, and enrollment
 * puzzles are bound to its prefix. These tests read it through the challenge
 * start limit: with one start a minute per IP, a request is "seen as" an
 * address exactly when it is refused after that address has started one.
 * Evaluate never reads it: it takes the `ip` the backend sends in the body.
 */
import { request as httpRequest } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { loadConfig } from '../../server/config/config.js';
import type { EvaluateResponse } from '../../shared/schemas.js';
import { APP_KEY, testApp, type TestApp } from '../support/app.js';

const ORIGIN = 'https://shop.example';

const open: TestApp[] = [];
afterEach(async () => {
  await Promise.all(open.splice(0).map((t) => t.close()));
});

async function appWith(trustProxy: unknown, logLines?: string[]): Promise<TestApp> {
  const t = await testApp(
    { trust_proxy: trustProxy, challenges: { starts_per_ip_minute: 1 } },
    logLines ? { logger: { level: 'warn', stream: { write: (line: string) => void logLines.push(line) } } } : {},
  );
  open.push(t);
  return t;
}

/** Starts a plain slider from the SDK, from a socket address, with an optional X-Forwarded-For. */
async function startSlider(t: TestApp, remoteAddress: string, forwardedFor?: string): Promise<number> {
  const response = await t.app.inject({
    method: 'POST',
    url: '/v1/challenges',
    remoteAddress,
    headers: { origin: ORIGIN, ...(forwardedFor === undefined ? {} : { 'x-forwarded-for': forwardedFor }) },
    payload: { app_key: APP_KEY, type: 'slider' },
  });
  expect([200, 429]).toContain(response.statusCode);
  return response.statusCode;
}

/**
 * Whether a request from `remoteAddress` with `forwardedFor` is seen as
 * `candidate`: the candidate spends its one start (straight from its own
 * socket), then the request is refused only if it counts against the same IP.
 * Use each candidate once per app.
 */
async function seenAs(t: TestApp, candidate: string, remoteAddress: string, forwardedFor?: string): Promise<boolean> {
  expect(await startSlider(t, candidate)).toBe(200);
  return (await startSlider(t, remoteAddress, forwardedFor)) === 429;
}

describe('trust_proxy: a list of proxies', () => {
  it('a request from a listed proxy is seen as the address it forwards for', async () => {
    const t = await appWith(['10.0.0.1']);
    expect(await seenAs(t, '6.6.6.6', '10.0.0.1', '6.6.6.6')).toBe(true);
    // A control: the same proxy forwarding for someone else is not that client.
    expect(await seenAs(t, '6.6.6.7', '10.0.0.1', '6.6.6.8')).toBe(false);
  });

  it('a request from any other address is seen as its socket address, whatever X-Forwarded-For says', async () => {
    const t = await appWith(['10.0.0.1']);
    expect(await seenAs(t, '7.7.7.7', '203.0.113.5', '7.7.7.7')).toBe(false);
    expect(await seenAs(t, '203.0.113.6', '203.0.113.6', '7.7.7.8')).toBe(true);
    // Naming the trusted proxy in the header does not make a client one.
    expect(await seenAs(t, '203.0.113.7', '203.0.113.7', '8.8.8.8, 10.0.0.1')).toBe(true);
  });

  it('a chain is read from the right: trusted hops are skipped, the first untrusted address is the client', async () => {
    const t = await appWith(['10.0.0.1', '10.0.0.2']);
    // Client 1.1.1.1 → proxy 10.0.0.2 → proxy 10.0.0.1 → RiskGate.
    expect(await seenAs(t, '1.1.1.1', '10.0.0.1', '1.1.1.1, 10.0.0.2')).toBe(true);
    // 9.9.9.9 reached the proxy and claimed to forward for 5.5.5.5: 9.9.9.9 is the client, the claim is ignored.
    expect(await seenAs(t, '5.5.5.5', '10.0.0.1', '5.5.5.5, 9.9.9.9')).toBe(false);
    expect(await seenAs(t, '9.9.9.10', '10.0.0.1', '5.5.5.6, 9.9.9.10')).toBe(true);
  });

  it('a proxy given as a CIDR, reaching a dual-stack listener as IPv4-mapped IPv6, is trusted too', async () => {
    const t = await appWith(['10.0.0.0/24']);
    expect(await seenAs(t, '6.6.6.6', '::ffff:10.0.0.9', '6.6.6.6')).toBe(true);
    expect(await seenAs(t, '6.6.6.7', '::ffff:10.0.1.9', '6.6.6.7')).toBe(false);
  });

  it('over a real socket: X-Forwarded-For from the listed proxy (here, loopback) is believed', async () => {
    const t = await appWith(['127.0.0.1']);
    await t.app.listen({ host: '127.0.0.1', port: 0 });
    const { port } = t.app.server.address() as AddressInfo;
    const startOverSocket = (forwardedFor: string) =>
      new Promise<number>((resolve, reject) => {
        const body = JSON.stringify({ app_key: APP_KEY, type: 'slider' });
        const request = httpRequest(
          { host: '127.0.0.1', port, method: 'POST', path: '/v1/challenges', headers: { origin: ORIGIN, 'content-type': 'application/json', 'x-forwarded-for': forwardedFor } },
          (response) => {
            response.resume();
            resolve(response.statusCode ?? 0);
          },
        );
        request.on('error', reject);
        request.end(body);
      });
    expect(await startOverSocket('6.6.6.6')).toBe(200);
    expect(await startOverSocket('6.6.6.6')).toBe(429);
    expect(await startOverSocket('6.6.6.7')).toBe(200);
  });
});

describe('trust_proxy: false (the default) and true', () => {
  it('false: X-Forwarded-For is ignored, even from a proxy', async () => {
    const t = await appWith(false);
    expect(await seenAs(t, '6.6.6.6', '10.0.0.1', '6.6.6.6')).toBe(false);
    expect(await seenAs(t, '10.0.0.2', '10.0.0.2', '6.6.6.7')).toBe(true);
  });

  it('true: every client is believed (the leftmost address), and start-up warns', async () => {
    const lines: string[] = [];
    const t = await appWith(true, lines);
    await t.app.ready();
    const logged = lines.map((line) => JSON.parse(line) as { level: number; msg: string }).filter((entry) => entry.msg.includes('trust_proxy'));
    expect(logged).toMatchObject([{ level: 40, msg: expect.stringMatching(/trust_proxy is true.*anyone can choose the IP/) }]);
    expect(await seenAs(t, '6.6.6.6', '203.0.113.5', '6.6.6.6, 1.1.1.1')).toBe(true);
  });

  it('a list or false: no warning', async () => {
    for (const trustProxy of [false, ['10.0.0.1']]) {
      const lines: string[] = [];
      await (await appWith(trustProxy, lines)).app.ready();
      expect(lines.filter((line) => line.includes('trust_proxy'))).toEqual([]);
    }
  });
});

describe('trust_proxy in the configuration', () => {
  const load = (trustProxy: unknown) => loadConfig({ env: {}, raw: { data_dir: 'unused', trust_proxy: trustProxy } });

  it('takes addresses, CIDRs and the names loopback, linklocal, uniquelocal', () => {
    expect(load(['10.0.0.1', '10.1.0.0/16', '2001:db8::/32', '::ffff:10.0.0.5', 'loopback', 'linklocal', 'uniquelocal']).trustProxy).toHaveLength(7);
  });

  it.each([['10.0.0.x'], ['proxy.internal'], ['10.0.0.0/33'], ['127.1'], ['']])('refuses %j at load, naming the entry', (entry) => {
    expect(() => load(['10.0.0.1', entry])).toThrow(/field "trust_proxy\.1": .*not an IP address or CIDR|field "trust_proxy\.1": .*invalid prefix length/);
  });

  it('refuses anything but a boolean or a list', () => {
    expect(() => load('10.0.0.1')).toThrow(/field "trust_proxy": must be true, false or a list/);
  });
});

describe('evaluate takes the body ip, never the connection or X-Forwarded-For', () => {
  it('a black-listed IP in X-Forwarded-For (from a trusted proxy) does not decline; the same IP in the body does', async () => {
    const t = await appWith(['10.0.0.1']);
    const added = await t.app.inject({ method: 'POST', url: '/v1/lists', headers: t.auth, payload: { list: 'black', dimension: 'ip', value: '6.6.6.6' } });
    expect(added.statusCode).toBe(200);
    const evaluate = async (ip: string) =>
      (
        await t.app.inject({
          method: 'POST',
          url: '/v1/risk/evaluate',
          remoteAddress: '10.0.0.1',
          headers: { ...t.auth, 'x-forwarded-for': '6.6.6.6' },
          payload: { event: 'login', ip },
        })
      ).json<EvaluateResponse>();
    expect((await evaluate('203.0.113.9')).tags).not.toContain('blacklist');
    expect(await evaluate('6.6.6.6')).toMatchObject({ decision: 'decline', tags: ['blacklist'] });
  });
});
