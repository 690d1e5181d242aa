import type { Configuration, KoaContextWithOIDC } from 'oidc-provider';
import { errors, Provider } from './engine.ts';

import { SUPPORTED_CLAIMS, type AccountService } from '../accounts/index.ts';
import { CLIENT_ASSERTION_ALGS, TOKEN_EXCHANGE_GRANT, type ClientRecord, type ClientService, type RegistrationTokens, type ResourceService } from '../clients/index.ts';
import type { Config } from '../config/index.ts';
import type { Sealer } from '../crypto/index.ts';
import type { Sql } from '../db/index.ts';
import { requestFacts } from '../audit/index.ts';
import type { ClientRegistration } from './client-registration.ts';
import type { MetadataDocuments } from './metadata-documents/index.ts';
import { EXTRA_CLIENT_METADATA, toProviderMetadata, type PortcullisClientFields } from './client-metadata.ts';
import { CLIENT_GENERATION_CLAIM, GRANT_ID_CLAIM } from './access-token-verifier.ts';
import { mayIntrospect } from './extend-introspection.ts';
import { createEngineAdapterFactory } from './engine-adapter.ts';
import { createLoadExistingGrant } from './consent-reuse.ts';
import { createFindAccount } from './find-account.ts';
import { expiresWithSession, issueRefreshToken } from './offline-access.ts';
import { assertClientAssertion, assertRequestObject } from './request-object-policy.ts';
import { createRequestAccounts } from './request-accounts.ts';
import { createResourcePolicy, type ResourcePolicy } from './resource-policy.ts';
import type { RefreshRotationHooks } from './refresh-rotation.ts';
import { ACR_VALUES, secondFactorPolicy } from './second-factor-policy.ts';
import { servedGrants, withServedGrants, type ServedGrants } from './served-grants.ts';
import type { KeyMaterial } from './signing-keys.ts';
import type { TokenStore } from './token-store.ts';

export interface ProviderDeps {
  readonly config: Config;
  /** The pool, for the engine's token tables (engine-adapter.ts). */
  readonly sql: Sql;
  readonly keys: KeyMaterial;
  readonly accounts: AccountService;
  readonly clients: ClientService;
  readonly resources: ResourceService;
  readonly tokenStore: TokenStore;
  readonly rotation?: RefreshRotationHooks;
  /** Initial access tokens (CLIENT_REGISTRATION=initial-access-token): looked up, never spent, here. */
  readonly registrationTokens?: RegistrationTokens | undefined;
  /** Dynamic client registration's seams (client-registration.ts); made by createProvider. */
  readonly clientRegistration?: ClientRegistration | undefined;
  /** Client ID Metadata Documents (CLIENT_ID_METADATA_DOCUMENTS=on): clients named by a URL. */
  readonly metadataDocuments?: MetadataDocuments | undefined;
  readonly renderError: NonNullable<Configuration['renderError']>;
  readonly logoutSource?: NonNullable<NonNullable<Configuration['features']>['rpInitiatedLogout']>['logoutSource'];
  /** Seals device codes at rest (engine-adapter.ts); needed with DEVICE_FLOW. */
  readonly sealer?: Sealer | undefined;
  /** The /device pages (interactions/device-pages.ts); needed with DEVICE_FLOW. */
  readonly deviceFlowPages?: DeviceFlowPages | undefined;
  readonly postLogoutSuccessSource?: NonNullable<NonNullable<Configuration['features']>['rpInitiatedLogout']>['postLogoutSuccessSource'];
}

type DeviceFlow = NonNullable<NonNullable<Configuration['features']>['deviceFlow']>;
/** The device flow's pages (interactions/device-pages.ts): the engine asks them for every page of /device. */
export type DeviceFlowPages = Required<Pick<DeviceFlow, 'userCodeInputSource' | 'userCodeConfirmSource' | 'successSource'>>;
type Client = KoaContextWithOIDC['oidc']['client'] & Partial<PortcullisClientFields>;

