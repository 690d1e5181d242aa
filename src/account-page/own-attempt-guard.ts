import type { Context, Middleware } from 'koa';

import { peekBody } from '../abuse/index.ts';
import { routedPath } from '../http/index.ts';

// The clients of Portcullis' own pages (the account page, the admin console) are public and
// first-party: anyone can write an authorization request for one, and a person signed in to
// Portcullis is sent through without a page (no consent). An attacker who wrote one (their
// own state and PKCE verifier) and got a victim to open it would hold the victim's code in
// the victim's address bar and history; should that URL ever leak, it signs the attacker in
// to the victim's page. So an
// authorization request for this client is served only to the browser that started it: the
// sign-in (first-party-sign-in.ts) leaves the request's state in a signed cookie on the
// authorization path, and here any other request for the client (another state, none, a
// pushed or signed request whose state is not in the URL) is refused before the engine.

/** The engine parses at most this much of an authorization form; more is refused there anyway. */
const FORM_LIMIT = 56 * 1024;

export function requireOwnAttempt(options: {
  readonly authorizationPath: string;
  readonly clientId: string;
  readonly cookie: string;
  /** Answers a refused request (an error page leading back to the page). */
  readonly refuse: (ctx: Context) => void;
}): Middleware {
  return async (ctx, next) => {
    // As the engine's router matches it: /AUTH and /auth/ are the authorization endpoint too.
    // HEAD too: the engine answers it with its GET handler (a redirect with a code in Location).
    if (routedPath(ctx.path) !== routedPath(options.authorizationPath) || !['GET', 'HEAD', 'POST'].includes(ctx.method)) {
      await next();
      return;
    }
    const params = new URLSearchParams(ctx.querystring);
    if (ctx.method === 'POST' && ctx.is('application/x-www-form-urlencoded')) {
      const body = await peekBody(ctx.req, FORM_LIMIT);
      // Decoded as the engine decodes it (its charset): read as UTF-8, a UTF-16 form would hide its client_id here.
      let text: string;
      try {
        text = new TextDecoder(ctx.request.charset || 'utf-8').decode(body ?? Buffer.alloc(0));
      } catch {
        options.refuse(ctx); // a charset no decoder knows: the engine cannot read it either
        return;
      }
      for (const [name, value] of new URLSearchParams(text)) params.append(name, value);
    }
    if (params.getAll('client_id').includes(options.clientId)) {
      const states = params.getAll('state');
      const expected = ctx.cookies.get(options.cookie, { signed: true });
      if (!expected || states.length !== 1 || states[0] !== expected) {
        options.refuse(ctx);
        return;
      }
    }
    await next();
  };
}
