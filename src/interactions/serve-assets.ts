import { readFileSync } from 'node:fs';

import type { Middleware } from 'koa';

const PUBLIC = new URL('../../public/', import.meta.url);

/** Everything the pages load, all from our own origin: one stylesheet and one tiny script. */
const ASSETS: Readonly<Record<string, { file: string; type: string }>> = {
  '/assets/portcullis.css': { file: 'portcullis.css', type: 'text/css; charset=utf-8' },
  '/assets/auto-submit.js': { file: 'auto-submit.js', type: 'text/javascript; charset=utf-8' },
};

/** Read once at build time and served from memory. */
export function serveAssets(): Middleware {
  const bodies = new Map(Object.entries(ASSETS).map(([path, asset]) => [path, { ...asset, body: readFileSync(new URL(asset.file, PUBLIC)) }]));
  return async (ctx, next) => {
    const asset = bodies.get(ctx.path);
    if (!asset || (ctx.method !== 'GET' && ctx.method !== 'HEAD')) {
      await next();
      return;
    }
    ctx.type = asset.type;
    ctx.set('Cache-Control', 'public, max-age=3600');
    ctx.body = asset.body;
  };
}
