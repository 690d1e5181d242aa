import { createServer, type Server } from 'node:http';

// The demo's redirect URI, served by the demo itself for one sign-in: a small listener on
// localhost that takes the first callback carrying the state it expects, tells the browser
// to look at the terminal (no token or code is ever shown in the browser), and closes.

export type Callback = { readonly code: string } | { readonly error: string; readonly description?: string };

export interface CallbackListener {
  /** Resolves with the first callback whose state matches; rejects when stopped first. */
  readonly received: Promise<Callback>;
  /** Closes the listener (idempotent). */
  close(): Promise<void>;
}

const PAGE = (title: string, text: string) =>
  `<!doctype html><html lang="en"><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1"><title>${title}</title>` +
  `<body style="font:1.1rem/1.5 system-ui,sans-serif;max-width:36rem;margin:3rem auto;padding:0 1rem"><h1>${title}</h1><p>${text}</p></body></html>`;

/** Listens on the redirect URI's port (on localhost); resolves once it listens, or fails with one line. */
export async function listenForCallback(redirectUri: URL, state: string): Promise<CallbackListener> {
  let deliver: (callback: Callback) => void = () => {};
  let fail: (error: Error) => void = () => {};
  const received = new Promise<Callback>((resolve, reject) => {
    deliver = resolve;
    fail = reject;
  });
  let done = false;
  const server: Server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', redirectUri);
    res.setHeader('Content-Type', 'text/html; charset=utf-8');
    res.setHeader('Cache-Control', 'no-store');
    res.setHeader('Referrer-Policy', 'no-referrer');
    res.setHeader('Content-Security-Policy', "default-src 'none'; style-src 'unsafe-inline'");
    if (url.pathname !== redirectUri.pathname) {
      res.writeHead(404).end(PAGE('Not here', 'This is the Portcullis demo\'s callback; nothing else is served.'));
      return;
    }
    // A callback of another attempt (an old tab, another run) is not ours: say so, keep waiting.
    if (done || url.searchParams.get('state') !== state) {
      res.writeHead(400).end(PAGE('Not this sign-in', 'This callback belongs to another demo run. Use the link the running demo printed.'));
      return;
    }
    done = true;
    const code = url.searchParams.get('code');
    const error = url.searchParams.get('error');
    if (code) {
      res.end(PAGE('Signed in', 'The demo got an authorization code and is exchanging it now. Your tokens are in the terminal that runs <code>portcullis demo</code>; you may close this tab.'));
      deliver({ code });
    } else {
      res.end(PAGE('Not signed in', 'The sign-in ended without a code; the terminal says why.'));
      const description = url.searchParams.get('error_description') ?? undefined;
      deliver({ error: error ?? 'no_code', ...(description && { description }) });
    }
  });
  const port = Number(redirectUri.port || 80);
  await new Promise<void>((resolve, reject) => {
    server.once('error', (error: NodeJS.ErrnoException) => {
      const reason = error.code === 'EADDRINUSE' ? `port ${port} is in use (choose another with --callback-port)` : error.message;
      reject(new Error(`cannot serve the demo's callback on ${redirectUri.origin}: ${reason}`));
    });
    server.listen(port, redirectUri.hostname, resolve);
  });
  let closed: Promise<void> | undefined;
  return {
    received,
    close: () =>
      (closed ??= new Promise<void>((resolve) => {
        fail(new Error('stopped before the sign-in came back'));
        server.closeAllConnections();
        server.close(() => resolve());
      })),
  };
}
