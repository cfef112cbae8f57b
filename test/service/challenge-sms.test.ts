import { createHmac, timingSafeEqual } from 'node:crypto';
import type { lookup as dnsLookup, LookupAddress } from 'node:dns';
import { createServer, type IncomingHttpHeaders, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createNetServer, isIP, type AddressInfo, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { smsProviderFor } from '../../server/adapters/sms/from-config.js';
import { LogSmsProvider } from '../../server/adapters/sms/log.js';
import { loadConfig } from '../../server/config/config.js';
import { maskPhoneNumber, SmsSendError, type SmsMessage } from '../../server/adapters/sms/provider.js';
import {
  signWebhookPayload,
  verifyWebhookSignature,
  WEBHOOK_SIGNATURE_HEADER,
  WEBHOOK_TIMESTAMP_HEADER,
  WebhookSmsProvider,
  type SmsWebhookPayload,
  type WebhookSmsProviderOptions,
} from '../../server/adapters/sms/webhook.js';

const SECRET = 'test-secret-0123456789abcdef';
const MESSAGE: SmsMessage = {
  to: '+8613812345678',
  text: 'Your RiskGate code is 493021. It expires in 5 minutes.',
  appId: 'shop',
  challengeId: 'ch_123',
  code: '493021',
};
const nowSeconds = () => Math.floor(Date.now() / 1000);

// ---------------------------------------------------------------- a real receiver

interface Received {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
  body: Buffer;
}

type Handler = (request: IncomingMessage, response: ServerResponse) => void;

interface Receiver {
  url: string;
  received: Received[];
  close(): Promise<void>;
}

const open: Receiver[] = [];
afterEach(async () => {
  await Promise.all(open.splice(0).map((receiver) => receiver.close()));
});

/** Answers the n-th request with handlers[n] (the last one repeats). */
async function receiver(...handlers: Handler[]): Promise<Receiver> {
  const received: Received[] = [];
  const server: Server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      received.push({ method: request.method ?? '', url: request.url ?? '', headers: request.headers, body: Buffer.concat(chunks) });
      const handler = handlers[Math.min(received.length, handlers.length) - 1]!;
      handler(request, response);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const result: Receiver = {
    url: `http://127.0.0.1:${port}/sms`,
    received,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
  open.push(result);
  return result;
}

const status = (code: number, body = ''): Handler => (_request, response) => {
  response.writeHead(code, { 'content-type': 'text/plain' }).end(body);
};
const delayed = (ms: number, code = 200): Handler => (_request, response) => {
  setTimeout(() => {
    if (!response.destroyed) response.writeHead(code).end();
  }, ms);
};

/** A provider for a local receiver: plain http and loopback allowed, as a development setup would. */
const provider = (url: string, options: Partial<WebhookSmsProviderOptions> = {}) =>
  new WebhookSmsProvider({ url, secret: SECRET, retryDelayMs: 0, allowInsecureHttp: true, allowedNetworks: ['127.0.0.1'], ...options });

/** A DNS stand-in answering each look-up with the next answer (the last repeats), counting look-ups. */
function resolver(...answers: string[][]) {
  const state = { lookups: 0, resolve: undefined as unknown as typeof dnsLookup };
  state.resolve = ((_hostname: string, _options: unknown, callback: (error: NodeJS.ErrnoException | null, addresses: LookupAddress[]) => void) => {
    const answer = answers[Math.min(state.lookups, answers.length - 1)]!;
    state.lookups++;
    setImmediate(() => callback(null, answer.map((address) => ({ address, family: isIP(address) }))));
  }) as typeof dnsLookup;
  return state;
}

async function sendError(promise: Promise<unknown>): Promise<SmsSendError> {
  const error = await promise.then(
    () => undefined,
    (caught: unknown) => caught,
  );
  expect(error).toBeInstanceOf(SmsSendError);
  return error as SmsSendError;
}

// ---------------------------------------------------------------- webhook

describe('WebhookSmsProvider against a local receiver', () => {
  it('POSTs the JSON payload with a signature the receiver helper verifies', async () => {
    const gateway = await receiver(status(202));
    await provider(gateway.url).send(MESSAGE);

    expect(gateway.received).toHaveLength(1);
    const [request] = gateway.received;
    expect(request!.method).toBe('POST');
    expect(request!.url).toBe('/sms');
    expect(request!.headers['content-type']).toBe('application/json');
    const payload = JSON.parse(request!.body.toString('utf8')) as SmsWebhookPayload;
    expect(payload).toEqual({ to: MESSAGE.to, text: MESSAGE.text, app_id: 'shop', challenge_id: 'ch_123', sent_at: expect.any(String) });
    expect(Math.abs(Date.parse(payload.sent_at) - Date.now())).toBeLessThan(10_000);

    const timestamp = request!.headers[WEBHOOK_TIMESTAMP_HEADER];
    const signature = request!.headers[WEBHOOK_SIGNATURE_HEADER];
    expect(signature).toMatch(/^sha256=[0-9a-f]{64}$/);
    expect(verifyWebhookSignature(SECRET, timestamp, request!.body, signature, nowSeconds())).toEqual({ ok: true });
    // The same check over the body as a string.
    expect(verifyWebhookSignature(SECRET, timestamp, request!.body.toString('utf8'), signature, nowSeconds())).toEqual({ ok: true });
  });

  it('a tampered body, a wrong secret or a swapped timestamp fails verification', async () => {
    const gateway = await receiver(status(200));
    await provider(gateway.url).send(MESSAGE);
    const { headers, body } = gateway.received[0]!;
    const timestamp = headers[WEBHOOK_TIMESTAMP_HEADER] as string;
    const signature = headers[WEBHOOK_SIGNATURE_HEADER] as string;

    const tampered = Buffer.from(body.toString('utf8').replace('+8613812345678', '+8613800000000'));
    expect(verifyWebhookSignature(SECRET, timestamp, tampered, signature, nowSeconds())).toEqual({ ok: false, failure: 'bad_signature' });
    expect(verifyWebhookSignature('another-secret-0123456789', timestamp, body, signature, nowSeconds())).toEqual({ ok: false, failure: 'bad_signature' });
    const otherTimestamp = String(Number(timestamp) - 1);
    expect(verifyWebhookSignature(SECRET, otherTimestamp, body, signature, nowSeconds())).toEqual({ ok: false, failure: 'bad_signature' });
  });

  it('retries once after a 500, then succeeds; the retry is freshly signed over the same body', async () => {
    const gateway = await receiver(status(500), status(200));
    await provider(gateway.url).send(MESSAGE);

    expect(gateway.received).toHaveLength(2);
    const [first, second] = gateway.received;
    expect(second!.body.equals(first!.body)).toBe(true);
    for (const request of [first!, second!]) {
      const result = verifyWebhookSignature(SECRET, request.headers[WEBHOOK_TIMESTAMP_HEADER], request.body, request.headers[WEBHOOK_SIGNATURE_HEADER], nowSeconds());
      expect(result).toEqual({ ok: true });
    }
  });

  it('gives up after the retry with code rejected and the status', async () => {
    const gateway = await receiver(status(503));
    const error = await sendError(provider(gateway.url).send(MESSAGE));
    expect(error.code).toBe('rejected');
    expect(error.status).toBe(503);
    expect(error.attempts).toBe(2);
    expect(gateway.received).toHaveLength(2);
  });

  it('does not retry after a 400', async () => {
    const gateway = await receiver(status(400, 'bad number'), status(200));
    const error = await sendError(provider(gateway.url).send(MESSAGE));
    expect(error.code).toBe('rejected');
    expect(error.status).toBe(400);
    expect(error.attempts).toBe(1);
    expect(gateway.received).toHaveLength(1);
  });

  it.each([301, 302, 303, 307, 308])('does not follow a %i redirect, nor retry it', async (code) => {
    const elsewhere = await receiver(status(200));
    const gateway = await receiver((_request, response) => {
      response.writeHead(code, { location: elsewhere.url }).end();
    });
    const error = await sendError(provider(gateway.url).send(MESSAGE));
    expect(error.code).toBe('rejected');
    expect(error.status).toBe(code);
    expect(gateway.received.map((request) => request.url)).toEqual(['/sms']);
    expect(elsewhere.received).toEqual([]);
  });

  it('times out, retries, and succeeds when the retry is answered in time', async () => {
    const gateway = await receiver(delayed(1000), status(200));
    const started = Date.now();
    await provider(gateway.url, { timeoutMs: 150 }).send(MESSAGE);
    expect(gateway.received).toHaveLength(2);
    expect(Date.now() - started).toBeLessThan(900);
  });

  it('fails with code timeout after the retry also times out', async () => {
    const gateway = await receiver(delayed(1000));
    const error = await sendError(provider(gateway.url, { timeoutMs: 100 }).send(MESSAGE));
    expect(error.code).toBe('timeout');
    expect(error.attempts).toBe(2);
    expect(gateway.received).toHaveLength(2);
  });

  it('a receiver that never answers fails the send within (retries + 1) × timeoutMs + the retry delay', async () => {
    const gateway = await receiver(() => {
      // Reads the request, never answers.
    });
    const started = Date.now();
    const error = await sendError(provider(gateway.url, { timeoutMs: 200, retryDelayMs: 50 }).send(MESSAGE));
    const elapsed = Date.now() - started;
    expect(error.code).toBe('timeout');
    expect(error.attempts).toBe(2);
    expect(elapsed).toBeGreaterThanOrEqual(2 * 200 + 50 - 20);
    expect(elapsed).toBeLessThan(2 * 200 + 50 + 500);
  });

  it('a connection that never becomes ready (a TLS handshake that hangs) fails at connectTimeoutMs, not timeoutMs', async () => {
    // Accepts TCP and says nothing: the TLS handshake never completes.
    const silent = createNetServer(() => undefined);
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    const sockets = new Set<Socket>();
    silent.on('connection', (socket) => sockets.add(socket));
    try {
      const { port } = silent.address() as AddressInfo;
      const sms = provider(`https://127.0.0.1:${port}/sms`, { timeoutMs: 5000, connectTimeoutMs: 150, retries: 0 });
      const started = Date.now();
      const error = await sendError(sms.send(MESSAGE));
      expect(error.code).toBe('timeout');
      expect(error.message).toMatch(/not connected within 150 ms/);
      expect(Date.now() - started).toBeLessThan(1500);
      expect(sockets.size).toBe(1);
    } finally {
      for (const socket of sockets) socket.destroy();
      await new Promise((resolve) => silent.close(resolve));
    }
  });

  it('counts a 2xx as sent even when its body then stalls past the timeout', async () => {
    const gateway = await receiver((_request, response) => {
      response.writeHead(200, { 'content-type': 'text/plain' });
      response.write('accepted');
      // Never ends: the status is what counts.
    });
    await provider(gateway.url, { timeoutMs: 150 }).send(MESSAGE);
    expect(gateway.received).toHaveLength(1);
  });

  it('fails with code network when nothing listens, after one retry', async () => {
    const gateway = await receiver(status(200));
    const port = new URL(gateway.url).port;
    await gateway.close();
    open.splice(open.indexOf(gateway), 1);
    // By name, so each attempt's DNS look-up can be counted.
    const dns = resolver(['127.0.0.1']);
    const error = await sendError(provider(`http://sms-gateway.test:${port}/sms`, { resolve: dns.resolve }).send(MESSAGE));
    expect(error.code).toBe('network');
    expect(error.attempts).toBe(2);
    expect(dns.lookups).toBe(2);
  });

  it('retries = 0 makes a single attempt', async () => {
    const gateway = await receiver(status(500));
    const error = await sendError(provider(gateway.url, { retries: 0 }).send(MESSAGE));
    expect(error.attempts).toBe(1);
    expect(gateway.received).toHaveLength(1);
  });

  it('error messages never carry the number, the text or the code', async () => {
    const gateway = await receiver(status(400, MESSAGE.text));
    const error = await sendError(provider(gateway.url).send(MESSAGE));
    expect(error.message).not.toContain('13812345678');
    expect(error.message).not.toContain('493021');
  });

  it('refuses bad configuration with a TypeError naming the problem', () => {
    expect(() => new WebhookSmsProvider({ url: 'https://sms.example/send', secret: 'short' })).toThrow(/at least 16 bytes/);
    expect(() => new WebhookSmsProvider({ url: 'not a url', secret: SECRET })).toThrow(TypeError);
    expect(() => new WebhookSmsProvider({ url: 'ftp://example.com/sms', secret: SECRET })).toThrow(/https/);
    expect(() => new WebhookSmsProvider({ url: 'https://sms.example/send', secret: SECRET, timeoutMs: 0 })).toThrow(/timeoutMs/);
    expect(() => new WebhookSmsProvider({ url: 'https://sms.example/send', secret: SECRET, retries: 10 })).toThrow(/retries/);
    expect(() => new WebhookSmsProvider({ url: 'https://sms.example/send', secret: SECRET, timeoutMs: 500, connectTimeoutMs: 600 })).toThrow(/connectTimeoutMs/);
    expect(() => new WebhookSmsProvider({ url: 'https://sms.example/send', secret: SECRET, allowedNetworks: ['gateway.internal'] })).toThrow(/not an IP address or CIDR/);
  });

  it('a receiver written from the README, with node:crypto alone, can check a request and refuses its replay after 5 minutes', async () => {
    // The README's example, as a gateway would write it without RiskGate's code.
    function fromRiskGate(secret: string, headers: IncomingHttpHeaders, rawBody: Buffer | string, nowSeconds = Math.floor(Date.now() / 1000)) {
      const timestamp = headers['x-riskgate-timestamp'];
      const signature = headers['x-riskgate-signature'];
      if (typeof timestamp !== 'string' || !/^\d{1,12}$/.test(timestamp)) return false;
      if (Math.abs(nowSeconds - Number(timestamp)) > 300) return false;
      const expected = `sha256=${createHmac('sha256', secret).update(`${timestamp}.`).update(rawBody).digest('hex')}`;
      return typeof signature === 'string' && signature.length === expected.length && timingSafeEqual(Buffer.from(signature), Buffer.from(expected));
    }
    const gateway = await receiver(status(204));
    await provider(gateway.url).send(MESSAGE);
    const { headers, body } = gateway.received[0]!;
    expect(fromRiskGate(SECRET, headers, body)).toBe(true);
    expect(fromRiskGate(SECRET, headers, body, nowSeconds() + 301)).toBe(false);
    expect(fromRiskGate('not-the-receivers-secret-0123', headers, body)).toBe(false);
    expect(fromRiskGate(SECRET, headers, Buffer.from(body.toString('utf8').replace('493021', '000000')))).toBe(false);
  });

  it('a receiver checking the signature with another secret refuses the send (401, not retried)', async () => {
    const gateway = await receiver((request, response) => {
      const { body } = gateway.received.at(-1)!;
      const check = verifyWebhookSignature(SECRET, request.headers[WEBHOOK_TIMESTAMP_HEADER], body, request.headers[WEBHOOK_SIGNATURE_HEADER], nowSeconds());
      response.writeHead(check.ok ? 204 : 401).end();
    });
    await provider(gateway.url).send(MESSAGE);
    const error = await sendError(provider(gateway.url, { secret: 'not-the-receivers-secret-0123' }).send(MESSAGE));
    expect(error.code).toBe('rejected');
    expect(error.status).toBe(401);
    expect(gateway.received).toHaveLength(2);
  });
});

// ---------------------------------------------------------------- where the webhook may connect

describe('the webhook target: https, public addresses, allowed networks', () => {
  const webhookConfig = (webhook: Record<string, unknown>, env: NodeJS.ProcessEnv = {}) =>
    loadConfig({ env, raw: { data_dir: 'unused', challenges: { sms: { provider: 'webhook', webhook: { secret: SECRET, ...webhook } } } } });

  it('refuses a plain http: URL at config load unless allow_insecure_http is set', () => {
    expect(() => webhookConfig({ url: 'http://sms.example/send' })).toThrow(/field "challenges\.sms\.webhook\.url": must be https:/);
    expect(() => new WebhookSmsProvider({ url: 'http://sms.example/send', secret: SECRET })).toThrow(/must be https:/);
    expect(webhookConfig({ url: 'http://sms.example/send', allow_insecure_http: true }).challenges.sms.webhook).toMatchObject({ allow_insecure_http: true });
    expect(webhookConfig({ url: 'https://sms.example/send' }).challenges.sms.webhook).toMatchObject({ allow_insecure_http: false, allowed_networks: [] });
  });

  it.each([
    ['loopback', 'https://127.0.0.1/sms'],
    ['loopback, decimal', 'https://2130706433/sms'],
    ['loopback, hex', 'https://0x7f.0.0.1/sms'],
    ['loopback, short', 'https://127.1/sms'],
    ['loopback, IPv6', 'https://[::1]/sms'],
    ['loopback, IPv4-mapped IPv6', 'https://[::ffff:127.0.0.1]/sms'],
    ['localhost', 'https://localhost/sms'],
    ['a .localhost name', 'https://sms.localhost./sms'],
    ['unspecified', 'https://0.0.0.0/sms'],
    ['private', 'https://10.1.2.3/sms'],
    ['private, IPv4-mapped IPv6', 'https://[::ffff:192.168.1.1]/sms'],
    ['carrier-grade NAT', 'https://100.64.0.1/sms'],
    ['link-local (cloud metadata)', 'https://169.254.169.254/latest/meta-data'],
    ['link-local, IPv6', 'https://[fe80::1]/sms'],
    ['unique local, IPv6', 'https://[fd00::1]/sms'],
  ])('refuses a %s target at config load and in the provider, before any connection', (_name, url) => {
    expect(() => webhookConfig({ url })).toThrow(/field "challenges\.sms\.webhook\.url": .*allowed_networks/);
    expect(() => new WebhookSmsProvider({ url, secret: SECRET })).toThrow(/allowed_networks/);
  });

  it('allows a non-public target that allowed_networks names, and only that one', () => {
    expect(webhookConfig({ url: 'https://10.1.2.3/sms', allowed_networks: ['10.1.0.0/16'] }).challenges.sms.webhook?.allowed_networks).toEqual(['10.1.0.0/16']);
    expect(() => webhookConfig({ url: 'https://[::ffff:10.1.2.3]/sms', allowed_networks: ['10.1.2.3'] })).not.toThrow();
    expect(() => webhookConfig({ url: 'https://10.2.0.1/sms', allowed_networks: ['10.1.0.0/16'] })).toThrow(/allowed_networks/);
    expect(() => webhookConfig({ url: 'https://localhost/sms', allowed_networks: ['127.0.0.1', '::1'] })).not.toThrow();
  });

  it('connect_timeout_ms is at most timeout_ms; left out, a short timeout_ms alone stays valid', () => {
    expect(() => webhookConfig({ url: 'https://sms.example/send', timeout_ms: 500, connect_timeout_ms: 600 })).toThrow(/field "challenges\.sms\.webhook\.connect_timeout_ms": must not exceed timeout_ms/);
    const config = webhookConfig({ url: 'https://sms.example/send', timeout_ms: 500 });
    expect(() => smsProviderFor(config.challenges, { info: () => undefined })).not.toThrow();
  });

  it.each([['sms-gateway.internal'], ['10.0.0.0/33'], ['10.0.0.0/8/8'], ['127.1'], ['']])('refuses %j in allowed_networks, naming the entry', (entry) => {
    expect(() => webhookConfig({ url: 'https://sms.example/send', allowed_networks: [entry] })).toThrow(/field "challenges\.sms\.webhook\.allowed_networks\.0"/);
  });

  it('RISKGATE_SMS_WEBHOOK_URL replaces the URL only: the file\'s allowed networks and timeouts still apply', () => {
    const config = webhookConfig(
      { url: 'https://sms.example/send', allowed_networks: ['10.1.0.0/16'], timeout_ms: 1500 },
      { RISKGATE_SMS_WEBHOOK_URL: 'https://10.1.2.3/sms' },
    );
    expect(config.challenges.sms.webhook).toMatchObject({ url: 'https://10.1.2.3/sms', secret: SECRET, allowed_networks: ['10.1.0.0/16'], timeout_ms: 1500 });
    expect(() => webhookConfig({ url: 'https://sms.example/send' }, { RISKGATE_SMS_WEBHOOK_URL: 'https://10.1.2.3/sms' })).toThrow(/allowed_networks/);
  });

  it.each([
    ['loopback', ['127.0.0.1']],
    ['IPv4-mapped loopback', ['::ffff:127.0.0.1']],
    ['IPv6 loopback', ['::1']],
    ['private', ['192.168.0.10']],
    ['cloud metadata', ['169.254.169.254']],
    ['public and private', ['8.8.8.8', '127.0.0.1']],
  ])('a name whose DNS answer is %s is refused when connecting: code blocked, not retried, nothing sent', async (_name, answer) => {
    const gateway = await receiver(status(200));
    const dns = resolver(answer);
    const sms = provider(`http://sms-gateway.test:${new URL(gateway.url).port}/sms`, { allowedNetworks: [], resolve: dns.resolve });
    const error = await sendError(sms.send(MESSAGE));
    expect(error.code).toBe('blocked');
    expect(error.attempts).toBe(1);
    expect(dns.lookups).toBe(1);
    expect(gateway.received).toEqual([]);
  });

  it('checks the address at each connection: a name that rebinds to a private address after a good send is refused', async () => {
    const gateway = await receiver(status(200));
    // 127.0.0.1 stands for the gateway's address (allowed); the second answer is the rebinding.
    const dns = resolver(['127.0.0.1'], ['169.254.169.254']);
    const sms = provider(`http://sms-gateway.test:${new URL(gateway.url).port}/sms`, { allowedNetworks: ['127.0.0.1'], resolve: dns.resolve });
    await sms.send(MESSAGE);
    expect(gateway.received).toHaveLength(1);
    const error = await sendError(sms.send(MESSAGE));
    expect(error.code).toBe('blocked');
    expect(dns.lookups).toBe(2);
    expect(gateway.received).toHaveLength(1);
  });
});

// ---------------------------------------------------------------- verifyWebhookSignature on its own

describe('verifyWebhookSignature', () => {
  const body = '{"to":"+8613812345678"}';
  const now = 1_767_225_600;
  const timestamp = String(now);
  const signature = signWebhookPayload(SECRET, timestamp, body);

  it('accepts a fresh, correct signature (hex in either case)', () => {
    expect(verifyWebhookSignature(SECRET, timestamp, body, signature, now)).toEqual({ ok: true });
    expect(verifyWebhookSignature(SECRET, timestamp, body, signature.toUpperCase().replace('SHA256=', 'sha256='), now)).toEqual({ ok: true });
  });

  it('rejects stale and future timestamps beyond the tolerance', () => {
    expect(verifyWebhookSignature(SECRET, timestamp, body, signature, now + 300)).toEqual({ ok: true });
    expect(verifyWebhookSignature(SECRET, timestamp, body, signature, now + 301)).toEqual({ ok: false, failure: 'stale_timestamp' });
    expect(verifyWebhookSignature(SECRET, timestamp, body, signature, now - 301)).toEqual({ ok: false, failure: 'stale_timestamp' });
    expect(verifyWebhookSignature(SECRET, timestamp, body, signature, now + 30, 10)).toEqual({ ok: false, failure: 'stale_timestamp' });
  });

  it.each([
    ['missing', undefined],
    ['repeated', [timestamp, timestamp]],
    ['not a number', 'yesterday'],
    ['fractional', `${now}.5`],
    ['negative', `-${now}`],
  ])('rejects a %s timestamp as malformed', (_name, value) => {
    expect(verifyWebhookSignature(SECRET, value as string | string[] | undefined, body, signature, now)).toEqual({ ok: false, failure: 'malformed_timestamp' });
  });

  it.each([
    ['missing', undefined],
    ['repeated', [signature, signature]],
    ['without the scheme', signature.slice('sha256='.length)],
    ['another scheme', signature.replace('sha256=', 'sha1=')],
    ['truncated', signature.slice(0, -2)],
  ])('rejects a %s signature as malformed', (_name, value) => {
    expect(verifyWebhookSignature(SECRET, timestamp, body, value as string | string[] | undefined, now)).toEqual({ ok: false, failure: 'malformed_signature' });
  });

  it('throws on misuse: a short secret, or now in milliseconds', () => {
    expect(() => verifyWebhookSignature('short', timestamp, body, signature, now)).toThrow(TypeError);
    expect(() => verifyWebhookSignature(SECRET, timestamp, body, signature, Date.now())).toThrow(/seconds/);
  });
});

// ---------------------------------------------------------------- log provider

describe('LogSmsProvider (development only)', () => {
  function capture() {
    const lines: { obj: object; msg: string }[] = [];
    return { lines, logger: { info: (obj: object, msg: string) => lines.push({ obj, msg }) } };
  }

  it('logs the full code at info level with the number masked', async () => {
    const { lines, logger } = capture();
    await new LogSmsProvider(logger).send(MESSAGE);
    expect(lines).toHaveLength(1);
    const logged = JSON.stringify(lines[0]);
    expect(logged).toContain('493021');
    expect(logged).toContain('+861******5678');
    expect(logged).not.toContain('13812345678');
    expect(lines[0]!.obj).toMatchObject({ sms: { code: '493021', app_id: 'shop', challenge_id: 'ch_123' } });
  });

  it('remembers the last code per challenge', async () => {
    const sms = new LogSmsProvider(capture().logger);
    await sms.send(MESSAGE);
    await sms.send({ ...MESSAGE, code: '111222' });
    await sms.send({ ...MESSAGE, challengeId: 'ch_other', code: '999000' });
    expect(sms.lastCodeFor('ch_123')).toBe('111222');
    expect(sms.lastCodeFor('ch_other')).toBe('999000');
    expect(sms.lastCodeFor('ch_unknown')).toBeUndefined();
  });

  it('finds the code in the text when none is given', async () => {
    const sms = new LogSmsProvider(capture().logger);
    const { code: _code, ...withoutCode } = MESSAGE;
    await sms.send(withoutCode);
    expect(sms.lastCodeFor('ch_123')).toBe('493021');
  });

  it('forgets the least recently sent challenge beyond maxRemembered', async () => {
    const sms = new LogSmsProvider(capture().logger, { maxRemembered: 2 });
    await sms.send({ ...MESSAGE, challengeId: 'a', code: '1111' });
    await sms.send({ ...MESSAGE, challengeId: 'b', code: '2222' });
    await sms.send({ ...MESSAGE, challengeId: 'a', code: '3333' });
    await sms.send({ ...MESSAGE, challengeId: 'c', code: '4444' });
    expect(sms.lastCodeFor('b')).toBeUndefined();
    expect(sms.lastCodeFor('a')).toBe('3333');
    expect(sms.lastCodeFor('c')).toBe('4444');
  });
});

describe('maskPhoneNumber', () => {
  it.each([
    ['+8613812345678', '+861******5678'],
    ['+1 (415) 555-0100', '+141****0100'],
    ['13812345678', '138****5678'],
    ['+4930123', '+*****23'],
    ['1234', '****'],
  ])('%s → %s', (input, masked) => {
    expect(maskPhoneNumber(input)).toBe(masked);
  });
});
