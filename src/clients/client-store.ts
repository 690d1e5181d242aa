import { isRecordNotFound, Prisma, withTranslatedErrors, type PrismaClient } from '../db/index.ts';
import { NotFoundError, PreconditionFailedError, ValidationError } from '../errors.ts';
import type { AuthMethodName, ClientTypeName } from './client-input.ts';
import type { JwkSet } from './client-jwks.ts';
import { isPossibleClientId } from './validation.ts';

/** A registered client as stored; the secret stays sealed until the provider needs it. */
export interface ClientRecord {
  readonly clientId: string;
  readonly type: ClientTypeName;
  readonly name: string;
  readonly secretCiphertext: string | null;
  readonly authMethod: AuthMethodName;
  /** private_key_jwt: the public keys inline, or the URL they are published at. */
  readonly jwks: JwkSet | null;
  readonly jwksUri: string | null;
  readonly redirectUris: readonly string[];
  readonly postLogoutRedirectUris: readonly string[];
  readonly corsOrigins: readonly string[];
  readonly grantTypes: readonly string[];
  readonly scopes: readonly string[];
  readonly resources: readonly string[];
  readonly firstParty: boolean;
  /** Every sign-in to this client needs a second factor, whatever MFA says. */
  readonly requireMfa: boolean;
  readonly backchannelLogoutUri: string | null;
  readonly logoUri: string | null;
  readonly clientUri: string | null;
  readonly policyUri: string | null;
  readonly tosUri: string | null;
  /** Its authorization requests must be pushed first (PAR, RFC 9126). */
  readonly requirePushedRequests: boolean;
  /** Its authorization requests must be request objects signed with one of its keys (JAR, RFC 9101). */
  readonly requireSignedRequests: boolean;
  /** Token exchange (oidc/token-exchange.ts): the resource servers the client may exchange a token it holds for. */
  readonly exchangeAudiences: readonly string[];
  /** Token exchange: the new token names the client as the actor (`act`); false impersonates the person. */
  readonly exchangeAct: boolean;
  /** Named in the client's client-credentials JWTs: a new one makes all earlier ones fail. */
  readonly tokenGeneration: string;
  /** operator (CLI, import, admin API) or registration (the client registered itself, RFC 7591). */
  readonly origin: ClientOrigin;
  /** A registered client: the id of the initial access token it was registered with, if any. */
  readonly registrationTokenId: string | null;
  readonly createdAt: Date;
  readonly updatedAt: Date;
}

export type ClientOrigin = 'operator' | 'registration';

export type ClientData = Omit<ClientRecord, 'createdAt' | 'updatedAt' | 'tokenGeneration' | 'origin' | 'registrationTokenId'> & {
  readonly tokenGeneration?: string;
  readonly origin?: ClientOrigin;
  readonly registrationTokenId?: string | null;
};

export interface CreateOptions {
  /**
   * The SHA-256 of an initial access token (registration-token-store.ts): one of its uses is
   * spent in the transaction that writes the client, or nothing is written
   * (RegistrationTokenRefusedError).
   */
  readonly spendRegistrationToken?: string;
}

/** The initial access token had no use left (spent, revoked, expired, unknown) when the client was to be written. */
export class RegistrationTokenRefusedError extends Error {
  constructor() {
    super('the initial access token is spent, expired, revoked or unknown');
    this.name = 'RegistrationTokenRefusedError';
  }
}

export interface ClientStore {
  create(client: ClientData, options?: CreateOptions): Promise<ClientRecord>;
  findById(clientId: string): Promise<ClientRecord | undefined>;
  list(): Promise<ClientRecord[]>;
  /**
   * `ifUpdatedAt`: only if the client is still that version, in the same statement (a
   * PreconditionFailedError otherwise, nothing written): optimistic concurrency.
   */
  update(clientId: string, changes: Partial<Omit<ClientData, 'clientId'>>, options?: { ifUpdatedAt?: Date | undefined }): Promise<ClientRecord>;
  delete(clientId: string): Promise<void>;
}

// Prisma enum identifiers cannot hold a dash; the database value is 'resource-server'.
type DbClientType = 'web' | 'spa' | 'native' | 'service' | 'resource_server';
const toDb = (type: ClientTypeName): DbClientType => (type === 'resource-server' ? 'resource_server' : type);
const fromDb = (type: DbClientType): ClientTypeName => (type === 'resource_server' ? 'resource-server' : type);

function toRecord<T extends { type: DbClientType; jwks: Prisma.JsonValue }>(row: T): Omit<T, 'type' | 'jwks'> & { type: ClientTypeName; jwks: JwkSet | null } {
  // Written only through the registry's validated input (client-jwks.ts).
  return { ...row, type: fromDb(row.type), jwks: row.jwks as unknown as JwkSet | null };
}

/** A JWK Set as a JSON column value; null clears it. */
function jwksColumn(jwks: JwkSet | null): Prisma.InputJsonValue | typeof Prisma.DbNull {
  return jwks === null ? Prisma.DbNull : (jwks as unknown as Prisma.InputJsonValue);
}

