import { randomBytes, randomInt, randomUUID } from 'node:crypto';

import type { Sealer } from '../crypto/index.ts';
import { NotFoundError, ValidationError } from '../errors.ts';
import { discardAudit, type AuditSink } from '../audit/index.ts';
import {
  defaultAuthMethod,
  defaultGrantTypes,
  defaultScopes,
  isPublicType,
  parseClientInput,
  usesSecret,
  type AuthMethodName,
  type ClientInput,
} from './client-input.ts';
import { checkAgainstRegistry } from './check-against-registry.ts';
import type { ClientData, ClientRecord, ClientStore } from './client-store.ts';
import type { ResourceStore } from './resource-store.ts';

const ID_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';

/** 20 alphanumerics (~119 bits): no "-" or "_", so an id never reads as a CLI flag. */
function newClientId(): string {
  return Array.from({ length: 20 }, () => ID_ALPHABET[randomInt(ID_ALPHABET.length)]).join('');
}

/** 256 bits; shown once at creation or rotation, sealed at rest. */
function newClientSecret(): string {
  return randomBytes(32).toString('base64url');
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
export interface ClientTokenRevoker {
  revokeClient(clientId: string): Promise<{ readonly grants: number; readonly tokens: number }>;
}

export interface RotateOptions {
  /** Switch to this secret method (required for a private_key_jwt client, which has no secret yet). */
  readonly authMethod?: AuthMethodName;
}

export interface ClientService {
  create(raw: unknown): Promise<CreatedClient>;
  /** Applies a partial change, re-validating the whole resulting registration. */
  update(clientId: string, raw: unknown): Promise<ClientRecord>;
  rotateSecret(clientId: string, options?: RotateOptions): Promise<CreatedClient>;
  /**
   * Ends every grant, token and remembered consent of the client, client-credentials JWTs
   * included (they name the client's token generation, which is replaced). The client stays.
   */
  revokeTokens(clientId: string): Promise<{ readonly grants: number; readonly tokens: number }>;
  /** Deletes the client after ending everything it holds, as revokeTokens does. */
  delete(clientId: string): Promise<void>;
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
    backchannelLogoutUri: client.backchannelLogoutUri,
    logoUri: client.logoUri,
    clientUri: client.clientUri,
    policyUri: client.policyUri,
    tosUri: client.tosUri,
    authMethod: client.authMethod,
    jwks: client.jwks,
    jwksUri: client.jwksUri,
  };
}

