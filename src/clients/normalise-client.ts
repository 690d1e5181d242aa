import { ValidationError } from '../errors.ts';
import { checkAgainstRegistry } from './check-against-registry.ts';
import { defaultAuthMethod, defaultGrantTypes, defaultScopes, type ClientInput } from './client-input.ts';
import type { ClientData } from './client-store.ts';
import type { ResourceStore } from './resource-store.ts';

// A parsed client registration made ready to store (client-service.ts). Rules:
// - What is left out takes its type's default: grant types, scopes, auth method.
// - Every resource indicator must be a registered resource server, and every scope an
//   OIDC scope or one of those servers' scopes; the first problem is the refusal (400).

export type NormalisedClient = Omit<ClientData, 'clientId' | 'secretCiphertext'>;

export function createClientNormaliser(resources: ResourceStore): (input: ClientInput) => Promise<NormalisedClient> {
  /** The registry check on the stored registry; the first problem is the refusal. */
  async function checkRegistered(input: ClientInput, scopes: readonly string[]): Promise<void> {
    const registered = new Map<string, string[]>();
    for (const indicator of [...input.resources, ...input.exchangeAudiences]) {
      const resource = await resources.find(indicator);
      if (resource) registered.set(indicator, resource.scopes.map((scope) => scope.name));
    }
    const [problem] = checkAgainstRegistry({ resources: input.resources, exchangeAudiences: input.exchangeAudiences, scopes }, (indicator) => registered.get(indicator));
    if (problem) throw new ValidationError(`${problem.list}: ${problem.message}`);
  }

  return async function normalise(input) {
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
      requireMfa: input.requireMfa,
      backchannelLogoutUri: input.backchannelLogoutUri,
      logoUri: input.logoUri,
      clientUri: input.clientUri,
      policyUri: input.policyUri,
      tosUri: input.tosUri,
      authMethod: input.authMethod ?? defaultAuthMethod(input.type),
      jwks: input.jwks,
      jwksUri: input.jwksUri,
      requirePushedRequests: input.requirePushedRequests,
      requireSignedRequests: input.requireSignedRequests,
      exchangeAudiences: input.exchangeAudiences,
      exchangeAct: input.exchangeAct,
    };
  };
}
