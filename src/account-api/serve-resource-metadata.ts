import Router from '@koa/router';

import type { ResourceServerRecord, ResourceService } from '../clients/index.ts';
import { DISCOVERY_MAX_AGE_SECONDS } from '../oidc/index.ts';
import { accountApiIndicator } from './account-api.ts';
import { buildProtectedResourceMetadata, indicatorsAt, PROTECTED_RESOURCE_WELL_KNOWN } from './protected-resource-metadata.ts';

// Protected-resource metadata (RFC 9728) of every resource server of the registry whose
// identifier is under the issuer (`<issuer>/api` -> `/.well-known/oauth-protected-resource/api`,
// section 3.1): the account API and the admin API, whose 401s point here (resource_metadata),
// and any API the operator puts behind the issuer's host. The bare well-known path, where
// MCP clients look when the path-suffixed one is missing, is the account API's. (Each
// document's `resource` stays its identifier, as it must: a client checks it against the
// URL it asked about.) Paths are the issuer's: with an issuer that has a path, the proxy in
// front routes the RFC's host-level URL here, as it does for the engine's RFC 8414 document.

export function createResourceMetadataRouter(options: { issuer: string; resources: ResourceService; servedHere: readonly string[] }): Router {
  const router = new Router();

  async function registered(indicators: readonly string[]): Promise<ResourceServerRecord | undefined> {
    for (const indicator of indicators) {
      const resource = await options.resources.find(indicator);
      if (resource) return resource;
    }
    return undefined;
  }

  router.get([PROTECTED_RESOURCE_WELL_KNOWN, `${PROTECTED_RESOURCE_WELL_KNOWN}/*rest`], async (ctx) => {
    // A query names another identifier (section 3.1 keeps it), and no registered one has a query.
    if (ctx.querystring !== '') return;
    const indicators = ctx.path === PROTECTED_RESOURCE_WELL_KNOWN ? [accountApiIndicator(options.issuer)] : indicatorsAt(options.issuer, ctx.path);
    // Read per request from the (cached) registry: an operator's change to a resource's
    // scopes is what the next client sees. Not in the registry (or gone from it): the 404
    // of any unknown path.
    const resource = indicators && (await registered(indicators));
    if (!resource) return;
    // As cacheable as discovery, which changes just as rarely.
    ctx.set('Cache-Control', `public, max-age=${DISCOVERY_MAX_AGE_SECONDS}`);
    ctx.body = buildProtectedResourceMetadata({ issuer: options.issuer, resource, servedHere: options.servedHere.includes(resource.indicator) });
  });
  return router;
}
