import type { Redis } from 'ioredis';
import type { Middleware } from 'koa';
import type Provider from 'oidc-provider';

import type { ClientService } from '../clients/index.ts';
import type { AuthThrottleConfig, Config } from '../config/index.ts';
import { apiCors, createOriginAllowlist, enforceProviderCors, enginePath, routedPath, type RenderErrorPage } from '../http/index.ts';
import type { AuditSink } from '../audit/index.ts';
import type { Logger, Metrics } from '../observability/index.ts';
import { guardClientAuthentication } from './client-authentication.ts';
import { createRedisThrottleStore } from './credential-throttle-redis.ts';
import { createCredentialThrottle, type AuthAttempt, type BlockScope } from './credential-throttle.ts';
import { createMemoryThrottleStore, type ThrottleStore } from './credential-throttle-store.ts';
import { withMemoryFallback } from './fallback-throttle-store.ts';
import { redisReady } from './redis.ts';
import type { LimitBackend } from './limit-backend.ts';
import { createLoginThrottle } from './login-throttle.ts';
import { createRateLimits } from './rate-limit.ts';
import { createMailThrottle, createResetThrottle, MAILBOX_CODE_THROTTLE_POLICY, RESET_THROTTLE_POLICY } from './reset-throttle.ts';
import { createDeviceCodeThrottle, DEVICE_CODE_THROTTLE_POLICY } from './device-code-throttle.ts';
import { createReleaseFeed, type ReleaseSource } from './throttle-releases.ts';
import { limitRequestBodies } from './request-limits.ts';
import type { RefusalOptions } from './too-many-requests.ts';

// Everything that holds Portcullis against abuse, built once from the config: request
// budgets, the failed-authentication throttles, body limits and the CORS allowlist. app.ts
// decides where each goes in the request path. Pure: no I/O until a request arrives (the
// Redis connection, when there is one, is opened by server.ts).

export interface AbuseLimitDeps {
  readonly config: Config;
  readonly logger: Logger;
  readonly provider: Provider;
  readonly clients: ClientService;
  readonly renderPage: RenderErrorPage;
  readonly audit?: AuditSink | undefined;
  readonly metrics?: (Pick<Metrics, 'rateLimited' | 'loginAttempts'> & Partial<Pick<Metrics, 'unavailableResponses'>>) | undefined;
  /** Shared budgets and counts for every instance (REDIS_URL); without it, memory. */
  readonly redis?: Redis | undefined;
  /** Where `portcullis users unblock` leaves its releases (the database), read when a throttle would refuse. */
  readonly throttleReleases?: ReleaseSource | undefined;
}

export interface AbuseLimits {
  /** Repeat refusals of a key already over budget: first of all, a lean 429 (repeat-refusals.ts). */
  readonly repeatRefusals: Middleware;
  /** Per-address budgets (every request, and per endpoint): first, before anything costs. */
  readonly requests: Middleware;
  /** 413 / 415 before a request body is read. */
  readonly bodies: Middleware;
  /** Password guessing at the login form (handed to the interaction routes). */
  readonly loginThrottle: ReturnType<typeof createLoginThrottle>;
  /** Password reset requests, per account and address (handed to the reset pages). */
  readonly resetThrottle: ReturnType<typeof createResetThrottle>;
  /** Sign-up requests (each mails the address typed): the reset policy, in a count of their own. */
  readonly signUpThrottle: ReturnType<typeof createResetThrottle>;
  /** Codes mailed before an enrolment at sign-in: counted apart from resets, per account as they are, with more room per address. */
  readonly mailboxCodeThrottle: ReturnType<typeof createMailThrottle>;
  /** User-code guessing at the device page, per address (handed to the device code guard). */
  readonly deviceCodeThrottle: ReturnType<typeof createDeviceCodeThrottle>;
  /** Client-secret guessing wherever clients authenticate, in front of the engine. */
  readonly clientAuthentication: Middleware;
  /** Per-client budgets wherever clients authenticate, around the client-secret throttle. */
  readonly clients: Middleware;
  /** Per-subject budgets of the account API and the admin API, after the access token is verified. */
  readonly accounts: Middleware;
  /** CORS of /api/*: registered origins only. */
  readonly apiCors: Middleware;
  /** CORS of the protected-resource metadata (RFC 9728): registered origins only, as discovery. */
  readonly resourceMetadataCors: Middleware;
  /** Removes the engine's CORS answers to origins no client registered. */
  readonly providerCors: Middleware;
}

