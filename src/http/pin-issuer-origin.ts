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
    const headers = ctx.req.headers;
    // Also for the contexts the engine builds from `req` itself (interactionDetails and
    // interactionFinished in our routes).
    headers.host = issuer.host;
    delete headers['x-forwarded-host'];
    const target = ctx.req.url ?? '/';
    if (!target.startsWith('/') && target !== '*') {
      // An absolute-form target: only its path and query are the request's.
      const parsed = URL.parse(target);
      if (!parsed) return ctx.throw(400, 'the request target is not a valid URL');
      const originForm = `${parsed.pathname}${parsed.search}`;
      ctx.url = originForm;
      ctx.originalUrl = originForm;
      ctx.request.originalUrl = originForm;
    }
    await next();
  };
}
