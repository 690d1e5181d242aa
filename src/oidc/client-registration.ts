import type { AdapterPayload, Configuration, KoaContextWithOIDC } from 'oidc-provider';
import type { Middleware } from 'koa';
import { errors, Provider } from './engine.ts';

import { requestFacts, type ActedBy } from '../audit/index.ts';
import { newClientId, newClientSecret, RegistrationTokenRefusedError, type ClientRecord, type ClientService, type RegistrationTokens, type ResourceService } from '../clients/index.ts';
import type { ClientRegistrationConfig } from '../config/index.ts';
import { AppError, NotFoundError, PreconditionFailedError, ValidationError } from '../errors.ts';
import { EXTRA_CLIENT_METADATA } from './client-metadata.ts';
import { toRegistrationDocument } from './registration-document.ts';
import { checkRegistrationPolicy, offeredScopes } from './registration-policy.ts';

// Dynamic client registration (RFC 7591) and its management (RFC 7592), CLIENT_REGISTRATION.
// The engine owns the protocol: the endpoint, the initial and registration access tokens,
// the metadata's own validation, the answers and their errors. We own its seams:
// - the client it writes is written through the registry (clients/client-service.ts
//   register, updateRegistration, deleteRegistration): the policy (registration-policy.ts)
//   and then the validation every client passes, one transaction with the spending of the
//   initial access token, the audit event; a refusal is the RFC's 400 and writes nothing;
// - an initial access token is looked up in our store (clients/registration-token-store.ts);
// - our own metadata (portcullis_*) and the fields that would make the server fetch a URL
//   of the registrant's choosing are refused, resource servers' scopes moved aside for
//   the engine's own scope check;
// - the answers show the registration as stored, never our own fields.

const WRITING_ROUTES: ReadonlySet<string> = new Set(['registration', 'client_update']);
const ANSWERING_ROUTES: ReadonlySet<string> = new Set(['registration', 'client', 'client_update']);

/**
 * Fields refused in a registration here: each makes the server fetch a URL of the
 * registrant's choosing (sector identifiers, request URIs, back-channel logout, keys by
 * URL), and none is needed by a client that authenticates with a secret or PKCE.
 */
const NOT_REGISTRABLE = ['sector_identifier_uri', 'request_uris', 'backchannel_logout_uri', 'jwks_uri', 'jwks'] as const;

/** The registry's field names in a refusal, as the registrant wrote them (RFC 7591). */
const RFC_NAMES: Readonly<Record<string, string>> = {
  redirectUris: 'redirect_uris',
  postLogoutRedirectUris: 'post_logout_redirect_uris',
  grantTypes: 'grant_types',
  authMethod: 'token_endpoint_auth_method',
  scopes: 'scope',
  resources: 'resource',
  name: 'client_name',
  logoUri: 'logo_uri',
  clientUri: 'client_uri',
  policyUri: 'policy_uri',
  tosUri: 'tos_uri',
  requirePushedRequests: 'require_pushed_authorization_requests',
  type: 'application_type',
};

function inRfcTerms(message: string): string {
  return message.replace(/(^|; )([a-zA-Z]+)(?=[.:])/g, (_whole, start: string, field: string) => `${start}${RFC_NAMES[field] ?? field}`);
}

/** A refusal of the registry or the token store, in the RFC's terms; anything else as it was. */
function asEngineError(error: unknown): unknown {
  if (error instanceof RegistrationTokenRefusedError) return new errors.InvalidToken('initial access token not found');
  // The engine's own error answers invalid_redirect_uri for a description that starts with redirect_uris.
  if (error instanceof ValidationError) return new errors.InvalidClientMetadata(inRfcTerms(error.message));
  // Deleted, or changed, while this request was on its way.
  if (error instanceof NotFoundError) return new errors.InvalidToken('client not found');
  if (error instanceof PreconditionFailedError) return new errors.InvalidRequest('the registration changed meanwhile; read it again', 409);
  // Any other refusal of ours (a conflict, say) is the registrant's to fix, never a 500; a
  // database outage stays what it is (the outage's 503).
  if (error instanceof AppError && error.status < 500) return new errors.InvalidClientMetadata(inRfcTerms(error.message));
  return error;
}

