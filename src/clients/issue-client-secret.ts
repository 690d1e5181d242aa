import { randomBytes, randomUUID } from 'node:crypto';

import type { ActedBy, AuditSink } from '../audit/index.ts';
import type { Sealer } from '../crypto/index.ts';
import { ValidationError } from '../errors.ts';
import { isPublicType, usesSecret, type AuthMethodName } from './client-input.ts';
import type { ClientRecord, ClientStore } from './client-store.ts';
import type { CreatedClient, RotateOptions } from './client-service.ts';

// Client secrets: when one is issued and what it replaces (client-service.ts). Rules:
// - 256 random bits, shown once (at creation or rotation), sealed at rest.
// - A secret is issued only at creation and by rotation: an update may not switch a
//   client without one to a secret method (it names the rotate-secret command instead).
// - Public clients have no secret; a secret is sent only with client_secret_basic or
//   client_secret_post, so rotation refuses any other method.
// - A client switched to a secret by rotation loses its keys (jwks, jwks_uri); one that
//   must sign its requests with them (requireSignedRequests) is not switched.

/** 256 bits; shown once at creation or rotation, sealed at rest. */
export function newClientSecret(): string {
  return randomBytes(32).toString('base64url');
}

/** Refuses an update to a secret method for a confidential client that has no secret. */
export function requireSecretFor(current: ClientRecord, wanted: string): void {
  if (!isPublicType(current.type) && current.secretCiphertext === null && usesSecret(wanted as AuthMethodName)) {
    throw new ValidationError(
      `authMethod: client ${current.clientId} has no secret to send with ${wanted}; \`portcullis clients rotate-secret ${current.clientId} --auth-method ${wanted}\` issues one and switches to it`,
    );
  }
}

export function createSecretRotation(deps: {
  store: ClientStore;
  sealer: Sealer;
  audit: AuditSink;
  get: (clientId: string) => Promise<ClientRecord>;
}): (clientId: string, options?: RotateOptions, by?: ActedBy) => Promise<CreatedClient> {
  const { store, sealer, audit } = deps;
  return async function rotateSecret(clientId, options = {}, by) {
    const current = await deps.get(clientId);
    if (isPublicType(current.type)) throw new ValidationError(`a ${current.type} client is public and has no secret`);
    const authMethod = options.authMethod ?? current.authMethod;
    if (!usesSecret(authMethod)) {
      throw new ValidationError(
        options.authMethod
          ? `authMethod: a secret is sent with client_secret_basic or client_secret_post, not ${authMethod}`
          : `client ${clientId} authenticates with ${authMethod} and has no secret; give --auth-method client_secret_basic or client_secret_post to switch it to a secret`,
      );
    }
    if (authMethod !== current.authMethod && current.requireSignedRequests) {
      // Its request objects are verified with the keys a secret replaces: say so, rather
      // than leave a requirement no request can meet or drop it unasked.
      throw new ValidationError(
        `requireSignedRequests: client ${clientId} must sign its authorization requests with its keys, which a switch to a secret removes; \`portcullis clients update ${clientId} --no-require-signed-requests\` first`,
      );
    }
    const clientSecret = newClientSecret();
    // A client switched to a secret no longer has keys. A new token generation: the
    // client-credentials tokens got with the old secret (which may be why it is rotated)
    // stop verifying at once; people's grants to the client stay.
    const client = await store.update(clientId, {
      secretCiphertext: sealer.seal(clientSecret),
      tokenGeneration: randomUUID(),
      ...(authMethod !== current.authMethod && { authMethod, jwks: null, jwksUri: null }),
    });
    audit.record({ type: 'client.secret_rotated', clientId, ...(authMethod !== current.authMethod && { data: { authMethod } }), ...by });
    return { client, clientSecret };
  };
}