/**
 * The engine's configuration. Every option set here is a decision; the engine's defaults
 * stand for everything else. Builds only: no I/O happens until a request arrives.
 */
export function buildProviderConfiguration(deps: ProviderDeps): Configuration {
  const { config, accounts, clients, resources } = deps;

  const requestAccounts = createRequestAccounts(accounts, (accountId) => deps.rotation?.keptAccount(accountId));
  const served = servedGrants(config);
  const resourcePolicy = createResourcePolicy({ accounts: requestAccounts, resources, oidcScopes: served.scopes });
  // The engine asks for a client on every request that names one. A cached registry hands
  // back the same record until it changes, so its metadata (and opened secret) are made once.
  // (So does the metadata documents' cache, metadata-documents/.)
  const metadataOf = new WeakMap<ClientRecord, ReturnType<typeof toProviderMetadata>>();
  const memoised = (client: ClientRecord, build: () => ReturnType<typeof toProviderMetadata>) => {
    let metadata = metadataOf.get(client);
    if (!metadata) metadataOf.set(client, (metadata = withServedGrants(build(), served)));
    return metadata;
  };
  const providerMetadata = (client: ClientRecord) => memoised(client, () => toProviderMetadata(client, clients.revealSecret(client)));
  // A client described by its metadata document: no secret, not registered, marked for the pages.
  const documentMetadata = (client: ClientRecord) =>
    memoised(client, () => ({ ...toProviderMetadata(client, undefined), portcullis_registered: false, portcullis_metadata_document: true }));
  const { metadataDocuments } = deps;

  return {
    adapter: createEngineAdapterFactory({
      sql: deps.sql,
      store: deps.tokenStore,
      ...(deps.rotation && { rotation: deps.rotation }),
      sealer: deps.sealer,
      registration: deps.clientRegistration,
      async loadClient(clientId) {
        if (metadataDocuments?.handles(clientId)) {
          const ctx = Provider.ctx;
          return documentMetadata(await metadataDocuments.resolve(clientId, ctx ? requestFacts(ctx) : {}));
        }
        const client = await clients.find(clientId);
        return client ? providerMetadata(client) : undefined;
      },
    }),
    jwks: deps.keys.jwks,
    // Advertised only when on (the draft's section 5); the engine's own implementation of
    // the draft stays off: documents are resolved through the Client adapter (loadClient).
    ...(metadataDocuments && { discovery: { client_id_metadata_document_supported: true } }),
    cookies: {
      keys: deps.keys.cookieKeys,
      // Secure is set by the engine whenever the request is https (see TRUST_PROXY).
      long: { signed: true, httpOnly: true, sameSite: 'lax' },
      short: { signed: true, httpOnly: true, sameSite: 'lax' },
    },

    findAccount: createFindAccount(requestAccounts, config.mfa),
    // acr and amr with openid: every ID token says how the person signed in (the engine
    // releases them otherwise only when the claims parameter asks; second-factor-policy.ts).
    // The account's claims (userinfo) never hold them.
    claims: {
      ...Object.fromEntries(Object.entries(SUPPORTED_CLAIMS).map(([scope, names]) => [scope, [...names]])),
      openid: [...SUPPORTED_CLAIMS.openid, 'acr', 'amr'],
    },
    // GRANT_TYPES (served-grants.ts): the engine serves and advertises the grants these imply.
    scopes: served.scopes,
    responseTypes: served.responseTypes,
    pkce: { required: () => true },
    rotateRefreshToken: true,
    // One grant per authorization (device); consent is remembered apart from it, so a
    // new sign-in starts from what the person already allowed (consent-reuse.ts).
    loadExistingGrant: createLoadExistingGrant(deps.tokenStore),
    // Refresh tokens without prompt=consent on every sign-in, once the person allowed the
    // app offline access (offline-access.ts); only where refresh tokens are served, as the
    // engine counts a custom issueRefreshToken as serving the grant.
    ...(served.has('refresh_token') && { issueRefreshToken }),
    expiresWithSession,
    // JWT access tokens cannot be deleted, so they name what revoking them goes through:
    // a person's token its grant, a client-credentials token its client's token generation
    // (access-token-verifier.ts). Opaque tokens are deleted with either instead.
    extraTokenClaims(ctx, token) {
      // A client-credentials token, JWT or opaque (in its stored `extra`: its row may be
      // written just after a revocation deleted the others), carries its client's generation.
      if (token.kind === 'ClientCredentials') {
        const generation = ctx.oidc.client?.portcullis_token_generation;
        return generation ? { [CLIENT_GENERATION_CLAIM]: generation } : undefined;
      }
      // A person's JWT names its grant; an opaque one is deleted with it. A token made by a
      // token exchange says who acts for the person (token-exchange.ts sets it; the engine
      // replaces `extra` with what this returns).
      const grantId = 'grantId' in token ? token.grantId : undefined;
      const act = token.kind === 'AccessToken' && token.gty === TOKEN_EXCHANGE_GRANT ? token.extra?.act : undefined;
      const claims = {
        ...(act !== undefined && { act }),
        ...(token.resourceServer?.accessTokenFormat === 'jwt' && grantId && { [GRANT_ID_CLAIM]: grantId }),
      };
      return Object.keys(claims).length > 0 ? claims : undefined;
    },
    clientDefaults: {
      grant_types: ['authorization_code'],
      response_types: ['code'],
      id_token_signed_response_alg: 'RS256',
      token_endpoint_auth_method: 'client_secret_basic',
    },
    // What registry clients may register (clients/client-input.ts), and so exactly what
    // discovery advertises: a secret in the Basic header or the body, a JWT signed with the
    // client's own key, or nothing but PKCE (public clients). Not client_secret_jwt: no
    // client asked for it, and it would bring the HS* algorithms into client assertions.
    clientAuthMethods: ['client_secret_basic', 'client_secret_post', 'private_key_jwt', 'none'],
    // Client assertions: asymmetric algorithms only (the HS* ones belong to client_secret_jwt).
    // Request objects (JAR) as client assertions: signed with the client's own asymmetric
    // keys only, never with a shared secret.
    assertJwtClientAuthClaimsAndHeader: assertClientAssertion,
    enabledJWA: { clientAuthSigningAlgValues: [...CLIENT_ASSERTION_ALGS], requestObjectSigningAlgValues: [...CLIENT_ASSERTION_ALGS] },
    // Our own metadata: set from the registry only (a registration naming one is refused, client-registration.ts).
    extraClientMetadata: { properties: [...EXTRA_CLIENT_METADATA], ...(deps.clientRegistration && { validator: deps.clientRegistration.validateMetadata }) },
    clientBasedCORS(_ctx, origin, client: Client) {
      return client.portcullis_cors_origins?.includes(origin) ?? false;
    },

    // The engine's own fetch refuses private and loopback addresses (SSRF guard); an
    // operator whose clients live on a private network turns that off explicitly.
    ...(config.outboundPrivateNetworks && {
      fetch: (url: Parameters<typeof globalThis.fetch>[0], options?: RequestInit) =>
        globalThis.fetch(url, { ...options, dispatcher: undefined }),
    }),
    // The login prompt also asks when a second factor is required and the session did not
    // use one (second-factor-policy.ts); ID tokens say which (acr, amr).
    interactions: { url: (_ctx, interaction) => `/interaction/${interaction.uid}`, policy: secondFactorPolicy(config.mfa, requestAccounts) },
    acrValues: [...ACR_VALUES],
    renderError: deps.renderError,

    features: features(deps, resourcePolicy, served),
    ttl: lifetimes(config),
  };
}

