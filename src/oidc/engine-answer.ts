import type { Context } from 'koa';
import type { KoaContextWithOIDC } from 'oidc-provider';

import { looksLikeJwt } from './access-token-verifier.ts';

// What the introspection and revocation extensions start from: the engine's answer at its
// endpoint, once it has authenticated the client and read a token. Nothing to complete when
// the client or the token is missing, or when the engine refused for another reason than a
// JWT it does not store (`unsupported_token_type`).

export interface EngineAnswer<Body> {
  readonly ctx: KoaContextWithOIDC;
  readonly client: NonNullable<KoaContextWithOIDC['oidc']['client']>;
  readonly token: string;
  readonly body: Body | undefined;
  /** The engine refused the token as a JWT access token, which it does not store. */
  readonly refusedJwt: boolean;
}

export function engineAnswer<Body extends { error?: string }>(koaCtx: Context, route: 'introspection' | 'revocation'): EngineAnswer<Body> | undefined {
  const ctx = koaCtx as unknown as KoaContextWithOIDC;
  if (ctx.oidc?.route !== route) return undefined;
  const client = ctx.oidc.client;
  const token = ctx.oidc.params?.token;
  if (!client || typeof token !== 'string') return undefined;
  const body = ctx.body as Body | undefined;
  const refusedJwt = body?.error === 'unsupported_token_type' && looksLikeJwt(token);
  if (ctx.status !== 200 && !refusedJwt) return undefined;
  return { ctx, client, token, body, refusedJwt };
}
