import type { KoaContextWithOIDC } from 'oidc-provider';

import { interactionPolicy } from './engine.ts';
import type { RequestAccounts } from './request-accounts.ts';

// When a sign-in must use a second factor, and what its ID token says about it.
// Our login result carries `acr` (one of ACR_VALUES, advertised in discovery as
// acr_values_supported) and `amr` (RFC 8176: pwd, plus otp and mfa when a code was used);
// the engine keeps both in the session and writes them into ID tokens.
//
// The login prompt is asked for again, even over an existing session, when the session did
// not use a second factor and one is required: by the deployment (MFA=required), by a role
// the person holds (MFA_REQUIRED_ROLES: admin by default), by the client (its
// portcullis_require_mfa), or by the request (acr_values or the claims parameter naming
// PORTCULLIS_ACR_MFA: step-up). Roles are read as they are now: someone given the admin
// role after signing in with a password is asked for the second factor at their next
// authorization, and a code or refresh token from a sign-in without it is refused
// (find-account.ts). The pages then ask only for the second
// factor when the session's person already has one; anyone else gives the password first
// (interactions/second-factor.ts).

export const PORTCULLIS_ACR_PWD = 'urn:portcullis:acr:pwd';
export const PORTCULLIS_ACR_MFA = 'urn:portcullis:acr:mfa';
export const ACR_VALUES = [PORTCULLIS_ACR_PWD, PORTCULLIS_ACR_MFA] as const;

/** The reason the login prompt names when only the second factor is missing. */
export const MFA_REQUIRED_REASON = 'mfa_required';

/**
 * How an authorization request asks for the second factor: not at all, voluntarily
 * (acr_values, or a non-essential acr claim: OIDC Core 3.1.2.1 and 5.5.1.1 let the server
 * answer with the acr it could obtain), or as essential (the claims parameter's
 * id_token.acr with essential true: unmet, the answer is unmet_authentication_requirements).
 * Reads the parameters as the engine keeps them: claims is the JSON string of the request.
 */
export function mfaRequest(params: { acr_values?: unknown; claims?: unknown }): 'none' | 'voluntary' | 'essential' {
  const acr = acrClaimRequest(params.claims);
  if (acr && acrNamesMfa(acr)) return acr.essential === true ? 'essential' : 'voluntary';
  return typeof params.acr_values === 'string' && params.acr_values.split(' ').includes(PORTCULLIS_ACR_MFA) ? 'voluntary' : 'none';
}

/** Whether an authorization request asks for the second factor at all (mfaRequest). */
export function requestsMfa(params: { acr_values?: unknown; claims?: unknown }): boolean {
  return mfaRequest(params) !== 'none';
}

interface AcrClaimRequest {
  readonly essential?: unknown;
  readonly value?: unknown;
  readonly values?: unknown;
}

function acrClaimRequest(claims: unknown): AcrClaimRequest | undefined {
  let parsed: unknown = claims;
  if (typeof claims === 'string') {
    try {
      parsed = JSON.parse(claims);
    } catch {
      return undefined; // the engine refuses a malformed claims parameter before any page
    }
  }
  const acr = (parsed as { id_token?: { acr?: unknown } } | null | undefined)?.id_token?.acr;
  return typeof acr === 'object' && acr !== null ? acr : undefined;
}

// Asking for the MFA acr only: an essential request that also accepts pwd is met by pwd.
function acrNamesMfa(acr: AcrClaimRequest): boolean {
  if (typeof acr.value === 'string') return acr.value === PORTCULLIS_ACR_MFA;
  return Array.isArray(acr.values) && acr.values.includes(PORTCULLIS_ACR_MFA) && !acr.values.includes(PORTCULLIS_ACR_PWD);
}

/** Whether the client's registration requires a second factor (client-metadata.ts). */
export function clientRequiresMfa(client: unknown): boolean {
  return (client as { portcullis_require_mfa?: unknown } | undefined)?.portcullis_require_mfa === true;
}

/** Who must sign in with a second factor besides those a client or request asks it of. */
export interface MfaRequirement {
  /** required: everyone. */
  readonly mode: 'optional' | 'required';
  /** Whoever holds one of these roles. */
  readonly roles: readonly string[];
}

/**
 * Whether a sign-in of a person with these roles, for this client, must use a second
 * factor: the one rule the engine's check below and the sign-in pages both apply.
 */
export function secondFactorRequired(requirement: MfaRequirement, client: unknown, roles: readonly string[]): boolean {
  return requirement.mode === 'required' || clientRequiresMfa(client) || roles.some((role) => requirement.roles.includes(role));
}

/** The engine's default interaction policy, its login prompt with one more check. */
export function secondFactorPolicy(requirement: MfaRequirement, accounts: RequestAccounts) {
  const { Check, base } = interactionPolicy;
  const policy = base();
  const login = policy.get('login');
  if (!login) throw new Error('the engine has no login prompt');
  login.checks.add(
    new Check(MFA_REQUIRED_REASON, 'a second factor is required', 'interaction_required', async (ctx: KoaContextWithOIDC) => {
      const { oidc } = ctx;
      const accountId = oidc.session?.accountId;
      if (!accountId) return Check.NO_NEED_TO_PROMPT; // no_session asks already
      if (oidc.session.acr === PORTCULLIS_ACR_MFA) return Check.NO_NEED_TO_PROMPT;
      // The request's one read of its person (the engine's findAccount made it already).
      const roles = requirement.roles.length > 0 ? ((await accounts.find(ctx, accountId))?.roles ?? []) : [];
      const required = secondFactorRequired(requirement, oidc.client, roles);
      // The result of this very interaction: the person just signed in. Where the deployment,
      // a role or the client requires a second factor, only a login that gave one passes, whatever
      // the pages decided (fail closed: a client switched to requireMfa meanwhile, a page
      // path that forgot). A request's own acr_values are voluntary: the ID token's acr
      // tells the client what was done.
      if (oidc.result?.login) {
        return required && (oidc.result.login as { acr?: unknown }).acr !== PORTCULLIS_ACR_MFA ? Check.REQUEST_PROMPT : Check.NO_NEED_TO_PROMPT;
      }
      return required || requestsMfa(oidc.params ?? {}) ? Check.REQUEST_PROMPT : Check.NO_NEED_TO_PROMPT;
    }),
  );
  return policy;
}