/** The engine's features: on only what Portcullis serves, each with our policy. */
function features(deps: ProviderDeps, resourcePolicy: ResourcePolicy, served: ServedGrants): Configuration['features'] {
  return {
    devInteractions: { enabled: false },
    // Dynamic client registration and its management (RFC 7591, 7592), per CLIENT_REGISTRATION:
    // off unless configured, and then within its policy (client-registration.ts).
    ...(deps.clientRegistration?.features ?? { registration: { enabled: false }, registrationManagement: { enabled: false } }),
    clientCredentials: { enabled: served.has('client_credentials') },
    // Signed request objects (JAR, RFC 9101) from clients with keys; required per client
    // (requireSignedRequests), as pushed requests are (requirePushedRequests; PAR is on by
    // default in the engine).
    requestObjects: { enabled: true, assertJwtClaimsAndHeader: assertRequestObject },
    introspection: {
      enabled: true,
      // The owning client, or a resource-server client that serves the token's audience.
      allowedPolicy: (_ctx, client: Client, token) => mayIntrospect(client, token),
    },
    revocation: {
      enabled: true,
      // Only the owning client revokes; another client is refused (RFC 7009 section 2.1),
      // never answered as if something had happened. Tokens are random beyond guessing,
      // so the refusal tells a client nothing it could use.
      allowedPolicy(_ctx, client, token) {
        if (token.clientId !== client.clientId) throw new errors.InvalidRequest('client is not authorized to revoke the presented token');
        return true;
      },
    },
    rpInitiatedLogout: {
      enabled: true,
      ...(deps.logoutSource && { logoutSource: deps.logoutSource }),
      ...(deps.postLogoutSuccessSource && { postLogoutSuccessSource: deps.postLogoutSuccessSource }),
    },
    // The device authorization grant (RFC 8628), per deployment (DEVICE_FLOW). A client
    // uses it only when registered for its grant type (else unauthorized_client). User
    // codes: 8 of 20 consonants that are hard to confuse (about 34 bits, RFC 8628 6.1),
    // shown as BCDF-GHJK and accepted in any case, with or without the dash.
    deviceFlow: deps.config.deviceFlow
      ? {
          enabled: true,
          charset: 'base-20',
          mask: '****-****',
          ...requireDeviceFlowPages(deps),
        }
      : { enabled: false },
    // Clients that register a backchannel_logout_uri are told, server to server, when a
    // session they took part in ends.
    backchannelLogout: { enabled: true },
    resourceIndicators: {
      enabled: true,
      // Without `resource`: the one resource server the requested scopes belong to, or a
      // refusal naming the scope (default-resource.ts). Never a silently dropped scope.
      defaultResource: resourcePolicy.defaultResource,
      useGrantedResource: () => true,
      // The token may carry only scopes the resource offers, the client is registered for,
      // and (for a person) their roles permit (resource-policy.ts).
      getResourceServerInfo: resourcePolicy.getResourceServerInfo,
    },
  };
}

