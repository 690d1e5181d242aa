// What a client may ask for is bounded by the registry: the OIDC scopes, plus the scopes
// of the resource servers it is registered for. The client service applies this to every
// create and update; the CLI's declaration planning applies it to a registry that
// includes the resource servers the same file declares, before anything is written.

/** OIDC scopes any client may be registered for; everything else belongs to a resource server. */
export const OIDC_SCOPES = ['openid', 'email', 'profile', 'offline_access'] as const;

export interface RegistryProblem {
  readonly list: 'resources' | 'exchangeAudiences' | 'scopes';
  /** The position in `resources` (or `exchangeAudiences`) of an unregistered resource server. */
  readonly index?: number;
  readonly message: string;
}

/**
 * Resources (and the ones a client may exchange tokens for) must be registered, and every
 * non-OIDC scope must belong to one of them.
 * `scopesOf` gives a registered resource server's scope names, or undefined for an
 * unknown indicator. The problems come in field order: resources first, then scopes.
 */
export function checkAgainstRegistry(
  client: { readonly resources: readonly string[]; readonly exchangeAudiences?: readonly string[]; readonly scopes: readonly string[] },
  scopesOf: (indicator: string) => readonly string[] | undefined,
): RegistryProblem[] {
  const problems: RegistryProblem[] = [];
  const offered = new Set<string>(OIDC_SCOPES);
  client.resources.forEach((indicator, index) => {
    const scopes = scopesOf(indicator);
    if (scopes) scopes.forEach((scope) => offered.add(scope));
    else problems.push({ list: 'resources', index, message: `${indicator} is not a registered resource server` });
  });
  (client.exchangeAudiences ?? []).forEach((indicator, index) => {
    const scopes = scopesOf(indicator);
    if (scopes) scopes.forEach((scope) => offered.add(scope));
    else problems.push({ list: 'exchangeAudiences', index, message: `${indicator} is not a registered resource server` });
  });
  const unknown = client.scopes.filter((scope) => !offered.has(scope));
  if (unknown.length > 0) problems.push({ list: 'scopes', message: `${unknown.join(', ')} not offered by openid or the client's resources` });
  return problems;
}
