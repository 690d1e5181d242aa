import { errors, type Configuration, type KoaContextWithOIDC } from 'oidc-provider';

import { claimsFor, SUPPORTED_CLAIMS, type AccountService } from '../accounts/index.ts';
import { OIDC_SCOPES, type ClientService, type ResourceService } from '../clients/index.ts';
import type { Config } from '../config/index.ts';
import type { PrismaClient } from '../db/index.ts';
import { EXTRA_CLIENT_METADATA, toProviderMetadata, type PortcullisClientFields } from './client-metadata.ts';
import { createPrismaAdapterFactory } from './prisma-adapter.ts';
import type { KeyMaterial } from './signing-keys.ts';

export interface ProviderDeps {
  readonly config: Config;
  readonly prisma: PrismaClient;
  readonly keys: KeyMaterial;
  readonly accounts: AccountService;
  readonly clients: ClientService;
  readonly resources: ResourceService;
  readonly renderError: NonNullable<Configuration['renderError']>;
  readonly logoutSource?: NonNullable<NonNullable<Configuration['features']>['rpInitiatedLogout']>['logoutSource'];
}

type Client = KoaContextWithOIDC['oidc']['client'] & Partial<PortcullisClientFields>;

/**
 * The engine's configuration. Every option set here is a decision; the engine's defaults
 * stand for everything else. Builds only: no I/O happens until a request arrives.
 */
export function buildProviderConfiguration(deps: ProviderDeps): Configuration {
  const { config, accounts, clients, resources } = deps;

  return {
    adapter: createPrismaAdapterFactory({
      prisma: deps.prisma,
      async loadClient(clientId) {
        const client = await clients.find(clientId);
        return client ? toProviderMetadata(client, clients.revealSecret(client)) : undefined;
      },
    }),
    jwks: deps.keys.jwks,
    cookies: {
      keys: deps.keys.cookieKeys,
      // Secure is set by the engine whenever the request is https (see TRUST_PROXY).
      long: { signed: true, httpOnly: true, sameSite: 'lax' },
      short: { signed: true, httpOnly: true, sameSite: 'lax' },
    },

    async findAccount(_ctx, sub) {
      const account = await accounts.findById(sub);
      // Unknown or disabled: undefined, so the engine ends sessions and refuses tokens.
      if (!account || account.disabled) return undefined;
      return {
        accountId: account.id,
        claims: (_use, scope) => ({ ...claimsFor(account, new Set(scope.split(' '))) }),
      };
    },
    claims: Object.fromEntries(Object.entries(SUPPORTED_CLAIMS).map(([scope, names]) => [scope, [...names]])),
    scopes: [...OIDC_SCOPES],

    responseTypes: ['code'],
    pkce: { required: () => true },
    rotateRefreshToken: true,
    clientDefaults: {
      grant_types: ['authorization_code'],
      response_types: ['code'],
      id_token_signed_response_alg: 'RS256',
      token_endpoint_auth_method: 'client_secret_basic',
    },
    // Registry clients authenticate with a secret (basic) or are public with PKCE.
    clientAuthMethods: ['client_secret_basic', 'none'],
    extraClientMetadata: { properties: [...EXTRA_CLIENT_METADATA] },
    clientBasedCORS(_ctx, origin, client: Client) {
      return client.portcullis_cors_origins?.includes(origin) ?? false;
    },

    interactions: { url: (_ctx, interaction) => `/interaction/${interaction.uid}` },
    renderError: deps.renderError,

    features: {
      devInteractions: { enabled: false },
      clientCredentials: { enabled: true },
      introspection: {
        enabled: true,
        // A resource server may introspect; any client may introspect its own tokens.
        allowedPolicy(_ctx, client: Client, token) {
          return client.portcullis_type === 'resource-server' || token.clientId === client.clientId;
        },
      },
      revocation: {
        enabled: true,
        // Only the owning client revokes; others get the RFC 7009 200 without effect.
        allowedPolicy(_ctx, client, token) {
          return token.clientId === client.clientId;
        },
      },
      rpInitiatedLogout: { enabled: true, ...(deps.logoutSource && { logoutSource: deps.logoutSource }) },
      resourceIndicators: {
        enabled: true,
        defaultResource: (_ctx, _client, oneOf) => oneOf ?? undefined,
        useGrantedResource: () => true,
        async getResourceServerInfo(_ctx, indicator, client: Client) {
          if (!client.portcullis_resources?.includes(indicator)) throw new errors.InvalidTarget();
          const resource = await resources.find(indicator);
          if (!resource) throw new errors.InvalidTarget();
          // The token may carry only scopes the resource offers AND the client is registered for.
          const allowed = new Set(client.portcullis_resource_scopes ?? []);
          const scope = resource.scopes.map((s) => s.name).filter((name) => allowed.has(name)).join(' ');
          return {
            scope,
            audience: resource.indicator,
            accessTokenTTL: resource.accessTokenTtl,
            accessTokenFormat: resource.accessTokenFormat,
            ...(resource.accessTokenFormat === 'jwt' && { jwt: { sign: { alg: resource.signingAlg as 'ES256' | 'RS256' } } }),
          };
        },
      },
    },

    ttl: {
      // Function forms: a number would override each resource server's own lifetime.
      AccessToken: (_ctx, token) => token.resourceServer?.accessTokenTTL ?? config.ttl.accessToken,
      ClientCredentials: (_ctx, token) => token.resourceServer?.accessTokenTTL ?? config.ttl.accessToken,
      AuthorizationCode: 60,
      IdToken: config.ttl.idToken,
      Interaction: 3600,
      RefreshToken: config.ttl.refreshToken,
      Session: config.ttl.session,
      Grant: config.ttl.grant,
    },
  };
}