function requireDeviceFlowPages(deps: ProviderDeps): NonNullable<ProviderDeps['deviceFlowPages']> {
  if (!deps.deviceFlowPages || !deps.sealer) throw new Error('DEVICE_FLOW needs the /device pages and the sealer');
  return deps.deviceFlowPages;
}

/** Lifetimes in seconds, from the configuration except where the protocol fixes them. */
function lifetimes(config: Config): Configuration['ttl'] {
  return {
    // Function forms: a number would override each resource server's own lifetime.
    AccessToken: (_ctx, token) => token.resourceServer?.accessTokenTTL ?? config.ttl.accessToken,
    ClientCredentials: (_ctx, token) => token.resourceServer?.accessTokenTTL ?? config.ttl.accessToken,
    AuthorizationCode: 60,
    IdToken: config.ttl.idToken,
    Interaction: 3600,
    // Ten minutes to walk to a browser, sign in and approve (RFC 8628 3.2 expires_in).
    DeviceCode: 600,
    RefreshToken: config.ttl.refreshToken,
    // A session nobody signed in to is only the logout page's CSRF state, which the engine
    // stores for any anonymous GET /session/end: it lives 10 minutes, not SESSION_TTL,
    // so unauthenticated requests cannot fill the database for two weeks.
    Session: (_ctx, session) => (session.accountId ? config.ttl.session : Math.min(600, config.ttl.session)),
    Grant: config.ttl.grant,
  };
}
