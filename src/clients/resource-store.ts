import { z } from 'zod';

import type { PrismaClient } from '../db/index.ts';
import { withTranslatedErrors } from '../db/index.ts';
import { ConflictError, PreconditionFailedError, toValidationError } from '../errors.ts';
import { nameSchema, NO_CONTROL_CHARACTERS, noControlCharacters, roleSchema, scopeTokenSchema } from './validation.ts';

// Resource servers (APIs) are addressed by their RFC 8707 indicator, which is also the
// audience of the tokens issued for them.

export const SIGNING_ALGS = ['ES256', 'RS256'] as const;

export const resourceInputSchema = z
  .object({
    indicator: z
      .string()
      .max(2000)
      // In bytes too: it is a primary key, and Postgres indexes keys of at most 2704 bytes.
      .refine((value) => Buffer.byteLength(value) <= 2000, 'must be at most 2000 bytes')
      .refine(noControlCharacters, NO_CONTROL_CHARACTERS)
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
  /** Deletes it with its scopes; ConflictError while a client is registered for it; false when there was none. */
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
            // Only onto that version, which takes the row's lock: a concurrent change holding
            // the same version waits, then finds it moved.
            const { count } = await tx.resourceServer.updateMany({ where: { indicator: resource.indicator, updatedAt: ifUpdatedAt }, data: fields });
            if (count === 0) throw new PreconditionFailedError();
          } else {
            await tx.resourceServer.upsert({ where: { indicator: resource.indicator }, create: fields, update: fields });
          }
          await tx.resourceScope.deleteMany({ where: { resourceIndicator: resource.indicator } });
          await tx.resourceScope.createMany({
            data: scopes.map((scope) => ({ resourceIndicator: resource.indicator, ...scope })),
          });
          return tx.resourceServer.findUniqueOrThrow({ where: { indicator: resource.indicator }, select });
        });
      }),
    delete: (indicator) =>
      withTranslatedErrors(`resource server ${indicator}`, () =>
        prisma.$transaction(async (tx) => {
          // The row first (FOR UPDATE), then its clients: a client being registered for it
          // holds it FOR SHARE (client-store.ts), so either that client is seen here or it
          // finds the resource server gone.
          const [row] = await tx.$queryRaw<{ indicator: string }[]>`SELECT indicator FROM resource_servers WHERE indicator = ${indicator} FOR UPDATE`;
          if (!row) return false;
          const holders = await tx.$queryRaw<{ client_id: string }[]>`SELECT client_id FROM clients WHERE ${indicator} = ANY(resources) OR ${indicator} = ANY(exchange_audiences) ORDER BY client_id LIMIT 6`;
          if (holders.length > 0) {
            const named = holders.slice(0, 5).map((holder) => holder.client_id).join(', ');
            throw new ConflictError(`resource server ${indicator.slice(0, 200)} has clients registered for it (${named}${holders.length > 5 ? ', …' : ''}): change their resources (and exchange audiences) first`);
          }
          await tx.resourceServer.delete({ where: { indicator } });
          return true;
        }),
      ),
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
