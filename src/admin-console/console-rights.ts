import { ADMIN_SCOPES, adminApiIndicator } from '../admin-api/index.ts';
import type { ResourceService } from '../clients/index.ts';

// What a person may do at the console is what the admin API would let them do: its scopes
// are bound to roles on the admin resource server (`admin` by default, rebindable by an
// operator to, say, `auditor` for admin:read and `superadmin` for admin:write), and a person
// is granted a scope only while holding one of its roles. So the console reads the bindings
// as they are now, on every request: pages need a role bound to admin:read, every change
// one bound to admin:write. A scope bound to no role grants nothing here (the service keeps
// the admin API's scopes bound, so that is a registry edited by hand, not a policy).

export interface ConsoleRights {
  readonly read: boolean;
  readonly write: boolean;
}

export type RightsOf = (account: { readonly roles: readonly string[] }) => Promise<ConsoleRights>;

export function createConsoleRights(deps: { readonly resources: Pick<ResourceService, 'find'>; readonly issuer: string }): RightsOf {
  const indicator = adminApiIndicator(deps.issuer);
  return async (account) => {
    const resource = await deps.resources.find(indicator);
    const held = new Set(account.roles);
    const holds = (scopeName: string) => {
      const scope = resource?.scopes.find((candidate) => candidate.name === scopeName);
      return scope !== undefined && scope.roles.some((role) => held.has(role));
    };
    return { read: holds(ADMIN_SCOPES.read), write: holds(ADMIN_SCOPES.write) };
  };
}
