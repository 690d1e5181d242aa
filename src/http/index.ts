// Cross-cutting HTTP: the middleware every surface shares, the listeners and health. Code
// outside http/ imports it from here.
export { accessLog } from './access-log.ts';
export { closeServer } from './close-server.ts';
export { apiCors, createOriginAllowlist, enforceProviderCors } from './cors.ts';
export { errorHandler, type RenderErrorPage } from './error-handler.ts';
export { createHealth, type Health } from './health.ts';
export { createManagementApp } from './management-app.ts';
export { requestMetrics } from './metrics-middleware.ts';
export { originFormTarget, pinIssuerOrigin } from './pin-issuer-origin.ts';
export { routedPath } from './routed-path.ts';
export { requestId } from './request-id.ts';
export { markPageError } from './response-error.ts';
export { cspNonce, securityHeaders } from './security-headers.ts';
export { checkProxyHeaders, dropMalformedForwardedFor } from './tls-proxy-headers.ts';
export { createPublicServer } from './public-server.ts';
export { enginePath } from './engine-paths.ts';
