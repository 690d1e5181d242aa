import { z } from 'zod';

import { toValidationError } from '../errors.ts';
import { jwkSetSchema } from './client-jwks.ts';
import { clientIdSchema, isLoopbackHost, nameSchema, NO_CONTROL_CHARACTERS, noControlCharacters, scopeTokenSchema } from './validation.ts';

// The validated shape of a client registration, whether it comes from the CLI, an import
// file or (later) an admin API. Each rule is here once.

export const CLIENT_TYPES = ['web', 'spa', 'native', 'service', 'resource-server'] as const;
export type ClientTypeName = (typeof CLIENT_TYPES)[number];

/** The device authorization grant (RFC 8628): TVs and command-line tools; served with DEVICE_FLOW. */
export const DEVICE_CODE_GRANT = 'urn:ietf:params:oauth:grant-type:device_code';

/** Token exchange (RFC 8693): a token the client holds for one to another resource server; served with token_exchange in GRANT_TYPES. */
export const TOKEN_EXCHANGE_GRANT = 'urn:ietf:params:oauth:grant-type:token-exchange';

export const GRANT_TYPES = ['authorization_code', 'refresh_token', 'client_credentials', DEVICE_CODE_GRANT, TOKEN_EXCHANGE_GRANT] as const;

/**
 * How a client authenticates (RFC 7591 token_endpoint_auth_method): confidential clients
 * with a secret in the Basic header (the default), a secret in the body (what
 * requests-oauthlib, Go's x/oauth2 and many MCP clients send by default), or a JWT signed
 * with their own key (RFC 7523); public clients (spa, native) with nothing but PKCE.
 */
export const AUTH_METHODS = ['client_secret_basic', 'client_secret_post', 'private_key_jwt', 'none'] as const;
export type AuthMethodName = (typeof AUTH_METHODS)[number];

export function isPublicType(type: ClientTypeName): boolean {
  return type === 'spa' || type === 'native';
}

export function defaultAuthMethod(type: ClientTypeName): AuthMethodName {
  return isPublicType(type) ? 'none' : 'client_secret_basic';
}

/** The methods that present the client secret (the others hold none). */
export function usesSecret(method: AuthMethodName): boolean {
  return method === 'client_secret_basic' || method === 'client_secret_post';
}

const MAX_URI = 2000;
const MAX_LIST = 50;

/**
 * What `localhost:8080/callback` or `app.example.com/cb` meant: the same with http://
 * (loopback) or https:// in front. Undefined for anything that is a URL with a scheme,
 * including a native app's `com.example.app:/callback`.
 */
