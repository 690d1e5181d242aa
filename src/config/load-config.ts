import { isIP } from 'node:net';
import path from 'node:path';

import { StartupError } from '../errors.ts';
import { loadEnvFile } from './load-env-file.ts';
import { envSchema, GRANT_TYPE_NAMES } from './schema.ts';

export interface Config {
  readonly env: 'development' | 'production' | 'test';
  readonly production: boolean;
  readonly port: number;
  readonly host: string;
  readonly issuer: string;
  readonly database:
    | { readonly kind: 'postgres'; readonly url: string; readonly poolMax: number }
    | { readonly kind: 'embedded'; readonly dataDir: string };
  readonly dataDir: string;
  /** Absent only in development/test: then main.ts generates one into DATA_DIR. */
  readonly masterSecret: string | undefined;
  readonly logLevel: string;
  readonly logFormat: 'json' | 'pretty';
  readonly management: { readonly host: string; readonly port: number };
  readonly eventRetentionDays: number;
  /** Seconds. */
  readonly housekeepingInterval: number;
  /** Seconds. */
  readonly shutdownTimeout: number;
  /** Seconds between readiness going false on SIGTERM and the public port closing (load balancers notice first). */
  readonly shutdownDrain: number;
  readonly sentryDsn: string | undefined;
  readonly trustProxy: boolean;
  /** Off: the engine's SSRF guard refuses outbound calls to non-public addresses. */
  readonly outboundPrivateNetworks: boolean;
  /** With trustProxy: how many proxies append to X-Forwarded-For (Koa's maxIpsCount). */
  readonly trustProxyHops: number;
  /** Serve https directly (TLS_CERT_FILE, TLS_KEY_FILE); main.ts reads the files. */
  readonly tls: { readonly certFile: string; readonly keyFile: string } | undefined;
  /** Shared state for rate limits and the login throttle; without it, per-instance memory. */
  readonly redis:
    | {
        readonly url: string;
        readonly keyPrefix: string;
        /** While Redis is away: request budgets counted in this instance's memory, or refused with 503. */
        readonly whenUnavailable: 'memory' | 'closed';
      }
    | undefined;
  readonly rateLimits: {
    /** Per tier: the budget, or undefined when the tier is off. */
    readonly tiers: Readonly<Record<RateLimitTier, RateLimitBudget | undefined>>;
    readonly memoryKeys: number;
    /** Active blocks (and, apart, trust records) kept in memory beside the ordinary counts. */
    readonly memoryBlocks: number;
  };
  readonly authThrottle: AuthThrottleConfig;
  readonly ttl: {
    readonly accessToken: number;
    readonly idToken: number;
    readonly refreshToken: number;
    readonly session: number;
    readonly grant: number;
    readonly refreshGrace: number;
  };
  /** Announced key rotation (oidc/key-rotation.ts), all in seconds but rotationDays. */
  readonly keys: {
    /** The JWKS's Cache-Control max-age. */
    readonly jwksMaxAge: number;
    /** The fallback re-read of the keys: a missed notification is seen within this. */
    readonly refreshInterval: number;
    /** Always more than jwksMaxAge + refreshInterval (checked at start). */
    readonly announceDelay: number;
    readonly rotationDays: number | undefined;
  };
  /** Outgoing mail (mail/): without an SMTP URL (development, test) messages go to the log. */
  readonly mail: {
    /** Carries the mail server's credentials: never logged. */
    readonly smtpUrl: string | undefined;
    /** SMTP_INSECURE: smtp:// may go on without STARTTLS to a host other than the loopback (warned in production). */
    readonly insecure: boolean;
    readonly from: string;
    /**
     * Mail reaches people: through SMTP_URL, or outside production through the log, which is
     * the developer's mailbox. In production without SMTP_URL it reaches only the log, so no
     * flow may mail a secret (a code, a link).
     */
    readonly reachesPeople: boolean;
  };
  /**
   * GRANT_TYPES: the grant types served and advertised, by their protocol names; a client
   * registered for another keeps the rest (oidc/provider-config.ts).
   */
  readonly grantTypes: readonly ServedGrantType[];
  /** The device authorization grant (RFC 8628) is served and advertised: device_code in GRANT_TYPES, or DEVICE_FLOW. */
  readonly deviceFlow: boolean;
  /** ADMIN_API: the admin API is served and its resource server registered (README "Administration"). */
  readonly adminApi: boolean;
  readonly passwordReset: {
    readonly enabled: boolean;
    /** Seconds a link works. */
    readonly ttl: number;
    /** A reset ends every session, grant and token of the account. */
    readonly endSessions: boolean;
  };
  /** Dynamic client registration (RFC 7591/7592, oidc/client-registration.ts): off, or how, and what a registered client may be. */
  readonly clientRegistration: ClientRegistrationConfig;
  /** Client ID Metadata Documents (oidc/metadata-documents/): off, or on within clientRegistration's policy. */
  readonly clientIdMetadataDocuments: { readonly enabled: boolean; readonly allowPrivateHosts: boolean };
  /** Sign-up (accounts/sign-ups.ts): who may make their own account, and how long a sign-up link works (seconds). */
  readonly registration: { readonly mode: 'off' | 'invite' | 'open'; readonly linkTtl: number };
  /**
   * Who signs in with a second factor (oidc/second-factor-policy.ts MfaRequirement): `mode`
   * required is everyone (MFA), `roles` whoever holds one of them (MFA_REQUIRED_ROLES).
   */
  readonly mfa: { readonly mode: 'optional' | 'required'; readonly roles: readonly string[] };
  /** MFA_REQUIRED_ROLES unset in production without SMTP_URL: the default (admin) is not applied, and a warning says so. */
  readonly mfaDefaultWithheld: boolean;
  /** A passkey alone signs in (PASSKEY_SIGN_IN); as a second factor they always work where the issuer's host is a name. */
  readonly passkeySignIn: boolean;
}