function toData(changes: Partial<Omit<ClientData, 'clientId'>>) {
  const { type, redirectUris, postLogoutRedirectUris, corsOrigins, grantTypes, scopes, resources, exchangeAudiences, jwks, ...rest } = changes;
  return {
    ...rest,
    ...(type && { type: toDb(type) }),
    ...(jwks !== undefined && { jwks: jwksColumn(jwks) }),
    ...(redirectUris && { redirectUris: [...redirectUris] }),
    ...(postLogoutRedirectUris && { postLogoutRedirectUris: [...postLogoutRedirectUris] }),
    ...(corsOrigins && { corsOrigins: [...corsOrigins] }),
    ...(grantTypes && { grantTypes: [...grantTypes] }),
    ...(scopes && { scopes: [...scopes] }),
    ...(resources && { resources: [...resources] }),
    ...(exchangeAudiences && { exchangeAudiences: [...exchangeAudiences] }),
  };
}

type Transaction = Parameters<Parameters<PrismaClient['$transaction']>[0]>[0];

/**
 * Holds the resource servers a client is being registered for until the write commits
 * (FOR SHARE): a resource server deleted meanwhile (resource-store.ts takes FOR UPDATE
 * before it looks for clients) either waits for this client and is refused, or is gone
 * and refuses this client. The normaliser checked them before; this closes the gap.
 */
async function holdResources(tx: Transaction, indicators: readonly string[]): Promise<void> {
  if (indicators.length === 0) return;
  const held = await tx.$queryRaw<{ indicator: string }[]>`SELECT indicator FROM resource_servers WHERE indicator = ANY(${[...indicators]}::text[]) FOR SHARE`;
  const missing = indicators.find((indicator) => !held.some((row) => row.indicator === indicator));
  if (missing !== undefined) throw new ValidationError(`resources: ${missing.slice(0, 200)} is not a registered resource server`);
}

/** Spends one use of an initial access token; the registration it was presented with is written only if this succeeds. */
async function spendRegistrationToken(tx: Transaction, tokenHash: string): Promise<string> {
  const spent = await tx.$queryRaw<{ id: string }[]>`UPDATE registration_tokens SET uses_left = uses_left - 1 WHERE token_hash = ${tokenHash} AND uses_left > 0 AND revoked_at IS NULL AND expires_at > now() RETURNING id::text`;
  if (!spent[0]) throw new RegistrationTokenRefusedError();
  return spent[0].id;
}

export function createClientStore(prisma: PrismaClient): ClientStore {
  return {
    async create(client, options = {}) {
      const row = await withTranslatedErrors(`client ${client.clientId}`, () =>
        prisma.$transaction(async (tx) => {
          // The token's row lock is held to the commit: a concurrent registration with it waits, then finds no use left.
          const registrationTokenId = options.spendRegistrationToken === undefined ? client.registrationTokenId : await spendRegistrationToken(tx, options.spendRegistrationToken);
          await holdResources(tx, [...client.resources, ...client.exchangeAudiences]);
          return tx.client.create({
          data: {
            ...client,
            ...(registrationTokenId != null && { registrationTokenId }),
            type: toDb(client.type),
            jwks: jwksColumn(client.jwks),
            redirectUris: [...client.redirectUris],
            postLogoutRedirectUris: [...client.postLogoutRedirectUris],
            corsOrigins: [...client.corsOrigins],
            grantTypes: [...client.grantTypes],
            scopes: [...client.scopes],
            resources: [...client.resources],
            exchangeAudiences: [...client.exchangeAudiences],
          },
          });
        }),
      );
      return toRecord(row);
    },
    async findById(clientId) {
      // An id no client can have is simply not found (the engine then says invalid_client).
      if (!isPossibleClientId(clientId)) return undefined;
      const row = await withTranslatedErrors('client', () => prisma.client.findUnique({ where: { clientId } }));
      return row ? toRecord(row) : undefined;
    },
    async list() {
      const rows = await withTranslatedErrors('client', () => prisma.client.findMany({ orderBy: { createdAt: 'asc' } }));
      return rows.map(toRecord);
    },
    async update(clientId, changes, options = {}) {
      if (!isPossibleClientId(clientId)) throw new NotFoundError(`client ${clientId.slice(0, 100)} not found`);
      const { ifUpdatedAt } = options;
      const row = await withTranslatedErrors(`client ${clientId}`, () =>
        prisma.$transaction(async (tx) => {
          if (changes.resources || changes.exchangeAudiences) await holdResources(tx, [...(changes.resources ?? []), ...(changes.exchangeAudiences ?? [])]);
          return tx.client.update({ where: { clientId, ...(ifUpdatedAt && { updatedAt: ifUpdatedAt }) }, data: toData(changes) }).catch((error: unknown) => {
            // No row of that version (changed, or deleted, since it was read).
            if (ifUpdatedAt && isRecordNotFound(error)) throw new PreconditionFailedError();
            throw error;
          });
        }),
      );
      return toRecord(row);
    },
    async delete(clientId) {
      // As in findById: Postgres refuses a NUL in text, which would be a 500, not a "not found".
      if (!isPossibleClientId(clientId)) throw new NotFoundError(`client ${clientId.slice(0, 100)} not found`);
      await withTranslatedErrors(`client ${clientId}`, () => prisma.client.delete({ where: { clientId } }));
    },
  };
}