type EngineContext = KoaContextWithOIDC | undefined;

const routeOf = (ctx: EngineContext): string | undefined => (ctx && 'oidc' in ctx ? ctx.oidc.route : undefined);

/** How a registration is recorded: by the client itself, from the request's address. */
function actedBy(ctx: KoaContextWithOIDC, clientId: string): ActedBy {
  return { actor: `client:${clientId}`, ...requestFacts(ctx) };
}

/** A registered client as RFC 7591 metadata (section 3.2.1): what is stored, none of our own fields. */
export function registrationView(client: ClientRecord, secret: string | undefined): Record<string, unknown> {
  return {
    client_id: client.clientId,
    client_id_issued_at: Math.floor(client.createdAt.getTime() / 1000),
    ...(secret !== undefined && { client_secret: secret, client_secret_expires_at: 0 }),
    client_name: client.name,
    application_type: client.type === 'native' ? 'native' : 'web',
    token_endpoint_auth_method: client.authMethod,
    grant_types: [...client.grantTypes],
    response_types: client.grantTypes.includes('authorization_code') ? ['code'] : [],
    redirect_uris: [...client.redirectUris],
    post_logout_redirect_uris: [...client.postLogoutRedirectUris],
    scope: client.scopes.join(' '),
    ...(client.logoUri && { logo_uri: client.logoUri }),
    ...(client.clientUri && { client_uri: client.clientUri }),
    ...(client.policyUri && { policy_uri: client.policyUri }),
    ...(client.tosUri && { tos_uri: client.tosUri }),
    ...(client.requirePushedRequests && { require_pushed_authorization_requests: true }),
  };
}

export interface ClientRegistrationDeps {
  readonly config: ClientRegistrationConfig;
  readonly clients: ClientService;
  readonly resources: ResourceService;
  readonly registrationTokens?: RegistrationTokens | undefined;
  /** The engine's own scopes (served-grants.ts): the others in a registration are resource servers'. */
  readonly engineScopes: readonly string[];
}

export interface ClientRegistration {
  readonly features: Pick<NonNullable<Configuration['features']>, 'registration' | 'registrationManagement'>;
  /** extraClientMetadata.validator: runs as the engine builds a client from a registration document. */
  readonly validateMetadata: NonNullable<NonNullable<Configuration['extraClientMetadata']>['validator']>;
  /** The Client adapter's upsert: the engine writing a registered client. */
  write(clientId: string, metadata: AdapterPayload): Promise<void>;
  /** The Client adapter's destroy: RFC 7592 DELETE. */
  remove(clientId: string): Promise<void>;
  /** The InitialAccessToken adapter's find. */
  findInitialAccessToken(value: string): Promise<AdapterPayload | undefined>;
  /** Around the engine: its registration answers as the registry stored the client. */
  readonly answers: Middleware;
}

