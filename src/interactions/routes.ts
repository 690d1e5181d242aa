import { bodyParser } from '@koa/bodyparser';
import Router from '@koa/router';
import type { Context, Middleware } from 'koa';
import type Provider from 'oidc-provider';
import type { InteractionResults } from 'oidc-provider';

import type { AccountService } from '../accounts/index.ts';
import type { ClientService, ResourceService } from '../clients/index.ts';
import type { RenderPage } from './render-page.ts';

// The browser side of the authorization flow: the engine redirects to
// /interaction/:uid with a prompt (login or consent); we answer it and hand the result
// back with interactionFinished, which writes the redirect itself.

const OIDC_SCOPE_DESCRIPTIONS: Record<string, string> = {
  openid: 'Know who you are',
  profile: 'See your name',
  email: 'See your email address',
  offline_access: 'Stay signed in to your account while you are away',
};

export const GENERIC_LOGIN_ERROR = 'Email or password is incorrect.';

export interface InteractionDeps {
  readonly provider: Provider;
  readonly accounts: AccountService;
  readonly clients: ClientService;
  readonly resources: ResourceService;
  readonly render: RenderPage;
}

function field(body: unknown, name: string, max: number): string {
  const value = (body as Record<string, unknown> | undefined)?.[name];
  return typeof value === 'string' ? value.slice(0, max) : '';
}

export function createInteractionRouter(deps: InteractionDeps): Router {
  const { provider, accounts, clients, resources, render } = deps;
  const router = new Router({ prefix: '/interaction/:uid' });
  // Forms only: urlencoded, small. Anything else is refused before it is read.
  const parseForm = bodyParser({ enableTypes: ['form'], formLimit: '16kb', encoding: 'utf-8' });
  const form: Middleware = async (ctx, next) => {
    if (ctx.is('application/x-www-form-urlencoded') === false) {
      ctx.throw(415, 'forms must be sent as application/x-www-form-urlencoded');
    }
    await parseForm(ctx, next);
  };

  router.use(async (ctx, next) => {
    ctx.set('Cache-Control', 'no-store');
    await next();
  });

  async function clientName(clientId: unknown): Promise<string> {
    const client = typeof clientId === 'string' ? await clients.find(clientId) : undefined;
    return client?.name ?? 'an application';
  }

  /** Everything the user grants in one consent: missing OIDC scopes, claims and resource scopes. */
  async function grantMissing(details: Awaited<ReturnType<Provider['interactionDetails']>>): Promise<string> {
    const { prompt, params, session, grantId } = details;
    const promptDetails = prompt.details as {
      missingOIDCScope?: string[];
      missingOIDCClaims?: string[];
      missingResourceScopes?: Record<string, string[]>;
    };
    const grant = grantId
      ? await provider.Grant.find(grantId)
      : new provider.Grant({ accountId: session?.accountId, clientId: params.client_id as string });
    if (!grant) throw new Error('grant of the interaction disappeared');
    if (promptDetails.missingOIDCScope) grant.addOIDCScope(promptDetails.missingOIDCScope.join(' '));
    if (promptDetails.missingOIDCClaims) grant.addOIDCClaims(promptDetails.missingOIDCClaims);
    for (const [indicator, scopes] of Object.entries(promptDetails.missingResourceScopes ?? {})) {
      grant.addResourceScope(indicator, scopes.join(' '));
    }
    return grant.save();
  }

  async function finish(ctx: Context, result: InteractionResults, merge: boolean): Promise<void> {
    await provider.interactionFinished(ctx.req, ctx.res, result, { mergeWithLastSubmission: merge });
    // interactionFinished has written the redirect; Koa must not write again.
    ctx.respond = false;
  }

  router.get('/', async (ctx) => {
    const details = await provider.interactionDetails(ctx.req, ctx.res);
    const { prompt, params, uid } = details;
    const client = typeof params.client_id === 'string' ? await clients.find(params.client_id) : undefined;

    if (prompt.name === 'login') {
      ctx.type = 'html';
      ctx.body = render('login', { uid, clientName: client?.name ?? 'an application', email: '', error: undefined });
      return;
    }

    if (prompt.name === 'consent') {
      // First-party clients are trusted by registration; their users are not asked.
      if (client?.firstParty) {
        const grantId = await grantMissing(details);
        await finish(ctx, { consent: details.grantId ? {} : { grantId } }, true);
        return;
      }
      const promptDetails = prompt.details as {
        missingOIDCScope?: string[];
        missingResourceScopes?: Record<string, string[]>;
      };
      const scopes = (promptDetails.missingOIDCScope ?? [])
        .filter((name) => name !== 'openid' || promptDetails.missingOIDCScope?.length === 1)
        .map((name) => ({ name, description: OIDC_SCOPE_DESCRIPTIONS[name] ?? name }));
      for (const [indicator, names] of Object.entries(promptDetails.missingResourceScopes ?? {})) {
        const resource = await resources.find(indicator);
        for (const name of names) {
          scopes.push({ name, description: resource?.scopes.find((s) => s.name === name)?.description || name });
        }
      }
      ctx.type = 'html';
      ctx.body = render('consent', {
        uid,
        clientName: client?.name ?? 'an application',
        scopes,
        resources: Object.keys(promptDetails.missingResourceScopes ?? {}),
      });
      return;
    }
    ctx.throw(400, `unsupported prompt ${prompt.name}`);
  });

  router.post('/login', form, async (ctx) => {
    const details = await provider.interactionDetails(ctx.req, ctx.res);
    if (details.prompt.name !== 'login') ctx.throw(400, 'this interaction is not asking for a login');
    const email = field(ctx.request.body, 'email', 254);
    const password = field(ctx.request.body, 'password', 4096);
    const result = await accounts.authenticate(email, password);
    if (!result.ok) {
      ctx.status = 401;
      ctx.type = 'html';
      ctx.body = render('login', {
        uid: details.uid,
        clientName: await clientName(details.params.client_id),
        email,
        error: GENERIC_LOGIN_ERROR,
      });
      return;
    }
    await finish(ctx, { login: { accountId: result.account.id } }, false);
  });

  router.post('/confirm', form, async (ctx) => {
    const details = await provider.interactionDetails(ctx.req, ctx.res);
    if (details.prompt.name !== 'consent') ctx.throw(400, 'this interaction is not asking for consent');
    const grantId = await grantMissing(details);
    await finish(ctx, { consent: details.grantId ? {} : { grantId } }, true);
  });

  router.post('/abort', form, async (ctx) => {
    await finish(ctx, { error: 'access_denied', error_description: 'End-User aborted interaction' }, false);
  });

  return router;
}
