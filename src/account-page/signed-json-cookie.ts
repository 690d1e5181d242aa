import type { Context } from 'koa';
import type { z } from 'zod';

// A small JSON value in a cookie signed with the app's keys (base64url): what a page keeps
// in the browser between two requests when it holds no secret (the account page's session
// names a grant; a sign-in attempt its state, nonce and PKCE verifier). Read back only if
// the signature holds and the value has the schema's shape; anything else is no value.

export function readSignedJson<T>(ctx: Context, name: string, schema: z.ZodType<T>): T | undefined {
  const raw = ctx.cookies.get(name, { signed: true });
  if (!raw) return undefined;
  try {
    const parsed = schema.safeParse(JSON.parse(Buffer.from(raw, 'base64url').toString('utf8')));
    return parsed.success ? parsed.data : undefined;
  } catch {
    return undefined;
  }
}

export function writeSignedJson(ctx: Context, name: string, value: unknown, options: Parameters<Context['cookies']['set']>[2]): void {
  ctx.cookies.set(name, Buffer.from(JSON.stringify(value)).toString('base64url'), { ...options, signed: true });
}
