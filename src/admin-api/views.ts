import { z } from 'zod';

import { accountView, type AccountRecord } from '../accounts/index.ts';
import { isStorableTime } from '../audit/index.ts';
import { AUTH_METHODS, CLIENT_TYPES, NO_CONTROL_CHARACTERS, noControlCharacters, resourceServerView as viewOfResource, SIGNING_ALGS, type ClientRecord, type ResourceServerRecord } from '../clients/index.ts';

// What the admin API answers, as zod schemas (the OpenAPI document's response schemas are
// generated from these) and the functions that make them. Never a secret: no password hash,
// no sealed client secret, no token generation; a client secret appears only in the answer
// that made it (create, rotate).

const timestamp = z.string().describe('an RFC 3339 timestamp');

export const clientViewSchema = z
  .object({
    clientId: z.string(),
    type: z.enum(CLIENT_TYPES),
    name: z.string(),
    authMethod: z.enum(AUTH_METHODS),
    hasSecret: z.boolean(),
    redirectUris: z.array(z.string()),
    postLogoutRedirectUris: z.array(z.string()),
    corsOrigins: z.array(z.string()),
    grantTypes: z.array(z.string()),
    scopes: z.array(z.string()),
    resources: z.array(z.string()),
    firstParty: z.boolean(),
    backchannelLogoutUri: z.string().nullable(),
    logoUri: z.string().nullable(),
    clientUri: z.string().nullable(),
    policyUri: z.string().nullable(),
    tosUri: z.string().nullable(),
    jwks: z.object({ keys: z.array(z.record(z.string(), z.unknown())) }).nullable(),
    jwksUri: z.string().nullable(),
    requirePushedRequests: z.boolean(),
    requireSignedRequests: z.boolean(),
    exchangeAudiences: z.array(z.string()).describe('token exchange: the resource servers a token the client holds may be exchanged for'),
    exchangeAct: z.boolean().describe('token exchange: the new token names the client as the actor (act); false impersonates the person'),
    requireMfa: z.boolean(),
    origin: z.enum(['operator', 'registration']).describe('operator: made through the CLI, an import or this API; registration: the client registered itself (RFC 7591)'),
    registrationTokenId: z.string().nullable().describe('a registered client: the id of the initial access token it registered with (null for open registration)'),
    createdAt: timestamp,
    updatedAt: timestamp,
  })
  .strict();

export type ClientView = z.infer<typeof clientViewSchema>;

export function clientView(client: ClientRecord): ClientView {
  return {
    clientId: client.clientId,
    type: client.type,
    name: client.name,
    authMethod: client.authMethod,
    hasSecret: client.secretCiphertext !== null,
    redirectUris: [...client.redirectUris],
    postLogoutRedirectUris: [...client.postLogoutRedirectUris],
    corsOrigins: [...client.corsOrigins],
    grantTypes: [...client.grantTypes],
    scopes: [...client.scopes],
    resources: [...client.resources],
    firstParty: client.firstParty,
    backchannelLogoutUri: client.backchannelLogoutUri,
    logoUri: client.logoUri,
    clientUri: client.clientUri,
    policyUri: client.policyUri,
    tosUri: client.tosUri,
    jwks: client.jwks ? { keys: client.jwks.keys.map((key) => ({ ...key })) } : null,
    jwksUri: client.jwksUri,
    requirePushedRequests: client.requirePushedRequests,
    requireSignedRequests: client.requireSignedRequests,
    exchangeAudiences: [...client.exchangeAudiences],
    exchangeAct: client.exchangeAct,
    requireMfa: client.requireMfa,
    origin: client.origin,
    registrationTokenId: client.registrationTokenId,
    createdAt: client.createdAt.toISOString(),
    updatedAt: client.updatedAt.toISOString(),
  };
}

/** The answer of create and rotate: the one time the secret is shown. */
export const clientWithSecretSchema = z
  .object({
    client: clientViewSchema,
    clientSecret: z.string().nullable().describe('shown once; null for a client without a secret'),
  })
  .strict();

export const clientListSchema = z.object({ clients: z.array(clientViewSchema) }).strict();

export const resourceServerViewSchema = z
  .object({
    indicator: z.string().describe('its RFC 8707 resource indicator: the audience of its tokens'),
    name: z.string(),
    accessTokenFormat: z.enum(['jwt', 'opaque']),
    accessTokenTtl: z.number().int().describe('seconds'),
    signingAlg: z.enum(SIGNING_ALGS),
    scopes: z.array(z.object({ name: z.string(), description: z.string(), roles: z.array(z.string()).describe('roles a person needs to be granted it; empty: anyone') }).strict()),
    updatedAt: timestamp,
  })
  .strict();

export type ResourceServerView = z.infer<typeof resourceServerViewSchema>;

/** The same fields as `portcullis resources show --json` (clients/resource-view.ts), as this API's schema says. */
export const resourceServerView = (resource: ResourceServerRecord): ResourceServerView => viewOfResource(resource) as ResourceServerView;

export const resourceServerListSchema = z.object({ resourceServers: z.array(resourceServerViewSchema) }).strict();

export const grantListSchema = z
  .object({
    grants: z
      .array(
        z
          .object({
            id: z.string(),
            clientId: z.string(),
            accountId: z.string(),
            scopes: z.array(z.string()).describe('OpenID scopes granted'),
            resources: z.record(z.string(), z.array(z.string())).describe('resource indicator: the scopes granted there'),
            createdAt: timestamp,
            expiresAt: timestamp.nullable(),
          })
          .strict(),
      )
      .describe('newest first'),
  })
  .strict();

