import type { ClientMetadata } from 'oidc-provider';

import { OIDC_SCOPES, usesSecret, type ClientRecord } from '../clients/index.ts';

const OIDC_SCOPE_SET: ReadonlySet<string> = new Set(OIDC_SCOPES);

// How a registry client becomes oidc-provider client metadata. The engine validates the
// result again when it builds the Client, so a bad row fails closed (invalid_client).

/** Our own metadata, declared to the engine through extraClientMetadata. */
export const EXTRA_CLIENT_METADATA = [
  'portcullis_type',
  'portcullis_cors_origins',
  'portcullis_resources',
  'portcullis_resource_scopes',
  'portcullis_first_party',
  'portcullis_token_generation',
  'portcullis_require_mfa',
  'portcullis_exchange_audiences',
  'portcullis_exchange_act',
  'portcullis_registered',
  'portcullis_metadata_document',
] as const;

export interface PortcullisClientFields {
  portcullis_type: ClientRecord['type'];
  portcullis_cors_origins: string[];
  portcullis_resources: string[];
  /** Resource-server scopes the client may ask for; the engine's `scope` holds only OIDC ones. */
  portcullis_resource_scopes: string[];
  portcullis_first_party: boolean;
  /** Named in the client's client-credentials JWTs (access-token-verifier.ts). */
  portcullis_token_generation: string;
  /** Every sign-in to the client uses a second factor (second-factor-policy.ts). */
  portcullis_require_mfa: boolean;
  /** Token exchange (token-exchange.ts): the resource servers a token the client holds may be exchanged for. */
  portcullis_exchange_audiences: string[];
  /** Token exchange: the new token names the client as the actor (`act`). */
  portcullis_exchange_act: boolean;
  /** The client registered itself (RFC 7591): the pages say it is not verified. */
  portcullis_registered: boolean;
  /** The client is described by its Client ID Metadata Document (metadata-documents/): the pages say it is not verified. */
  portcullis_metadata_document?: boolean;
}

export function toProviderMetadata(client: ClientRecord, secret: string | undefined): ClientMetadata & PortcullisClientFields {
  const browserFlow = client.grantTypes.includes('authorization_code');
  return {
    client_id: client.clientId,
    client_name: client.name,
    // The engine accepts exactly the registered method: a secret sent another way, or a
    // secret from a private_key_jwt client, is invalid_client.
    token_endpoint_auth_method: client.authMethod,
    ...(usesSecret(client.authMethod) && secret !== undefined && { client_secret: secret }),
    ...(client.authMethod === 'private_key_jwt' && client.jwks && { jwks: { keys: client.jwks.keys.map((key) => ({ ...key })) } }),
    ...(client.authMethod === 'private_key_jwt' && client.jwksUri && { jwks_uri: client.jwksUri }),
    application_type: client.type === 'native' ? 'native' : 'web',
    grant_types: [...client.grantTypes],
    response_types: browserFlow ? ['code'] : [],
    redirect_uris: [...client.redirectUris],
    post_logout_redirect_uris: [...client.postLogoutRedirectUris],
    // The engine checks `scope` against its own (OIDC) scopes; resource scopes are ours.
    ...(client.backchannelLogoutUri && { backchannel_logout_uri: client.backchannelLogoutUri, backchannel_logout_session_required: true }),
    ...(client.logoUri && { logo_uri: client.logoUri }),
    ...(client.clientUri && { client_uri: client.clientUri }),
    ...(client.policyUri && { policy_uri: client.policyUri }),
    ...(client.tosUri && { tos_uri: client.tosUri }),
    // The engine refuses a plain authorization request from such a client (RFC 9126
    // section 5; RFC 9101 section 10.5), with or without a request object.
    ...(client.requirePushedRequests && { require_pushed_authorization_requests: true }),
    ...(client.requireSignedRequests && { require_signed_request_object: true }),
    scope: client.scopes.filter((scope) => OIDC_SCOPE_SET.has(scope)).join(' ') || undefined,
    portcullis_type: client.type,
    portcullis_cors_origins: [...client.corsOrigins],
    portcullis_resources: [...client.resources],
    portcullis_resource_scopes: client.scopes.filter((scope) => !OIDC_SCOPE_SET.has(scope)),
    portcullis_first_party: client.firstParty,
    portcullis_token_generation: client.tokenGeneration,
    portcullis_require_mfa: client.requireMfa,
    portcullis_exchange_audiences: [...client.exchangeAudiences],
    portcullis_exchange_act: client.exchangeAct,
    portcullis_registered: client.origin === 'registration',
  };
}
