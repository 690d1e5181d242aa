import Router from '@koa/router';
import type { Middleware } from 'koa';
import { LRUCache } from 'lru-cache';

import { protectedResourceMetadataUrl, requireAccessToken, type AccessTokenState } from '../account-api/index.ts';
import { requestFacts } from '../audit/index.ts';
import type { VerifiedAccessToken } from '../oidc/index.ts';
import { actorOf, REFUSAL_AUDIT_WINDOW_MS, type AdminApiDeps, type Guards } from './admin-context.ts';
import { ADMIN_API_PATH, ADMIN_SCOPES, adminApiIndicator } from './admin-resource.ts';
import { createEntitlementCheck } from './check-entitlement.ts';
import { addAuditRoutes } from './audit-routes.ts';
import { addClientRoutes } from './client-routes.ts';
import { buildOpenApiDocument } from './openapi.ts';
import { problemDetails } from './problem.ts';
import { addGrantRoutes } from './grant-routes.ts';
import { addKeyRoutes } from './key-routes.ts';
import { readJsonBody } from './read-json-body.ts';
import { addResourceRoutes } from './resource-routes.ts';
import { addUserRoutes } from './user-routes.ts';

// The admin API (/admin/api/v1): clients, resource servers, users and their grants, the audit trail, the keys and the settings, for operators and their automation,
// with the CLI's services and schemas. Every route needs an access token for the admin
// resource with admin:read (GET) or admin:write (every change); answers are JSON, refusals
// problem details (problem.ts); changes to one resource need If-Match (etag.ts); every change
// is audited with the token's subject as the actor. No CORS: no browser origin is ever
// allowed to call it (the console, when it comes, is same-origin).

export function createAdminApiRouter(deps: AdminApiDeps): Router<AccessTokenState> {
  const audience = adminApiIndicator(deps.issuer);
  const resourceMetadata = protectedResourceMetadataUrl(audience);
  const router = new Router<AccessTokenState>({ prefix: ADMIN_API_PATH });

  // A valid token without the scope is someone probing: their attempt is audited, once per
  // subject in a window (a refusal is answered before any per-subject budget, so a row per
  // request would let one person without the role write the audit table as fast as they
  // can send; the per-address budget limits the requests themselves).
  const recentlyAudited = new LRUCache<string, true>({ max: 10_000, ttl: REFUSAL_AUDIT_WINDOW_MS });
  const onInsufficientScope = (ctx: Parameters<Middleware>[0], token: VerifiedAccessToken, required: readonly string[]) => {
    const actor = actorOf(token);
    if (recentlyAudited.has(actor)) return;
    recentlyAudited.set(actor, true);
    deps.audit.record({
      type: 'admin.refused',
      actor,
      ...requestFacts(ctx),
      data: { method: ctx.method, path: ctx.path.slice(0, 200), scope: required.join(' ') },
    });
  };
  // Each route: the token (either subject: a person with the admin role, or automation's
  // own client credentials), then the budget of that subject, then the body.
  const stillEntitled = createEntitlementCheck({ accounts: deps.accounts, clients: deps.clients, audience });
  const protect = (scope: string): Middleware<AccessTokenState> => {
    const check = requireAccessToken({ verifier: deps.verifier, replays: deps.replays, issuer: deps.issuer, audience, scope, subject: 'any', resourceMetadata, onInsufficientScope, stillEntitled });
    const body = readJsonBody();
    const { perSubject } = deps;
    return async (ctx, next) => {
      await check(ctx, async () => {
        const withBody = async () => {
          await body(ctx, next);
        };
        await (perSubject ? perSubject(ctx, withBody) : withBody());
      });
    };
  };
  const guards: Guards = { read: protect(ADMIN_SCOPES.read), write: protect(ADMIN_SCOPES.write) };

  router.use(problemDetails());
  router.use(async (ctx, next) => {
    ctx.set('Cache-Control', 'no-store');
    await next();
  });

  // The document describes the API, holds nothing secret, and is what tools fetch first.
  const openApi = buildOpenApiDocument(deps.issuer);
  router.get('/openapi.json', (ctx) => {
    ctx.body = openApi;
  });

  addClientRoutes(router, guards, deps);
  addResourceRoutes(router, guards, deps);
  addUserRoutes(router, guards, deps);
  addGrantRoutes(router, guards, deps);
  addAuditRoutes(router, guards, deps);
  addKeyRoutes(router, guards, deps);
  router.get('/settings', guards.read, (ctx) => {
    ctx.body = deps.settings;
  });
  return router;
}
