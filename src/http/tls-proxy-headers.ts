import type { Middleware } from 'koa';

// The request's own idea of where it was sent (scheme and host) becomes URLs the engine
// writes (discovery, redirects, form actions). Whatever a proxy or a client put there must
// make a URL, or the engine fails with a 500 building one:
// - X-Forwarded-Proto (honoured with TRUST_PROXY): only http or https; anything else is
//   dropped, as if the proxy had not sent it.
// - X-Forwarded-Host (honoured with TRUST_PROXY) and Host: must form a URL with the scheme;
//   a bad forwarded host is dropped, a bad Host is the client's error (400).

export function checkProxyHeaders(options: { trustProxy: boolean }): Middleware {
  return async (ctx, next) => {
    const headers = ctx.req.headers;
    if (options.trustProxy) {
      const proto = headers['x-forwarded-proto'];
      if (proto !== undefined && !/^\s*https?\s*(,|$)/i.test(String(proto))) delete headers['x-forwarded-proto'];
      const host = headers['x-forwarded-host'];
      if (host !== undefined && !validHost(String(host).split(',')[0]!.trim())) delete headers['x-forwarded-host'];
    }
    if (!validHost(ctx.host)) ctx.throw(400, 'the Host header is not a valid host');
    await next();
  };
}

function validHost(host: string): boolean {
  if (!host || host.length > 255 || /[\s/\\?#@]/.test(host)) return false;
  return URL.canParse(`http://${host}/`);
}
