import type { Configuration, KoaContextWithOIDC } from 'oidc-provider';

import type { AccountService } from '../accounts/index.ts';
import { clientDisplay } from './client-display.ts';
import { translator } from './messages/index.ts';
import { pageLocale, sendPage, type RenderPage } from './render-page.ts';

type RpInitiatedLogout = NonNullable<NonNullable<Configuration['features']>['rpInitiatedLogout']>;
type LogoutSource = NonNullable<RpInitiatedLogout['logoutSource']>;
type PostLogoutSuccessSource = NonNullable<RpInitiatedLogout['postLogoutSuccessSource']>;

// The pages of RP-initiated logout. The engine validates the request (id_token_hint,
// registered post_logout_redirect_uri) and owns the confirmation form and its xsrf token;
// we decide whether to ask, and how the pages look.

/**
 * Whether the logout request proves it comes from the client on behalf of this very user:
 * an id_token_hint the engine validated (signature, issuer, audience = the client) whose
 * subject is the signed-in account. Anything less could be a forged link that signs a
 * person out against their will, so they are asked.
 */
function provenByIdTokenHint(ctx: KoaContextWithOIDC): boolean {
  const hint = ctx.oidc.entities.IdTokenHint as { payload?: { sub?: unknown; aud?: unknown } } | undefined;
  const accountId = ctx.oidc.session?.accountId;
  const clientId = ctx.oidc.client?.clientId;
  if (!hint?.payload || !accountId || !clientId) return false;
  const audience = hint.payload.aud;
  const forClient = Array.isArray(audience) ? audience.includes(clientId) : audience === clientId;
  return forClient && hint.payload.sub === accountId;
}

/**
 * The confirmation page. With a proven request it signs out without asking: the page
 * submits the engine's form itself (a script from our origin; a button without script).
 */
export function createLogoutSource(render: RenderPage, accounts?: AccountService): LogoutSource {
  return async (ctx, form) => {
    const accountId = ctx.oidc.session?.accountId;
    const account = accountId && accounts ? await accounts.findById(accountId) : undefined;
    const t = translator(pageLocale(ctx));
    sendPage(ctx, render, 'logout', {
      title: t('logout.title'),
      form,
      host: ctx.host,
      client: ctx.oidc.client ? clientDisplay(ctx.oidc.client, t) : undefined,
      email: account?.email,
      automatic: provenByIdTokenHint(ctx),
    });
  };
}

/** Shown when a logout ends without a post_logout_redirect_uri to return to. */
export function createPostLogoutSuccessSource(render: RenderPage): PostLogoutSuccessSource {
  return (ctx) => {
    const t = translator(pageLocale(ctx));
    sendPage(ctx, render, 'logged-out', {
      title: t('logged-out.title'),
      client: ctx.oidc.client ? clientDisplay(ctx.oidc.client, t) : undefined,
    });
    return Promise.resolve();
  };
}
