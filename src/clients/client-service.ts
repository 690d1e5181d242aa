import { randomInt, randomUUID } from 'node:crypto';

import type { Sealer } from '../crypto/index.ts';
import { ConflictError, NotFoundError, PreconditionFailedError, ValidationError } from '../errors.ts';
import { discardAudit, type ActedBy, type AuditSink } from '../audit/index.ts';
import { defaultAuthMethod, parseClientInput, usesSecret, type AuthMethodName, type ClientInput } from './client-input.ts';
import type { ClientRecord, ClientStore } from './client-store.ts';
import { registrationTokenHash } from './registration-token-store.ts';
import { createClientEnding } from './end-client-tokens.ts';
import { createSecretRotation, newClientSecret, requireSecretFor } from './issue-client-secret.ts';
import { createClientNormaliser } from './normalise-client.ts';
import type { ResourceStore } from './resource-store.ts';

// The registry of OAuth clients, assembled from its stages: normalise-client.ts (defaults
// and the registry check), issue-client-secret.ts (when a secret is issued or replaced)
// and end-client-tokens.ts (revoking what a client holds, deleting it).

const ID_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';

/** 20 alphanumerics (~119 bits): no "-" or "_", so an id never reads as a CLI flag. */
export function newClientId(): string {
  return Array.from({ length: 20 }, () => ID_ALPHABET[randomInt(ID_ALPHABET.length)]).join('');
}

export interface CreatedClient {
  readonly client: ClientRecord;
  /** Present for clients that authenticate with a secret: the only time it is available. */
  readonly clientSecret: string | undefined;
}

/**
 * Ends what a client holds (grants, tokens, remembered consent); provided by oidc/ (the
 * grant service), handed in by the assembly so that clients/ does not depend on the engine.
 */
/** How much revoking ended. */
export interface RevokedCounts {
  readonly grants: number;
  readonly tokens: number;
}

export interface ClientTokenRevoker {
  revokeClient(clientId: string): Promise<RevokedCounts>;
}

/** How a client registered itself (RFC 7591): the engine made its id and secret. */
export interface Registration {
  readonly clientId: string;
  /** The secret the engine issued and answers with, for a method that uses one. */
  readonly clientSecret: string | undefined;
  /** The initial access token presented (CLIENT_REGISTRATION=initial-access-token): one use is spent with the write. */
  readonly initialAccessToken?: string | undefined;
}

export interface RotateOptions {
  /** Switch to this secret method (required for a private_key_jwt client, which has no secret yet). */
  readonly authMethod?: AuthMethodName;
}

// `by` on a change: who made it, when not the audit sink's default (the admin API's caller).
export interface ClientService {
  create(raw: unknown, by?: ActedBy): Promise<CreatedClient>;
  /**
   * Applies a partial change, re-validating the whole resulting registration. `ifUpdatedAt`:
   * only onto that version of the client, checked by the write itself (PreconditionFailedError).
   */
  update(clientId: string, raw: unknown, by?: ActedBy, options?: { ifUpdatedAt?: Date | undefined }): Promise<ClientRecord>;
  rotateSecret(clientId: string, options?: RotateOptions, by?: ActedBy): Promise<CreatedClient>;
  /**
   * A client registering itself (RFC 7591): validated as `create` validates, written with
   * origin `registration`, and with one use of its initial access token spent in the same
   * transaction (RegistrationTokenRefusedError when it has none left: nothing is written).
   */
  register(raw: unknown, registration: Registration, by?: ActedBy): Promise<ClientRecord>;
  /** A registered client replacing its registration (RFC 7592 PUT): the whole input re-validated; its type stays. */
  updateRegistration(clientId: string, raw: unknown, clientSecret: string | undefined, by?: ActedBy): Promise<ClientRecord>;
  /** A registered client deleting itself (RFC 7592 DELETE): as `delete`, recorded as client.registration_deleted. */
  deleteRegistration(clientId: string, by?: ActedBy): Promise<void>;
  /**
   * Ends every grant, token and remembered consent of the client, client-credentials JWTs
   * included (they name the client's token generation, which is replaced). The client stays.
   */
  revokeTokens(clientId: string): Promise<{ readonly grants: number; readonly tokens: number }>;
  /** Deletes the client after ending everything it holds, as revokeTokens does. */
  delete(clientId: string, by?: ActedBy): Promise<void>;
  get(clientId: string): Promise<ClientRecord>;
  find(clientId: string): Promise<ClientRecord | undefined>;
  list(): Promise<ClientRecord[]>;
  /** The plain secret of a confidential client, for the provider's client authentication. */
  revealSecret(client: ClientRecord): string | undefined;
}

