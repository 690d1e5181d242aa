import { errors, type Adapter, type AdapterPayload } from 'oidc-provider';

import type { Prisma, PrismaClient } from '../db/index.ts';
import { translatePrismaError } from '../db/index.ts';
import type { RefreshGraceHooks } from './refresh-grace.ts';

// oidc-provider's storage seam over Prisma: one table per model (see schema.prisma).
// Promised semantics, each covered by test/integration/prisma-adapter.test.ts:
// - find/findByUid return undefined for a missing or expired row;
// - after consume, find returns the payload with `consumed` (epoch seconds);
// - consume is atomic: of two concurrent consumptions of one authorization code or refresh
//   token exactly one succeeds, the other fails with invalid_grant (not a 500), so two
//   parallel redemptions can never both yield tokens;
// - revokeByGrantId deletes the model's rows of that grant (the engine calls it per model);
// - a refresh token consumed inside the grace window is shown to the engine as not yet
//   consumed, and the request flagged, so the engine does not mistake a retry for reuse
//   (see refresh-grace.ts).

interface Row {
  payload: unknown;
  expiresAt: Date | null;
  consumedAt?: Date | null;
}

/** The slice of a Prisma delegate the adapter uses; every oidc table satisfies it. */
interface OidcDelegate {
  upsert(args: { where: { id: string }; create: object; update: object }): Promise<unknown>;
  findUnique(args: { where: { id: string } | { uid: string } }): Promise<Row | null>;
  updateMany(args: { where: object; data: object }): Promise<{ count: number }>;
  deleteMany(args: { where: object }): Promise<{ count: number }>;
}

interface ModelDescriptor {
  delegate(prisma: PrismaClient): OidcDelegate;
  /** Lookup columns copied out of the payload. */
  columns(payload: AdapterPayload): Record<string, string | null | undefined>;
  /** Consumed twice means a replay: fail the second with invalid_grant. */
  replayIsInvalidGrant?: boolean;
}

const none = () => ({});
const byGrant = (payload: AdapterPayload) => ({ grantId: payload.grantId ?? null });

const MODELS: Record<string, ModelDescriptor> = {
  Session: {
    delegate: (prisma) => prisma.oidcSession as unknown as OidcDelegate,
    columns: (payload) => ({ uid: payload.uid, accountId: payload.accountId ?? null }),
  },
  Interaction: { delegate: (prisma) => prisma.oidcInteraction as unknown as OidcDelegate, columns: none },
  Grant: {
    delegate: (prisma) => prisma.oidcGrant as unknown as OidcDelegate,
    columns: (payload) => ({ accountId: payload.accountId ?? null, clientId: payload.clientId ?? null }),
  },
  AuthorizationCode: {
    delegate: (prisma) => prisma.oidcAuthorizationCode as unknown as OidcDelegate,
    columns: byGrant,
    replayIsInvalidGrant: true,
  },
  AccessToken: { delegate: (prisma) => prisma.oidcAccessToken as unknown as OidcDelegate, columns: byGrant },
  RefreshToken: {
    delegate: (prisma) => prisma.oidcRefreshToken as unknown as OidcDelegate,
    columns: byGrant,
    replayIsInvalidGrant: true,
  },
  ClientCredentials: { delegate: (prisma) => prisma.oidcClientCredentials as unknown as OidcDelegate, columns: none },
  PushedAuthorizationRequest: {
    delegate: (prisma) => prisma.oidcPushedAuthorizationRequest as unknown as OidcDelegate,
    columns: none,
  },
  ReplayDetection: { delegate: (prisma) => prisma.oidcReplayDetection as unknown as OidcDelegate, columns: none },
};

export const PERSISTED_MODELS = Object.freeze(Object.keys(MODELS));

async function translated<T>(work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (error) {
    throw translatePrismaError(error, 'oidc record');
  }
}

function toPayload(row: Row | null): AdapterPayload | undefined {
  if (!row) return undefined;
  if (row.expiresAt && row.expiresAt.getTime() <= Date.now()) return undefined;
  const payload = row.payload as AdapterPayload;
  if (row.consumedAt) return { ...payload, consumed: Math.floor(row.consumedAt.getTime() / 1000) };
  return payload;
}

