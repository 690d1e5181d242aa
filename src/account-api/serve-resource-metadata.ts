import Router from '@koa/router';

import type { ResourceService } from '../clients/index.ts';
import { DISCOVERY_MAX_AGE_SECONDS } from '../oidc/index.ts';
import { ACCOUNT_API_PATH, accountApiIndicator } from './account-api.ts';
import { buildProtectedResourceMetadata, PROTECTED_RESOURCE_WELL_KNOWN } from './protected-resource-metadata.ts';

// The account API's protected-resource metadata (RFC 9728), where a 401 from it points
// (resource_metadata) and where RFC 9728 section 3.1 puts it for the API's identifier
// (`<issuer>/api` -> `/.well-known/oauth-protected-resource/api`). Also at the bare
// well-known path, where MCP clients look when the path-suffixed one is missing: this host
// serves one protected resource, the account API. (Its `resource` stays the API's
// identifier there, as it must: a client checks it against the URL it asked about.)
// Paths are the issuer's: with an issuer that has a path, the proxy in front routes the
// RFC's host-level URL here, as it does for the engine's RFC 8414 document.

export function createResourceMetadataRouter(options: { issuer: string; resources: ResourceService }): Router {
  const indicator = accountApiIndicator(options.issuer);
  const router = new Router();
  router.get([PROTECTED_RESOURCE_WELL_KNOWN, `${PROTECTED_RESOURCE_WELL_KNOWN}${ACCOUNT_API_PATH}`], async (ctx) => {
    // Read per request from the (cached) registry: an operator's change to the API's scopes
    // is what the next client sees. Gone from the registry, the API has no tokens to offer:
    // the 404 of any unknown path.
    const resource = await options.resources.find(indicator);
    if (!resource) return;
    // As cacheable as discovery, which changes just as rarely.
    ctx.set('Cache-Control', `public, max-age=${DISCOVERY_MAX_AGE_SECONDS}`);
    ctx.body = buildProtectedResourceMetadata({ issuer: options.issuer, resource });
  });
  return router;
}
