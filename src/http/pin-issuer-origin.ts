import type Koa from 'koa';
import type { Middleware } from 'koa';

// The engine writes its URLs (discovery, JWKS, redirects, form actions, the resume URL of an
// interaction) from the request: `ctx.href`, i.e. the scheme, the Host or X-Forwarded-Host,
// and the request target, which may itself be absolute (`GET http://evil.example/...`).
// Every one of those is the sender's to choose, and discovery and JWKS are cached by every
// client and resource server (and by shared caches): so the request is made to name the
// configured issuer before the engine sees it. The scheme the request really arrived with
// (`ctx.protocol`, `ctx.secure`: TLS, or the trusted proxy's X-Forwarded-Proto) is left as
// it is, so cookies are still marked Secure exactly when the connection is https.

/** Set by originFormTarget on a request whose target is no URL. */
const INVALID_TARGET = Symbol('portcullis.invalidTarget');

export function pinIssuerOrigin(app: Koa, options: { issuer: string }): Middleware {
  const issuer = new URL(options.issuer);
  const origin = issuer.origin;
  // What the engine's urlFor resolves against: the issuer's scheme and host, the request's
  // path. (Koa's `ctx.origin` is the Origin header, left alone.) Defined once, on the
  // prototype of this app's every `ctx.request`: a property defined on each request object
  // would turn it into a slow dictionary-mode object for the rest of the request.
  Object.defineProperty(app.request, 'href', {
    get(this: Koa.Request) {
      return `${origin}${this.originalUrl}`;
    },
    configurable: true,
  });
  return async (ctx, next) => {
    if ((ctx.state as { [INVALID_TARGET]?: boolean })[INVALID_TARGET]) ctx.throw(400, 'the request target is not a valid URL');
    const headers = ctx.req.headers;
    // Also for the contexts the engine builds from `req` itself (interactionDetails and
    // interactionFinished in our routes).
    headers.host = issuer.host;
    delete headers['x-forwarded-host'];
    await next();
  };
}

/**
 * The request target in origin form, before anything reads `ctx.path`: the first middleware.
 * An absolute-form target (`GET http://evil.example/jwks`) keeps only its path and query: the
 * rest is the sender's to choose. One that is no URL at all becomes `/`, and pinIssuerOrigin
 * refuses it with a 400 inside the error handling: Koa's `ctx.path` throws on some of them
 * (`http://[::1/`), and the first middleware to read it answered a bare 500 with no log line.
 */
export function originFormTarget(): Middleware {
  return async (ctx, next) => {
    const target = ctx.req.url ?? '/';
    if (!target.startsWith('/') && target !== '*') {
      const parsed = URL.parse(target);
      const originForm = parsed ? `${parsed.pathname}${parsed.search}` : '/';
      if (!parsed) (ctx.state as { [INVALID_TARGET]?: boolean })[INVALID_TARGET] = true;
      ctx.url = originForm;
      ctx.originalUrl = originForm;
      ctx.request.originalUrl = originForm;
    }
    await next();
  };
}
