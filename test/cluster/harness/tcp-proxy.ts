import { connect, createServer, type Server, type Socket } from 'node:net';

// A TCP proxy in front of the machine's Postgres, owned by the test: the one edge where a
// fault is injected. The instances connect to it as to their database; `cut()` resets
// every open connection (what a Postgres restart does to its clients) and `stop()` also
// refuses new ones until `start()` (a database that is down), without touching the shared
// Postgres server itself.

export interface TcpProxy {
  readonly port: number;
  /** Resets every open connection; new ones are still accepted. */
  cut(): void;
  /** Refuses new connections and resets the open ones, until start(). */
  stop(): Promise<void>;
  start(): Promise<void>;
  close(): Promise<void>;
}

export async function startTcpProxy(target: { host: string; port: number }): Promise<TcpProxy> {
  const open = new Set<Socket>();
  const onConnection = (client: Socket) => {
    const upstream = connect(target.port, target.host);
    open.add(client);
    open.add(upstream);
    const end = () => {
      client.destroy();
      upstream.destroy();
      open.delete(client);
      open.delete(upstream);
    };
    client.on('error', end).on('close', end);
    upstream.on('error', end).on('close', end);
    client.pipe(upstream);
    upstream.pipe(client);
  };
  let server: Server | undefined;
  let port = 0;
  const listen = async () => {
    server = createServer(onConnection);
    await new Promise<void>((resolve, reject) => {
      server!.once('error', reject);
      server!.listen(port, '127.0.0.1', () => resolve());
    });
    port = (server.address() as { port: number }).port;
  };
  const cut = () => {
    for (const socket of open) socket.resetAndDestroy();
    open.clear();
  };
  const stop = async () => {
    const closing = server;
    server = undefined;
    cut();
    if (closing) await new Promise<void>((resolve) => closing.close(() => resolve()));
  };
  await listen();
  return {
    get port() {
      return port;
    },
    cut,
    stop,
    async start() {
      if (!server) await listen();
    },
    close: stop,
  };
}
