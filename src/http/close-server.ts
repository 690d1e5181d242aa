import type { Server } from 'node:http';

/**
 * Stops accepting connections and waits for the requests in flight to finish, at most
 * `timeoutMs`; then cuts what is left. Idle keep-alive connections are closed as they
 * become idle, so a client holding one open cannot delay the shutdown. Resolves with
 * whether every request finished in time.
 */
export async function closeServer(server: Server, options: { timeoutMs: number }): Promise<boolean> {
  if (!server.listening) return true;
  let finished = true;
  const closed = new Promise<void>((resolve) => server.close(() => resolve()));
  const sweep = setInterval(() => server.closeIdleConnections(), 100);
  const deadline = setTimeout(() => {
    finished = false;
    server.closeAllConnections();
  }, options.timeoutMs);
  server.closeIdleConnections();
  try {
    await closed;
  } finally {
    clearInterval(sweep);
    clearTimeout(deadline);
  }
  return finished;
}
