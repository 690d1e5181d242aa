import type Router from '@koa/router';

import type { AccessTokenState } from '../account-api/index.ts';
import { parseResourceInput, toResourceInput, type ResourceServerRecord } from '../clients/index.ts';
import { ConflictError, NotFoundError, ValidationError } from '../errors.ts';
import { actedBy, bodyObject, type AdminApiDeps, type AdminContext, type Guards } from './admin-context.ts';
import { ADMIN_API_PATH, ADMIN_ROLE, ADMIN_SCOPES, adminApiIndicator } from './admin-resource.ts';
import { etagOf, requireIfMatch } from './etag.ts';
import { resourceServerView } from './views.ts';

// /resource-servers: the APIs that accept Portcullis' access tokens, their scopes and the
// roles that bind them, through clients/resource-service.ts and its schema (the CLI's
// `resources`). Addressed by indicator, percent-encoded as one path segment. The admin
// API's own resource server is kept usable from here: its scopes stay bound to a role (a
// scope without roles is anyone's: `roles: []` would hand every account admin:write) and
// it is never deleted.

export function addResourceRoutes(router: Router<AccessTokenState>, guards: Guards, deps: Pick<AdminApiDeps, 'resources' | 'issuer'>): void {
  const { resources } = deps;
  const adminIndicator = adminApiIndicator(deps.issuer);

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

  /** The admin API's scopes must each stay, bound to at least one role. */
  function keepAdminScopesBound(indicator: string, change: Record<string, unknown>, before: ResourceServerRecord) {
    if (indicator !== adminIndicator || !('scopes' in change)) return;
    const after = parseResourceInput({ ...toResourceInput(before), ...change });
    for (const name of Object.values(ADMIN_SCOPES)) {
      const scope = after.scopes.find((candidate) => candidate.name === name);
      if (!scope || scope.roles.length === 0) {
        throw new ValidationError(`scopes: the admin API's ${name} must stay, bound to a role such as ${ADMIN_ROLE} (a scope without roles is granted to every account)`);
      }
    }
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
    const change = bodyObject(ctx);
    keepAdminScopesBound(before.indicator, change, before);
    ctx.body = answer(ctx, await resources.update(before.indicator, change, actedBy(ctx), { ifUpdatedAt: before.updatedAt }));
  });

  // Idempotent (RFC 9110 section 9.2.2); refused (409) while a client is registered for it.
  router.delete('/resource-servers/:indicator', guards.write, async (ctx) => {
    const indicator = ctx.params.indicator!;
    if (indicator === adminIndicator) throw new ConflictError('the admin API’s own resource server cannot be deleted');
    await resources.delete(indicator, actedBy(ctx));
    ctx.status = 204;
  });
}
