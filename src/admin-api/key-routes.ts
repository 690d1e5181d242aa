import type Router from '@koa/router';
import { z } from 'zod';

import type { AccessTokenState } from '../account-api/index.ts';
import { toValidationError } from '../errors.ts';
import { cookieKeyId, keyView, REQUIRED_ALGS } from '../oidc/index.ts';
import { actedBy, bodyObject, type AdminApiDeps, type Guards } from './admin-context.ts';

// /keys: the signing and cookie keys as `portcullis keys list` shows them (kid, use, state,
// when each signs from and may be retired; never key material), and an announced rotation
// as `portcullis keys rotate` starts it: the new keys are published at once and sign only
// after KEY_ANNOUNCE_DELAY, so a rotation breaks no token. Retiring stays with the CLI: a
// forced retire ends live tokens and sessions, which deserves a shell on the machine.

const keyViewSchema = z
  .object({
    kid: z.string(),
    alg: z.string().nullable().describe('null for a cookie key'),
    use: z.enum(['sig', 'cookie']),
    status: z.enum(['announced', 'signing', 'retiring', 'retired']),
    createdAt: z.string(),
    signsFrom: z.string(),
    stoppedSigningAt: z.string().nullable(),
    retirableAt: z.string().nullable(),
    retiredAt: z.string().nullable(),
  })
  .strict();

export const keyListSchema = z.object({ keys: z.array(keyViewSchema) }).strict();

const keyQuerySchema = z.object({ all: z.enum(['true', 'false']).default('false').describe('include retired keys') }).strict();

export const rotateKeysSchema = z
  .object({
    algs: z
      .array(z.enum(REQUIRED_ALGS))
      .max(REQUIRED_ALGS.length)
      .refine((algs) => new Set(algs).size === algs.length, 'each algorithm once')
      .optional()
      .describe('signing algorithms to rotate, each once; none given and no cookie: every one'),
    cookie: z.boolean().default(false).describe('rotate the cookie key too (alone, without algs)'),
  })
  .strict();

export const rotatedKeysSchema = z
  .object({
    announced: z.array(z.object({ kid: z.string(), use: z.enum(['sig', 'cookie']), signsFrom: z.string() }).strict()),
  })
  .strict();

export function addKeyRoutes(router: Router<AccessTokenState>, guards: Guards, deps: Pick<AdminApiDeps, 'keyRotation'>): void {
  const rotation = deps.keyRotation;

  router.get('/keys', guards.read, async (ctx) => {
    const parsed = keyQuerySchema.safeParse(ctx.query);
    if (!parsed.success) throw toValidationError(parsed.error);
    const all = parsed.data.all === 'true';
    ctx.body = { keys: (await rotation.list()).filter((key) => all || key.state !== 'retired').map(keyView) };
  });

  // Refused (409) while a kind already has an announced key; audited as key.created with the actor.
  router.post('/keys/rotate', guards.write, async (ctx) => {
    const parsed = rotateKeysSchema.safeParse(bodyObject(ctx, true));
    if (!parsed.success) throw toValidationError(parsed.error);
    const { algs, cookie } = parsed.data;
    const applied = await rotation.rotate({ ...(algs && { algs }), cookie }, actedBy(ctx));
    ctx.body = {
      announced: [
        ...applied.signing.map((key) => ({ kid: key.kid, use: 'sig' as const, signsFrom: key.activatesAt.toISOString() })),
        ...applied.cookies.map((key) => ({ kid: cookieKeyId(key.id), use: 'cookie' as const, signsFrom: key.activatesAt.toISOString() })),
      ],
    };
  });
}
