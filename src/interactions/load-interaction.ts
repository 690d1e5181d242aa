import type { Context, Middleware } from 'koa';
import type Provider from 'oidc-provider';
import type { Client, InteractionResults } from 'oidc-provider';
import { errors } from '../oidc/index.ts';

import { requestFacts } from '../audit/index.ts';
import { clientFormTargets } from './client-display.ts';
import { sendExpiredPage } from './render-error.ts';
import type { RenderPage } from './render-page.ts';

// Which interaction a page works on, and how it is handed back. Rules:
// - a page acts only on this browser's interaction, and only if it is the one in the URL;
// - an interaction that expired, was finished or never existed is a 400 page with a way to
//   start again, whichever route noticed it;
// - forms lead only to the client's registered redirect targets (the CSP's form-action);
// - the engine writes the redirect that finishes an interaction; Koa writes nothing after.

export type Interaction = Awaited<ReturnType<Provider['interactionDetails']>>;

export interface InteractionLoader {
  /** The interaction of this browser, and only if it is the one in the URL. */
  load(ctx: Context): Promise<Interaction>;
  /** The client the interaction is for; also narrows where this page's forms may lead. */
  client(ctx: Context, details: Interaction): Promise<Client | undefined>;
  /** Hands the result to the engine, which redirects back to the authorization endpoint. */
  finish(ctx: Context, result: InteractionResults, merge: boolean): Promise<void>;
}

export function createInteractionLoader(provider: Provider): InteractionLoader {
  return {
    async load(ctx) {
      const details = await provider.interactionDetails(ctx.req, ctx.res);
      if (details.uid !== (ctx.params as { uid?: string }).uid) throw new errors.SessionNotFound('interaction does not match the page');
      // The client's ui_locales choose the language of this interaction's pages (render-page.ts).
      ctx.state.uiLocales = details.params.ui_locales;
      return details;
    },
    async client(ctx, details) {
      const clientId = details.params.client_id;
      const client = typeof clientId === 'string' ? await provider.Client.find(clientId) : undefined;
      // Our forms lead, through the engine's redirect, to this client's registered URIs.
      ctx.state.formTargets = clientFormTargets(client);
      return client;
    },
    async finish(ctx, result, merge) {
      await provider.interactionFinished(ctx.req, ctx.res, result, { mergeWithLastSubmission: merge });
      // interactionFinished has written the redirect; Koa must not write again.
      ctx.respond = false;
    },
  };
}

/** An interaction that is gone, noticed by any route below: the expired page, not an error. */
export function expiredInteractions(render: RenderPage, authorizationPath: () => string): Middleware {
  return async (ctx, next) => {
    try {
      await next();
    } catch (error) {
      if (!(error instanceof errors.SessionNotFound)) throw error;
      sendExpiredPage(ctx, render, authorizationPath());
    }
  };
}

/** What every audit event of an interaction says about where it came from. */
export function interactionFacts(ctx: Context, details: Interaction) {
  const clientId = typeof details.params.client_id === 'string' ? details.params.client_id : undefined;
  return { clientId, ...requestFacts(ctx) };
}
