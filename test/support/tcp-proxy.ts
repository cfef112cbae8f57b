/**
 * A TCP proxy a test controls, put between RiskGate and a store (PostgreSQL,
 * Redis) to play an outage without touching the real server, which other
 * tests share:
 *
 * - `cut()`: every connection closes and new ones are reset at once (the
 *   database is down);
 * - `hang()`: connections stay open and new ones are accepted, but nothing is
 *   forwarded either way (a database that never answers). Bytes sent
 *   meanwhile wait in the sockets, as in a network partition, and flow on
 *   `restore()`;
 * - `restore()`: forwards again.
 */
import { connect, createServer, type AddressInfo, type Socket } from 'node:net';

export type ProxyState = 'open' | 'hung' | 'cut';

export interface TcpProxy {
  /** The port on 127.0.0.1 to connect to instead of the target's. */
  readonly port: number;
  readonly state: ProxyState;
  /** Connections accepted so far (those reset while cut included). */
  readonly accepted: number;
  cut(): void;
  hang(): void;
  restore(): void;
  close(): Promise<void>;
}

export async function startTcpProxy(target: { host: string; port: number }): Promise<TcpProxy> {
  let state: ProxyState = 'open';
  let accepted = 0;
  const sockets = new Set<Socket>();

  /** Forwards `from` to `to` while open, with backpressure; a socket that ends or fails takes its peer along. */
  const forward = (from: Socket, to: Socket) => {
    from.on('data', (chunk: Buffer) => {
      if (!to.write(chunk)) from.pause();
    });
    to.on('drain', () => {
      if (state === 'open') from.resume();
    });
    from.on('end', () => to.end());
    from.on('close', () => to.destroy());
    from.on('error', () => to.destroy());
  };

  const server = createServer((client) => {
    accepted++;
    if (state === 'cut') {
      client.resetAndDestroy();
      return;
    }
    const upstream = connect(target.port, target.host);
    for (const socket of [client, upstream]) {
      sockets.add(socket);
      socket.on('close', () => sockets.delete(socket));
      if (state === 'hung') socket.pause();
    }
    forward(client, upstream);
    forward(upstream, client);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });

  return {
    port: (server.address() as AddressInfo).port,
    get state() {
      return state;
    },
    get accepted() {
      return accepted;
    },
    cut() {
      state = 'cut';
      for (const socket of sockets) socket.destroy();
    },
    hang() {
      state = 'hung';
      for (const socket of sockets) socket.pause();
    },
    restore() {
      state = 'open';
      for (const socket of sockets) socket.resume();
    },
    async close() {
      state = 'cut';
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
