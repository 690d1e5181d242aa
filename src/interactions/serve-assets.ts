import { readFileSync } from 'node:fs';

import type { Middleware } from 'koa';

const STYLESHEET = new URL('../../public/portcullis.css', import.meta.url);

/** The pages' one stylesheet, read once at build time and served from our origin. */
export function serveAssets(): Middleware {
  const css = readFileSync(STYLESHEET);
  return async (ctx, next) => {
    if (ctx.path !== '/assets/portcullis.css' || (ctx.method !== 'GET' && ctx.method !== 'HEAD')) {
      await next();
      return;
    }
    ctx.type = 'text/css; charset=utf-8';
    ctx.set('Cache-Control', 'public, max-age=3600');
    ctx.body = css;
  };
}
