import { randomBytes } from 'node:crypto';
import type { ServerResponse } from 'node:http';

import type { Context, Middleware } from 'koa';
import helmet from 'koa-helmet';

// The browser-facing hardening of every response, in one place: our pages, the engine's
// own HTML (error, logout, form_post) and its JSON alike. koa-helmet writes the headers;
// this file only decides their values.

export interface SecurityHeaderOptions {
  /** Send HSTS: only when the public issuer is https (never teach a browser HSTS for http). */
  readonly hsts: boolean;
  /**
   * Where the page of this response may send a form, beyond our own origin: the redirect
   * and post-logout URIs of the client the page belongs to. A form submitted to us is
   * answered with a redirect to the client (or, for form_post, is itself posted to the
   * client), and browsers check `form-action` against every hop of that redirect chain.
   */
  readonly formTargets?: (ctx: Context) => Iterable<string>;
}

const CSP = 'Content-Security-Policy';
const nonces = new WeakMap<ServerResponse, string>();

// Every response gets a fresh nonce. They are cut from a pooled block of CSPRNG bytes, 16
// bytes each and each used once: one getrandom call per 256 responses rather than per response.
const NONCE_BYTES = 16;
let randomPool = Buffer.alloc(0);
let poolOffset = 0;
function newNonce(): string {
  if (poolOffset + NONCE_BYTES > randomPool.length) {
    randomPool = randomBytes(NONCE_BYTES * 256);
    poolOffset = 0;
  }
  const nonce = randomPool.toString('base64', poolOffset, poolOffset + NONCE_BYTES);
  poolOffset += NONCE_BYTES;
  return nonce;
}
const nonceSource = (_req: unknown, res: ServerResponse) => `'nonce-${nonces.get(res) ?? ''}'`;

/** The nonce of this response's Content-Security-Policy, for `<script>`/`<link>` tags. */
export function cspNonce(ctx: Context): string {
  return nonces.get(ctx.res) ?? '';
}

export function securityHeaders(options: SecurityHeaderOptions): Middleware {
  const setHeaders = helmet({
    contentSecurityPolicy: {
      useDefaults: false,
      directives: {
        'default-src': ["'self'"],
        // Scripts and styles come from our origin; the nonce admits what the engine inlines
        // (it also adds a sha256 source for its form_post page itself).
        'script-src': ["'self'", nonceSource],
        'script-src-attr': ["'none'"],
        'style-src': ["'self'", nonceSource],
        // Registered client logos live on the clients' own https origins.
        'img-src': ["'self'", 'https:'],
        'font-src': ["'self'"],
        'connect-src': ["'self'"],
        'object-src': ["'none'"],
        'base-uri': ["'none'"],
        'frame-ancestors': ["'none'"],
        // Widened per response by `formTargets` after the page is known (see below).
        'form-action': ["'self'"],
      },
    },
    xFrameOptions: { action: 'deny' },
    // The URLs of these pages carry authorization parameters; they go nowhere.
    referrerPolicy: { policy: 'no-referrer' },
    strictTransportSecurity: options.hsts ? { maxAge: 365 * 24 * 3600, includeSubDomains: true } : false,
  });

  return async (ctx, next) => {
    nonces.set(ctx.res, newNonce());
    ctx.state.cspNonce = cspNonce(ctx);
    await setHeaders(ctx, next);

    if (ctx.headerSent || !ctx.response.is('html')) return;
    // Pages are personal and short-lived: never stored by the browser or a proxy.
    ctx.set('Cache-Control', 'no-store');
    const sources = formActionSources(options.formTargets?.(ctx) ?? []);
    const policy = ctx.response.get(CSP);
    if (sources.length > 0 && policy) ctx.set(CSP, extendDirective(policy, 'form-action', sources));
  };
}

const LOOPBACK = new Set(['127.0.0.1', 'localhost']);

/**
 * CSP sources for redirect targets: the origin of an http(s) URI, any port of a loopback
 * one (native apps redirect to an ephemeral port, RFC 8252), the scheme of a private-use
 * URI (`com.example.app:`). Never a bare `http:` or `https:`.
 */
export function formActionSources(uris: Iterable<string>): string[] {
  const sources = new Set<string>();
  for (const uri of uris) {
    if (!URL.canParse(uri)) continue;
    const url = new URL(uri);
    if (url.protocol === 'https:' || url.protocol === 'http:') {
      sources.add(url.protocol === 'http:' && LOOPBACK.has(url.hostname) ? `http://${url.hostname}:*` : url.origin);
    } else if (/^[a-z][a-z0-9+.-]*:$/.test(url.protocol)) {
      sources.add(url.protocol);
    }
  }
  return [...sources];
}

/** Appends sources to one directive of a policy, keeping every other directive as it is. */
function extendDirective(policy: string, name: string, sources: readonly string[]): string {
  return policy
    .split(';')
    .map((directive) => {
      const [directiveName, ...values] = directive.trim().split(/\s+/);
      return directiveName === name ? [directiveName, ...values, ...sources.filter((s) => !values.includes(s))].join(' ') : directive.trim();
    })
    .filter(Boolean)
    .join('; ');
}
