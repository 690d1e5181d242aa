import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';

import type { Middleware } from 'koa';

const PUBLIC = new URL('../../public/', import.meta.url);

// The browser half of @simplewebauthn, as the package builds it (a UMD bundle that sets
// window.SimpleWebAuthnBrowser): served from our origin, so the CSP stays 'self' plus nonces.
const WEBAUTHN_BUNDLE = new URL('../dist/bundle/index.umd.min.js', pathToFileURL(createRequire(import.meta.url).resolve('@simplewebauthn/browser')));

const SCRIPT = 'text/javascript; charset=utf-8';

/** Everything the pages load, all from our own origin: one stylesheet and four small scripts. */
const ASSETS: Readonly<Record<string, { file: string | URL; type: string }>> = {
  '/assets/portcullis.css': { file: 'portcullis.css', type: 'text/css; charset=utf-8' },
  '/assets/auto-submit.js': { file: 'auto-submit.js', type: SCRIPT },
  '/assets/passkey.js': { file: 'passkey.js', type: SCRIPT },
  '/assets/admin-tail.js': { file: 'admin-tail.js', type: SCRIPT },
  '/assets/webauthn.js': { file: WEBAUTHN_BUNDLE, type: SCRIPT },
};

/** The pages' assets by URL path, with their bodies. */
export type Assets = ReadonlyMap<string, { readonly type: string; readonly body: Buffer }>;

/** Reads the assets once, at start (the assembly does it, so createApp does no I/O). */
export function loadAssets(): Assets {
  return new Map(Object.entries(ASSETS).map(([path, asset]) => [path, { type: asset.type, body: readFileSync(new URL(asset.file, PUBLIC)) }]));
}

/** Serves the assets from memory. */
export function serveAssets(assets: Assets): Middleware {
  return async (ctx, next) => {
    const asset = assets.get(ctx.path);
    if (!asset || (ctx.method !== 'GET' && ctx.method !== 'HEAD')) {
      await next();
      return;
    }
    ctx.type = asset.type;
    ctx.set('Cache-Control', 'public, max-age=3600');
    ctx.body = asset.body;
  };
}