export interface ClientRegistrationConfig {
  readonly mode: 'off' | 'initial-access-token' | 'open';
  /** What every registration is held to (oidc/registration-policy.ts), whichever mode. */
  readonly policy: RegistrationPolicy;
}

export interface RegistrationPolicy {
  readonly grantTypes: readonly ('authorization_code' | 'refresh_token' | 'client_credentials')[];
  /** Schemes besides http on loopback hosts, which native apps use (RFC 8252 section 7.3). */
  readonly redirectSchemes: readonly string[];
  /** Hosts (example.com, *.example.com) a web redirect URI may name; `*` any. Loopback always. */
  readonly redirectHosts: readonly string[];
  readonly scopes: readonly string[];
  readonly resources: readonly string[];
  readonly authMethods: readonly ('client_secret_basic' | 'client_secret_post' | 'none')[];
}

/** The role whose holders need a second factor unless MFA_REQUIRED_ROLES says otherwise. */
const DEFAULT_MFA_REQUIRED_ROLES: readonly string[] = ['admin'];

// The protocol's names, as clients/ spells them too (config/ imports nothing of src/).
const DEVICE_CODE = 'urn:ietf:params:oauth:grant-type:device_code';
const TOKEN_EXCHANGE = 'urn:ietf:params:oauth:grant-type:token-exchange';
export type ServedGrantType = 'authorization_code' | 'refresh_token' | 'client_credentials' | typeof DEVICE_CODE | typeof TOKEN_EXCHANGE;
const PROTOCOL_NAMES: Record<(typeof GRANT_TYPE_NAMES)[number], ServedGrantType> = {
  authorization_code: 'authorization_code',
  refresh_token: 'refresh_token',
  client_credentials: 'client_credentials',
  device_code: DEVICE_CODE,
  token_exchange: TOKEN_EXCHANGE,
};

