import type { IncomingMessage, ServerResponse } from 'node:http';

import inject from 'light-my-request';

// A fetch that never leaves the process: each request is handed to this app's own request
// handler, as if it had come in over a socket from `remoteAddress`. The account page signs
// people in through Portcullis' own token endpoint with it, so that exchange passes every
// check and budget a client's would (the engine's PKCE and code checks, the request limits
// of the person's own address), yet needs no route from the server to its public URL
// (behind a proxy, the issuer's host may not even resolve from inside). With a path in the
// issuer, the proxy strips it before the app sees a request: so does this fetch.

/** A request handler as Koa's app.callback() makes one (it answers its own errors). */
export type Dispatch = (request: IncomingMessage, response: ServerResponse) => Promise<void>;

export function inProcessFetch(dispatch: () => Dispatch, options: { readonly remoteAddress: string; readonly issuer: string }): typeof fetch {
  const prefix = new URL(options.issuer).pathname.replace(/\/$/, '');
  return async (input, init) => {
    const request = new Request(input, init);
    const url = new URL(request.url);
    if (prefix && url.pathname.startsWith(`${prefix}/`)) url.pathname = url.pathname.slice(prefix.length);
    const headers: Record<string, string> = {};
    request.headers.forEach((value, name) => {
      headers[name] = value;
    });
    const body = request.body ? Buffer.from(await request.arrayBuffer()) : undefined;
    const answer = await inject(completeWhenEnded(dispatch()), {
      method: request.method as 'GET' | 'POST',
      url: `${url.pathname}${url.search}`,
      headers: { ...headers, host: url.host },
      remoteAddress: options.remoteAddress,
      ...(body && { payload: body }),
    });
    const responseHeaders = new Headers();
    for (const [name, value] of Object.entries(answer.headers)) {
      if (value === undefined) continue;
      for (const one of Array.isArray(value) ? value : [String(value)]) responseHeaders.append(name, one);
    }
    const nullBody = answer.statusCode === 204 || answer.statusCode === 304;
    return new Response(nullBody ? null : answer.rawPayload, { status: answer.statusCode, headers: responseHeaders });
  };
}

/**
 * light-my-request's request never sets `complete`, which Node's IncomingMessage sets once
 * the whole body has arrived; the reader that looks at a form body before the engine does
 * (abuse/peek-form-body.ts) waits for it. Here it is set as the body's end is pushed.
 */
function completeWhenEnded(dispatch: Dispatch): (request: IncomingMessage, response: ServerResponse) => void {
  return (request, response) => {
    let complete = false;
    Object.defineProperty(request, 'complete', { get: () => complete, configurable: true });
    const push = request.push.bind(request);
    request.push = (chunk: unknown, encoding?: BufferEncoding) => {
      if (chunk === null) complete = true;
      return push(chunk, encoding);
    };
    void dispatch(request, response);
  };
}
