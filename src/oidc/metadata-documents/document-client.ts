import { z } from 'zod';

import { checkAgainstRegistry, parseClientInput, type ClientRecord } from '../../clients/index.ts';
import type { RegistrationPolicy } from '../../config/index.ts';
import { AppError } from '../../errors.ts';
import { EXTRA_CLIENT_METADATA } from '../client-metadata.ts';
import { toRegistrationDocument } from '../registration-document.ts';
import { checkRegistrationPolicy } from '../registration-policy.ts';

// A fetched metadata document as a client, or the reason it is refused. It passes what a
// registration passes: the CLIENT_REGISTRATION_* policy (registration-policy.ts) and the
// registry's validation of every client (clients/client-input.ts), through the same
// translation (registration-document.ts); then the draft's own rules (section 4.1):
// - its client_id is its URL, exactly;
// - no shared secret: no client_secret, and the client authenticates with none (PKCE) or
//   private_key_jwt with its keys in the document itself (jwks). Not jwks_uri: the engine
//   fetches a client's jwks_uri itself, outside our SSRF guard and fetch budget, at anyone's
//   word (any POST with a client_assertion);
// - left out, token_endpoint_auth_method is none: the only method that needs nothing more;
// - grants: the authorization code (and refresh tokens) only. Client credentials, token
//   exchange and the device flow name a client the registry must know.
// Its logo is dropped (an image of anyone's choosing, on our consent page), and so is
// anything of ours (portcullis_*): a document sets none of them. The client is a third
// party, never first party, and marked portcullis_metadata_document for the pages.

const ALLOWED_GRANTS: ReadonlySet<string> = new Set(['authorization_code', 'refresh_token']);

/**
 * Fields that would make the engine fetch or call a URL of the document's choosing (outside
 * the SSRF guard of documents), or hold a secret: jwks_uri (fetched to verify a
 * client_assertion), sector_identifier_uri (fetched to validate the client),
 * request_uris (request objects by reference), backchannel_logout_uri (called at logout).
 * The other URLs of a document (redirect, post-logout, client, policy, tos,
 * initiate_login_uri) are only ever followed by the person's browser, never by the server.
 */
const REFUSED_FIELDS = ['client_secret', 'client_secret_expires_at', 'jwks_uri', 'sector_identifier_uri', 'request_uris', 'backchannel_logout_uri', 'registration_access_token', 'registration_client_uri'] as const;

/** Attacker-chosen text (a field name, a URI) as it is echoed in a refusal: short. */
export function clip(value: string, length = 60): string {
  return value.length > length ? `${value.slice(0, length)}…` : value;
}

const text = z.string().max(2000);
const documentSchema = z.looseObject({
  client_id: z.string(),
  client_name: z.string().max(200).optional(),
  application_type: z.enum(['web', 'native']).optional(),
  token_endpoint_auth_method: z.string().optional(),
  grant_types: z.array(z.string()).max(10).optional(),
  response_types: z.array(z.string()).max(10).optional(),
  redirect_uris: z.array(text).max(50).optional(),
  post_logout_redirect_uris: z.array(text).max(50).optional(),
  scope: z.string().max(4000).optional(),
  client_uri: text.optional(),
  policy_uri: text.optional(),
  tos_uri: text.optional(),
  jwks: z.object({ keys: z.array(z.record(z.string(), z.unknown())).max(20) }).optional(),
});

export type DocumentClient = { readonly ok: true; readonly client: ClientRecord } | { readonly ok: false; readonly reason: string };

// Every refusal is shown to whoever sent the client_id: the whole of it kept short too.
const refuse = (reason: string): DocumentClient => ({ ok: false, reason: clip(reason, 300) });

