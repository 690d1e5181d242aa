import { z } from 'zod';

import type { PrismaClient } from '../db/index.ts';
import { withTranslatedErrors } from '../db/index.ts';
import { PreconditionFailedError, toValidationError } from '../errors.ts';
import { nameSchema, roleSchema, scopeTokenSchema } from './validation.ts';

// Resource servers (APIs) are addressed by their RFC 8707 indicator, which is also the
// audience of the tokens issued for them.

export const SIGNING_ALGS = ['ES256', 'RS256'] as const;

export const resourceInputSchema = z
  .object({
    indicator: z
      .string()
      .max(2000)
      .refine((value) => URL.canParse(value), 'must be an absolute URL')
      .refine((value) => !value.includes('#'), 'must not contain a fragment (RFC 8707)'),
    name: nameSchema,
    scopes: z
      .array(
        z.object({
          name: scopeTokenSchema,
          description: z.string().max(500).default(''),
          // RBAC: roles allowed to be granted this scope; empty means every account.
          roles: z.array(roleSchema).max(50).default([]),
        }).strict(),
      )
      .max(200)
      .default([])
      .refine((scopes) => new Set(scopes.map((scope) => scope.name)).size === scopes.length, 'scope names must be unique'),
    accessTokenFormat: z.enum(['jwt', 'opaque']).default('jwt'),
    accessTokenTtl: z.number().int().min(30).max(24 * 3600).default(3600),
    signingAlg: z.enum(SIGNING_ALGS).default('ES256'),
  })
  .strict();

export type ResourceInput = z.output<typeof resourceInputSchema>;

export function parseResourceInput(raw: unknown): ResourceInput {
  const result = resourceInputSchema.safeParse(raw);
  if (!result.success) throw toValidationError(result.error);
  return result.data;
}

export interface ResourceServerRecord {
  readonly indicator: string;
  readonly name: string;
  readonly accessTokenFormat: 'jwt' | 'opaque';
  readonly accessTokenTtl: number;
  readonly signingAlg: string;
  readonly scopes: readonly { readonly name: string; readonly description: string; readonly roles: readonly string[] }[];
  /** The version a change names (the admin API's ETag). */
  readonly updatedAt: Date;
}

export interface ResourceStore {
  /** Creates a new resource server; ConflictError when the indicator is taken. */
  create(resource: ResourceInput): Promise<ResourceServerRecord>;
  /**
   * Creates or replaces the resource server and its whole scope list, atomically.
   * `ifUpdatedAt`: only onto that version of an existing one, checked inside the same
   * transaction (PreconditionFailedError).
   */
  put(resource: ResourceInput, options?: { ifUpdatedAt?: Date | undefined }): Promise<ResourceServerRecord>;
  /** Deletes it with its scopes; false when there was none. */
  delete(indicator: string): Promise<boolean>;
  find(indicator: string): Promise<ResourceServerRecord | undefined>;
  list(): Promise<ResourceServerRecord[]>;
}

const select = {
  indicator: true,
  name: true,
  accessTokenFormat: true,
  accessTokenTtl: true,
  signingAlg: true,
  updatedAt: true,
  scopes: { orderBy: { name: 'asc' as const }, select: { name: true, description: true, roles: true } },
};

export function createResourceStore(prisma: PrismaClient): ResourceStore {
  return {
    create: (resource) =>
      withTranslatedErrors(`resource server ${resource.indicator}`, () => {
        const { scopes, ...fields } = resource;
        // A plain insert: a concurrent create of the same indicator fails on the key.
        return prisma.resourceServer.create({ data: { ...fields, scopes: { create: scopes } }, select });
      }),
    put: (resource, options = {}) =>
      withTranslatedErrors(`resource server ${resource.indicator}`, () => {
        const { scopes, ...fields } = resource;
        const { ifUpdatedAt } = options;
        return prisma.$transaction(async (tx) => {
          if (ifUpdatedAt) {
            // Takes the row's lock: a concurrent change holding the same version waits, then finds it moved.
            const { count } = await tx.resourceServer.updateMany({ where: { indicator: resource.indicator, updatedAt: ifUpdatedAt }, data: fields });
            if (count === 0) throw new PreconditionFailedError();
          }
          await tx.resourceServer.upsert({
            where: { indicator: resource.indicator },
            create: fields,
            update: fields,
          });
          await tx.resourceScope.deleteMany({ where: { resourceIndicator: resource.indicator } });
          await tx.resourceScope.createMany({
            data: scopes.map((scope) => ({ resourceIndicator: resource.indicator, ...scope })),
          });
          return tx.resourceServer.findUniqueOrThrow({ where: { indicator: resource.indicator }, select });
        });
      }),
    async delete(indicator) {
      const { count } = await withTranslatedErrors(`resource server ${indicator}`, () => prisma.resourceServer.deleteMany({ where: { indicator } }));
      return count > 0;
    },
    async find(indicator) {
      const row = await withTranslatedErrors('resource server', () =>
        prisma.resourceServer.findUnique({ where: { indicator }, select }),
      );
      return row ?? undefined;
    },
    list: () =>
      withTranslatedErrors('resource server', () =>
        prisma.resourceServer.findMany({ orderBy: { indicator: 'asc' }, select }),
      ),
  };
}
