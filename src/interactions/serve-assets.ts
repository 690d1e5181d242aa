import { readFileSync } from 'node:fs';

import type { Middleware } from 'koa';

const PUBLIC = new URL('../../public/', import.meta.url);

/** Everything the pages load, all from our own origin: one stylesheet and one tiny script. */
const ASSETS: Readonly<Record<string, { file: string; type: string }>> = {
  '/assets/portcullis.css': { file: 'portcullis.css', type: 'text/css; charset=utf-8' },
  '/assets/auto-submit.js': { file: 'auto-submit.js', type: 'text/javascript; charset=utf-8' },
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
