import type { Config } from '../config/index.ts';
import type { RotationPolicy } from './key-rotation.ts';
import { COOKIE_KIND } from './signing-keys.ts';

/** oidc-provider's interaction cookies live this long (provider-config.ts ttl.Interaction). */
const INTERACTION_SECONDS = 3600;

/**
 * The rotation rules from the configuration and the registry, read when a plan needs them:
 * a signing key may have signed ID tokens (ID_TOKEN_TTL) and JWT access tokens
 * (ACCESS_TOKEN_TTL, or a resource server's own lifetime: the longest registered counts);
 * a cookie key signed session and interaction cookies. Every instance switches keys by the
 * clock, so KEY_REFRESH_INTERVAL is added as a margin for clock skew between them.
 */
export function createKeyPolicy(config: Config, resources: { list(): Promise<readonly { accessTokenTtl: number }[]> }): () => Promise<RotationPolicy> {
  return async () => {
    const resourceTtls = (await resources.list()).map((resource) => resource.accessTokenTtl);
    const signing = Math.max(config.ttl.accessToken, config.ttl.idToken, ...resourceTtls);
    const cookie = Math.max(config.ttl.session, INTERACTION_SECONDS);
    return {
      announceSeconds: config.keys.announceDelay,
      rotationDays: config.keys.rotationDays,
      marginSeconds: config.keys.refreshInterval,
      lifetimeSeconds: (kind) => (kind === COOKIE_KIND ? cookie : signing),
    };
  };
}
