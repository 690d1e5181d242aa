import { createRemoteJWKSet, jwtVerify, type JWTPayload } from 'jose';

import { AppError } from '../errors.ts';

// The demo's side of the protocol, over HTTP to the running server, as any app would do it:
// discovery, the code exchange with PKCE, the ID token checked against the issuer's keys
// (jose), and a client-credentials token for the demo API.

export interface Endpoints {
  readonly issuer: string;
  readonly token: string;
  readonly userinfo: string;
  readonly jwksUri: string;
  readonly authorization: string;
}

export interface TokenResponse {
  readonly access_token: string;
  readonly token_type: string;
  readonly expires_in?: number;
  readonly scope?: string;
  readonly refresh_token?: string;
  readonly id_token?: string;
}

/** A step of the demo that the server refused or could not be reached for: one line, exit 1. */
export class DemoStepError extends AppError {
  constructor(message: string) {
    super('server_error', 502, message, { expose: true });
  }
}

export async function discover(issuer: string): Promise<Endpoints> {
  const url = `${issuer}/.well-known/openid-configuration`;
  let response: Response;
  try {
    response = await fetch(url, { signal: AbortSignal.timeout(5_000) });
  } catch (error) {
    throw new DemoStepError(`no server answers at ${issuer} (start it with npm start, or set ISSUER to where it runs): ${(error as Error).message}`);
  }
  if (!response.ok) throw new DemoStepError(`${url} answered ${response.status}: is ${issuer} a Portcullis server?`);
  const metadata = (await response.json()) as Record<string, unknown>;
  if (metadata.issuer !== issuer) throw new DemoStepError(`the server at ${issuer} calls itself ${String(metadata.issuer)}: set ISSUER to the server's`);
  return {
    issuer,
    token: String(metadata.token_endpoint),
    userinfo: String(metadata.userinfo_endpoint),
    jwksUri: String(metadata.jwks_uri),
    authorization: String(metadata.authorization_endpoint),
  };
}

async function tokenRequest(endpoints: Endpoints, client: { id: string; secret: string }, body: Record<string, string>): Promise<TokenResponse> {
  const response = await fetch(endpoints.token, {
    method: 'POST',
    headers: {
      // RFC 6749 2.3.1: form-encode each part before Basic.
      authorization: `Basic ${Buffer.from(`${encodeURIComponent(client.id)}:${encodeURIComponent(client.secret)}`).toString('base64')}`,
      'content-type': 'application/x-www-form-urlencoded',
      accept: 'application/json',
    },
    body: new URLSearchParams(body),
    signal: AbortSignal.timeout(10_000),
  });
  const answer = (await response.json().catch(() => ({}))) as Record<string, unknown>;
  if (!response.ok || typeof answer.access_token !== 'string') {
    const error = typeof answer.error === 'string' ? answer.error : String(response.status);
    const description = typeof answer.error_description === 'string' ? ` (${answer.error_description})` : '';
    throw new DemoStepError(`the token endpoint refused ${body.grant_type}: ${error}${description}`);
  }
  return answer as unknown as TokenResponse;
}

export function exchangeCode(
  endpoints: Endpoints,
  client: { id: string; secret: string },
  grant: { code: string; redirectUri: string; verifier: string },
): Promise<TokenResponse> {
  return tokenRequest(endpoints, client, { grant_type: 'authorization_code', code: grant.code, redirect_uri: grant.redirectUri, code_verifier: grant.verifier });
}

export function clientCredentials(endpoints: Endpoints, client: { id: string; secret: string }, resource: string, scope: string): Promise<TokenResponse> {
  return tokenRequest(endpoints, client, { grant_type: 'client_credentials', resource, scope });
}

/** The ID token's claims, once its signature, issuer, audience and expiry check out. */
export async function verifyIdToken(endpoints: Endpoints, idToken: string, clientId: string): Promise<JWTPayload> {
  try {
    const { payload } = await jwtVerify(idToken, createRemoteJWKSet(new URL(endpoints.jwksUri)), { issuer: endpoints.issuer, audience: clientId });
    return payload;
  } catch (error) {
    throw new DemoStepError(`the ID token did not verify: ${(error as Error).message}`);
  }
}
