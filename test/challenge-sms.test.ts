import { createServer, type IncomingHttpHeaders, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { LogSmsProvider } from '../server/challenges/sms/log.js';
import { maskPhoneNumber, SmsSendError, type SmsMessage } from '../server/challenges/sms/provider.js';
import {
  signWebhookPayload,
  verifyWebhookSignature,
  WEBHOOK_SIGNATURE_HEADER,
  WEBHOOK_TIMESTAMP_HEADER,
  WebhookSmsProvider,
  type SmsWebhookPayload,
} from '../server/challenges/sms/webhook.js';

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

const provider = (url: string, options: Partial<ConstructorParameters<typeof WebhookSmsProvider>[0]> = {}) =>
  new WebhookSmsProvider({ url, secret: SECRET, retryDelayMs: 0, ...options });

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

  it('does not follow a redirect, nor retry it', async () => {
    const gateway = await receiver((_request, response) => {
      response.writeHead(307, { location: '/elsewhere' }).end();
    });
    const error = await sendError(provider(gateway.url).send(MESSAGE));
    expect(error.code).toBe('rejected');
    expect(error.status).toBe(307);
    expect(gateway.received.map((request) => request.url)).toEqual(['/sms']);
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
    const url = gateway.url;
    await gateway.close();
    open.splice(open.indexOf(gateway), 1);
    let calls = 0;
    const counting: typeof fetch = (input, init) => {
      calls++;
      return fetch(input, init);
    };
    const error = await sendError(provider(url, { fetch: counting }).send(MESSAGE));
    expect(error.code).toBe('network');
    expect(error.attempts).toBe(2);
    expect(calls).toBe(2);
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
    expect(() => new WebhookSmsProvider({ url: 'http://127.0.0.1/sms', secret: 'short' })).toThrow(/at least 16 bytes/);
    expect(() => new WebhookSmsProvider({ url: 'not a url', secret: SECRET })).toThrow(TypeError);
    expect(() => new WebhookSmsProvider({ url: 'ftp://example.com/sms', secret: SECRET })).toThrow(/http/);
    expect(() => new WebhookSmsProvider({ url: 'http://127.0.0.1/sms', secret: SECRET, timeoutMs: 0 })).toThrow(/timeoutMs/);
    expect(() => new WebhookSmsProvider({ url: 'http://127.0.0.1/sms', secret: SECRET, retries: 10 })).toThrow(/retries/);
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
