import type { Context } from 'koa';
import { routedPath } from '../http/index.ts';

// Which per-address endpoint budget a request spends from, by method and path alone
// (before the engine has routed it: ctx.oidc does not exist yet), as the routers will match
// it (http/routed-path.ts).

export type EndpointTier = 'api' | 'token' | 'introspection' | 'revocation' | 'login' | 'registration';

/** The engine's endpoint paths (provider.pathFor). */
export interface EndpointPaths {
  readonly token: string;
  readonly introspection: string;
  readonly revocation: string;
  /** The device page (RFC 8628), where user codes are typed: with the device flow only. */
  readonly deviceVerification?: string | undefined;
  /** The device authorization endpoint (RFC 8628 3.1): with the device flow only. */
  readonly deviceAuthorization?: string | undefined;
  /** The client registration endpoint (RFC 7591): with CLIENT_REGISTRATION only. */
  readonly registration?: string | undefined;
}

// The password form, the second-factor forms (code, mailed code, enrolment, its last step), the
// password reset and sign-up forms (a request sends mail; a new password is hashed), and the
// account page's forms (a current password checked, a code mailed or typed).
const LOGIN_PATH = /^\/interaction\/[^/]+\/(login|forgot|signup|code|passkey|passkey-sign-in|mailbox|enrol|continue)$|^\/password-reset(\/new)?$|^\/signup(\/complete)?$|^\/account\/.+$/;

export function createClassifier(endpoints: EndpointPaths): (ctx: Context) => EndpointTier | undefined {
  const paths = { token: routedPath(endpoints.token), introspection: routedPath(endpoints.introspection), revocation: routedPath(endpoints.revocation) };
  // A typed user code is a guess at a credential, as a password is: the login budget.
  const device = endpoints.deviceVerification === undefined ? undefined : routedPath(endpoints.deviceVerification);
  // A device authorization writes a device code, as a token request writes a token: the token budget.
  const deviceStart = endpoints.deviceAuthorization === undefined ? undefined : routedPath(endpoints.deviceAuthorization);
  // A registration may write a client: its own budget, small, whether or not a token is presented.
  const registration = endpoints.registration === undefined ? undefined : routedPath(endpoints.registration);
  return (ctx) => {
    const path = routedPath(ctx.path);
    // Our own APIs, the admin API too: counted per address before any token is looked at.
    if (path === '/api' || path.startsWith('/api/') || path === '/admin/api' || path.startsWith('/admin/api/')) return 'api';
    // Registering (POST /reg) and managing a registration (GET, PUT, DELETE /reg/:client_id): writes change the registry.
    if (registration && (path === registration || path.startsWith(`${registration}/`))) return 'registration';
    if (ctx.method !== 'POST') return undefined;
    if (path === paths.token || path === deviceStart) return 'token';
    if (path === paths.introspection) return 'introspection';
    if (path === paths.revocation) return 'revocation';
    if (LOGIN_PATH.test(path) || path === device) return 'login';
    return undefined;
  };
}
