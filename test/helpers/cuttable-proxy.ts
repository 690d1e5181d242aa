import { connect, createServer, type AddressInfo, type Server, type Socket } from 'node:net';

// A TCP proxy between a server and a dependency (Postgres, Redis), for fault injection:
// `reset()` resets every open connection and goes on forwarding (a restart as clients see
// it), `cut()` drops every connection through it and refuses new ones (accepted, then
// closed at once: the client sees its connection end), `close()` stops listening
// (connection refused), `restore()` forwards again on the same port. The cluster harness
// uses it too (test/cluster/harness/tcp-proxy.ts).

export interface CuttableProxy {
  readonly port: number;
  /** Resets every open connection (RST); new ones are forwarded as before. */
  reset(): void;
  /** Drops every open connection; new ones are accepted and closed at once until restore(). */
  cut(): void;
  /** Stops listening: new connections are refused (ECONNREFUSED) until restore(). */
  close(): Promise<void>;
  /** Forwards again (listening on the same port if it had stopped). */
  restore(): Promise<void>;
  /** Stops for good. */
  stop(): Promise<void>;
}

/** `target` is read at each connection: it may be filled in after the proxy started. */
export async function startCuttableProxy(target: { readonly host: string; readonly port: number }): Promise<CuttableProxy> {
  const sockets = new Set<Socket>();
  let forwarding = true;
  const server: Server = createServer((client) => {
    if (!forwarding) {
      client.destroy();
      return;
    }
    const upstream = connect(target.port, target.host);
    sockets.add(client).add(upstream);
    const end = () => {
      client.destroy();
      upstream.destroy();
      sockets.delete(client);
      sockets.delete(upstream);
    };
    client.on('error', end).on('close', end);
    upstream.on('error', end).on('close', end);
    client.pipe(upstream);
    upstream.pipe(client);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const dropAll = () => {
    for (const socket of sockets) socket.destroy();
    sockets.clear();
  };
  return {
    port,
    reset() {
      for (const socket of sockets) socket.resetAndDestroy();
      sockets.clear();
    },
    cut() {
      forwarding = false;
      dropAll();
    },
    async close() {
      forwarding = false;
      dropAll();
      if (server.listening) await new Promise<void>((resolve) => server.close(() => resolve()));
    },
    async restore() {
      forwarding = true;
      if (!server.listening) await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
    },
    async stop() {
      forwarding = false;
      dropAll();
      if (server.listening) await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
