import { checkPassword, type AccountRecord } from '../accounts/index.ts';
import {
  checkAgainstRegistry,
  defaultAuthMethod,
  defaultGrantTypes,
  defaultScopes,
  usesSecret,
  type ClientRecord,
  type ResourceServerRecord,
} from '../clients/index.ts';
import { ValidationError } from '../errors.ts';
import type { Services } from '../services.ts';
import type { ImportFile } from './read-import-file.ts';

// Applies a declaration of resource servers, clients and users idempotently, in two
// phases: plan reads the database and checks everything that could refuse a write (so a
// bad item stops the run before anything is written); apply then writes only what differs.
// Resource servers go first, as clients refer to them.

export type Declaration = ImportFile;
export type ItemKind = 'resource' | 'client' | 'user';
export type ItemStatus = 'created' | 'updated' | 'unchanged';

export interface AppliedItem {
  readonly kind: ItemKind;
  readonly id: string;
  readonly status: ItemStatus;
  /** Only for a confidential client created by this run: the one time it is shown. */
  readonly clientSecret?: string;
}

export interface PlannedItem {
  readonly kind: ItemKind;
  readonly id: string;
  readonly status: ItemStatus;
  apply(): Promise<AppliedItem>;
}

export interface PlanDeps {
  readonly services: Services;
  /** Where `passwordEnv` names are looked up. */
  readonly env: Readonly<Record<string, string | undefined>>;
}

type DeclaredResource = Declaration['resources'][number];
type DeclaredClient = Declaration['clients'][number];
type DeclaredUser = Declaration['users'][number];

/** Throws one ValidationError naming every problem, as `section[index].field: message`. */
export async function planDeclaration(deps: PlanDeps, declaration: Declaration): Promise<PlannedItem[]> {
  const problems: string[] = [];
  const resources = await planResources(deps, declaration.resources);
  const clients = await planClients(deps, declaration, problems);
  const users = await planUsers(deps, declaration.users, problems);
  if (problems.length > 0) throw new ValidationError(problems.join('; '));
  return [...resources, ...clients, ...users];
}

export async function applyPlan(plan: readonly PlannedItem[]): Promise<AppliedItem[]> {
  const applied: AppliedItem[] = [];
  for (const item of plan) applied.push(await item.apply());
  return applied;
}

function unchanged(kind: ItemKind, id: string): PlannedItem {
  return { kind, id, status: 'unchanged', apply: () => Promise.resolve({ kind, id, status: 'unchanged' }) };
}

async function planResources(deps: PlanDeps, declared: readonly DeclaredResource[]): Promise<PlannedItem[]> {
  const plan: PlannedItem[] = [];
  for (const resource of declared) {
    const existing = await deps.services.resources.find(resource.indicator);
    if (existing && sameResource(existing, resource)) {
      plan.push(unchanged('resource', resource.indicator));
      continue;
    }
    const status = existing ? 'updated' : 'created';
    plan.push({
      kind: 'resource',
      id: resource.indicator,
      status,
      apply: async () => {
        await deps.services.resources.put(resource);
        return { kind: 'resource', id: resource.indicator, status };
      },
    });
  }
  return plan;
}

function sameResource(existing: ResourceServerRecord, wanted: DeclaredResource): boolean {
  const scopes = new Map(existing.scopes.map((scope) => [scope.name, scope]));
  const sameList = (a: readonly string[], b: readonly string[]) => a.length === b.length && a.every((value, i) => value === b[i]);
  return (
    existing.name === wanted.name &&
    existing.accessTokenFormat === wanted.accessTokenFormat &&
    existing.accessTokenTtl === wanted.accessTokenTtl &&
    existing.signingAlg === wanted.signingAlg &&
    scopes.size === wanted.scopes.length &&
    wanted.scopes.every((scope) => {
      const stored = scopes.get(scope.name);
      return stored !== undefined && stored.description === scope.description && sameList(stored.roles, scope.roles);
    })
  );
}

async function planClients(deps: PlanDeps, declaration: Declaration, problems: string[]): Promise<PlannedItem[]> {
  // The registry as it will be once this declaration's resource servers are applied.
  const registry = new Map((await deps.services.resources.list()).map((r) => [r.indicator, r.scopes.map((s) => s.name)]));
  for (const resource of declaration.resources) registry.set(resource.indicator, resource.scopes.map((s) => s.name));

  const plan: PlannedItem[] = [];
  for (const [index, client] of declaration.clients.entries()) {
    const at = `clients[${index}]`;
    const clientId = client.clientId;
    if (clientId === undefined) throw new ValidationError(`${at}.clientId: is required`);
    const wanted = completeClient(client);

    for (const problem of checkAgainstRegistry(wanted, (indicator) => registry.get(indicator))) {
      const field = problem.index === undefined ? problem.list : `${problem.list}.${problem.index}`;
      problems.push(`${at}.${field}: ${problem.message}${problem.list === 'resources' ? ' (declare it under resources)' : ''}`);
    }

    const existing = await deps.services.clients.find(clientId);
    if (existing && existing.type !== wanted.type) {
      problems.push(`${at}.type: ${clientId} is a ${existing.type} client and a type cannot change; delete the client first`);
      continue;
    }
    // A secret is shown only when it is made: a client that signs with its key gets one by
    // rotation, never by an import.
    if (existing && existing.secretCiphertext === null && wanted.authMethod !== existing.authMethod && usesSecret(wanted.authMethod)) {
      problems.push(
        `${at}.authMethod: ${clientId} has no secret to send with ${wanted.authMethod}; run \`portcullis clients rotate-secret ${clientId} --auth-method ${wanted.authMethod}\` first`,
      );
      continue;
    }
    if (existing && sameClient(existing, wanted)) {
      plan.push(unchanged('client', clientId));
    } else if (existing) {
      plan.push({
        kind: 'client',
        id: clientId,
        status: 'updated',
        apply: async () => {
          await deps.services.clients.update(clientId, wanted);
          return { kind: 'client', id: clientId, status: 'updated' };
        },
      });
    } else {
      plan.push({
        kind: 'client',
        id: clientId,
        status: 'created',
        apply: async () => {
          const created = await deps.services.clients.create(wanted);
          return { kind: 'client', id: clientId, status: 'created', ...(created.clientSecret && { clientSecret: created.clientSecret }) };
        },
      });
    }
  }
  return plan;
}

