/**
 * A tiny reverse proxy for the browser tests: it stands between a browser and
 * the RiskGate server (started with `trust_proxy: true`) and adds
 * `X-Forwarded-For: <clientIp>` to every request, so that the server sees the
 * persona's public IP for the SDK's own calls and the demo backend passes it
 * to evaluate. Browsers that nothing automates (xdotool-driven, CDP-driven)
 * cannot add the header themselves.
 *
 * The page is served from the proxy's origin; the SDK posts to
 * `location.origin`, so the proxy rewrites `Origin` from its own origin to the
 * server's (the demo app allows only the server's origin). It also keeps what
 * the demo backend answered to each registration, so the test learns the
 * sequence id without touching the browser.
 */
import { createServer, request as httpRequest, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface ForwardingProxy {
  /** http://127.0.0.1:port — what the browser opens. */
  base: string;
  clientIp: string;
  /** JSON bodies the demo backend answered to POST /demo/api/register, in order. */
  registrations: unknown[];
  /** The JSON bodies the browser posted to /demo/api/register (with its black_box), in order. */
  forms: unknown[];
  /** Resolves with the n-th (1-based) registration answer. */
  registration(n: number, timeoutMs?: number): Promise<unknown>;
  close(): Promise<void>;
}

export async function startForwardingProxy(target: string, clientIp: string): Promise<ForwardingProxy> {
  const targetUrl = new URL(target);
  const registrations: unknown[] = [];
  const forms: unknown[] = [];
  const waiters: (() => void)[] = [];
  let base = '';

  const server = createServer((incoming, outgoing) => {
    const headers: IncomingHttpHeaders = { ...incoming.headers, host: targetUrl.host, 'x-forwarded-for': clientIp };
    if (headers.origin === base) headers.origin = targetUrl.origin;
    if (typeof headers.referer === 'string' && headers.referer.startsWith(`${base}/`)) headers.referer = targetUrl.origin + headers.referer.slice(base.length);
    const capture = incoming.method === 'POST' && incoming.url === '/demo/api/register';
    const upstream = httpRequest(
      { host: targetUrl.hostname, port: targetUrl.port, method: incoming.method, path: incoming.url, headers },
      (response) => {
        outgoing.writeHead(response.statusCode ?? 502, response.headers);
        if (!capture) {
          response.pipe(outgoing);
          return;
        }
        const chunks: Buffer[] = [];
        response.on('data', (chunk: Buffer) => {
          chunks.push(chunk);
          outgoing.write(chunk);
        });
        response.on('end', () => {
          outgoing.end();
          try {
            registrations.push(JSON.parse(Buffer.concat(chunks).toString('utf8')));
          } catch {
            registrations.push({ unparsable: Buffer.concat(chunks).toString('utf8').slice(0, 500) });
          }
          for (const wake of waiters.splice(0)) wake();
        });
      },
    );
    upstream.on('error', (error) => {
      if (!outgoing.headersSent) outgoing.writeHead(502, { 'content-type': 'text/plain' });
      outgoing.end(`proxy: ${error.message}`);
    });
    if (!capture) {
      incoming.pipe(upstream);
      return;
    }
    const body: Buffer[] = [];
    incoming.on('data', (chunk: Buffer) => {
      body.push(chunk);
      upstream.write(chunk);
    });
    incoming.on('end', () => {
      upstream.end();
      try {
        forms.push(JSON.parse(Buffer.concat(body).toString('utf8')));
      } catch {
        forms.push(undefined);
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  return {
    base,
    clientIp,
    registrations,
    forms,
    async registration(n, timeoutMs = 60_000) {
      const deadline = Date.now() + timeoutMs;
      while (registrations.length < n) {
        const left = deadline - Date.now();
        if (left <= 0) throw new Error(`no registration #${n} through the proxy for ${clientIp} within ${timeoutMs} ms`);
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, Math.min(left, 1000));
          waiters.push(() => {
            clearTimeout(timer);
            resolve();
          });
        });
      }
      return registrations[n - 1];
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
