import type { Middleware } from 'koa';

import { markPageError } from '../http/index.ts';

import { translator } from './messages/index.ts';
import { pageLocale, sendPage, type RenderPage } from './render-page.ts';

// No dead ends: the issuer's root says what this server is and where its discovery
// document is, and an unknown path answers in the caller's shape (a page for a browser,
// OAuth's JSON error shape for anything else). What the root shows is safe for anyone to
// see: the issuer and that it answers, nothing about the database or the deployment.
// A browser names text/html; anything else (curl's */* included) gets JSON.

export function landingPage(options: { render: RenderPage; issuer: string }): Middleware {
  const discovery = `${options.issuer.replace(/\/$/, '')}/.well-known/openid-configuration`;
  return async (ctx, next) => {
    if (ctx.path !== '/' || (ctx.method !== 'GET' && ctx.method !== 'HEAD')) {
      await next();
      return;
    }
    ctx.vary('Accept');
    if (ctx.accepts('json', 'html') === 'json') {
      ctx.body = { issuer: options.issuer, discovery, status: 'ok' };
      return;
    }
    const t = translator(pageLocale(ctx));
    sendPage(ctx, options.render, 'landing', { title: t('landing.title'), issuer: options.issuer, discovery });
  };
}

/** After everything downstream: a 404 nobody wrote a body for gets one. */
export function answerUnknownPaths(render: RenderPage): Middleware {
  return async (ctx, next) => {
    await next();
    if (ctx.status !== 404 || ctx.body != null || ctx.respond === false) return;
    ctx.vary('Accept');
    ctx.set('Cache-Control', 'no-store');
    const t = translator(pageLocale(ctx));
    if (ctx.accepts('json', 'html') === 'html') {
      sendPage(ctx, render, 'not-found', { title: t('not-found.title') }, 404);
      // Counted and logged as the JSON answer is: not_found.
      markPageError(ctx, 'not_found');
      return;
    }
    ctx.status = 404;
    ctx.body = { error: 'not_found', error_description: `nothing at ${ctx.method} ${ctx.path}` };
  };
}
