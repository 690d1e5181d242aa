import * as oidc from 'openid-client';
import type { Context } from 'koa';
import { z } from 'zod';

import type { AccessTokenVerifier, GrantService } from '../oidc/index.ts';
import { inProcessFetch, type Dispatch } from './in-process-fetch.ts';
import { readSignedJson, writeSignedJson } from './signed-json-cookie.ts';

// Signing a person in to one of Portcullis' own pages (the account page, the admin console)
// through Portcullis itself: the authorization code flow with PKCE, as any app does,
// with openid-client as the relying party. So everything a sign-in is anywhere (password,
// throttles, second factor, the client's MFA policy, audit, session) applies here too, and
// the page learns only what an app would: a verified ID token and a grant.
// Rules:
// - state, nonce and the PKCE verifier are made per attempt and kept in a signed, HttpOnly
//   cookie for ten minutes on the page's path; the callback needs all three to match
//   (openid-client checks state, iss (RFC 9207), the code exchange and the ID token);
// - the code is exchanged in-process (in-process-fetch.ts), from the person's own address;
// - where to go after is a path of the page itself, never a URL from the request.

export interface FirstPartySignInOptions {
  readonly issuer: string;
  readonly clientId: string;
  /** The page's callback, a URL of the issuer's origin (the registered redirect URI). */
  readonly redirectUri: string;
  /** The cookie that carries an attempt, and the path it is sent on (the page's). */
  readonly cookie: { readonly name: string; readonly path: string };
  /**
   * The cookie that carries the attempt's state to the authorization endpoint (sent on its
   * path only), where own-attempt-guard.ts serves the client's requests to this browser only.
   */
  readonly authorizationCookie: { readonly name: string; readonly path: string };
  readonly scope: string;
  /** This app's request handler (known only once the app is built). */
  readonly dispatch: () => Dispatch;
}

/** What a finished sign-in proved: the ID token's subject and the access token (for its grant). */
export interface SignedIn {
  readonly sub: string;
  readonly accessToken: string;
}

export type SignInOutcome = { readonly ok: true; readonly signedIn: SignedIn; readonly returnTo: string } | { readonly ok: false; readonly reason: string };

export interface FirstPartySignIn {
  /** Redirects to the authorization endpoint; after, the person lands on `returnTo` (a path of the page). */
  start(ctx: Context, returnTo: string): Promise<void>;
  /** At the callback: the attempt's cookie checked and spent, the code exchanged. */
  finish(ctx: Context): Promise<SignInOutcome>;
}

const ATTEMPT_TTL_MS = 10 * 60 * 1000;
const attemptSchema = z.object({ state: z.string(), nonce: z.string(), verifier: z.string(), returnTo: z.string(), exp: z.number() });