class PrismaModelAdapter implements Adapter {
  readonly #model: string;
  readonly #descriptor: ModelDescriptor;
  readonly #delegate: OidcDelegate;
  readonly #grace: RefreshGraceHooks | undefined;

  constructor(model: string, descriptor: ModelDescriptor, prisma: PrismaClient, grace?: RefreshGraceHooks) {
    this.#model = model;
    this.#descriptor = descriptor;
    this.#delegate = descriptor.delegate(prisma);
    this.#grace = model === 'RefreshToken' ? grace : undefined;
  }

  async upsert(id: string, payload: AdapterPayload, expiresIn: number): Promise<void> {
    const data = {
      payload: payload as Prisma.InputJsonValue,
      expiresAt: expiresIn ? new Date(Date.now() + expiresIn * 1000) : null,
      ...this.#descriptor.columns(payload),
    };
    await translated(() => this.#delegate.upsert({ where: { id }, create: { id, ...data }, update: data }));
  }

  async find(id: string): Promise<AdapterPayload | undefined> {
    const row = await translated(() => this.#delegate.findUnique({ where: { id } }));
    if (row?.consumedAt && this.#grace?.isInGrace(id, row.consumedAt)) {
      return toPayload({ ...row, consumedAt: null });
    }
    return toPayload(row);
  }

  async findByUid(uid: string): Promise<AdapterPayload | undefined> {
    if (this.#model !== 'Session') return undefined;
    return toPayload(await translated(() => this.#delegate.findUnique({ where: { uid } })));
  }

  findByUserCode(): Promise<AdapterPayload | undefined> {
    // Device flow is disabled; nothing is ever stored by user code.
    return Promise.resolve(undefined);
  }

  async consume(id: string): Promise<void> {
    const { count } = await translated(() =>
      this.#delegate.updateMany({ where: { id, consumedAt: null }, data: { consumedAt: new Date() } }),
    );
    if (count === 0 && this.#grace) {
      // Lost a race to a concurrent refresh: flag it for the grace window if it applies.
      const row = await translated(() => this.#delegate.findUnique({ where: { id } }));
      if (row?.consumedAt) this.#grace.isInGrace(id, row.consumedAt);
    }
    if (count === 0 && this.#descriptor.replayIsInvalidGrant) {
      throw new errors.InvalidGrant(`${this.#model === 'RefreshToken' ? 'refresh token' : 'authorization code'} already used`);
    }
  }

  async destroy(id: string): Promise<void> {
    await translated(() => this.#delegate.deleteMany({ where: { id } }));
  }

  async revokeByGrantId(grantId: string): Promise<void> {
    if (this.#descriptor.columns === byGrant) {
      await translated(() => this.#delegate.deleteMany({ where: { grantId } }));
    }
  }
}

/** Clients are read from our registry: the provider never writes them. */
class RegistryClientAdapter implements Adapter {
  readonly #load: (clientId: string) => Promise<AdapterPayload | undefined>;
  constructor(load: (clientId: string) => Promise<AdapterPayload | undefined>) {
    this.#load = load;
  }
  find(id: string) {
    return this.#load(id);
  }
  upsert(): Promise<void> {
    return Promise.reject(new Error('clients are managed through the registry, not the provider'));
  }
  findByUid() {
    return Promise.resolve(undefined);
  }
  findByUserCode() {
    return Promise.resolve(undefined);
  }
  consume(): Promise<void> {
    return Promise.reject(new Error('clients cannot be consumed'));
  }
  destroy(): Promise<void> {
    return Promise.reject(new Error('clients are managed through the registry, not the provider'));
  }
  revokeByGrantId() {
    return Promise.resolve();
  }
}

export type AdapterFactory = (model: string) => Adapter;

export function createPrismaAdapterFactory(deps: {
  prisma: PrismaClient;
  loadClient: (clientId: string) => Promise<AdapterPayload | undefined>;
  refreshGrace?: RefreshGraceHooks;
}): AdapterFactory {
  return (model: string) => {
    if (model === 'Client') return new RegistryClientAdapter(deps.loadClient);
    const descriptor = MODELS[model];
    if (!descriptor) throw new Error(`oidc model ${model} has no table; enable its feature only after adding one`);
    return new PrismaModelAdapter(model, descriptor, deps.prisma, deps.refreshGrace);
  };
}