/** The largest request body anyone may send (the engine reads at most 56 kB). */
const MAX_BODY_BYTES = 56 * 1024;

/** The engine's routes where clients authenticate (lib/shared/client_auth.js), as far as enabled. */
const CLIENT_AUTH_ROUTES = ['token', 'introspection', 'revocation', 'pushed_authorization_request', 'device_authorization', 'backchannel_authentication'];

function clientAuthPaths(provider: Provider): Set<string> {
  const paths = new Set<string>();
  for (const route of CLIENT_AUTH_ROUTES) {
    try {
      paths.add(routedPath(enginePath(provider, route)));
    } catch {
      // A feature that is not enabled has no route.
    }
  }
  return paths;
}

const BLOCK_SCOPE_NAMES: Record<BlockScope, string> = { pair: 'account_address', ip: 'address', device: 'account_device' };
/**
 * Something an email could be: one @, a dotted domain ending in letters, no spaces. Not
 * proof (a password may look like one), but `P@ssw0rd` and `hunter@2024` do not.
 */
const EMAIL_SHAPE = /^[^\s@]+@[^\s@.]+(?:\.[^\s@.]+)*\.[A-Za-z]{2,}$/;

export function createAbuseLimits(deps: AbuseLimitDeps): AbuseLimits {
  const { config, logger, provider, audit, metrics } = deps;
  const backend: LimitBackend =
    deps.redis && config.redis
      ? {
          kind: 'redis',
          client: deps.redis,
          keyPrefix: config.redis.keyPrefix,
          whenUnavailable: config.redis.whenUnavailable,
          maxKeys: config.rateLimits.memoryKeys,
          maxBlocked: config.rateLimits.memoryBlocks,
        }
      : { kind: 'memory', maxKeys: config.rateLimits.memoryKeys, maxBlocked: config.rateLimits.memoryBlocks };

  const allowlist = createOriginAllowlist({
    load: async () => (await deps.clients.list()).flatMap((client) => client.corsOrigins),
  });
  const refusal: RefusalOptions = {
    renderPage: deps.renderPage,
    allowOrigin: (origin) => allowlist.has(origin),
    hsts: new URL(config.issuer).protocol === 'https:',
  };
  const paths = {
    token: enginePath(provider, 'token'),
    introspection: enginePath(provider, 'introspection'),
    revocation: enginePath(provider, 'revocation'),
    ...(config.deviceFlow && { deviceVerification: enginePath(provider, 'code_verification'), deviceAuthorization: enginePath(provider, 'device_authorization') }),
    ...(config.clientRegistration.mode !== 'off' && { registration: enginePath(provider, 'registration') }),
  };
  const clientPaths = clientAuthPaths(provider);

  const memoryStore = () => createMemoryThrottleStore({ maxKeys: config.rateLimits.memoryKeys, maxKept: config.rateLimits.memoryBlocks });
  // With Redis: shared counts, and this instance's memory while Redis is away (never off).
  const store = (): ThrottleStore =>
    backend.kind === 'redis'
      ? withMemoryFallback({
          primary: createRedisThrottleStore({ client: backend.client, keyPrefix: backend.keyPrefix }),
          memory: memoryStore(),
          available: () => redisReady(backend.client),
        })
      : memoryStore();
  // Only a memory store failing (a bug) reaches this: attempts then go ahead, logged.
  let lastStoreError = 0;
  const onStoreError = (error: unknown) => {
    if (Date.now() - lastStoreError < 10_000) return;
    lastStoreError = Date.now();
    logger.error({ err: error }, 'credential throttle store failed: attempts go ahead unthrottled (fail open) until it is back');
  };

  // Each throttle reads the releases itself: each has its own store to apply them to.
  const releases = () =>
    deps.throttleReleases && createReleaseFeed(deps.throttleReleases, { windowMs: config.authThrottle.window * 1000 });
  const passwords = createCredentialThrottle({
    policy: config.authThrottle,
    store: store(),
    namespace: 'login',
    releases: releases(),
    onStoreError,
    onBlocked(attempt: AuthAttempt, block) {
      audit?.record({
        type: 'login.blocked',
        ip: attempt.ip,
        // The email as typed, only if it has an email's shape: a password typed into the email
        // field must not land in the audit trail (which the admin API serves).
        data: { scope: BLOCK_SCOPE_NAMES[block.scope], email: block.scope === 'ip' || !EMAIL_SHAPE.test(attempt.subject) ? undefined : attempt.subject.slice(0, 254), failures: block.failures, seconds: block.seconds },
      });
    },
  });
  const clientSecrets = createCredentialThrottle({
    policy: config.authThrottle,
    store: store(),
    namespace: 'client',
    // A client's own servers authenticate in parallel: not held back by their own attempts.
    concurrentWhenTrusted: true,
    // An address released by an operator is released for client authentication too.
    releases: releases(),
    onStoreError,
    onBlocked(attempt: AuthAttempt, block) {
      audit?.record({
        type: 'rate_limit.blocked',
        ip: attempt.ip,
        ...(block.scope === 'pair' && { clientId: attempt.subject }),
        data: { tier: 'client_authentication', scope: block.scope === 'pair' ? 'client_address' : 'address', failures: block.failures, seconds: block.seconds },
      });
    },
  });

  // Mail sent to an account (reset links, codes before an enrolment): each kind its own count.
  const mailCount = (policy: AuthThrottleConfig, namespace: string, tier: string) =>
    createCredentialThrottle({
      policy,
      store: store(),
      namespace,
      onStoreError,
      onBlocked(attempt: AuthAttempt, block) {
        audit?.record({ type: 'rate_limit.blocked', ip: attempt.ip, data: { tier, scope: BLOCK_SCOPE_NAMES[block.scope], failures: block.failures, seconds: block.seconds } });
      },
    });
  const resetRequests = mailCount(RESET_THROTTLE_POLICY, 'reset', 'password_reset');
  const mailboxCodes = mailCount(MAILBOX_CODE_THROTTLE_POLICY, 'mailbox', 'mailbox_code');
  // Sign-up requests mail an address as resets do, counted apart: a flood of sign-ups for an
  // address must not stop its owner from resetting their password.
  const signUpRequests = mailCount(RESET_THROTTLE_POLICY, 'signup', 'sign_up');

  const deviceCodes = createCredentialThrottle({
    policy: DEVICE_CODE_THROTTLE_POLICY,
    store: store(),
    namespace: 'device',
    // An address released by an operator may type codes again too.
    releases: releases(),
    onStoreError,
    onBlocked(attempt: AuthAttempt, block) {
      audit?.record({
        type: 'rate_limit.blocked',
        ip: attempt.ip,
        data: { tier: 'device_code', scope: 'address', failures: block.failures, seconds: block.seconds },
      });
    },
  });

  const rateLimits = createRateLimits({ tiers: config.rateLimits.tiers, backend, logger, refusal, audit, metrics, paths, clientPaths });

  return {
    repeatRefusals: rateLimits.repeatRefusals,
    requests: rateLimits.requests,
    bodies: limitRequestBodies({ maxBytes: MAX_BODY_BYTES, ownRoutes: ['/interaction/', '/api/', '/admin/api/'], ...(paths.registration && { jsonRoutes: [paths.registration] }) }),
    loginThrottle: createLoginThrottle({ throttle: passwords, refusal, metrics }),
    resetThrottle: createResetThrottle({ throttle: resetRequests, refusal, metrics }),
    signUpThrottle: createResetThrottle({ throttle: signUpRequests, refusal, metrics, tier: 'sign_up' }),
    mailboxCodeThrottle: createMailThrottle({ throttle: mailboxCodes, metrics, tier: 'mailbox_code' }),
    deviceCodeThrottle: createDeviceCodeThrottle({ throttle: deviceCodes, refusal, metrics }),
    clientAuthentication: guardClientAuthentication({
      throttle: clientSecrets,
      paths: clientPaths,
      refusal,
      onRefused: () => metrics?.rateLimited.inc({ tier: 'client_auth_throttle' }),
    }),
    clients: rateLimits.clients,
    accounts: rateLimits.accounts,
    apiCors: apiCors({ allowlist, prefix: '/api' }),
    resourceMetadataCors: apiCors({ allowlist, prefix: '/.well-known/oauth-protected-resource', readOnly: true }),
    providerCors: enforceProviderCors({ allowlist }),
  };
}
