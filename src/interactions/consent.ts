import type { Context, Middleware } from 'koa';
import type Provider from 'oidc-provider';
import type { Client } from 'oidc-provider';
import { errors } from '../oidc/index.ts';

import type { AccountService } from '../accounts/index.ts';
import type { ResourceService } from '../clients/index.ts';
import { consentOf, looksLikeUrlClientId, type GrantService } from '../oidc/index.ts';
import type { AuditSink } from '../audit/index.ts';
import { clientDisplay } from './client-display.ts';
import { consentView, type ConsentPromptDetails } from './consent-view.ts';
import { CSRF_FIELD, issueCsrfToken } from './csrf.ts';
import { interactionFacts, type Interaction, type InteractionLoader } from './load-interaction.ts';
import { translator } from './messages/index.ts';
import { pageLocale, sendPage, type RenderPage } from './render-page.ts';

// The consent prompt: what a person allows a client, or refuses. Rules:
// - one consent grants everything the engine found missing: OIDC scopes, claims and
//   resource scopes, nothing more;
// - the page lists what the client will get, what was allowed before marked as such;
// - first-party clients are trusted by registration: their users are not asked, and the
//   audit trail says the system granted it; except on a device (the device flow), where
//   the page shows what the device would get;
// - what a person allows is remembered, so their next grant for the client starts from it;
// - a new grant is handed to the engine by id, an existing one is extended in place;
// - aborting answers the client access_denied, whatever the prompt was.

/** The first-party flag of a registry client, as the engine's client carries it. */
const FIRST_PARTY = 'portcullis_first_party';

export interface ConsentDeps {
  readonly provider: Provider;
  readonly accounts: AccountService;
  readonly resources: ResourceService;
  readonly grants: GrantService;
  readonly render: RenderPage;
  readonly interactions: InteractionLoader;
  readonly audit: AuditSink;
}

export interface Consent {
  /** GET on a consent prompt: the page that asks, or for a first-party client the grant itself. */
  show(ctx: Context, details: Interaction, client: Client | undefined): Promise<void>;
  /** POST /confirm: the person allows what the page showed. */
  readonly confirm: Middleware;
  /** POST /abort: the person refuses; the client gets access_denied. */
  readonly abort: Middleware;
}

export function createConsent(deps: ConsentDeps): Consent {
  const { provider, accounts, resources, render, interactions, audit } = deps;

  /** Everything the user grants in one consent: missing OIDC scopes, claims and resource scopes. */
  async function grantMissing(details: Interaction): Promise<{ grantId: string; granted: string[] }> {
    const { prompt, params, session, grantId } = details;
    const missing = prompt.details as ConsentPromptDetails;
    const grant = grantId
      ? await provider.Grant.find(grantId)
      : new provider.Grant({ accountId: session?.accountId, clientId: params.client_id as string });
    if (!grant) throw new errors.SessionNotFound('the grant of this interaction is gone');
    const granted: string[] = [];
    if (missing.missingOIDCScope?.length) {
      grant.addOIDCScope(missing.missingOIDCScope.join(' '));
      granted.push(...missing.missingOIDCScope);
    }
    if (missing.missingOIDCClaims?.length) grant.addOIDCClaims([...missing.missingOIDCClaims]);
    for (const [indicator, scopes] of Object.entries(missing.missingResourceScopes ?? {})) {
      grant.addResourceScope(indicator, scopes.join(' '));
      granted.push(...scopes);
    }
    const saved = await grant.save();
    // Consent is remembered for the registry's clients only: a client by metadata document
    // is nobody's entry (its description may change with every fetch), so a new sign-in to
    // it asks again (within one browser session the engine keeps the session's grant).
    if (grant.accountId && grant.clientId && !looksLikeUrlClientId(grant.clientId)) await deps.grants.rememberConsent(grant.accountId, grant.clientId, consentOf(grant));
    return { grantId: saved, granted };
  }

  async function grantConsent(ctx: Context, details: Interaction, firstParty: boolean): Promise<void> {
    const { grantId, granted } = await grantMissing(details);
    audit.record({
      type: 'consent.granted',
      actor: firstParty ? 'system' : details.session?.accountId,
      accountId: details.session?.accountId,
      ...interactionFacts(ctx, details),
      data: { scopes: granted, ...(firstParty && { firstParty: true }) },
    });
    // A new grant is handed over by id; an existing one was extended in place.
    await interactions.finish(ctx, { consent: details.grantId ? {} : { grantId } }, true);
  }

  return {
    async show(ctx, details, client) {
      // Not for a device: whoever holds its device code gets the tokens, so a person sent a
      // stranger's code must see what they would hand over (RFC 8628 section 5.4).
      if (client?.[FIRST_PARTY] === true && !(details as { deviceCode?: unknown }).deviceCode) {
        await grantConsent(ctx, details, true);
        return;
      }
      const accountId = details.session?.accountId;
      const account = accountId ? await accounts.findById(accountId) : undefined;
      const grant = details.grantId ? await provider.Grant.find(details.grantId) : undefined;
      const t = translator(pageLocale(ctx));
      sendPage(ctx, render, 'consent', {
        title: t('consent.title'),
        uid: details.uid,
        csrfField: CSRF_FIELD,
        csrf: issueCsrfToken(ctx, details.uid),
        client: clientDisplay(client, t),
        email: account?.email,
        ...(await consentView({ details: details.prompt.details, scope: details.params.scope, grant }, resources, t)),
      });
    },

    async confirm(ctx) {
      const details = await interactions.load(ctx);
      if (details.prompt.name !== 'consent') ctx.throw(400, 'this sign-in is not asking for permission');
      await grantConsent(ctx, details, false);
    },

    async abort(ctx) {
      const details = await interactions.load(ctx);
      audit.record({
        type: 'consent.denied',
        actor: details.session?.accountId,
        accountId: details.session?.accountId,
        ...interactionFacts(ctx, details),
        data: { prompt: details.prompt.name },
      });
      await interactions.finish(ctx, { error: 'access_denied', error_description: 'End-User aborted interaction' }, false);
    },
  };
}
