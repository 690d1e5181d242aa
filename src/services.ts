import {
  createAccountService,
  createAccountStore,
  createArgon2Hasher,
  createPasswordResets,
  createPasswordResetStore,
  createEmailChanges,
  createSignUps,
  createSignUpStore,
  createSecondFactors,
  createSecondFactorStore,
  createPasskeyStore,
  createPasskeys,
  type AccountService,
  type SecondFactors,
  type Passkeys,
  type PasswordResets,
  type EmailChanges,
  type SignUps,
  type PasswordHasher,
} from './accounts/index.ts';
import { createAuditTrail, type AuditSink, type AuditTrail } from './audit/index.ts';
import {
  cacheRegistry,
  createClientService,
  createClientStore,
  createRegistrationTokens,
  createRegistrationTokenStore,
  createResourceService,
  createResourceStore,
  type ChangeFeed,
  type ClientService,
  type PinnedClient,
  type PinnedResource,
  type RegistrationTokens,
  type ResourceService,
} from './clients/index.ts';
import type { Sealer } from './crypto/index.ts';
import { createThrottleReleaseStore, type PrismaClient, type Sql, type ThrottleReleaseStore } from './db/index.ts';
// Not through oidc/index.ts: that loads the engine, which the CLI does not need.
import { createGrantService, createPrismaTokenStore, type GrantService, type TokenStore } from './oidc/store/index.ts';

/** The core services, shared by the HTTP app and the CLI so both apply the same rules. */
export interface Services {
  readonly accounts: AccountService;
  readonly clients: ClientService;
  readonly resources: ResourceService;
  readonly grants: GrantService;
  /** What the engine's models do not hold: rotation, consent, grants as people see them. */
  readonly tokenStore: TokenStore;
  /** The audit trail read back (`portcullis events`). */
  readonly auditTrail: AuditTrail;
  /** Releases of login-throttle blocks: the CLI adds them, every server's throttle applies them. */
  readonly throttleReleases: ThrottleReleaseStore;
  /** Password reset links: made, checked, spent (the pages send the mail). */
  readonly passwordResets: PasswordResets;
  /** TOTP authenticators and recovery codes: enrolment, sign-in codes, operators' resets. */
  readonly secondFactors: SecondFactors;
  /** Passkeys (WebAuthn): added on the account page, a second factor, a sign-in of their own where enabled. */
  readonly passkeys: Passkeys;
  /** Invitations and sign-up links: made, checked, spent into accounts (the pages send the mail). */
  readonly signUps: SignUps;
  /** Changes of address asked for on the account page: made when the new address's link is opened. */
  readonly emailChanges: EmailChanges;
  /** Initial access tokens for dynamic client registration: minted by the CLI, spent by registrations. */
  readonly registrationTokens: RegistrationTokens;
}

/**
 * `audit` receives the services' own events (client.*, user.*); give it the acting party's
 * defaults. With `registryChanges` (the server on Postgres), clients and resource servers are
 * kept in memory while that feed is live (clients/registry-cache.ts).
 */
export function createServices(deps: { prisma: PrismaClient; sql: Sql; sealer: Sealer; hasher?: PasswordHasher; audit?: AuditSink; registryChanges?: ChangeFeed | undefined; passwordReset?: { ttl: number; endSessions: boolean }; signUpLinkTtl?: number; issuer?: string; passkeySignIn?: boolean; clock?: () => number; pinnedResources?: readonly PinnedResource[]; pinnedClients?: readonly PinnedClient[] }): Services {
  const stores = { clients: createClientStore(deps.prisma), resources: createResourceStore(deps.prisma) };
  const { clients: clientStore, resources: resourceStore } = deps.registryChanges ? cacheRegistry(stores, deps.registryChanges) : stores;
  const tokenStore = createPrismaTokenStore(deps.prisma, deps.sql);
  // Deleting a client or disabling a person ends what they hold: the grant service does it.
  const grants = createGrantService(tokenStore, deps.audit);
  const resetLinks = createPasswordResetStore(deps.sql);
  const hasher = deps.hasher ?? createArgon2Hasher();
  const accounts = createAccountService({ store: createAccountStore(deps.prisma, deps.sql), hasher, audit: deps.audit, tokens: grants, resetLinks });
  const throttleReleases = createThrottleReleaseStore(deps.prisma);
  return Object.freeze({
    accounts,
    clients: createClientService({ store: clientStore, resources: resourceStore, sealer: deps.sealer, audit: deps.audit, tokens: grants, ...(deps.pinnedClients && { pinned: deps.pinnedClients }) }),
    resources: createResourceService({ store: resourceStore, audit: deps.audit, ...(deps.pinnedResources && { pinned: deps.pinnedResources }) }),
    grants,
    tokenStore,
    auditTrail: createAuditTrail(deps.prisma),
    throttleReleases,
    passwordResets: createPasswordResets({
      store: resetLinks,
      accounts,
      releases: throttleReleases,
      ttlSeconds: deps.passwordReset?.ttl ?? 1800,
      endSessions: deps.passwordReset?.endSessions ?? true,
    }),
    secondFactors: createSecondFactors({
      store: createSecondFactorStore(deps.sql, deps.prisma),
      sealer: deps.sealer,
      issuerLabel: deps.issuer ? new URL(deps.issuer).host : 'Portcullis',
      ...(deps.clock && { now: deps.clock }),
    }),
    passkeys: createPasskeys({
      store: createPasskeyStore(deps.sql, deps.prisma),
      // The CLI has no pages: it registers and uses no passkey (`users reset-factors` removes them).
      settings: { issuer: deps.issuer ?? 'http://localhost', signIn: deps.passkeySignIn ?? false },
      ...(deps.clock && { now: deps.clock }),
    }),
    signUps: createSignUps({ store: createSignUpStore(deps.prisma, deps.sql), accounts, hasher, linkTtlSeconds: deps.signUpLinkTtl ?? 3600 }),
    emailChanges: createEmailChanges(deps.prisma),
    registrationTokens: createRegistrationTokens({ store: createRegistrationTokenStore(deps.prisma), audit: deps.audit, ...(deps.clock && { clock: deps.clock }) }),
  });
}