/** The client as the file declares it in full: an omitted grant or scope list or method means the type's default. */
function completeClient(client: DeclaredClient) {
  return {
    ...client,
    grantTypes: client.grantTypes ?? defaultGrantTypes(client.type),
    scopes: client.scopes ?? defaultScopes(client.type),
    authMethod: client.authMethod ?? defaultAuthMethod(client.type),
  };
}

function sameClient(existing: ClientRecord, wanted: ReturnType<typeof completeClient>): boolean {
  const same = (a: readonly string[], b: readonly string[]) => a.length === b.length && a.every((value, i) => value === b[i]);
  return (
    existing.name === wanted.name &&
    existing.firstParty === wanted.firstParty &&
    existing.requireMfa === wanted.requireMfa &&
    existing.backchannelLogoutUri === wanted.backchannelLogoutUri &&
    existing.logoUri === wanted.logoUri &&
    existing.clientUri === wanted.clientUri &&
    existing.policyUri === wanted.policyUri &&
    existing.tosUri === wanted.tosUri &&
    existing.authMethod === wanted.authMethod &&
    existing.requirePushedRequests === (wanted.requirePushedRequests ?? false) &&
    existing.requireSignedRequests === (wanted.requireSignedRequests ?? false) &&
    existing.jwksUri === wanted.jwksUri &&
    canonicalJson(existing.jwks) === canonicalJson(wanted.jwks) &&
    same(existing.redirectUris, wanted.redirectUris) &&
    same(existing.postLogoutRedirectUris, wanted.postLogoutRedirectUris) &&
    same(existing.corsOrigins, wanted.corsOrigins) &&
    same(existing.grantTypes, wanted.grantTypes) &&
    same(existing.scopes, wanted.scopes) &&
    same(existing.resources, wanted.resources) &&
    same(existing.exchangeAudiences, wanted.exchangeAudiences ?? []) &&
    existing.exchangeAct === (wanted.exchangeAct ?? true)
  );
}

/** JSON with object members in one order (jsonb columns give them back in their own). */
function canonicalJson(value: unknown): string {
  return JSON.stringify(value, (_key, member: unknown) =>
    member !== null && typeof member === 'object' && !Array.isArray(member)
      ? Object.fromEntries(Object.entries(member).sort(([a], [b]) => a.localeCompare(b)))
      : member,
  );
}

async function planUsers(deps: PlanDeps, declared: readonly DeclaredUser[], problems: string[]): Promise<PlannedItem[]> {
  const plan: PlannedItem[] = [];
  for (const [index, user] of declared.entries()) {
    const existing = await deps.services.accounts.findByIdOrEmail(user.email);
    if (existing) {
      const changes = userChanges(existing, user);
      if (Object.keys(changes).length === 0) {
        plan.push(unchanged('user', user.email));
        continue;
      }
      plan.push({
        kind: 'user',
        id: user.email,
        status: 'updated',
        apply: async () => {
          await deps.services.accounts.update(existing.id, changes);
          return { kind: 'user', id: user.email, status: 'updated' };
        },
      });
      continue;
    }

    let password: string | undefined;
    if (user.passwordEnv !== undefined) {
      password = deps.env[user.passwordEnv];
      if (!password) {
        problems.push(`users[${index}].passwordEnv: the environment variable ${user.passwordEnv} is not set`);
        continue;
      }
      try {
        checkPassword(password);
      } catch (error) {
        if (!(error instanceof ValidationError)) throw error;
        problems.push(`users[${index}].passwordEnv: ${user.passwordEnv} does not hold an acceptable ${error.message}`);
        continue;
      }
    }
    plan.push({
      kind: 'user',
      id: user.email,
      status: 'created',
      apply: async () => {
        const { passwordEnv: _env, ...fields } = user;
        await deps.services.accounts.create({ ...fields, password });
        return { kind: 'user', id: user.email, status: 'created' };
      },
    });
  }
  return plan;
}

function userChanges(existing: AccountRecord, wanted: DeclaredUser): { name?: string; roles?: string[]; emailVerified?: boolean } {
  const rolesDiffer = existing.roles.length !== wanted.roles.length || existing.roles.some((role, i) => role !== wanted.roles[i]);
  return {
    ...(existing.name !== wanted.name && { name: wanted.name }),
    ...(rolesDiffer && { roles: wanted.roles }),
    ...(wanted.emailVerified !== undefined && existing.emailVerified !== wanted.emailVerified && { emailVerified: wanted.emailVerified }),
  };
}
