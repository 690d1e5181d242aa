import { z } from 'zod';

import { RATE_LIMIT_TIERS, type Config } from '../config/index.ts';

// GET /settings: the settings this instance runs with, as an operator checks them without a
// shell. Built by allowlist, field by field: whatever a setting may hold (MASTER_SECRET, the
// database, Redis and SMTP URLs with their passwords, the Sentry DSN, file paths) is said only
// as whether it is set. A new setting appears here only when someone adds it on purpose.

const seconds = z.number().int().describe('seconds');
const budget = z.object({ max: z.number().int(), windowSeconds: seconds }).strict().nullable().describe('null: the tier is off');

export const settingsViewSchema = z
  .object({
    environment: z.enum(['development', 'production', 'test']),
    issuer: z.string(),
    database: z.object({ kind: z.enum(['postgres', 'embedded']), poolMax: z.number().int().nullable() }).strict(),
    redis: z.object({ configured: z.boolean(), whenUnavailable: z.enum(['memory', 'closed']).nullable() }).strict(),
    http: z.object({ trustProxy: z.boolean(), trustProxyHops: z.number().int(), tls: z.boolean(), outboundPrivateNetworks: z.boolean() }).strict(),
    rateLimits: z.object(Object.fromEntries(RATE_LIMIT_TIERS.map((tier) => [tier, budget])) as Record<(typeof RATE_LIMIT_TIERS)[number], typeof budget>).strict(),
    authThrottle: z
      .object({
        freeFailures: z.number().int(),
        blockAfter: z.number().int(),
        ipFreeFailures: z.number().int(),
        ipBlockAfter: z.number().int(),
        subjectFreeFailures: z.number().int(),
        subjectInterval: seconds,
        maxDelay: seconds,
        window: seconds,
      })
      .strict(),
    ttl: z.object({ accessToken: seconds, idToken: seconds, refreshToken: seconds, session: seconds, grant: seconds, refreshGrace: seconds }).strict(),
    keys: z.object({ jwksMaxAge: seconds, refreshInterval: seconds, announceDelay: seconds, rotationDays: z.number().int().nullable() }).strict(),
    mail: z.object({ smtp: z.boolean().describe('SMTP_URL is set (its value is never shown)'), from: z.string(), reachesPeople: z.boolean() }).strict(),
    grantTypes: z.array(z.enum(['authorization_code', 'refresh_token', 'client_credentials', 'urn:ietf:params:oauth:grant-type:device_code', 'urn:ietf:params:oauth:grant-type:token-exchange'])).describe('GRANT_TYPES: the grant types served and advertised'),
    features: z.object({ deviceFlow: z.boolean(), adminApi: z.boolean(), passwordReset: z.boolean(), errorReporting: z.boolean() }).strict(),
    passwordReset: z.object({ ttl: seconds, endSessions: z.boolean() }).strict(),
    registration: z.object({ mode: z.enum(['off', 'invite', 'open']), linkTtl: seconds }).strict(),
    clientRegistration: z
      .object({
        mode: z.enum(['off', 'initial-access-token', 'open']),
        policy: z
          .object({
            grantTypes: z.array(z.string()),
            redirectSchemes: z.array(z.string()),
            redirectHosts: z.array(z.string()),
            scopes: z.array(z.string()),
            resources: z.array(z.string()),
            authMethods: z.array(z.string()),
          })
          .strict(),
      })
      .strict()
      .describe('CLIENT_REGISTRATION and its policy (dynamic client registration)'),
    clientIdMetadataDocuments: z
      .object({ enabled: z.boolean(), allowPrivateHosts: z.boolean() })
      .strict()
      .describe('CLIENT_ID_METADATA_DOCUMENTS and CLIENT_ID_METADATA_ALLOW_PRIVATE_HOSTS (clients named by the URL of their metadata document, held to the CLIENT_REGISTRATION policy)'),
    mfa: z.object({ mode: z.enum(['optional', 'required']), requiredRoles: z.array(z.string()) }).strict(),
    eventRetentionDays: z.number().int(),
    logLevel: z.string(),
  })
  .strict();

export type SettingsView = z.infer<typeof settingsViewSchema>;

export function settingsView(config: Config): SettingsView {
  const { tiers } = config.rateLimits;
  const a = config.authThrottle;
  return {
    environment: config.env,
    issuer: config.issuer,
    database: { kind: config.database.kind, poolMax: config.database.kind === 'postgres' ? config.database.poolMax : null },
    redis: { configured: config.redis !== undefined, whenUnavailable: config.redis?.whenUnavailable ?? null },
    http: { trustProxy: config.trustProxy, trustProxyHops: config.trustProxyHops, tls: config.tls !== undefined, outboundPrivateNetworks: config.outboundPrivateNetworks },
    rateLimits: Object.fromEntries(RATE_LIMIT_TIERS.map((tier) => [tier, tiers[tier] ? { max: tiers[tier].max, windowSeconds: tiers[tier].windowSeconds } : null])) as SettingsView['rateLimits'],
    authThrottle: {
      freeFailures: a.freeFailures,
      blockAfter: a.blockAfter,
      ipFreeFailures: a.ipFreeFailures,
      ipBlockAfter: a.ipBlockAfter,
      subjectFreeFailures: a.subjectFreeFailures,
      subjectInterval: a.subjectInterval,
      maxDelay: a.maxDelay,
      window: a.window,
    },
    ttl: { accessToken: config.ttl.accessToken, idToken: config.ttl.idToken, refreshToken: config.ttl.refreshToken, session: config.ttl.session, grant: config.ttl.grant, refreshGrace: config.ttl.refreshGrace },
    keys: { jwksMaxAge: config.keys.jwksMaxAge, refreshInterval: config.keys.refreshInterval, announceDelay: config.keys.announceDelay, rotationDays: config.keys.rotationDays ?? null },
    mail: { smtp: config.mail.smtpUrl !== undefined, from: config.mail.from, reachesPeople: config.mail.reachesPeople },
    grantTypes: [...config.grantTypes],
    features: { deviceFlow: config.deviceFlow, adminApi: config.adminApi, passwordReset: config.passwordReset.enabled, errorReporting: config.sentryDsn !== undefined },
    passwordReset: { ttl: config.passwordReset.ttl, endSessions: config.passwordReset.endSessions },
    registration: { mode: config.registration.mode, linkTtl: config.registration.linkTtl },
    clientRegistration: {
      mode: config.clientRegistration.mode,
      policy: {
        grantTypes: [...config.clientRegistration.policy.grantTypes],
        redirectSchemes: [...config.clientRegistration.policy.redirectSchemes],
        redirectHosts: [...config.clientRegistration.policy.redirectHosts],
        scopes: [...config.clientRegistration.policy.scopes],
        resources: [...config.clientRegistration.policy.resources],
        authMethods: [...config.clientRegistration.policy.authMethods],
      },
    },
    clientIdMetadataDocuments: { enabled: config.clientIdMetadataDocuments.enabled, allowPrivateHosts: config.clientIdMetadataDocuments.allowPrivateHosts },
    mfa: { mode: config.mfa.mode, requiredRoles: [...config.mfa.roles] },
    eventRetentionDays: config.eventRetentionDays,
    logLevel: config.logLevel,
  };
}
