import { calculateJwkThumbprint, decodeProtectedHeader } from 'jose';
import type { KoaContextWithOIDC } from 'oidc-provider';

// Who may get a rotation's stored response again inside the grace window (refresh-rotation.ts).
// Rules, each one a refusal when it fails:
// - the same client,
// - authenticated the same way (token endpoint auth method),
// - proving the same DPoP key (or, both, none),
// - asking for the same scope and resources;
// - a public client without DPoP proves nothing (anyone holding the old token could pass
//   for it), so it never gets a repeat: its retry is reuse.

/** Whom a rotation answered and what it was asked: a retry must match it to be repeated the answer. */
export interface RotationBinding {
  readonly clientId: string;
  readonly authMethod: string;
  /** The JWK thumbprint of the DPoP proof that came with the request, if one did. */
  readonly jkt: string | null;
  /**
   * What the request asked for (scope, resources), in one comparable form. Absent from a
   * reply stored by a version before this rule (a rolling deploy): not compared then, rather
   * than revoking a rightful client's family for it.
   */
  readonly asked?: string;
}

/** Whether a retry bound as `retry` may be given the response of the rotation bound as `first`. */
export function mayRepeat(first: RotationBinding, retry: RotationBinding | undefined): boolean {
  if (retry === undefined) return false;
  const provesItself = first.authMethod !== 'none' || first.jkt !== null;
  return (
    provesItself &&
    first.clientId === retry.clientId &&
    first.authMethod === retry.authMethod &&
    first.jkt === retry.jkt &&
    (first.asked === undefined || first.asked === retry.asked)
  );
}

/** The request's binding; undefined when the engine has no authenticated client for it. */
export async function bindingOf(ctx: KoaContextWithOIDC): Promise<RotationBinding | undefined> {
  const client = ctx.oidc.client;
  if (client === undefined) return undefined;
  return {
    clientId: client.clientId,
    authMethod: client.clientAuthMethod ?? 'none',
    jkt: await proofThumbprint(ctx),
    asked: askedFor(ctx),
  };
}

/** The request's scope and resource parameters, in one comparable form. */
function askedFor(ctx: KoaContextWithOIDC): string {
  const params = (ctx.oidc.params ?? {}) as { scope?: unknown; resource?: unknown };
  const resource = ([] as unknown[]).concat(params.resource ?? []).map(String).sort();
  return JSON.stringify([typeof params.scope === 'string' ? params.scope : null, resource]);
}

/** The thumbprint of the key of the request's DPoP proof (the engine has verified the proof by the time this is asked). */
async function proofThumbprint(ctx: KoaContextWithOIDC): Promise<string | null> {
  const proof = ctx.get('DPoP');
  if (!proof) return null;
  try {
    const { jwk } = decodeProtectedHeader(proof);
    return jwk ? await calculateJwkThumbprint(jwk) : null;
  } catch {
    return null;
  }
}
