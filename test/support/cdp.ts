/**
 * A bare DevTools-protocol client for the persona suite: a minimal WebSocket
 * client on node:http (Node 20 has no global WebSocket, and no `ws` package is
 * installed) and `send(method, params)`. It sends only what the test asks
 * for — no Runtime.enable, no Page.enable, no init scripts, no bindings — so
 * the page sees a browser driven over CDP with as few traces as CDP allows.
 * playwright-core's connectOverCDP is not used: it enables domains, adds
 * utility worlds and bindings on every page it attaches to.
 */
import { randomBytes } from 'node:crypto';
import { request } from 'node:http';
import type { Socket } from 'node:net';

export interface CdpSession {
  send<T = unknown>(method: string, params?: Record<string, unknown>, timeoutMs?: number): Promise<T>;
  close(): void;
}

/** Opens a text-frame WebSocket to `url` (ws://host:port/path) and speaks CDP over it. */
export async function connectCdp(url: string): Promise<CdpSession> {
  const target = new URL(url);
  const socket = await new Promise<Socket>((resolve, reject) => {
    const req = request({
      host: target.hostname,
      port: target.port,
      path: target.pathname + target.search,
      headers: { connection: 'Upgrade', upgrade: 'websocket', 'sec-websocket-version': '13', 'sec-websocket-key': randomBytes(16).toString('base64') },
    });
    req.on('upgrade', (_response, upgraded) => resolve(upgraded as Socket));
    req.on('response', (response) => reject(new Error(`CDP WebSocket refused: HTTP ${response.statusCode}`)));
    req.on('error', reject);
    req.end();
  });
  socket.setNoDelay(true);

  let nextId = 1;
  const pending = new Map<number, { resolve(value: unknown): void; reject(error: Error): void }>();
  let buffer = Buffer.alloc(0);
  let fragments: Buffer[] = [];

  const onMessage = (text: string) => {
    const message = JSON.parse(text) as { id?: number; result?: unknown; error?: { message: string } };
    if (message.id === undefined) return; // events: none are enabled, but ignore any
    const waiter = pending.get(message.id);
    if (!waiter) return;
    pending.delete(message.id);
    if (message.error) waiter.reject(new Error(`CDP: ${message.error.message}`));
    else waiter.resolve(message.result);
  };

  const sendFrame = (opcode: number, payload: Buffer) => {
    const mask = randomBytes(4);
    const length = payload.length;
    const header = length < 126 ? Buffer.alloc(2) : length < 65_536 ? Buffer.alloc(4) : Buffer.alloc(10);
    header[0] = 0x80 | opcode;
    if (length < 126) header[1] = 0x80 | length;
    else if (length < 65_536) {
      header[1] = 0x80 | 126;
      header.writeUInt16BE(length, 2);
    } else {
      header[1] = 0x80 | 127;
      header.writeBigUInt64BE(BigInt(length), 2);
    }
    const masked = Buffer.alloc(length);
    for (let i = 0; i < length; i++) masked[i] = payload[i]! ^ mask[i % 4]!;
    socket.write(Buffer.concat([header, mask, masked]));
  };

  socket.on('data', (chunk: Buffer) => {
    buffer = Buffer.concat([buffer, chunk]);
    for (;;) {
      if (buffer.length < 2) return;
      const fin = (buffer[0]! & 0x80) !== 0;
      const opcode = buffer[0]! & 0x0f;
      const masked = (buffer[1]! & 0x80) !== 0;
      let length = buffer[1]! & 0x7f;
      let offset = 2;
      if (length === 126) {
        if (buffer.length < 4) return;
        length = buffer.readUInt16BE(2);
        offset = 4;
      } else if (length === 127) {
        if (buffer.length < 10) return;
        length = Number(buffer.readBigUInt64BE(2));
        offset = 10;
      }
      const maskKey = masked ? buffer.subarray(offset, offset + 4) : undefined;
      if (masked) offset += 4;
      if (buffer.length < offset + length) return;
      let payload = buffer.subarray(offset, offset + length);
      if (maskKey) payload = Buffer.from(payload.map((byte, i) => byte ^ maskKey[i % 4]!));
      buffer = buffer.subarray(offset + length);
      if (opcode === 0x8) {
        socket.end();
        return;
      }
      if (opcode === 0x9) {
        sendFrame(0xa, payload); // pong
        continue;
      }
      if (opcode === 0x1 || opcode === 0x0) {
        fragments.push(Buffer.from(payload));
        if (fin) {
          const text = Buffer.concat(fragments).toString('utf8');
          fragments = [];
          onMessage(text);
        }
      }
    }
  });
  const failAll = (error: Error) => {
    for (const waiter of pending.values()) waiter.reject(error);
    pending.clear();
  };
  socket.on('close', () => failAll(new Error('CDP WebSocket closed')));
  socket.on('error', (error) => failAll(error));

  return {
    send<T>(method: string, params: Record<string, unknown> = {}, timeoutMs = 30_000) {
      const id = nextId++;
      return new Promise<T>((resolve, reject) => {
        const timer = setTimeout(() => {
          pending.delete(id);
          reject(new Error(`CDP ${method}: no answer within ${timeoutMs} ms`));
        }, timeoutMs);
        pending.set(id, {
          resolve: (value) => {
            clearTimeout(timer);
            resolve(value as T);
          },
          reject: (error) => {
            clearTimeout(timer);
            reject(error);
          },
        });
        sendFrame(0x1, Buffer.from(JSON.stringify({ id, method, params }), 'utf8'));
      });
    },
    close() {
      try {
        sendFrame(0x8, Buffer.alloc(0));
      } catch {
        // already closed
      }
      socket.destroy();
    },
  };
}

/** Runtime.evaluate of an expression, awaiting its promise; the value by JSON, or the exception as an Error. */
export async function evaluate<T>(session: CdpSession, expression: string, timeoutMs = 30_000): Promise<T> {
  const result = await session.send<{ result: { value?: T }; exceptionDetails?: { text: string; exception?: { description?: string } } }>(
    'Runtime.evaluate',
    { expression, awaitPromise: true, returnByValue: true },
    timeoutMs,
  );
  if (result.exceptionDetails) throw new Error(`in the page: ${result.exceptionDetails.exception?.description ?? result.exceptionDetails.text}`);
  return result.result.value as T;
}