export function toClientInput(client: ClientRecord): ClientInput {
  return {
    clientId: client.clientId,
    type: client.type,
    name: client.name,
    redirectUris: [...client.redirectUris],
    postLogoutRedirectUris: [...client.postLogoutRedirectUris],
    corsOrigins: [...client.corsOrigins],
    grantTypes: client.grantTypes as ClientInput['grantTypes'],
    scopes: [...client.scopes],
    resources: [...client.resources],
    firstParty: client.firstParty,
    requireMfa: client.requireMfa,
    backchannelLogoutUri: client.backchannelLogoutUri,
    logoUri: client.logoUri,
    clientUri: client.clientUri,
    policyUri: client.policyUri,
    tosUri: client.tosUri,
    authMethod: client.authMethod,
    jwks: client.jwks,
    jwksUri: client.jwksUri,
    requirePushedRequests: client.requirePushedRequests,
    requireSignedRequests: client.requireSignedRequests,
    exchangeAudiences: [...client.exchangeAudiences],
    exchangeAct: client.exchangeAct,
  };
}

/**
 * A client Portcullis itself relies on (its own pages' clients): registered at every start
 * as `registration` says, and on every surface (CLI, import, admin API, console) only its
 * name and require-MFA flag may differ from that; it is never deleted (the next start would
 * register it again, and meanwhile its page could not sign in, or would sign in through a
 * client someone loosened).
 */
export interface PinnedClient {
  readonly clientId: string;
  /** The whole registration, as the import file's client shape. */
  readonly registration: Readonly<Record<string, unknown>>;
}

/** The parts of a registration that make a pinned client what it is: all but its name and require-MFA flag. */
function pinnedPart(input: ClientInput): string {
  const { name: _name, requireMfa: _requireMfa, ...rest } = input;
  // Keys sorted: a stored client names its method, a registration may leave it to the type.
  const fields = Object.entries({ ...rest, authMethod: rest.authMethod ?? defaultAuthMethod(rest.type) }).sort(([a], [b]) => (a < b ? -1 : 1));
  return JSON.stringify(Object.fromEntries(fields));
}

/**
 * A pinned client's registration as written now, for the start to put back (first-party
 * pages): the whole registration, with the client's own name and require-MFA flag; or
 * undefined when the client is already as registered.
 */
export function pinnedRepair(client: ClientRecord, registration: Readonly<Record<string, unknown>>): Record<string, unknown> | undefined {
  const wanted = parseClientInput(registration);
  if (pinnedPart(toClientInput(client)) === pinnedPart(wanted)) return undefined;
  const { clientId: _clientId, type: _type, ...rest } = wanted;
  return { ...rest, authMethod: rest.authMethod ?? defaultAuthMethod(wanted.type), name: client.name, requireMfa: client.requireMfa };
}

