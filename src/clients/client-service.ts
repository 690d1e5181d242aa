import { randomBytes } from 'node:crypto';

import type { Sealer } from '../crypto/index.ts';
import { NotFoundError, ValidationError } from '../errors.ts';
import {
  defaultGrantTypes,
  defaultScopes,
  parseClientInput,
  type ClientInput,
  type ClientTypeName,
} from './client-input.ts';
import type { ClientData, ClientRecord, ClientStore } from './client-store.ts';
import type { ResourceStore } from './resource-store.ts';

/** OIDC scopes any client may be registered for; everything else belongs to a resource server. */
export const OIDC_SCOPES = ['openid', 'email', 'profile', 'offline_access'] as const;

export function hasSecret(type: ClientTypeName): boolean {
  return type === 'web' || type === 'service' || type === 'resource-server';
}

function newClientId(): string {
  return randomBytes(12).toString('base64url');
}

/** 256 bits; shown once at creation or rotation, sealed at rest. */
function newClientSecret(): string {
  return randomBytes(32).toString('base64url');
}

export interface CreatedClient {
  readonly client: ClientRecord;
  /** Present for confidential clients: the only time the plain secret is available. */
  readonly clientSecret: string | undefined;
}

export interface ClientService {
  create(raw: unknown): Promise<CreatedClient>;
  /** Applies a partial change, re-validating the whole resulting registration. */
  update(clientId: string, raw: unknown): Promise<ClientRecord>;
  rotateSecret(clientId: string): Promise<CreatedClient>;
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
  };
}

export function createClientService(deps: { store: ClientStore; resources: ResourceStore; sealer: Sealer }): ClientService {
  const { store, resources, sealer } = deps;

  /** Resources must be registered, and every non-OIDC scope must belong to one of them. */
  async function checkAgainstRegistry(input: ClientInput, scopes: readonly string[]): Promise<void> {
    const known = new Set<string>(OIDC_SCOPES);
    for (const indicator of input.resources) {
      const resource = await resources.find(indicator);
      if (!resource) throw new ValidationError(`resources: ${indicator} is not a registered resource server`);
      for (const scope of resource.scopes) known.add(scope.name);
    }
    const unknown = scopes.filter((scope) => !known.has(scope));
    if (unknown.length > 0) {
      throw new ValidationError(`scopes: ${unknown.join(', ')} not offered by openid or the client's resources`);
    }
  }

  async function get(clientId: string): Promise<ClientRecord> {
    const client = await store.findById(clientId);
    if (!client) throw new NotFoundError(`no client ${clientId}`);
    return client;
  }

  async function normalise(input: ClientInput): Promise<Omit<ClientData, 'clientId' | 'secretCiphertext'>> {
    const grantTypes = input.grantTypes ?? defaultGrantTypes(input.type);
    const scopes = input.scopes ?? defaultScopes(input.type);
    await checkAgainstRegistry(input, scopes);
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
    };
  }

  return {
    async create(raw) {
      const input = parseClientInput(raw);
      const data = await normalise(input);
      const clientSecret = hasSecret(input.type) ? newClientSecret() : undefined;
      const client = await store.create({
        clientId: input.clientId ?? newClientId(),
        secretCiphertext: clientSecret ? sealer.seal(clientSecret) : null,
        ...data,
      });
      return { client, clientSecret };
    },

    async update(clientId, raw) {
      const current = await get(clientId);
      if (typeof raw !== 'object' || raw === null) throw new ValidationError('input: must be an object');
      if ('clientId' in raw && raw.clientId !== clientId) throw new ValidationError('clientId: cannot be changed');
      if ('type' in raw && raw.type !== current.type) throw new ValidationError('type: cannot be changed; create a new client');
      const input = parseClientInput({ ...toClientInput(current), ...raw });
      return store.update(clientId, await normalise(input));
    },

    async rotateSecret(clientId) {
      const current = await get(clientId);
      if (!hasSecret(current.type)) throw new ValidationError(`a ${current.type} client is public and has no secret`);
      const clientSecret = newClientSecret();
      const client = await store.update(clientId, { secretCiphertext: sealer.seal(clientSecret) });
      return { client, clientSecret };
    },

    async delete(clientId) {
      await store.delete(clientId);
    },

    get,
    find: (clientId) => store.findById(clientId),
    list: () => store.list(),
    revealSecret: (client) => (client.secretCiphertext ? sealer.open(client.secretCiphertext) : undefined),
  };
}