export function toDocumentClient(
  url: string,
  body: Buffer,
  policy: RegistrationPolicy,
  /** The scopes each resource server the policy allows offers. */
  offered: ReadonlyMap<string, readonly string[]>,
): DocumentClient {
  let json: unknown;
  try {
    json = JSON.parse(body.toString('utf8'));
  } catch {
    return refuse('the document is not valid JSON');
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json)) return refuse('the document is not a JSON object');
  const raw = json as Record<string, unknown>;
  const refused = [...REFUSED_FIELDS, ...EXTRA_CLIENT_METADATA].find((field) => raw[field] !== undefined) ?? Object.keys(raw).find((field) => field.startsWith('portcullis_'));
  if (refused) return refuse(`${clip(refused)} is not allowed in a client metadata document`);
  const parsed = documentSchema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    return refuse(`${clip(issue?.path.join('.') || 'document')}: ${issue?.message ?? 'invalid'}`);
  }
  const document = parsed.data;
  if (document.client_id !== url) return refuse('the client_id in the document is not the URL it was fetched from');
  const authMethod = document.token_endpoint_auth_method ?? 'none';
  if (authMethod !== 'none' && authMethod !== 'private_key_jwt') return refuse(`token_endpoint_auth_method: ${clip(authMethod)} is not allowed for a client metadata document (none or private_key_jwt)`);
  // Registrations name their methods in the policy, none of them with keys: a client with
  // its own keys stands where a public client (none) may.
  if (!(policy.authMethods as readonly string[]).includes('none')) return refuse('token_endpoint_auth_method: public clients are not allowed here, nor clients by metadata document');
  const grantTypes = document.grant_types ?? ['authorization_code'];
  const grant = grantTypes.find((name) => !ALLOWED_GRANTS.has(name));
  if (grant !== undefined) return refuse(`grant_types: ${clip(grant)} is not allowed for a client metadata document`);
  const responseTypes = document.response_types ?? ['code'];
  if (responseTypes.some((type) => type !== 'code')) return refuse('response_types: only code');
  if (authMethod === 'private_key_jwt' && document.jwks === undefined) return refuse('jwks: a private_key_jwt client by document publishes its keys in the document (jwks), not at jwks_uri');
  if (authMethod !== 'private_key_jwt' && document.jwks !== undefined) return refuse('jwks: only a private_key_jwt client has keys');

  const translated = toRegistrationDocument(url, { ...document, grant_types: grantTypes, token_endpoint_auth_method: authMethod, logo_uri: undefined }, policy, offered);
  const problem = checkRegistrationPolicy({ ...translated.shape, authMethod: 'none' }, policy);
  if (problem) return refuse(problem);
  let input;
  try {
    input = parseClientInput({ ...translated.input, jwks: document.jwks ?? null, jwksUri: null });
  } catch (error) {
    if (error instanceof AppError) return refuse(error.message);
    throw error;
  }
  const scopes = input.scopes ?? [];
  const [registryProblem] = checkAgainstRegistry({ resources: input.resources, scopes }, (indicator) => offered.get(indicator));
  if (registryProblem) return refuse(`${registryProblem.list}: ${registryProblem.message}`);
  const now = new Date();
  return {
    ok: true,
    client: {
      clientId: url,
      type: input.type,
      name: input.name,
      secretCiphertext: null,
      authMethod: input.authMethod ?? 'none',
      jwks: input.jwks,
      jwksUri: input.jwksUri,
      redirectUris: input.redirectUris,
      postLogoutRedirectUris: input.postLogoutRedirectUris,
      corsOrigins: [],
      grantTypes: input.grantTypes ?? grantTypes,
      scopes,
      resources: input.resources,
      firstParty: false,
      requireMfa: false,
      backchannelLogoutUri: null,
      logoUri: null,
      clientUri: input.clientUri,
      policyUri: input.policyUri,
      tosUri: input.tosUri,
      requirePushedRequests: false,
      requireSignedRequests: false,
      exchangeAudiences: [],
      exchangeAct: false,
      // No client-credentials tokens (no such grant), so no generation to end them by.
      tokenGeneration: 'none',
      origin: 'registration',
      registrationTokenId: null,
      createdAt: now,
      updatedAt: now,
    },
  };
}
