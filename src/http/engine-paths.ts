import type Provider from 'oidc-provider';

/**
 * The path an engine endpoint is routed at in this app: the engine is mounted at the root,
 * whatever path ISSUER has (its discovery names the endpoints at the issuer's origin; the
 * proxy routes them there). The engine's own pathFor puts the issuer's path in front, which
 * no request carries here: keyed on it, a budget, throttle or guard would never match.
 */
export function enginePath(provider: Pick<Provider, 'pathFor'>, name: string, options: Record<string, string> = {}): string {
  return provider.pathFor(name, { ...options, mountPath: '' });
}