/** GRANT_TYPES and DEVICE_FLOW as protocol names; what cannot be served as given goes to `refusals`. */
function servedGrantTypes(listed: readonly (typeof GRANT_TYPE_NAMES)[number][] | undefined, deviceFlow: boolean | undefined, refusals: string[]): ServedGrantType[] {
  const names = new Set(listed ?? ['authorization_code', 'refresh_token', 'client_credentials', ...(deviceFlow ? (['device_code'] as const) : [])]);
  if (listed && deviceFlow !== undefined && names.has('device_code') !== deviceFlow) {
    refusals.push(`  DEVICE_FLOW, GRANT_TYPES: DEVICE_FLOW=${String(deviceFlow)} but GRANT_TYPES ${deviceFlow ? 'lacks' : 'names'} device_code; set one of them`);
  }
  // As for a client (clients/client-input.ts): a refresh token comes only from another grant.
  if (names.has('refresh_token') && !names.has('authorization_code') && !names.has('device_code')) {
    refusals.push('  GRANT_TYPES: refresh_token needs authorization_code or device_code');
  }
  return GRANT_TYPE_NAMES.filter((name) => names.has(name)).map((name) => PROTOCOL_NAMES[name]);
}

/** The request budgets, each keyed as README "Abuse limits and HTTPS" describes. */
export const RATE_LIMIT_TIERS = ['ip', 'client', 'account', 'login', 'token', 'introspection', 'revocation', 'api', 'registration'] as const;
export type RateLimitTier = (typeof RATE_LIMIT_TIERS)[number];
export interface RateLimitBudget {
  readonly max: number;
  readonly windowSeconds: number;
}

/** Failed password logins and client authentications (src/abuse/credential-throttle.ts). */
export interface AuthThrottleConfig {
  /** Failures of one account (or client) from one address before delays start. */
  readonly freeFailures: number;
  /** Failures of one account from one address that block the pair. */
  readonly blockAfter: number;
  readonly ipFreeFailures: number;
  readonly ipBlockAfter: number;
  /** Attempts at one account across all addresses before unknown ones are paced. */
  readonly subjectFreeFailures: number;
  /** Seconds; beyond subjectFreeFailures, one attempt per interval from unknown addresses and devices. */
  readonly subjectInterval: number;
  /** Seconds; delays double from 1 s up to this. */
  readonly maxDelay: number;
  /** Seconds failures are remembered after the last one; also the length of a block. */
  readonly window: number;
}

/** A loopback host: `localhost`, `*.localhost`, 127.0.0.0/8 or ::1 (bracketed or not). */
export function isLocalhost(hostname: string): boolean {
  const bare = hostname.replace(/^\[|\]$/g, '');
  if (bare === 'localhost' || bare.endsWith('.localhost')) return true;
  if (isIP(bare) === 4) return bare.startsWith('127.');
  return bare === '::1';
}

/**
 * What the server and the CLI both start from: `./.env` (the real environment wins), then
 * the environment, parsed into the frozen Config. One function, so the two can never read
 * their settings differently.
 */
export function loadRuntimeConfig(dir: string = process.cwd(), env: NodeJS.ProcessEnv = process.env): Config {
  loadEnvFile(dir, env);
  return loadConfig(env);
}

/**
 * Parses the environment once into a frozen Config. Throws StartupError naming every
 * bad variable; never echoes a value (it may be a secret).
 */