export const sessionListSchema = z
  .object({
    sessions: z
      .array(
        z
          .object({
            id: z.string().describe("the session's id here (its uid; never its cookie)"),
            signedInAt: timestamp.nullable(),
            expiresAt: timestamp.nullable(),
            acr: z.string().nullable().describe('how the person signed in (urn:portcullis:acr:pwd, ...:mfa)'),
            amr: z.array(z.string()).describe('the methods used: pwd, otp, ...'),
            clients: z.array(z.object({ clientId: z.string(), grantId: z.string().nullable() }).strict()).describe('clients authorized in this session, and their grants'),
          })
          .strict(),
      )
      .describe('newest first'),
  })
  .strict();

export const sessionEndedSchema = z
  .object({
    grants: z.number().int().describe('grants made in the session, ended'),
    tokens: z.number().int().describe('tokens under them, ended'),
  })
  .strict();

export const signedOutSchema = z
  .object({
    user: z.object({ id: z.string(), email: z.string() }).strict(),
    grants: z.number().int().describe('grants ended'),
    tokens: z.number().int().describe('tokens ended'),
  })
  .strict();

export const userViewSchema = z
  .object({
    id: z.string(),
    email: z.string(),
    emailVerified: z.boolean(),
    name: z.string(),
    roles: z.array(z.string()),
    disabled: z.boolean(),
    hasPassword: z.boolean(),
    createdAt: timestamp,
    updatedAt: timestamp,
  })
  .strict();

export type UserView = z.infer<typeof userViewSchema>;

/** The same fields as `portcullis users show --json` (accounts/account-view.ts), as this API's schema says. */
export const userView: (account: AccountRecord) => UserView = accountView;

export const userPageSchema = z
  .object({
    users: z.array(userViewSchema),
    nextCursor: z.string().nullable().describe('pass as `cursor` for the next page; null on the last'),
  })
  .strict();

export const unblockedSchema = z.object({ user: z.object({ id: z.string(), email: z.string() }).strict(), released: z.literal(true) }).strict();

export const problemSchema = z
  .object({
    type: z.literal('about:blank'),
    title: z.string(),
    status: z.number().int(),
    detail: z.string(),
    code: z.string(),
    errors: z.array(z.object({ pointer: z.string(), detail: z.string() }).strict()).optional(),
  })
  .strict();

/** The body of a secret rotation: optionally the secret method to switch to. */
export const rotateSecretSchema = z.object({ authMethod: z.enum(AUTH_METHODS).optional() }).strict();

/** The query of the user listing. */
export const userQuerySchema = z
  .object({
    search: z.string().min(1).max(200).refine(noControlCharacters, NO_CONTROL_CHARACTERS).optional(),
    cursor: z.uuid().optional(),
    limit: z.coerce.number().int().min(1).max(200).default(50),
  })
  .strict();

// The audit trail as the CLI's `events` reads it (audit/reader.ts). `data` is what the event
// recorded, scrubbed of secrets when it was written.
export const auditEventSchema = z
  .object({
    id: z.string().describe('increasing with each event written'),
    time: z.string(),
    type: z.string(),
    actor: z.string().nullable(),
    accountId: z.string().nullable(),
    clientId: z.string().nullable(),
    ip: z.string().nullable(),
    userAgent: z.string().nullable(),
    requestId: z.string().nullable(),
    data: z.unknown(),
  })
  .strict();

export const auditPageSchema = z
  .object({
    events: z.array(auditEventSchema).describe('newest first'),
    nextCursor: z.string().nullable().describe('pass as `cursor` for the next (older) page; null on the last'),
  })
  .strict();

/** A type (`login.failure`) or a family (`login.*`), as the CLI's --type takes them. */
const auditType = z
  .string()
  .max(64)
  .regex(/^[a-z][a-z_]*(?:\.[a-z_]+)*(?:\.\*)?$/, 'a type such as login.failure, or a family such as login.*');
// A timestamp with its offset (2026-12-05T12:00:00Z): a date alone would be read in some time zone.
const instant = z.iso
  .datetime({ offset: true })
  .transform((value) => new Date(value))
  .refine(isStorableTime, 'not a time the audit trail can hold (years 1 to 9999)');

export const auditQuerySchema = z
  .object({
    // Repeated for several (?type=a&type=b): the query parser gives a list then.
    type: z
      .union([auditType, z.array(auditType).max(20)])
      .transform((value) => (Array.isArray(value) ? value : [value]))
      .optional(),
    accountId: z.uuid().optional(),
    clientId: z.string().min(1).max(200).refine(noControlCharacters, NO_CONTROL_CHARACTERS).optional(),
    since: instant.optional(),
    until: instant.optional(),
    // An event id: below 2^63 (BIGSERIAL).
    cursor: z
      .string()
      .regex(/^[1-9]\d{0,18}$/, "the previous page's nextCursor")
      .transform((value) => BigInt(value))
      .refine((value) => value < 2n ** 63n, "the previous page's nextCursor")
      .optional(),
    limit: z.coerce.number().int().min(1).max(200).default(50),
  })
  .strict();

export const factorsResetSchema = z
  .object({
    user: z.object({ id: z.string(), email: z.string() }).strict(),
    removed: z.boolean().describe('whether there was an authenticator or recovery codes to remove'),
    grants: z.number().int().describe('grants ended'),
    tokens: z.number().int().describe('tokens ended'),
  })
  .strict();
