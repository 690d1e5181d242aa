import { z } from 'zod';

import { accountView, type AccountRecord } from '../accounts/index.ts';
import { AUTH_METHODS, CLIENT_TYPES, NO_CONTROL_CHARACTERS, noControlCharacters, type ClientRecord } from '../clients/index.ts';

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
    requireMfa: z.boolean(),
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
    requireMfa: client.requireMfa,
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
