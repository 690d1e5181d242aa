import { z } from 'zod';

// Every environment variable Portcullis reads, with its default. `.env.example` lists the
// same names with one comment line each; keep the two in step.

const bool = z
  .enum(['true', 'false', '1', '0', 'yes', 'no'])
  .transform((value) => value === 'true' || value === '1' || value === 'yes');

/** GRANT_TYPES' names; device_code and token_exchange are urn:ietf:params:oauth:grant-type:device_code and :token-exchange. */
export const GRANT_TYPE_NAMES = ['authorization_code', 'refresh_token', 'client_credentials', 'device_code', 'token_exchange'] as const;

const port = z.coerce.number().int().min(0).max(65535);
const seconds = z.coerce.number().int().positive();
const count = (min: number, max: number) => z.coerce.number().int().min(min).max(max);

/**
 * A comma-separated list, each entry named (a stray comma or blank is refused, never dropped);
 * `none` is the empty list, unless `none` is one of the list's own values (an auth method).
 */
const list = <T extends z.ZodType<unknown, string>>(item: T, options: { noneIsEmpty: boolean } = { noneIsEmpty: true }) =>
  z
    .string()
    .transform((value) => (options.noneIsEmpty && value.trim() === 'none' ? [] : value.split(',').map((entry) => entry.trim())))
    .pipe(z.array(item).max(100));

const WINDOW_UNITS = { s: 1, m: 60, h: 3600 } as const;
/** A request budget: `<max>/<window>` (`1200/1m`, `30/10s`, `5000/h`), or `off`. */
const rateLimit = z
  .string()
  .regex(/^(off|\d{1,9}\/\d{0,6}[smh])$/, 'must be <max>/<window> like 1200/1m, 30/10s or 5000/1h, or off')
  .transform((value) => {
    if (value === 'off') return undefined;
    const [, max = '', amount = '', unit = 's'] = /^(\d+)\/(\d*)([smh])$/.exec(value) ?? [];
    return { max: Number(max), windowSeconds: Number(amount || 1) * WINDOW_UNITS[unit as keyof typeof WINDOW_UNITS] };
  })
  .refine((limit) => limit === undefined || (limit.max > 0 && limit.windowSeconds > 0), 'max and window must be positive (or use off)');