export function createClientRegistration(deps: ClientRegistrationDeps): ClientRegistration {
  const { config, clients } = deps;
  const enabled = config.mode !== 'off';

  return {
    features: {
      registration: enabled
        ? {
            enabled: true,
            initialAccessToken: config.mode === 'initial-access-token',
            // Ids and secrets as the registry makes them for the CLI.
            idFactory: () => newClientId(),
            secretFactory: () => Promise.resolve(newClientSecret()),
            issueRegistrationAccessToken: true,
          }
        : { enabled: false },
      // A new registration access token with every update (RFC 7592 section 2.2): the old one stops working.
      registrationManagement: { enabled, rotateRegistrationAccessToken: true },
    },

    validateMetadata(ctx, key, _value, metadata) {
      const route = routeOf(ctx);
      const body = ctx && route !== undefined && WRITING_ROUTES.has(route) ? ctx.oidc.body : undefined;
      // A client the engine builds from the registry (its own metadata) is ours already.
      if (!body) return;
      if (key === EXTRA_CLIENT_METADATA[0]) {
        const refused = [...EXTRA_CLIENT_METADATA, ...NOT_REGISTRABLE].find((field) => body[field] !== undefined);
        if (refused) throw new errors.InvalidClientMetadata(`${refused} cannot be registered here`);
        // A client without the authorization code asks for no response type (the engine's default is code).
        const grants = body.grant_types;
        if (body.response_types === undefined && Array.isArray(grants) && !grants.includes('authorization_code')) metadata.response_types = [];
      }
      // The engine checks `scope` against its own scopes; resource servers' scopes are ours to check.
      if (key === 'portcullis_resource_scopes' && typeof metadata.scope === 'string') {
        const asked = metadata.scope.split(' ').filter(Boolean);
        metadata.scope = asked.filter((scope) => deps.engineScopes.includes(scope)).join(' ') || undefined;
        (metadata as Record<string, unknown>).portcullis_resource_scopes = asked.filter((scope) => !deps.engineScopes.includes(scope));
      }
    },

    async write(clientId, metadata) {
      const ctx: EngineContext = Provider.ctx;
      const route = routeOf(ctx);
      if (!ctx || route === undefined || !WRITING_ROUTES.has(route)) throw new Error('clients are managed through the registry, not the provider');
      const document = toRegistrationDocument(clientId, metadata, config.policy, await offeredScopes(config.policy, deps.resources));
      const problem = checkRegistrationPolicy(document.shape, config.policy);
      // redirect_uris problems start with the field's name: the engine answers invalid_redirect_uri for them.
      if (problem) throw new errors.InvalidClientMetadata(problem);
      const secret = typeof metadata.client_secret === 'string' ? metadata.client_secret : undefined;
      try {
        if (route === 'registration') {
          const presented = ctx.oidc.entities.InitialAccessToken?.jti;
          if (config.mode === 'initial-access-token' && presented === undefined) throw new RegistrationTokenRefusedError();
          await clients.register(document.input, { clientId, clientSecret: secret, initialAccessToken: presented }, actedBy(ctx, clientId));
        } else {
          await clients.updateRegistration(clientId, document.input, secret, actedBy(ctx, clientId));
        }
      } catch (error) {
        throw asEngineError(error);
      }
    },

    async remove(clientId) {
      const ctx: EngineContext = Provider.ctx;
      if (!ctx || routeOf(ctx) !== 'client_delete') throw new Error('clients are managed through the registry, not the provider');
      try {
        await clients.deleteRegistration(clientId, actedBy(ctx, clientId));
      } catch (error) {
        throw asEngineError(error);
      }
    },

    async findInitialAccessToken(value) {
      const token = await deps.registrationTokens?.findLive(value);
      if (!token) return undefined;
      return { kind: 'InitialAccessToken', jti: value, iat: Math.floor(token.createdAt.getTime() / 1000), exp: Math.floor(token.expiresAt.getTime() / 1000) };
    },

    async answers(ctx, next) {
      await next();
      const route = routeOf(ctx as unknown as EngineContext);
      if (route === undefined || !ANSWERING_ROUTES.has(route) || ctx.status >= 300) return;
      const body = ctx.body as Record<string, unknown> | undefined;
      if (typeof body?.client_id !== 'string') return;
      const client = await clients.find(body.client_id);
      if (!client) {
        // Deleted meanwhile: still none of our own fields in the answer.
        for (const field of EXTRA_CLIENT_METADATA) delete body[field];
        return;
      }
      ctx.body = {
        ...registrationView(client, typeof body.client_secret === 'string' ? body.client_secret : undefined),
        registration_client_uri: body.registration_client_uri,
        registration_access_token: body.registration_access_token,
      };
    },
  };
}
