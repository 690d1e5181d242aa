import type { KoaContextWithOIDC } from 'oidc-provider';

import { interactionPolicy } from './engine.ts';

// When a sign-in must use a second factor, and what its ID token says about it.
// Our login result carries `acr` (one of ACR_VALUES, advertised in discovery as
// acr_values_supported) and `amr` (RFC 8176: pwd, plus otp and mfa when a code was used);
// the engine keeps both in the session and writes them into ID tokens.
//
// The login prompt is asked for again, even over an existing session, when the session did
// not use a second factor and one is required: by the deployment (MFA=required), by the
// client (its portcullis_require_mfa), or by the request (acr_values naming
// PORTCULLIS_ACR_MFA: step-up). The pages then ask only for the
// second factor when the session's person is known (interactions/second-factor.ts).

export const PORTCULLIS_ACR_PWD = 'urn:portcullis:acr:pwd';
export const PORTCULLIS_ACR_MFA = 'urn:portcullis:acr:mfa';
export const ACR_VALUES = [PORTCULLIS_ACR_PWD, PORTCULLIS_ACR_MFA] as const;

/** The reason the login prompt names when only the second factor is missing. */
export const MFA_REQUIRED_REASON = 'mfa_required';

/** Whether an authorization request's acr_values ask for the second factor. */
export function requestsMfa(acrValues: unknown): boolean {
  return typeof acrValues === 'string' && acrValues.split(' ').includes(PORTCULLIS_ACR_MFA);
}

/** Whether the client's registration requires a second factor (client-metadata.ts). */
export function clientRequiresMfa(client: unknown): boolean {
  return (client as { portcullis_require_mfa?: unknown } | undefined)?.portcullis_require_mfa === true;
}

/** The engine's default interaction policy, its login prompt with one more check. */
export function secondFactorPolicy(mode: 'optional' | 'required') {
  const { Check, base } = interactionPolicy;
  const policy = base();
  const login = policy.get('login');
  if (!login) throw new Error('the engine has no login prompt');
  login.checks.add(
    new Check(MFA_REQUIRED_REASON, 'a second factor is required', 'interaction_required', (ctx: KoaContextWithOIDC) => {
      const { oidc } = ctx;
      if (!oidc.session?.accountId) return Check.NO_NEED_TO_PROMPT; // no_session asks already
      if (oidc.session.acr === PORTCULLIS_ACR_MFA) return Check.NO_NEED_TO_PROMPT;
      // The result of this very interaction: the person just signed in (a login with the
      // password only is what the policy allows, or the pages would have asked for more).
      if (oidc.result?.login) return Check.NO_NEED_TO_PROMPT;
      const required = mode === 'required' || clientRequiresMfa(oidc.client) || requestsMfa(oidc.params?.acr_values);
      return required ? Check.REQUEST_PROMPT : Check.NO_NEED_TO_PROMPT;
    }),
  );
  return policy;
}
