import { startCuttableProxy } from '../../helpers/cuttable-proxy.ts';

// The proxy in front of the machine's Postgres, owned by the test: the one edge where a
// fault is injected. The instances connect to it as to their database; `cut()` resets
// every open connection (what a Postgres restart does to its clients) and `stop()` also
// refuses new ones until `start()` (a database that is down), without touching the shared
// Postgres server itself. (test/helpers/cuttable-proxy.ts, in the cluster's words.)

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
  const proxy = await startCuttableProxy(target);
  return {
    port: proxy.port,
    cut: () => proxy.reset(),
    stop: async () => {
      proxy.reset();
      await proxy.close();
    },
    start: () => proxy.restore(),
    close: () => proxy.stop(),
  };
}
