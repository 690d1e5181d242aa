import type { AccountRecord } from './account-store.ts';

/** The standard OIDC claims Portcullis holds, released according to the granted scopes. */
export interface AccountClaims {
  sub: string;
  email?: string;
  email_verified?: boolean;
  name?: string;
}

export const SUPPORTED_CLAIMS = {
  openid: ['sub'],
  email: ['email', 'email_verified'],
  profile: ['name'],
} as const;

export function claimsFor(account: AccountRecord, scopes: ReadonlySet<string>): AccountClaims {
  const claims: AccountClaims = { sub: account.id };
  if (scopes.has('email')) {
    claims.email = account.email;
    claims.email_verified = account.emailVerified;
  }
  if (scopes.has('profile')) claims.name = account.name;
  return claims;
}