export const envSchema = z.object({
  NODE_ENV: z.enum(['development', 'production', 'test']).default('development'),
  PORT: port.default(3000),
  HOST: z.string().min(1).default('127.0.0.1'),
  /** Public issuer URL; defaults to http://localhost:PORT. */
  ISSUER: z.url({ protocol: /^https?$/ }).optional(),
  /** Postgres connection URL; without it an embedded database under DATA_DIR is used. */
  DATABASE_URL: z
    .string()
    .regex(/^postgres(ql)?:\/\//, 'must be a postgresql:// URL')
    // What pg cannot parse would otherwise fail at the first connection with a bare URIError.
    .refine((value) => URL.canParse(value), 'not a valid URL: write postgresql://user:password@host:5432/database, percent-encoding special characters in the password')
    .optional(),
  DATABASE_POOL_MAX: z.coerce.number().int().min(1).max(200).default(10),
  DATA_DIR: z.string().min(1).default('./data'),
  /** Seals signing keys, cookie keys and client secrets at rest. At least 32 characters. */
  MASTER_SECRET: z
    .string()
    .min(32, 'must be at least 32 characters')
    // The placeholder of deploy/k8s/secret.example.yaml is public: it would seal everything with a known key.
    .refine((value) => !value.includes('REPLACE'), 'still a placeholder; make one with: openssl rand -base64 48')
    .optional(),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  /** json (one object per line) or pretty (for a person); default pretty in development only. */
  LOG_FORMAT: z.enum(['json', 'pretty']).optional(),
  /** The management listener: /metrics, /healthz, /readyz. Keep it off the public network. */
  MANAGEMENT_HOST: z.string().min(1).default('127.0.0.1'),
  MANAGEMENT_PORT: port.default(9464),
  /** Audit events older than this are purged. */
  EVENT_RETENTION_DAYS: z.coerce.number().int().min(1).max(36500).default(90),
  /** Seconds between housekeeping rounds (expired records, old events). */
  HOUSEKEEPING_INTERVAL: seconds.default(900),
  /** Seconds in-flight requests get to finish on SIGTERM before connections are cut. */
  SHUTDOWN_TIMEOUT: seconds.default(10),
  /** Seconds the public port keeps serving after SIGTERM while readiness is already false (default 5 in production, else 0). */
  SHUTDOWN_DRAIN_SECONDS: count(0, 300).optional(),
  /** With REDIS_URL, while Redis is away: request budgets fall back to per-instance memory, or refuse (503). */
  REDIS_UNAVAILABLE: z.enum(['memory', 'closed']).default('memory'),
  /** Sentry DSN; when set, unexpected errors are reported there (scrubbed like the logs). */
  SENTRY_DSN: z.url({ protocol: /^https?$/ }).optional(),
  /** Trust X-Forwarded-* from a TLS-terminating proxy in front of Portcullis. */
  TRUST_PROXY: bool.default(false),
  /** How many proxies append to X-Forwarded-For; the client address is read that many entries from the right. */
  TRUST_PROXY_HOPS: count(1, 10).default(1),
  /** PEM certificate chain and private key: serve https directly (both or neither). */
  TLS_CERT_FILE: z.string().min(1).optional(),
  TLS_KEY_FILE: z.string().min(1).optional(),
  /** Redis shared by every instance for rate limits and login throttling; without it, per-instance memory. */
  REDIS_URL: z.string().regex(/^rediss?:\/\//, 'must be a redis:// or rediss:// URL').optional(),
  REDIS_KEY_PREFIX: z.string().regex(/^[A-Za-z0-9:._-]{0,64}$/, 'letters, digits and : . _ - (at most 64)').default('portcullis:'),
  /** Request budgets (see README "Abuse limits and HTTPS"). */
  RATE_LIMIT_IP: rateLimit.prefault('1200/1m'),
  RATE_LIMIT_CLIENT: rateLimit.prefault('3000/1m'),
  RATE_LIMIT_ACCOUNT: rateLimit.prefault('300/1m'),
  RATE_LIMIT_LOGIN: rateLimit.prefault('60/1m'),
  RATE_LIMIT_TOKEN: rateLimit.prefault('600/1m'),
  RATE_LIMIT_INTROSPECTION: rateLimit.prefault('1200/1m'),
  RATE_LIMIT_REVOCATION: rateLimit.prefault('600/1m'),
  RATE_LIMIT_API: rateLimit.prefault('600/1m'),
  /** POST to the client registration endpoint (RFC 7591), per address: each one may write a client. */
  RATE_LIMIT_REGISTRATION: rateLimit.prefault('20/1h'),
  /** Largest number of budgets kept in memory per instance (without REDIS_URL); least recently used go first. */
  RATE_LIMIT_MEMORY_KEYS: count(100, 10_000_000).default(100_000),
  /** Largest number of active blocks (and, apart, trusted addresses and devices) kept in memory; ordinary counts cannot push them out. */
  RATE_LIMIT_MEMORY_BLOCKS: count(100, 10_000_000).default(100_000),
  /** Failed logins and client authentications: see README "Abuse limits and HTTPS". */
  AUTH_THROTTLE_FREE_FAILURES: count(0, 1000).default(3),
  AUTH_THROTTLE_BLOCK_AFTER: count(1, 10_000).default(10),
  AUTH_THROTTLE_IP_FREE_FAILURES: count(0, 10_000).default(20),
  AUTH_THROTTLE_IP_BLOCK_AFTER: count(1, 100_000).default(100),
  AUTH_THROTTLE_SUBJECT_FREE_FAILURES: count(0, 100_000).default(20),
  AUTH_THROTTLE_SUBJECT_INTERVAL: count(1, 86_400).default(60),
  AUTH_THROTTLE_MAX_DELAY: count(1, 86_400).default(60),
  AUTH_THROTTLE_WINDOW: count(1, 7 * 86_400).default(900),
  ACCESS_TOKEN_TTL: seconds.default(600),
  ID_TOKEN_TTL: seconds.default(3600),
  REFRESH_TOKEN_TTL: seconds.default(14 * 24 * 3600),
  SESSION_TTL: seconds.default(14 * 24 * 3600),
  GRANT_TTL: seconds.default(365 * 24 * 3600),
  /** Two refreshes with one refresh token this close together both succeed; 0 disables. */
  /** Let server-to-server calls (back-channel logout) reach private and loopback addresses. */
  OUTBOUND_PRIVATE_NETWORKS: bool.default(false),
  REFRESH_GRACE_SECONDS: z.coerce.number().int().min(0).max(300).default(10),
  /** Key rotation (README "Key rotation"): how long the JWKS may be cached (its Cache-Control max-age). */
  JWKS_MAX_AGE: count(0, 7 * 86_400).default(600),
  /** Seconds between re-reads of the keys, in case a change notification was missed. */
  KEY_REFRESH_INTERVAL: count(1, 3600).default(60),
  /** Seconds from a rotation to the new key's first signature; default JWKS_MAX_AGE + KEY_REFRESH_INTERVAL + 60. */
  KEY_ANNOUNCE_DELAY: count(1, 30 * 86_400).optional(),
  /** Outgoing mail (README "Mail"): smtp://user:password@host:587 (STARTTLS when offered) or smtps:// (TLS from the start). */
  SMTP_URL: z
    .string()
    .regex(/^smtps?:\/\//, 'must be an smtp:// or smtps:// URL')
    // Never echoes the value: it carries the mail server's password.
    .refine((value) => URL.canParse(value) && new URL(value).hostname !== '', 'not a valid URL: write smtp://user:password@host:587, percent-encoding special characters in the password')
    // nodemailer reads options from the query string and lets them win over ours
    // (?requireTLS=false, ?tls.rejectUnauthorized=false): settings belong in their own variables.
    .refine((value) => !URL.canParse(value) || (new URL(value).search === '' && new URL(value).hash === ''), 'must not carry a query string or fragment: nodemailer would take TLS settings from it')
    .optional(),
  /**
   * smtp:// to a host other than the loopback (localhost, 127.0.0.1, ::1) requires STARTTLS,
   * so that an attacker on the path cannot strip it and read reset links and the SMTP
   * password; true sends in the clear when the server offers no STARTTLS (a trusted relay).
   */
  SMTP_INSECURE: bool.default(false),
  /** The From of every message: an address, or `Name <address>`; default Portcullis <no-reply@ISSUER's host>. */
  MAIL_FROM: z
    .string()
    .max(320)
    .regex(/^(?:[^<>\r\n]*<[^<>@\s]+@[^<>@\s]+>|[^<>@\s]+@[^<>@\s]+)$/, 'must be an address (a@example.com) or Name <a@example.com>')
    .optional(),
  /** "Forgot password?" on the login page; default on, in production only with SMTP_URL. */
  PASSWORD_RESET: bool.optional(),
  /** Seconds a password reset link works. */
  PASSWORD_RESET_TTL: count(60, 86_400).default(1800),
  /** A reset ends every session, grant and token of the account. */
  PASSWORD_RESET_ENDS_SESSIONS: bool.default(true),
  /**
   * Who may make their own account (README "For people signing in"): off, invite (with a
   * link minted by `portcullis users invite`), open (anyone, with a proved address).
   */
  REGISTRATION: z.enum(['off', 'invite', 'open'], { error: 'one of off, invite, open' }).default('off'),
  /** Seconds a sign-up link (the mail that proves the address) works. */
  SIGN_UP_LINK_TTL: count(60, 86_400).default(3600),
  /**
   * Dynamic client registration (RFC 7591, README "Dynamic client registration"): off; with
   * an initial access token minted by `portcullis registration-tokens create`; or open to
   * anyone, within the CLIENT_REGISTRATION_* policy.
   */
  CLIENT_REGISTRATION: z.enum(['off', 'initial-access-token', 'open'], { error: 'one of off, initial-access-token, open' }).default('off'),
  /** The grant types a registered client may have (comma-separated; client_credentials only when listed). */
  CLIENT_REGISTRATION_GRANT_TYPES: list(z.enum(['authorization_code', 'refresh_token', 'client_credentials'], { error: 'grant types (comma-separated), each one of authorization_code, refresh_token, client_credentials' })).default(['authorization_code', 'refresh_token']),
  /** Redirect URI schemes besides https (and http for loopback, RFC 8252), e.g. com.example.app for native apps. */
  CLIENT_REGISTRATION_REDIRECT_SCHEMES: list(z.string().regex(/^[a-z][a-z0-9+.-]{0,63}$/, 'URI schemes (comma-separated), lower case, without ://')).default(['https']),
  /** Hosts redirect URIs may name (comma-separated; *.example.com for subdomains; * for any). Loopback is always allowed, over http too. */
  CLIENT_REGISTRATION_REDIRECT_HOSTS: list(z.string().regex(/^(\*|(\*\.)?[a-z0-9-]+(\.[a-z0-9-]+)*)$/, 'hosts (comma-separated): example.com, *.example.com, or * for any')).optional(),
  /** The scopes a registered client may ask for (OIDC scopes and resource servers' scopes). */
  CLIENT_REGISTRATION_SCOPES: list(z.string().regex(/^[\x21\x23-\x5B\x5D-\x7E]{1,100}$/, 'scopes (comma-separated)')).default(['openid', 'profile', 'email', 'offline_access']),
  /** The resource servers (indicators) a registered client may get tokens for; default none. */
  CLIENT_REGISTRATION_RESOURCES: list(z.url({ error: 'resource indicators (comma-separated), each an absolute URL' })).default([]),
  /** The token endpoint auth methods a registered client may use. */
  // `none` here is the method of public clients (CLIENT_REGISTRATION_AUTH_METHODS=none: public clients only), never the empty list.
  CLIENT_REGISTRATION_AUTH_METHODS: list(z.enum(['client_secret_basic', 'client_secret_post', 'none'], { error: 'auth methods (comma-separated), each one of client_secret_basic, client_secret_post, none' }), { noneIsEmpty: false }).default(['client_secret_basic', 'client_secret_post', 'none']),
  /**
   * Client ID Metadata Documents (README "Client ID Metadata Documents"): a client_id that
   * is an https URL names the client's own metadata, fetched from it and held to the
   * CLIENT_REGISTRATION_* policy; off by default.
   */
  CLIENT_ID_METADATA_DOCUMENTS: z.enum(['off', 'on'], { error: 'one of off, on' }).default('off'),
  /**
   * Fetch metadata documents from private, loopback and other non-public addresses too, and
   * from http:// on loopback hosts: for development and tests only.
   */
  CLIENT_ID_METADATA_ALLOW_PRIVATE_HOSTS: bool.default(false),
  /**
   * The grant types this deployment serves (README "Grant types"), comma-separated, from
   * authorization_code, refresh_token, client_credentials, device_code, token_exchange;
   * unset: the first three, and device_code with DEVICE_FLOW.
   */
  GRANT_TYPES: z
    .string()
    // Each named: a stray comma or a blank must not serve, or silently drop, a grant.
    .transform((value) => value.split(',').map((grant) => grant.trim()))
    .pipe(z.array(z.enum(GRANT_TYPE_NAMES, { error: `grant types (comma-separated), each one of ${GRANT_TYPE_NAMES.join(', ')}` })).min(1))
    .optional(),
  /** The device authorization grant (RFC 8628): the /device page and the grant; off by default (the same as device_code in GRANT_TYPES). */
  DEVICE_FLOW: bool.optional(),
  /**
   * optional: people may add an authenticator app (TOTP), asked for at sign-in once they
   * have; required: everyone signs in with one, enrolling at their next sign-in.
   */
  MFA: z.enum(['optional', 'required']).default('optional'),
  /**
   * Roles whose holders always sign in with a second factor, comma-separated, or `none`
   * (an empty value means unset). Unset: `admin` where mail reaches people (enrolment mails
   * a code first), none in production without SMTP_URL.
   */
  MFA_REQUIRED_ROLES: z
    .string()
    // `none`, or roles each named: a stray comma or a blank must not turn the rule off.
    .transform((value) => (value.trim() === 'none' ? [] : value.split(',').map((role) => role.trim())))
    // A role as accounts hold it (clients/validation.ts roleSchema; config/ imports nothing of src/).
    .pipe(z.array(z.string().regex(/^[a-z0-9][a-z0-9:._-]{0,63}$/, 'roles (comma-separated), or none; each a lowercase word of at most 64 characters')).max(50))
    .refine((roles) => !roles.includes('none'), 'none stands alone')
    .optional(),
  /**
   * A passkey alone signs people in (a discoverable credential with user verification), as
   * well as serving as a second factor (always, where the issuer's host is a name, not an IP).
   */
  PASSKEY_SIGN_IN: bool.default(false),
  /** The admin API (/admin/api/v1) and its built-in resource server; off by default (admin surfaces are not public by default). */
  ADMIN_API: bool.default(false),
  /** Rotate signing and cookie keys automatically when the signing one is this many days old; unset: never. */
  KEY_ROTATION_DAYS: count(1, 3650).optional(),
});
