import type { RegistrationPolicy } from '../config/index.ts';
import { defaultScopes, OIDC_SCOPES, type ClientTypeName } from '../clients/index.ts';
import type { RegisteredShape } from './registration-policy.ts';

// A registration document (RFC 7591 metadata, as the engine validated it) as the registry's
// client input (clients/client-input.ts), so that a registered client passes exactly the
// validation a client made with the CLI does. Rules:
// - The type follows from the metadata: no authentication (`none`) is a public client, a
//   native one with application_type native, else a browser app (spa); a confidential
//   client without the authorization code is a service; any other a web app.
// - `scope` holds OIDC scopes and resource servers' scopes alike (the engine's own
//   `scope` keeps the OIDC ones, client-registration.ts moves the others aside). Left
//   out, it is the type's default scopes that the policy allows.
// - The resource servers are the ones the policy allows that offer a scope asked for:
//   RFC 7591 has no field for them.
// - Nothing is first party, nothing skips consent or sets our own fields: a registered
//   client is a third party.

/** The engine's validated metadata, with the resource-server scopes it set aside. */
export interface EngineMetadata {
  readonly client_name?: string | undefined;
  readonly application_type?: string | undefined;
  readonly token_endpoint_auth_method?: string | undefined;
  readonly grant_types?: readonly string[] | undefined;
  readonly redirect_uris?: readonly string[] | undefined;
  readonly post_logout_redirect_uris?: readonly string[] | undefined;
  readonly scope?: string | undefined;
  readonly logo_uri?: string | undefined;
  readonly client_uri?: string | undefined;
  readonly policy_uri?: string | undefined;
  readonly tos_uri?: string | undefined;
  readonly require_pushed_authorization_requests?: boolean | undefined;
  readonly portcullis_resource_scopes?: readonly string[] | undefined;
}

export interface RegistrationDocument {
  /** For the registry (parseClientInput). */
  readonly input: Record<string, unknown>;
  readonly shape: RegisteredShape;
}

function typeOf(metadata: EngineMetadata, authMethod: string, grantTypes: readonly string[]): ClientTypeName {
  if (authMethod === 'none') return metadata.application_type === 'native' ? 'native' : 'spa';
  if (metadata.application_type === 'native') return 'native'; // refused by the registry: native apps are public
  return grantTypes.includes('authorization_code') ? 'web' : 'service';
}

/** A name for a client that gave none: the host of its first redirect URI, else its id. */
function fallbackName(metadata: EngineMetadata, clientId: string): string {
  const first = metadata.redirect_uris?.[0];
  return first && URL.canParse(first) && new URL(first).hostname ? new URL(first).hostname : clientId;
}

export function toRegistrationDocument(
  clientId: string,
  metadata: EngineMetadata,
  policy: RegistrationPolicy,
  /** The scopes each resource server the policy allows offers. */
  offered: ReadonlyMap<string, readonly string[]>,
): RegistrationDocument {
  const authMethod = metadata.token_endpoint_auth_method ?? 'client_secret_basic';
  const grantTypes = [...(metadata.grant_types ?? ['authorization_code'])];
  const type = typeOf(metadata, authMethod, grantTypes);
  const asked = [...(metadata.scope?.split(' ').filter(Boolean) ?? []), ...(metadata.portcullis_resource_scopes ?? [])];
  const scopes = asked.length > 0 || metadata.scope !== undefined ? [...new Set(asked)] : defaultScopes(type).filter((scope) => policy.scopes.includes(scope));
  const resourceScopes = scopes.filter((scope) => !(OIDC_SCOPES as readonly string[]).includes(scope));
  const resources = [...offered].filter(([, names]) => names.some((name) => resourceScopes.includes(name))).map(([indicator]) => indicator);
  const redirectUris = [...(metadata.redirect_uris ?? [])];
  const postLogoutRedirectUris = [...(metadata.post_logout_redirect_uris ?? [])];
  return {
    input: {
      type,
      name: metadata.client_name ?? fallbackName(metadata, clientId),
      redirectUris,
      postLogoutRedirectUris,
      grantTypes,
      scopes,
      resources,
      authMethod,
      logoUri: metadata.logo_uri ?? null,
      clientUri: metadata.client_uri ?? null,
      policyUri: metadata.policy_uri ?? null,
      tosUri: metadata.tos_uri ?? null,
      requirePushedRequests: metadata.require_pushed_authorization_requests === true,
    },
    shape: {
      grantTypes,
      authMethod,
      redirectUris,
      postLogoutRedirectUris,
      scopes,
      resources,
      displayUris: { logo_uri: metadata.logo_uri, client_uri: metadata.client_uri, policy_uri: metadata.policy_uri, tos_uri: metadata.tos_uri },
    },
  };
}
