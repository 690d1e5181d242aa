import { z } from 'zod';
import Router from '@koa/router';
import type { Middleware } from 'koa';

import type { AccountService } from '../accounts/index.ts';
import { clientIdSchema, type ClientService } from '../clients/index.ts';
import { NotFoundError, ValidationError } from '../errors.ts';
import { requestFacts, type AuditSink } from '../audit/index.ts';
import { looksLikeUrlClientId, MAX_CLIENT_ID_URL_LENGTH, type AccessTokenVerifier, type DpopReplayStore, type GrantService } from '../oidc/index.ts';
import { protectedResourceMetadataUrl } from './protected-resource-metadata.ts';
import { requireAccessToken, type AccessTokenState } from './require-access-token.ts';

// The account API Portcullis serves to its own users' apps: who am I, which apps have I
// authorized, and revoke one. It is itself a resource server (ACCOUNT_API below) and is
// protected like any other.

export const ACCOUNT_API_SCOPES = [
  { name: 'account:read', description: 'See your profile and the apps you have authorized' },
  { name: 'account:write', description: 'Revoke apps you have authorized' },
] as const;

/** Where the API is mounted, under the issuer. */
export const ACCOUNT_API_PATH = '/api';

/** Its resource identifier (RFC 8707, RFC 9728): the issuer's URL of the API. */
export function accountApiIndicator(issuer: string): string {
  return `${issuer}${ACCOUNT_API_PATH}`;
}

export interface AccountApiDeps {
  readonly issuer: string;
  readonly verifier: AccessTokenVerifier;
  /** DPoP proofs already spent, shared by every instance. */
  readonly replays: DpopReplayStore;
  readonly accounts: AccountService;
  readonly clients: ClientService;
  readonly grants: GrantService;
  readonly audit: AuditSink;
  /** The per-account request budget (rate limits), run once the token is verified. */
  readonly perAccount?: Middleware<AccessTokenState> | undefined;
}

const GRANT_ID = /^[A-Za-z0-9_-]{1,128}$/;

/** Each route: the token first, then the per-account budget (it needs the token's subject). */
function thenBudget(
  perAccount: Middleware<AccessTokenState> | undefined,
  check: Middleware<AccessTokenState>,
): Middleware<AccessTokenState> {
  return perAccount
    ? async (ctx, next) => {
        await check(ctx, async () => {
          await perAccount(ctx, next);
        });
      }
    : check;
}

export function createAccountApiRouter(deps: AccountApiDeps): Router<AccessTokenState> {
  const audience = accountApiIndicator(deps.issuer);
  // Every refusal points to the API's metadata (RFC 9728 section 5.1): a client that knows
  // only the API's URL learns from the 401 which authorization server to ask, and for what.
  const resourceMetadata = protectedResourceMetadataUrl(audience);
  const router = new Router<AccessTokenState>({ prefix: ACCOUNT_API_PATH });
  // Every route acts for the person who granted the token: a client's own token (client
  // credentials) is refused before the budget, so it never spends a person's.
  const protect = (scope: string) =>
    thenBudget(
      deps.perAccount,
      requireAccessToken({ verifier: deps.verifier, replays: deps.replays, issuer: deps.issuer, audience, scope, subject: 'person', resourceMetadata }),
    );
  const read = protect('account:read');
  const write = protect('account:write');

  /** The person behind the token. */
  async function subject(state: AccessTokenState) {
    const sub = state.accessToken.sub;
    // findById answers undefined for anything that is not an account id.
    const account = sub ? await deps.accounts.findById(sub) : undefined;
    if (!account || account.disabled) throw new NotFoundError('this token does not belong to an active account');
    return account;
  }

  router.use(async (ctx, next) => {
    ctx.set('Cache-Control', 'no-store');
    await next();
  });

  router.get('/me', read, async (ctx) => {
    const account = await subject(ctx.state);
    ctx.body = {
      sub: account.id,
      email: account.email,
      email_verified: account.emailVerified,
      name: account.name,
      roles: account.roles,
      created_at: account.createdAt.toISOString(),
    };
  });

  router.get('/grants', read, async (ctx) => {
    const account = await subject(ctx.state);
    const grants = await deps.grants.listForAccount(account.id);
    const names = new Map<string, string>();
    for (const clientId of new Set(grants.map((grant) => grant.clientId))) {
      names.set(clientId, (await deps.clients.find(clientId))?.name ?? clientId);
    }
    ctx.body = {
      grants: grants.map((grant) => ({
        id: grant.id,
        client_id: grant.clientId,
        client_name: names.get(grant.clientId),
        scopes: grant.scopes,
        resources: grant.resources,
        created_at: grant.createdAt.toISOString(),
        expires_at: grant.expiresAt?.toISOString() ?? null,
      })),
    };
  });

  // Every authorization of one app, on every device, and the consent remembered for it:
  // the app will have to ask again.
  router.delete('/grants', write, async (ctx) => {
    const account = await subject(ctx.state);
    // A registry id, or a metadata document's URL (the app is its document's client).
    const clientId = clientIdSchema.or(z.string().max(MAX_CLIENT_ID_URL_LENGTH).refine(looksLikeUrlClientId)).safeParse(ctx.query.client_id);
    if (!clientId.success) throw new ValidationError('client_id: give the client_id of the app whose access to revoke, once');
    const count = await deps.grants.revokeClientForAccount(account.id, clientId.data);
    deps.audit.record({
      type: 'consent.revoked',
      actor: account.id,
      accountId: account.id,
      clientId: clientId.data,
      ...requestFacts(ctx),
      data: { all: true, grants: count.grants, via: 'account_api' },
    });
    ctx.status = 204;
  });

  router.delete('/grants/:id', write, async (ctx) => {
    const account = await subject(ctx.state);
    const id = ctx.params.id ?? '';
    const grant = GRANT_ID.test(id) ? await deps.grants.find(id) : undefined;
    // Someone else's grant is "not found" too: its existence is not ours to reveal.
    if (!grant || grant.accountId !== account.id) throw new NotFoundError('no such grant');
    await deps.grants.revokeGrant(grant.id);
    deps.audit.record({
      type: 'consent.revoked',
      actor: account.id,
      accountId: account.id,
      clientId: grant.clientId,
      ...requestFacts(ctx),
      data: { grantId: grant.id, via: 'account_api' },
    });
    ctx.status = 204;
  });

  return router;
}
