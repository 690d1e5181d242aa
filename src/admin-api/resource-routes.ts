import type Router from '@koa/router';

import type { AccessTokenState } from '../account-api/index.ts';
import type { ResourceServerRecord } from '../clients/index.ts';
import { NotFoundError } from '../errors.ts';
import { actedBy, bodyObject, type AdminApiDeps, type AdminContext, type Guards } from './admin-context.ts';
import { ADMIN_API_PATH } from './admin-resource.ts';
import { etagOf, requireIfMatch } from './etag.ts';
import { resourceServerView } from './views.ts';

// /resource-servers: the APIs that accept Portcullis' access tokens, their scopes and the
// roles that bind them, through clients/resource-service.ts and its schema (the CLI's
// `resources`). Addressed by indicator, percent-encoded as one path segment. The admin
// API's own resource server is pinned by the service (boot.ts): its scopes stay bound to a
// role (`roles: []` would hand every account admin:write) and it is never deleted, whichever
// surface asks.

export function addResourceRoutes(router: Router<AccessTokenState>, guards: Guards, deps: Pick<AdminApiDeps, 'resources'>): void {
  const { resources } = deps;

  async function current(indicator: string) {
    const resource = await resources.find(indicator);
    if (!resource) throw new NotFoundError(`no resource server ${indicator.slice(0, 200)}`);
    return resource;
  }

  function answer(ctx: AdminContext, resource: ResourceServerRecord, status = 200) {
    const view = resourceServerView(resource);
    ctx.status = status;
    ctx.set('ETag', etagOf(view));
    return view;
  }

  router.get('/resource-servers', guards.read, async (ctx) => {
    ctx.body = { resourceServers: (await resources.list()).map(resourceServerView) };
  });

  router.post('/resource-servers', guards.write, async (ctx) => {
    const resource = await resources.create(bodyObject(ctx), actedBy(ctx));
    const view = answer(ctx, resource, 201);
    ctx.set('Location', `${ADMIN_API_PATH}/resource-servers/${encodeURIComponent(resource.indicator)}`);
    ctx.body = view;
  });

  router.get('/resource-servers/:indicator', guards.read, async (ctx) => {
    ctx.body = answer(ctx, await current(ctx.params.indicator!));
  });

  // A partial change (`scopes` replaces the whole list), validated whole; only from the
  // representation the caller read (If-Match), and only onto that version.
  router.patch('/resource-servers/:indicator', guards.write, async (ctx) => {
    const before = await current(ctx.params.indicator!);
    requireIfMatch(ctx, etagOf(resourceServerView(before)));
    ctx.body = answer(ctx, await resources.update(before.indicator, bodyObject(ctx), actedBy(ctx), { ifUpdatedAt: before.updatedAt }));
  });

  // Idempotent (RFC 9110 section 9.2.2); refused (409) while a client is registered for it.
  router.delete('/resource-servers/:indicator', guards.write, async (ctx) => {
    await resources.delete(ctx.params.indicator!, actedBy(ctx));
    ctx.status = 204;
  });
}
