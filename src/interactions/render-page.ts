import { fileURLToPath } from 'node:url';

import { Eta } from 'eta';
import type { Context } from 'koa';

import { markPageError } from '../http/index.ts';

export const VIEWS_DIR = fileURLToPath(new URL('../../views/', import.meta.url));

export type PageName = 'login' | 'consent' | 'error' | 'logout' | 'logged-out';

export type RenderPage = (view: PageName, model: Record<string, unknown>) => string;

/**
 * Templates escape every `<%= %>` by default; `<%~ %>` (raw) is used only for markup we
 * produced ourselves (the layout body, the engine's logout form).
 */
export function createPageRenderer(options: { cache: boolean }): RenderPage {
  const eta = new Eta({ views: VIEWS_DIR, cache: options.cache, autoEscape: true, autoTrim: false });
  return (view, model) => eta.render(`./${view}`, model);
}

/**
 * Answers with a page. The page gets this response's CSP nonce (set by the security
 * headers middleware) for the few tags that need one; headers are that middleware's job.
 */
export function sendPage(ctx: Context, render: RenderPage, view: PageName, model: Record<string, unknown>, status = 200): void {
  // The access log and the error metric read the code of an error page from here.
  if (view === 'error' && typeof model.error === 'string') markPageError(ctx, model.error);
  ctx.status = status;
  ctx.type = 'html';
  ctx.body = render(view, { ...model, nonce: typeof ctx.state.cspNonce === 'string' ? ctx.state.cspNonce : '' });
}
