import { isIP } from 'node:net';

import type { Middleware } from 'koa';

// What a proxy or a client says about the request, checked before anyone reads it:
// - X-Forwarded-For (honoured with TRUST_PROXY): the entries our own proxies appended (the
//   last TRUST_PROXY_HOPS) must be IP addresses, or the whole header is dropped and the
//   socket address is the client's. Anything else would let text of the client's choosing
//   stand for its address in logs, audit events and budgets. An IPv6 zone id is removed.
// - X-Forwarded-Proto (honoured with TRUST_PROXY): only http or https; anything else is
//   dropped, as if the proxy had not sent it.
// - Host: must be a host, or the request is the client's error (400). The URLs the engine
//   writes never come from it (pin-issuer-origin.ts).

/** First of all: Koa remembers `ctx.ip` from the first read, and the repeat-refusal check reads it. */
export function dropMalformedForwardedFor(options: { trustProxy: boolean; hops: number }): Middleware {
  return async (ctx, next) => {
    const headers = ctx.req.headers;
    const forwardedFor = headers['x-forwarded-for'];
    if (options.trustProxy && forwardedFor !== undefined) {
      // Zone ids (fe80::1%eth0) name an interface of the proxy's host, and net.isIP accepts
      // them at any length: kept, they would put text of the client's choosing in logs.
      const entries = String(forwardedFor)
        .split(',')
        .map((entry) => entry.trim())
        .map((entry) => (isIP(entry) === 6 ? entry.split('%')[0]! : entry));
      if (entries.slice(-options.hops).some((entry) => isIP(entry) === 0)) delete headers['x-forwarded-for'];
      else headers['x-forwarded-for'] = entries.join(', ');
    }
    await next();
  };
}

export function checkProxyHeaders(options: { trustProxy: boolean }): Middleware {
  return async (ctx, next) => {
    const headers = ctx.req.headers;
    if (options.trustProxy) {
      const proto = headers['x-forwarded-proto'];
      if (proto !== undefined && !/^\s*https?\s*(,|$)/i.test(String(proto))) delete headers['x-forwarded-proto'];
    }
    if (!validHost(headers.host ?? '')) ctx.throw(400, 'the Host header is not a valid host');
    await next();
  };
}

function validHost(host: string): boolean {
  if (!host || host.length > 255 || /[\s/\\?#@]/.test(host)) return false;
  return URL.canParse(`http://${host}/`);
}