function withMissingScheme(value: string): string | undefined {
  const hostAndPort = /^([a-z0-9.-]+):(\d+)(?=[/?#]|$)/i.exec(value);
  const looksLikeHost = hostAndPort !== null || (!URL.canParse(value) && /^(localhost|[a-z0-9-]+(\.[a-z0-9-]+)+)(?=[/:?#]|$)/i.test(value));
  if (!looksLikeHost || !URL.canParse(`https://${value}`)) return undefined;
  return `${isLoopbackHost(new URL(`https://${value}`).hostname) ? 'http' : 'https'}://${value}`;
}

const missingSchemeMessage = (value: string, meant: string) => `${value} is not a URL with http:// or https://; write ${meant}`;

const absoluteUrl = z
  .string()
  .max(MAX_URI, `must be at most ${MAX_URI} characters`)
  .superRefine((value, ctx) => {
    // The URL parser drops some of them silently; the registration must be what was sent.
    if (!noControlCharacters(value)) {
      ctx.addIssue({ code: 'custom', message: NO_CONTROL_CHARACTERS });
      return;
    }
    if (URL.canParse(value)) return;
    const meant = withMissingScheme(value);
    ctx.addIssue({ code: 'custom', message: meant ? missingSchemeMessage(value, meant) : 'must be an absolute URL' });
  });

/** Schemes that would run code or read files in the user agent (oidc-provider refuses them too). */
const FORBIDDEN_SCHEMES = new Set(['javascript:', 'data:', 'file:', 'vbscript:', 'blob:', 'about:']);

/** Redirect targets: no fragment (not even an empty one), no script or file schemes. */
const redirectUri = absoluteUrl
  .refine((value) => !value.includes('#'), 'must not contain a fragment')
  .refine((value) => !URL.canParse(value) || !FORBIDDEN_SCHEMES.has(new URL(value).protocol), 'this URI scheme is not allowed')
  // https://good@evil.example reads as good's: a name before @ only serves a spoof.
  .refine((value) => !URL.canParse(value) || (new URL(value).username === '' && new URL(value).password === ''), 'must not contain a user name or password (user@host)');

/** A page about the client, shown to people: http(s) only. */
const displayUrl = absoluteUrl
  .refine((value) => /^https?:/i.test(value), 'must be an http or https URL')
  .refine((value) => !value.includes('#'), 'must not contain a fragment');

const origin = z
  .string()
  .max(MAX_URI)
  .refine((value) => URL.canParse(value) && new URL(value).origin === value, 'must be an origin like https://app.example.com (no path or trailing slash)');

export const clientInputSchema = z
  .object({
    clientId: clientIdSchema.optional(),
    type: z.enum(CLIENT_TYPES),
    name: nameSchema,
    redirectUris: z.array(redirectUri).max(MAX_LIST).default([]),
    postLogoutRedirectUris: z.array(redirectUri).max(MAX_LIST).default([]),
    corsOrigins: z.array(origin).max(MAX_LIST).default([]),
    grantTypes: z.array(z.enum(GRANT_TYPES)).max(GRANT_TYPES.length).optional(),
    scopes: z.array(scopeTokenSchema).max(200).optional(),
    resources: z.array(absoluteUrl).max(MAX_LIST).default([]),
    firstParty: z.boolean().default(false),
    requireMfa: z.boolean().default(false),
    backchannelLogoutUri: redirectUri.nullable().default(null),
    logoUri: displayUrl.refine((value) => value.startsWith('https:'), 'must be an https URL').nullable().default(null),
    clientUri: displayUrl.nullable().default(null),
    policyUri: displayUrl.nullable().default(null),
    tosUri: displayUrl.nullable().default(null),
    authMethod: z.enum(AUTH_METHODS).optional(),
    /** private_key_jwt: the client's public keys, inline (a JWK Set) or... */
    jwks: jwkSetSchema.nullable().default(null),
    /** ...the URL where it publishes them (the engine fetches and caches them per Cache-Control). */
    jwksUri: absoluteUrl.refine((value) => !value.includes('#'), 'must not contain a fragment').nullable().default(null),
    /** Authorization requests only through the pushed-request endpoint (RFC 9126 section 5). */
    requirePushedRequests: z.boolean().default(false),
    /** Authorization requests only as request objects signed with the client's keys (RFC 9101 section 10.5). */
    requireSignedRequests: z.boolean().default(false),
    /** Token exchange: the resource servers a token the client holds may be exchanged for. */
    exchangeAudiences: z.array(absoluteUrl).max(MAX_LIST).default([]),
    /** Token exchange: the new token names the client as the actor (`act`); false impersonates the person. */
    exchangeAct: z.boolean().default(true),
  })
  .strict()
  .superRefine((input, ctx) => {
    const method = input.authMethod ?? defaultAuthMethod(input.type);
    if (isPublicType(input.type) && method !== 'none') {
      ctx.addIssue({ code: 'custom', path: ['authMethod'], message: `a ${input.type} client is public: it authenticates with none (PKCE), not ${method}` });
    }
    if (!isPublicType(input.type) && method === 'none') {
      ctx.addIssue({ code: 'custom', path: ['authMethod'], message: `a ${input.type} client is confidential: it authenticates with client_secret_basic, client_secret_post or private_key_jwt` });
    }
    if (method === 'private_key_jwt') {
      if (input.jwks === null && input.jwksUri === null) {
        ctx.addIssue({ code: 'custom', path: ['jwks'], message: 'a private_key_jwt client needs its public keys: a JWK Set (jwks) or the URL where it publishes them (jwksUri)' });
      }
      if (input.jwks !== null && input.jwksUri !== null) {
        ctx.addIssue({ code: 'custom', path: ['jwksUri'], message: 'give either jwks or jwksUri, not both' });
      }
    } else if (input.jwks !== null || input.jwksUri !== null) {
      ctx.addIssue({ code: 'custom', path: [input.jwks !== null ? 'jwks' : 'jwksUri'], message: 'only a private_key_jwt client has keys' });
    }
    if (input.jwksUri !== null && URL.canParse(input.jwksUri)) {
      const url = new URL(input.jwksUri);
      if (url.protocol !== 'https:' && !(url.protocol === 'http:' && isLoopbackHost(url.hostname))) {
        ctx.addIssue({ code: 'custom', path: ['jwksUri'], message: 'must be https (http only for localhost)' });
      }
    }
    const grants = input.grantTypes ?? defaultGrantTypes(input.type);
    const browserFlow = grants.includes('authorization_code');
    for (const field of ['requirePushedRequests', 'requireSignedRequests'] as const) {
      if (input[field] && !browserFlow) {
        ctx.addIssue({ code: 'custom', path: [field], message: 'only a client with the authorization_code grant sends authorization requests' });
      }
    }
    // Request objects are verified with the keys the client authenticates with: only a
    // private_key_jwt client has any (a shared secret would make them forgeable by us).
    if (input.requireSignedRequests && method !== 'private_key_jwt') {
      ctx.addIssue({ code: 'custom', path: ['requireSignedRequests'], message: 'signed request objects are verified with the client\'s public keys: only a private_key_jwt client has them' });
    }
    if (browserFlow && input.redirectUris.length === 0) {
      ctx.addIssue({ code: 'custom', path: ['redirectUris'], message: `a ${input.type} client needs at least one redirect URI` });
    }
    const deviceFlow = grants.includes(DEVICE_CODE_GRANT);
    if (grants.includes('refresh_token') && !browserFlow && !deviceFlow) {
      ctx.addIssue({ code: 'custom', path: ['grantTypes'], message: `refresh_token needs authorization_code or ${DEVICE_CODE_GRANT}` });
    }
    // A person approves a device on another screen: an app of theirs (native, or web with
    // a server), never a service's machine identity or a browser app that can redirect.
    if (deviceFlow && input.type !== 'native' && input.type !== 'web') {
      ctx.addIssue({ code: 'custom', path: ['grantTypes'], message: `${DEVICE_CODE_GRANT} is for native and web clients, not a ${input.type} client` });
    }
    const isPublic = input.type === 'spa' || input.type === 'native';
    if (isPublic && grants.includes('client_credentials')) {
      ctx.addIssue({ code: 'custom', path: ['grantTypes'], message: `a ${input.type} client is public and cannot use client_credentials` });
    }
    if ((input.type === 'service' || input.type === 'resource-server') && browserFlow) {
      ctx.addIssue({ code: 'custom', path: ['grantTypes'], message: `a ${input.type} client has no browser flow` });
    }
    if (input.type === 'resource-server' && grants.some((grant) => grant !== TOKEN_EXCHANGE_GRANT)) {
      ctx.addIssue({ code: 'custom', path: ['grantTypes'], message: `a resource-server client introspects, and may exchange the tokens it receives (${TOKEN_EXCHANGE_GRANT}); it has no other grant` });
    }
    // Token exchange: a confidential client, with the resource servers it may exchange for.
    const exchange = grants.includes(TOKEN_EXCHANGE_GRANT);
    if (exchange && isPublicType(input.type)) {
      ctx.addIssue({ code: 'custom', path: ['grantTypes'], message: `a ${input.type} client is public and cannot exchange tokens` });
    }
    if (exchange && input.exchangeAudiences.length === 0) {
      ctx.addIssue({ code: 'custom', path: ['exchangeAudiences'], message: `${TOKEN_EXCHANGE_GRANT} needs the resource servers the client may exchange tokens for` });
    }
    if (!exchange && input.exchangeAudiences.length > 0) {
      ctx.addIssue({ code: 'custom', path: ['exchangeAudiences'], message: `only a client with the ${TOKEN_EXCHANGE_GRANT} grant exchanges tokens` });
    }
    if (input.backchannelLogoutUri !== null) {
      if (input.type !== 'web') {
        ctx.addIssue({ code: 'custom', path: ['backchannelLogoutUri'], message: 'only web clients (with a server) receive back-channel logout' });
      } else if (URL.canParse(input.backchannelLogoutUri)) {
        const url = new URL(input.backchannelLogoutUri);
        if (url.protocol !== 'https:' && !(url.protocol === 'http:' && isLoopbackHost(url.hostname))) {
          ctx.addIssue({ code: 'custom', path: ['backchannelLogoutUri'], message: 'must be https (http only for localhost)' });
        }
      }
    }
    for (const list of ['redirectUris', 'postLogoutRedirectUris'] as const) {
      input[list].forEach((uri, index) => {
        if (!URL.canParse(uri)) return; // already reported by the field's own schema
        // `localhost:8080/callback` parses, as the scheme `localhost:`: say what was meant.
        const meant = withMissingScheme(uri);
        if (meant) {
          ctx.addIssue({ code: 'custom', path: [list, index], message: missingSchemeMessage(uri, meant) });
          return;
        }
        const url = new URL(uri);
        const web = url.protocol === 'https:' || url.protocol === 'http:';
        if (url.protocol === 'http:' && !isLoopbackHost(url.hostname)) {
          ctx.addIssue({ code: 'custom', path: [list, index], message: `${uri}: http is allowed only for localhost; use https` });
        }
        if (!web && input.type !== 'native') {
          ctx.addIssue({ code: 'custom', path: [list, index], message: `${uri}: custom schemes are for native clients only` });
        }
      });
    }
  });

export type ClientInput = z.output<typeof clientInputSchema>;

export function defaultGrantTypes(type: ClientTypeName): (typeof GRANT_TYPES)[number][] {
  switch (type) {
    case 'service':
      return ['client_credentials'];
    case 'resource-server':
      return [];
    default:
      return ['authorization_code', 'refresh_token'];
  }
}

export function defaultScopes(type: ClientTypeName): string[] {
  return type === 'service' || type === 'resource-server' ? [] : ['openid', 'email', 'profile', 'offline_access'];
}

export function parseClientInput(raw: unknown): ClientInput {
  const result = clientInputSchema.safeParse(raw);
  if (!result.success) throw toValidationError(result.error);
  return result.data;
}