export function createClientService(deps: {
  store: ClientStore;
  resources: ResourceStore;
  sealer: Sealer;
  audit?: AuditSink | undefined;
  /** Without one (tests of the registry alone), deleting a client leaves its tokens to expire. */
  tokens?: ClientTokenRevoker | undefined;
}): ClientService {
  const { store, resources, sealer } = deps;
  // Every change to the registry is recorded here, whichever surface (CLI, API) made it.
  const audit = deps.audit ?? discardAudit;

  /** The registry check on the stored registry; the first problem is the refusal. */
  async function checkRegistered(input: ClientInput, scopes: readonly string[]): Promise<void> {
    const registered = new Map<string, string[]>();
    for (const indicator of input.resources) {
      const resource = await resources.find(indicator);
      if (resource) registered.set(indicator, resource.scopes.map((scope) => scope.name));
    }
    const [problem] = checkAgainstRegistry({ resources: input.resources, scopes }, (indicator) => registered.get(indicator));
    if (problem) throw new ValidationError(`${problem.list}: ${problem.message}`);
  }

  async function get(clientId: string): Promise<ClientRecord> {
    const client = await store.findById(clientId);
    if (!client) throw new NotFoundError(`no client ${clientId}`);
    return client;
  }

  async function normalise(input: ClientInput): Promise<Omit<ClientData, 'clientId' | 'secretCiphertext'>> {
    const grantTypes = input.grantTypes ?? defaultGrantTypes(input.type);
    const scopes = input.scopes ?? defaultScopes(input.type);
    await checkRegistered(input, scopes);
    return {
      type: input.type,
      name: input.name,
      redirectUris: input.redirectUris,
      postLogoutRedirectUris: input.postLogoutRedirectUris,
      corsOrigins: input.corsOrigins,
      grantTypes,
      scopes,
      resources: input.resources,
      firstParty: input.firstParty,
      backchannelLogoutUri: input.backchannelLogoutUri,
      logoUri: input.logoUri,
      clientUri: input.clientUri,
      policyUri: input.policyUri,
      tosUri: input.tosUri,
      authMethod: input.authMethod ?? defaultAuthMethod(input.type),
      jwks: input.jwks,
      jwksUri: input.jwksUri,
    };
  }

  return {
    async create(raw) {
      const input = parseClientInput(raw);
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
        data: { type: client.type, authMethod: client.authMethod, grantTypes: client.grantTypes, scopes: client.scopes, resources: client.resources, firstParty: client.firstParty },
      });
      return { client, clientSecret };
    },

    async update(clientId, raw) {
      const current = await get(clientId);
      if (typeof raw !== 'object' || raw === null) throw new ValidationError('input: must be an object');
      if ('clientId' in raw && raw.clientId !== clientId) throw new ValidationError('clientId: cannot be changed');
      if ('type' in raw && raw.type !== current.type) throw new ValidationError('type: cannot be changed; create a new client');
      // A secret is issued only at creation and by rotate-secret, where it is shown once.
      const wanted = 'authMethod' in raw && typeof raw.authMethod === 'string' ? raw.authMethod : current.authMethod;
      if (!isPublicType(current.type) && current.secretCiphertext === null && usesSecret(wanted as AuthMethodName)) {
        throw new ValidationError(
          `authMethod: client ${clientId} has no secret to send with ${wanted}; \`portcullis clients rotate-secret ${clientId} --auth-method ${wanted}\` issues one and switches to it`,
        );
      }
      const input = parseClientInput({ ...toClientInput(current), ...raw });
      const data = await normalise(input);
      // Moving to keys drops the secret: it must stop working.
      const client = await store.update(clientId, { ...data, ...(!usesSecret(data.authMethod) && { secretCiphertext: null }) });
      audit.record({ type: 'client.updated', clientId, data: { fields: Object.keys(raw) } });
      return client;
    },

    async rotateSecret(clientId, options = {}) {
      const current = await get(clientId);
      if (isPublicType(current.type)) throw new ValidationError(`a ${current.type} client is public and has no secret`);
      const authMethod = options.authMethod ?? current.authMethod;
      if (!usesSecret(authMethod)) {
        throw new ValidationError(
          options.authMethod
            ? `authMethod: a secret is sent with client_secret_basic or client_secret_post, not ${authMethod}`
            : `client ${clientId} authenticates with ${authMethod} and has no secret; give --auth-method client_secret_basic or client_secret_post to switch it to a secret`,
        );
      }
      const clientSecret = newClientSecret();
      // A client switched to a secret no longer has keys.
      const client = await store.update(clientId, {
        secretCiphertext: sealer.seal(clientSecret),
        ...(authMethod !== current.authMethod && { authMethod, jwks: null, jwksUri: null }),
      });
      audit.record({ type: 'client.secret_rotated', clientId, ...(authMethod !== current.authMethod && { data: { authMethod } }) });
      return { client, clientSecret };
    },

    async revokeTokens(clientId) {
      await get(clientId);
      // The new generation first: from here on no earlier client-credentials JWT verifies.
      await store.update(clientId, { tokenGeneration: randomUUID() });
      const count = (await deps.tokens?.revokeClient(clientId)) ?? { grants: 0, tokens: 0 };
      audit.record({ type: 'client.tokens_revoked', clientId, data: { grants: count.grants, tokens: count.tokens } });
      return count;
    },

    async delete(clientId) {
      await get(clientId);
      // Tokens first: a failure leaves the client in place to delete again, never tokens
      // of a client that is gone. A client registered later under this id starts afresh
      // (its own token generation; no grants, consent or tokens of this one).
      const count = (await deps.tokens?.revokeClient(clientId)) ?? { grants: 0, tokens: 0 };
      await store.delete(clientId);
      audit.record({ type: 'client.deleted', clientId, data: { grants: count.grants, tokens: count.tokens } });
    },

    get,
    find: (clientId) => store.findById(clientId),
    list: () => store.list(),
    revealSecret: (client) => (client.secretCiphertext ? sealer.open(client.secretCiphertext) : undefined),
  };
}