export function loadConfig(source: Record<string, string | undefined> = process.env): Config {
  // Empty strings mean "unset", as they do in most .env tooling.
  const cleaned = Object.fromEntries(Object.entries(source).filter(([, value]) => value !== ''));
  const parsed = envSchema.safeParse(cleaned);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((issue) => `  ${issue.path.join('.')}: ${issue.message}`);
    throw new StartupError(`invalid configuration:\n${lines.join('\n')}`);
  }
  const env = parsed.data;
  const production = env.NODE_ENV === 'production';
  const tls = env.TLS_CERT_FILE && env.TLS_KEY_FILE ? { certFile: env.TLS_CERT_FILE, keyFile: env.TLS_KEY_FILE } : undefined;
  const issuer = (env.ISSUER ?? `${tls ? 'https' : 'http'}://localhost:${env.PORT}`).replace(/\/+$/, '');
  const issuerUrl = new URL(issuer);

  const refusals: string[] = [];
  if (production && !env.MASTER_SECRET) {
    refusals.push('  MASTER_SECRET: required in production (a generated development secret is refused)');
  }
  if (production && issuerUrl.protocol !== 'https:' && !isLocalhost(issuerUrl.hostname)) {
    refusals.push('  ISSUER: must be https in production (only localhost may use http)');
  }
  if (issuerUrl.search || issuerUrl.hash) {
    refusals.push('  ISSUER: must not have a query or fragment');
  }
  // Public in discovery and every token's iss: a user name or password there would be published.
  if (issuerUrl.username || issuerUrl.password) {
    refusals.push('  ISSUER: must not hold a user name or password');
  }
  if (Boolean(env.TLS_CERT_FILE) !== Boolean(env.TLS_KEY_FILE)) {
    refusals.push('  TLS_CERT_FILE, TLS_KEY_FILE: set both, or neither');
  }
  if (tls && issuerUrl.protocol !== 'https:') {
    refusals.push('  ISSUER: must be https when TLS_CERT_FILE and TLS_KEY_FILE are set');
  }
  if (env.AUTH_THROTTLE_BLOCK_AFTER <= env.AUTH_THROTTLE_FREE_FAILURES || env.AUTH_THROTTLE_IP_BLOCK_AFTER <= env.AUTH_THROTTLE_IP_FREE_FAILURES) {
    refusals.push('  AUTH_THROTTLE_*_BLOCK_AFTER: must be larger than the matching *_FREE_FAILURES');
  }
  // A new key must be in every instance's JWKS, and then in every cache, before it signs.
  const announceDelay = env.KEY_ANNOUNCE_DELAY ?? env.JWKS_MAX_AGE + env.KEY_REFRESH_INTERVAL + 60;
  if (announceDelay <= env.JWKS_MAX_AGE + env.KEY_REFRESH_INTERVAL) {
    refusals.push('  KEY_ANNOUNCE_DELAY: must be more than JWKS_MAX_AGE + KEY_REFRESH_INTERVAL (a new key would sign before resource servers can know it)');
  }
  // A flow that needs mail must not start where mail goes nowhere but the log.
  if (production && env.PASSWORD_RESET === true && !env.SMTP_URL) {
    refusals.push('  PASSWORD_RESET: needs SMTP_URL in production (reset links would only reach the log); set SMTP_URL, or PASSWORD_RESET=false');
  }
  if (production && env.REGISTRATION !== 'off' && !env.SMTP_URL) {
    refusals.push(`  REGISTRATION: ${env.REGISTRATION} needs SMTP_URL in production (sign-up links would only reach the log); set SMTP_URL, or REGISTRATION=off`);
  }
  if (production && env.MFA === 'required' && !env.SMTP_URL) {
    refusals.push('  MFA: required needs SMTP_URL in production (enrolment mails a code to prove the mailbox, which would only reach the log); set SMTP_URL, or MFA=optional');
  }
  if (production && env.MFA_REQUIRED_ROLES?.length && !env.SMTP_URL) {
    refusals.push('  MFA_REQUIRED_ROLES: needs SMTP_URL in production (enrolment mails a code to prove the mailbox, which would only reach the log); set SMTP_URL, or MFA_REQUIRED_ROLES=none');
  }
  // Open registration lets anyone write a client: in production only where the operator
  // said which hosts its redirect URIs may name (`*` is a choice, not a default).
  if (production && env.CLIENT_REGISTRATION === 'open' && env.CLIENT_REGISTRATION_REDIRECT_HOSTS === undefined) {
    refusals.push('  CLIENT_REGISTRATION: open needs an explicit policy in production: set CLIENT_REGISTRATION_REDIRECT_HOSTS (and review the other CLIENT_REGISTRATION_* settings), or use initial-access-token');
  }
  // A metadata document is an open registration by another name: the same explicit policy.
  if (production && env.CLIENT_ID_METADATA_DOCUMENTS === 'on' && env.CLIENT_REGISTRATION_REDIRECT_HOSTS === undefined) {
    refusals.push('  CLIENT_ID_METADATA_DOCUMENTS: on needs an explicit policy in production: set CLIENT_REGISTRATION_REDIRECT_HOSTS (and review the other CLIENT_REGISTRATION_* settings)');
  }
  // Fetching from private addresses is how an SSRF reaches the inside of a network.
  if (production && env.CLIENT_ID_METADATA_ALLOW_PRIVATE_HOSTS) {
    refusals.push('  CLIENT_ID_METADATA_ALLOW_PRIVATE_HOSTS: is for development and tests; unset it in production');
  }
  const grantTypes = servedGrantTypes(env.GRANT_TYPES, env.DEVICE_FLOW, refusals);
  if (refusals.length > 0) {
    throw new StartupError(`invalid configuration:\n${refusals.join('\n')}`);
  }

  const dataDir = path.resolve(env.DATA_DIR);
  const mfaDefaultWithheld = env.MFA_REQUIRED_ROLES === undefined && production && !env.SMTP_URL;
  return Object.freeze({
    env: env.NODE_ENV,
    production,
    port: env.PORT,
    host: env.HOST,
    issuer,
    database: Object.freeze(
      env.DATABASE_URL
        ? { kind: 'postgres' as const, url: env.DATABASE_URL, poolMax: env.DATABASE_POOL_MAX }
        : { kind: 'embedded' as const, dataDir },
    ),
    dataDir,
    masterSecret: env.MASTER_SECRET,
    logLevel: env.LOG_LEVEL,
    logFormat: env.LOG_FORMAT ?? (env.NODE_ENV === 'development' ? 'pretty' : 'json'),
    management: Object.freeze({ host: env.MANAGEMENT_HOST, port: env.MANAGEMENT_PORT }),
    eventRetentionDays: env.EVENT_RETENTION_DAYS,
    housekeepingInterval: env.HOUSEKEEPING_INTERVAL,
    shutdownTimeout: env.SHUTDOWN_TIMEOUT,
    // Production sits behind a load balancer polling readiness; elsewhere nobody waits for it.
    shutdownDrain: env.SHUTDOWN_DRAIN_SECONDS ?? (production ? 5 : 0),
    sentryDsn: env.SENTRY_DSN,
    trustProxy: env.TRUST_PROXY,
    outboundPrivateNetworks: env.OUTBOUND_PRIVATE_NETWORKS,
    trustProxyHops: env.TRUST_PROXY_HOPS,
    tls: tls && Object.freeze(tls),
    redis: env.REDIS_URL ? Object.freeze({ url: env.REDIS_URL, keyPrefix: env.REDIS_KEY_PREFIX, whenUnavailable: env.REDIS_UNAVAILABLE }) : undefined,
    rateLimits: Object.freeze({
      tiers: Object.freeze({
        ip: env.RATE_LIMIT_IP,
        client: env.RATE_LIMIT_CLIENT,
        account: env.RATE_LIMIT_ACCOUNT,
        login: env.RATE_LIMIT_LOGIN,
        token: env.RATE_LIMIT_TOKEN,
        introspection: env.RATE_LIMIT_INTROSPECTION,
        revocation: env.RATE_LIMIT_REVOCATION,
        api: env.RATE_LIMIT_API,
        registration: env.RATE_LIMIT_REGISTRATION,
      }),
      memoryKeys: env.RATE_LIMIT_MEMORY_KEYS,
      memoryBlocks: env.RATE_LIMIT_MEMORY_BLOCKS,
    }),
    authThrottle: Object.freeze({
      freeFailures: env.AUTH_THROTTLE_FREE_FAILURES,
      blockAfter: env.AUTH_THROTTLE_BLOCK_AFTER,
      ipFreeFailures: env.AUTH_THROTTLE_IP_FREE_FAILURES,
      ipBlockAfter: env.AUTH_THROTTLE_IP_BLOCK_AFTER,
      subjectFreeFailures: env.AUTH_THROTTLE_SUBJECT_FREE_FAILURES,
      subjectInterval: env.AUTH_THROTTLE_SUBJECT_INTERVAL,
      maxDelay: env.AUTH_THROTTLE_MAX_DELAY,
      window: env.AUTH_THROTTLE_WINDOW,
    }),
    ttl: Object.freeze({
      accessToken: env.ACCESS_TOKEN_TTL,
      idToken: env.ID_TOKEN_TTL,
      refreshToken: env.REFRESH_TOKEN_TTL,
      session: env.SESSION_TTL,
      grant: env.GRANT_TTL,
      refreshGrace: env.REFRESH_GRACE_SECONDS,
    }),
    keys: Object.freeze({
      jwksMaxAge: env.JWKS_MAX_AGE,
      refreshInterval: env.KEY_REFRESH_INTERVAL,
      announceDelay,
      rotationDays: env.KEY_ROTATION_DAYS,
    }),
    mail: Object.freeze({
      smtpUrl: env.SMTP_URL,
      insecure: env.SMTP_INSECURE,
      from: env.MAIL_FROM ?? `Portcullis <no-reply@${issuerUrl.hostname}>`,
      reachesPeople: !production || env.SMTP_URL !== undefined,
    }),
    grantTypes: Object.freeze(grantTypes),
    deviceFlow: grantTypes.includes(DEVICE_CODE),
    adminApi: env.ADMIN_API,
    passwordReset: Object.freeze({
      enabled: env.PASSWORD_RESET ?? (!production || env.SMTP_URL !== undefined),
      ttl: env.PASSWORD_RESET_TTL,
      endSessions: env.PASSWORD_RESET_ENDS_SESSIONS,
    }),
    registration: Object.freeze({ mode: env.REGISTRATION, linkTtl: env.SIGN_UP_LINK_TTL }),
    clientRegistration: Object.freeze({
      mode: env.CLIENT_REGISTRATION,
      policy: Object.freeze({
        grantTypes: Object.freeze([...new Set(env.CLIENT_REGISTRATION_GRANT_TYPES)]),
        redirectSchemes: Object.freeze([...new Set(env.CLIENT_REGISTRATION_REDIRECT_SCHEMES)]),
        redirectHosts: Object.freeze([...new Set(env.CLIENT_REGISTRATION_REDIRECT_HOSTS ?? ['*'])]),
        scopes: Object.freeze([...new Set(env.CLIENT_REGISTRATION_SCOPES)]),
        resources: Object.freeze([...new Set(env.CLIENT_REGISTRATION_RESOURCES)]),
        authMethods: Object.freeze([...new Set(env.CLIENT_REGISTRATION_AUTH_METHODS)]),
      }),
    }),
    clientIdMetadataDocuments: Object.freeze({ enabled: env.CLIENT_ID_METADATA_DOCUMENTS === 'on', allowPrivateHosts: env.CLIENT_ID_METADATA_ALLOW_PRIVATE_HOSTS }),
    mfa: Object.freeze({
      mode: env.MFA,
      // Like PASSWORD_RESET: on by default only where its mail reaches people (warnings.ts
      // says so when production runs without it).
      roles: Object.freeze([...(env.MFA_REQUIRED_ROLES ?? (mfaDefaultWithheld ? [] : DEFAULT_MFA_REQUIRED_ROLES))]),
    }),
    mfaDefaultWithheld,
    passkeySignIn: env.PASSKEY_SIGN_IN,
  });
}
