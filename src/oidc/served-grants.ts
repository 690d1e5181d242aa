import type { ResponseType } from 'oidc-provider';

import type { Config, ServedGrantType } from '../config/index.ts';
import { OIDC_SCOPES } from '../clients/index.ts';

// What a deployment serves (GRANT_TYPES, README "Grant types"). The engine derives the grant
// types it serves and advertises (grant_types_supported) from its response types, its
// scopes (offline_access) and its features, so each switch is made there; and a client
// registered for a grant that is off keeps the rest, as the engine would otherwise refuse
// the whole client (invalid_client_metadata) for one value it does not serve.

export interface ServedGrants {
  readonly has: (grant: ServedGrantType) => boolean;
  /** `none` alone where the authorization code is off: /auth then serves no client. */
  readonly responseTypes: ResponseType[];
  /** Without refresh tokens, no offline_access: the engine ignores it in a request. */
  readonly scopes: string[];
}

export function servedGrants(config: Pick<Config, 'grantTypes'>): ServedGrants {
  const served = new Set<string>(config.grantTypes);
  const has = (grant: ServedGrantType) => served.has(grant);
  return {
    has,
    responseTypes: has('authorization_code') ? ['code'] : ['none'],
    scopes: OIDC_SCOPES.filter((scope) => scope !== 'offline_access' || has('refresh_token')),
  };
}

interface GrantMetadata {
  grant_types?: readonly string[] | undefined;
  response_types?: readonly string[] | undefined;
  scope?: string | undefined;
}

/** A client's metadata cut to what the deployment serves. */
export function withServedGrants<M extends GrantMetadata>(metadata: M, served: ServedGrants): M {
  const grantTypes = (metadata.grant_types ?? []).filter((grant) => served.has(grant as ServedGrantType));
  const scope = metadata.scope
    ?.split(' ')
    .filter((name) => served.scopes.includes(name))
    .join(' ');
  return {
    ...metadata,
    grant_types: grantTypes,
    // A response type is the authorization code's; the engine would add the grant back for it.
    response_types: served.has('authorization_code') ? metadata.response_types : [],
    scope: scope || undefined,
  };
}
