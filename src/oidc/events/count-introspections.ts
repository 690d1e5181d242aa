import type Provider from 'oidc-provider';
import type { KoaContextWithOIDC } from 'oidc-provider';

import type { Metrics } from '../../observability/index.ts';

/** Introspection has no success event: its results are counted as the response leaves. */
export function countIntrospections(provider: Provider, metrics: Metrics): void {
  provider.use(async (ctx, next) => {
    await next();
    const oidc = (ctx as Partial<KoaContextWithOIDC>).oidc;
    if (oidc?.route !== 'introspection') return;
    const body = ctx.body as { active?: unknown } | undefined;
    const result = ctx.status >= 400 ? 'error' : body?.active === true ? 'active' : 'inactive';
    metrics.introspections.inc({ result });
  });
}