export function createFirstPartySignIn(options: FirstPartySignInOptions): FirstPartySignIn {
  const { redirectUri } = options;
  const insecure = new URL(options.issuer).protocol === 'http:';
  let metadata: Promise<oidc.ServerMetadata> | undefined;

  /** The server's metadata, discovered once (in-process) and kept: it changes only with the deployment. */
  function serverMetadata(): Promise<oidc.ServerMetadata> {
    metadata ??= oidc
      .discovery(new URL(options.issuer), options.clientId, undefined, oidc.None(), {
        [oidc.customFetch]: inProcessFetch(options.dispatch, { remoteAddress: '127.0.0.1', issuer: options.issuer }),
        ...(insecure && { execute: [oidc.allowInsecureRequests] }),
      })
      .then((config) => config.serverMetadata())
      .catch((error: unknown) => {
        metadata = undefined; // the next sign-in tries again
        throw error;
      });
    return metadata;
  }

  /** A client configuration for one request: its fetch speaks from that request's address. */
  async function configurationFor(ctx: Context): Promise<oidc.Configuration> {
    const config = new oidc.Configuration(await serverMetadata(), options.clientId, undefined, oidc.None());
    config[oidc.customFetch] = inProcessFetch(options.dispatch, { remoteAddress: ctx.ip, issuer: options.issuer });
    if (insecure) oidc.allowInsecureRequests(config);
    return config;
  }

  const cookieOptions = (ctx: Context) =>
    ({ path: options.cookie.path, httpOnly: true, sameSite: 'lax', secure: ctx.secure, signed: true, overwrite: true }) as const;

  return {
    async start(ctx, returnTo) {
      const config = await configurationFor(ctx);
      const attempt = { state: oidc.randomState(), nonce: oidc.randomNonce(), verifier: oidc.randomPKCECodeVerifier(), returnTo, exp: Date.now() + ATTEMPT_TTL_MS };
      const url = oidc.buildAuthorizationUrl(config, {
        redirect_uri: redirectUri,
        scope: options.scope,
        state: attempt.state,
        nonce: attempt.nonce,
        code_challenge: await oidc.calculatePKCECodeChallenge(attempt.verifier),
        code_challenge_method: 'S256',
      });
      writeSignedJson(ctx, options.cookie.name, attempt, { ...cookieOptions(ctx), maxAge: ATTEMPT_TTL_MS });
      ctx.cookies.set(options.authorizationCookie.name, attempt.state, { ...cookieOptions(ctx), path: options.authorizationCookie.path, maxAge: ATTEMPT_TTL_MS });
      ctx.redirect(url.href);
    },

    async finish(ctx) {
      const attempt = readSignedJson(ctx, options.cookie.name, attemptSchema);
      // Spent whatever happens next: a callback URL replayed in this browser starts over.
      ctx.cookies.set(options.cookie.name, null, cookieOptions(ctx));
      ctx.cookies.set(options.authorizationCookie.name, null, { ...cookieOptions(ctx), path: options.authorizationCookie.path });
      if (!attempt || attempt.exp < Date.now()) return { ok: false, reason: 'no_attempt' };
      const config = await configurationFor(ctx);
      try {
        const tokens = await oidc.authorizationCodeGrant(config, new URL(ctx.originalUrl, redirectUri), {
          pkceCodeVerifier: attempt.verifier,
          expectedState: attempt.state,
          expectedNonce: attempt.nonce,
          idTokenExpected: true,
        });
        const claims = tokens.claims();
        if (!claims) return { ok: false, reason: 'no_id_token' };
        return { ok: true, signedIn: { sub: claims.sub, accessToken: tokens.access_token }, returnTo: attempt.returnTo };
      } catch (error) {
        // The authorization server's refusal (access_denied, a replayed code, ...) or a
        // check of openid-client's (state, iss, nonce): the attempt failed, nothing else.
        if (error instanceof oidc.AuthorizationResponseError || error instanceof oidc.ResponseBodyError) return { ok: false, reason: error.error };
        if (error instanceof oidc.ClientError) return { ok: false, reason: error.code ?? 'invalid_response' };
        throw error;
      }
    },
  };
}

/**
 * A request to one of these pages without a live session: its cookie (if any) is dropped; a
 * page view (GET) starts a sign-in that comes back to it (a path of the page, so never
 * elsewhere), and a form goes back to the page's start (303), changing nothing.
 */
export async function answerSignedOut(ctx: Context, deps: { readonly sessions: { clear(ctx: Context): void }; readonly signIn: FirstPartySignIn; readonly pagePath: string }): Promise<void> {
  deps.sessions.clear(ctx);
  if (ctx.method === 'GET') return deps.signIn.start(ctx, ctx.originalUrl.startsWith(`${deps.pagePath}/`) ? ctx.originalUrl : deps.pagePath);
  ctx.status = 303;
  ctx.redirect(deps.pagePath);
}

/** A page's callback, judged: the grant that is the page's session, or why there is none. */
export type PageSignIn = { readonly ok: true; readonly sub: string; readonly grantId: string; readonly returnTo: string } | { readonly ok: false; readonly reason: string };

/**
 * The callback of a first-party page: the attempt finished (finish), and the access token it
 * got names a grant of this page's client for the ID token's subject: that grant is the
 * page's session (page-session.ts). A grant of the page's client that will not be used (the
 * token's subject is another's) is ended, not left behind.
 */
export async function finishPageSignIn(ctx: Context, deps: { readonly signIn: FirstPartySignIn; readonly verifier: Pick<AccessTokenVerifier, 'verify'>; readonly grants: Pick<GrantService, 'revokeGrant'>; readonly clientId: string }): Promise<PageSignIn> {
  const outcome = await deps.signIn.finish(ctx);
  if (!outcome.ok) return outcome;
  const token = await deps.verifier.verify(outcome.signedIn.accessToken);
  if (!token?.grantId || token.clientId !== deps.clientId) return { ok: false, reason: 'invalid_grant' };
  if (token.sub !== outcome.signedIn.sub) {
    await deps.grants.revokeGrant(token.grantId);
    return { ok: false, reason: 'invalid_grant' };
  }
  return { ok: true, sub: outcome.signedIn.sub, grantId: token.grantId, returnTo: outcome.returnTo };
}