export function createClientService(deps: {
  store: ClientStore;
  resources: ResourceStore;
  sealer: Sealer;
  audit?: AuditSink | undefined;
  /** Without one (tests of the registry alone), deleting a client leaves its tokens to expire. */
  tokens?: ClientTokenRevoker | undefined;
  pinned?: readonly PinnedClient[];
}): ClientService {
  const { store, resources, sealer } = deps;
  const pinned = new Map((deps.pinned ?? []).map((pin) => [pin.clientId, pinnedPart(parseClientInput(pin.registration))]));
  /** A change that would make a pinned client other than its registration (name and require-MFA aside) is refused. */
  function refuseUnpinning(clientId: string, input: ClientInput): void {
    const wanted = pinned.get(clientId);
    if (wanted !== undefined && pinnedPart(input) !== wanted) {
      throw new ConflictError(`${clientId} is the client of one of Portcullis' own pages: only its name and requireMfa can change`);
    }
  }
  // Every change to the registry is recorded here, whichever surface (CLI, API) made it.
  const audit = deps.audit ?? discardAudit;

  async function get(clientId: string): Promise<ClientRecord> {
    const client = await store.findById(clientId);
    if (!client) throw new NotFoundError(`no client ${clientId}`);
    return client;
  }

  const normalise = createClientNormaliser(resources);
  const ending = createClientEnding({ store, audit, tokens: deps.tokens, get });
  return {
    async create(raw, by) {
      const input = parseClientInput(raw);
      if (input.clientId !== undefined) refuseUnpinning(input.clientId, input);
      const data = await normalise(input);
      const clientSecret = usesSecret(data.authMethod) ? newClientSecret() : undefined;
      const client = await store.create({
        clientId: input.clientId ?? newClientId(),
        secretCiphertext: clientSecret ? sealer.seal(clientSecret) : null,
        tokenGeneration: randomUUID(),
        ...data,
      });
      audit.record({
        type: 'client.created',
        clientId: client.clientId,
        data: { type: client.type, authMethod: client.authMethod, grantTypes: client.grantTypes, scopes: client.scopes, resources: client.resources, firstParty: client.firstParty, requireMfa: client.requireMfa },
        ...by,
      });
      return { client, clientSecret };
    },

    async update(clientId, raw, by, options = {}) {
      const current = await get(clientId);
      const { ifUpdatedAt } = options;
      // The change is merged onto `current`: it must be the version the caller named.
      if (ifUpdatedAt && current.updatedAt.getTime() !== ifUpdatedAt.getTime()) throw new PreconditionFailedError();
      if (typeof raw !== 'object' || raw === null) throw new ValidationError('input: must be an object');
      if ('clientId' in raw && raw.clientId !== clientId) throw new ValidationError('clientId: cannot be changed');
      if ('type' in raw && raw.type !== current.type) throw new ValidationError('type: cannot be changed; create a new client');
      // A secret is issued only at creation and by rotate-secret, where it is shown once.
      const wanted = 'authMethod' in raw && typeof raw.authMethod === 'string' ? raw.authMethod : current.authMethod;
      requireSecretFor(current, wanted);
      const input = parseClientInput({ ...toClientInput(current), ...raw });
      refuseUnpinning(clientId, input);
      const data = await normalise(input);
      // Moving to keys drops the secret: it must stop working.
      const client = await store.update(clientId, { ...data, ...(!usesSecret(data.authMethod) && { secretCiphertext: null }) }, { ifUpdatedAt });
      audit.record({ type: 'client.updated', clientId, data: { fields: Object.keys(raw) }, ...by });
      return client;
    },

    async register(raw, registration, by) {
      const data = await normalise(parseClientInput(raw));
      if (usesSecret(data.authMethod) && registration.clientSecret === undefined) throw new ValidationError('authMethod: a secret method needs the issued secret');
      const client = await store.create(
        {
          clientId: registration.clientId,
          secretCiphertext: usesSecret(data.authMethod) && registration.clientSecret !== undefined ? sealer.seal(registration.clientSecret) : null,
          tokenGeneration: randomUUID(),
          origin: 'registration',
          ...data,
        },
        registration.initialAccessToken === undefined ? {} : { spendRegistrationToken: registrationTokenHash(registration.initialAccessToken) },
      );
      audit.record({
        type: 'client.registered',
        clientId: client.clientId,
        data: { type: client.type, authMethod: client.authMethod, grantTypes: client.grantTypes, scopes: client.scopes, resources: client.resources, redirectUris: client.redirectUris, registrationTokenId: client.registrationTokenId },
        ...by,
      });
      return client;
    },

    async updateRegistration(clientId, raw, clientSecret, by) {
      const current = await get(clientId);
      const input = parseClientInput(raw);
      if (input.type !== current.type) throw new ValidationError(`type: a registered ${current.type} client stays one; register a new client instead`);
      const data = await normalise(input);
      const keepsSecret = usesSecret(data.authMethod);
      if (keepsSecret && !current.secretCiphertext && clientSecret === undefined) throw new ValidationError('authMethod: a secret method needs the issued secret');
      const secretCiphertext = !keepsSecret ? null : (current.secretCiphertext ?? sealer.seal(clientSecret!));
      // A registration replaces what RFC 7591 can say, never what only an operator sets: those
      // stay as the operator left them, and an operator's requirement (pushed requests) is a
      // floor the registrant cannot lower.
      const operatorSettings = {
        requireMfa: current.requireMfa,
        firstParty: current.firstParty,
        corsOrigins: current.corsOrigins,
        requireSignedRequests: current.requireSignedRequests,
        requirePushedRequests: current.requirePushedRequests || data.requirePushedRequests,
        jwks: current.jwks,
        jwksUri: current.jwksUri,
        backchannelLogoutUri: current.backchannelLogoutUri,
        exchangeAudiences: current.exchangeAudiences,
        exchangeAct: current.exchangeAct,
      };
      const client = await store.update(clientId, { ...data, ...operatorSettings, secretCiphertext }, { ifUpdatedAt: current.updatedAt });
      audit.record({ type: 'client.registration_updated', clientId, data: { authMethod: client.authMethod, grantTypes: client.grantTypes, scopes: client.scopes, resources: client.resources, redirectUris: client.redirectUris }, ...by });
      return client;
    },

    rotateSecret: createSecretRotation({ store, sealer, audit, get }),
    // revokeTokens and delete: ending what the client holds; a pinned client is never deleted.
    ...ending,
    async delete(clientId, by) {
      if (pinned.has(clientId)) throw new ConflictError(`${clientId} is the client of one of Portcullis' own pages: it cannot be deleted`);
      await ending.delete(clientId, by);
    },
    deleteRegistration: (clientId, by) => ending.delete(clientId, by, 'client.registration_deleted'),
    get,
    find: (clientId) => store.findById(clientId),
    list: () => store.list(),
    revealSecret: (client) => (client.secretCiphertext ? sealer.open(client.secretCiphertext) : undefined),
  };
}
