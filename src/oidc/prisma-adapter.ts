import type { Adapter, AdapterPayload } from 'oidc-provider';
import { errors } from './engine.ts';

import type { Prisma, PrismaClient } from '../db/index.ts';
import { translatePrismaError } from '../db/index.ts';
import { createBearerLookups, type BearerLookups, type BearerModel } from './bearer-lookups.ts';
import type { RefreshRotationHooks } from './refresh-rotation.ts';
import { HASHED_MODELS, storedId } from './token-id.ts';
import type { RefreshRotationStore } from './token-store.ts';

// oidc-provider's storage seam over Prisma: one table per model (see schema.prisma).
// Promised semantics, each covered by test/oidc/prisma-adapter.integration.test.ts:
// - find/findByUid return undefined for a missing or expired row, and for an id that
//   cannot exist (NUL), never a database error;
// - bearer values (tokens, codes, session ids) are stored only as their
//   SHA-256 (token-id.ts), and their payloads without the value itself (the engine's
//   `jti`): find puts the value it was asked for back;
// - after consume, find returns the payload with `consumed` (epoch seconds);
// - consume is atomic: of two concurrent consumptions of one authorization code exactly
//   one succeeds, the other fails with invalid_grant (not a 500); refresh tokens are
//   consumed through their rotation (refresh-rotation.ts), with the same guarantee;
// - revokeByGrantId deletes the model's rows of that grant (the engine calls it per model).

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

type Columns = (payload: AdapterPayload) => Record<string, string | null | undefined>;

interface ModelDescriptor {
  delegate(prisma: PrismaClient): OidcDelegate;
  /** Lookup columns copied out of the payload. */
  columns: Columns;
  /** Rows of a grant: deleted with it. */
  byGrant?: boolean;
}

const none: Columns = () => ({});
const grantColumn: Columns = (payload) => ({ grantId: payload.grantId ?? null });

// Prisma's generated delegates differ in their argument types, not in the shape used here.
const delegates = (prisma: PrismaClient): Record<string, unknown> => ({
  Session: prisma.oidcSession,
  Interaction: prisma.oidcInteraction,
  Grant: prisma.oidcGrant,
  AuthorizationCode: prisma.oidcAuthorizationCode,
  AccessToken: prisma.oidcAccessToken,
  RefreshToken: prisma.oidcRefreshToken,
  ClientCredentials: prisma.oidcClientCredentials,
  PushedAuthorizationRequest: prisma.oidcPushedAuthorizationRequest,
  ReplayDetection: prisma.oidcReplayDetection,
});

const MODELS: Record<string, Omit<ModelDescriptor, 'delegate'>> = {
  Session: { columns: (payload) => ({ uid: payload.uid, accountId: payload.accountId ?? null }) },
  Interaction: { columns: none },
  Grant: { columns: (payload) => ({ accountId: payload.accountId ?? null, clientId: payload.clientId ?? null }) },
  AuthorizationCode: { columns: grantColumn, byGrant: true },
  AccessToken: { columns: grantColumn, byGrant: true },
  RefreshToken: { columns: grantColumn, byGrant: true },
  ClientCredentials: { columns: none },
  PushedAuthorizationRequest: { columns: none },
  ReplayDetection: { columns: none },
};

export const PERSISTED_MODELS = Object.freeze(Object.keys(MODELS));

async function translated<T>(work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (error) {
    throw translatePrismaError(error, 'oidc record');
  }
}

/** A lease no claim outlives: without rotation hooks a consumed refresh token stays consumed. */
const NEVER_MS = 100 * 365 * 24 * 3600 * 1000;

/** Postgres refuses NUL in text: an id holding one cannot exist (hashed ids never do). */
const impossible = (id: string) => id.includes('\u0000');

/** Whether a value holds a NUL anywhere (keys included): Postgres refuses it in jsonb (22P05). */
function holdsNul(value: unknown, depth = 0): boolean {
  if (typeof value === 'string') return value.includes('\u0000');
  if (typeof value !== 'object' || value === null || depth > 32) return false;
  return Object.entries(value).some(([key, item]) => key.includes('\u0000') || holdsNul(item, depth + 1));
}

/** A request object (a pushed request stores the request's parameters as one), decoded; undefined when it is none. */
function requestObjectClaims(request: unknown): unknown {
  if (typeof request !== 'string') return undefined;
  const [, body] = request.split('.');
  try {
    return body ? (JSON.parse(Buffer.from(body, 'base64url').toString('utf8')) as unknown) : undefined;
  } catch {
    return undefined;
  }
}

/**
 * A NUL in a parameter the engine stores (state, nonce, login_hint, a pushed request ...)
 * is the sender's error: refused as invalid_request before anything is written, rather
 * than a database error (a 500) half-way through a request.
 */
function refuseNul(payload: AdapterPayload): void {
  if (holdsNul(payload) || holdsNul(requestObjectClaims(payload.request))) {
    throw new errors.InvalidRequest('a parameter holds a NUL character');
  }
}

/**
 * What a second consume means, for the models redeemed once. The engine checks `consumed`,
 * then consumes: of two concurrent redemptions both would pass the check, so only the one
 * whose update matched may go on. (Refresh tokens rotate through refresh-rotation.ts.)
 */
const ALREADY_CONSUMED: Partial<Record<string, () => Error>> = {
  AuthorizationCode: () => new errors.InvalidGrant('authorization code already used'),
  PushedAuthorizationRequest: () => new errors.InvalidRequestUri('request_uri is invalid, expired, or was already used'),
};

function live(row: { expiresAt: Date | null } | null | undefined): boolean {
  return row !== null && row !== undefined && !(row.expiresAt && row.expiresAt.getTime() <= Date.now());
}

class PrismaModelAdapter implements Adapter {
  readonly #model: string;
  readonly #descriptor: ModelDescriptor;
  readonly #delegate: OidcDelegate;
  readonly #hashed: boolean;
  /** For the models a presented token may be (bearer-lookups.ts): concurrent lookups of one value, one query. */
  protected readonly lookups: BearerLookups | undefined;

  constructor(model: string, descriptor: ModelDescriptor, prisma: PrismaClient, lookups?: BearerLookups) {
    this.#model = model;
    this.#descriptor = descriptor;
    this.#delegate = descriptor.delegate(prisma);
    this.#hashed = HASHED_MODELS.has(model);
    this.lookups = lookups;
  }

  protected key(id: string): string {
    return storedId(this.#model, id);
  }

  /** The payload as the engine stored it, with the value it was found by as `jti`. */
  protected toPayload(stored: unknown, value: string | undefined, consumedAt?: Date | null): AdapterPayload {
    const payload = { ...(stored as AdapterPayload) };
    if (this.#hashed && value !== undefined) payload.jti = value;
    if (consumedAt) payload.consumed = Math.floor(consumedAt.getTime() / 1000);
    return payload;
  }

  protected extraColumns(): Record<string, string | undefined> {
    return {};
  }

  async upsert(id: string, payload: AdapterPayload, expiresIn: number): Promise<void> {
    refuseNul(payload);
    const key = this.key(id);
    let stored: AdapterPayload = payload;
    if (this.#hashed) {
      const { jti: _value, ...rest } = payload;
      stored = rest;
    }
    const data = {
      payload: stored as Prisma.InputJsonValue,
      expiresAt: expiresIn ? new Date(Date.now() + expiresIn * 1000) : null,
      ...this.#descriptor.columns(payload),
      ...this.extraColumns(),
    };
    await translated(() => this.#delegate.upsert({ where: { id: key }, create: { id: key, ...data }, update: data }));
  }

  async find(id: string): Promise<AdapterPayload | undefined> {
    if (!this.#hashed && impossible(id)) return undefined;
    if (this.lookups) {
      const looked = await translated(() => this.lookups!.lookup(this.#model as BearerModel, this.key(id)));
      if (!looked.alone) return looked.row && live(looked.row) ? this.toPayload(looked.row.payload, id) : undefined;
    }
    const row = await translated(() => this.#delegate.findUnique({ where: { id: this.key(id) } }));
    return live(row) ? this.toPayload(row!.payload, id, row!.consumedAt) : undefined;
  }

  async findByUid(uid: string): Promise<AdapterPayload | undefined> {
    if (this.#model !== 'Session' || impossible(uid)) return undefined;
    const row = await translated(() => this.#delegate.findUnique({ where: { uid } }));
    // Found by uid, the session's own id (its cookie value) is unknown: only its hash is
    // stored. The engine reads such a session and never saves it.
    return live(row) ? this.toPayload(row!.payload, undefined) : undefined;
  }

  findByUserCode(): Promise<AdapterPayload | undefined> {
    // Device flow is disabled; nothing is ever stored by user code.
    return Promise.resolve(undefined);
  }

  async consume(id: string): Promise<void> {
    const { count } = await translated(() =>
      this.#delegate.updateMany({ where: { id: this.key(id), consumedAt: null }, data: { consumedAt: new Date() } }),
    );
    const spent = count === 0 ? ALREADY_CONSUMED[this.#model] : undefined;
    if (spent) throw spent();
  }

  async destroy(id: string): Promise<void> {
    if (!this.#hashed && impossible(id)) return;
    await translated(() => this.#delegate.deleteMany({ where: { id: this.key(id) } }));
  }

  async revokeByGrantId(grantId: string): Promise<void> {
    if (this.#descriptor.byGrant && !impossible(grantId)) {
      await translated(() => this.#delegate.deleteMany({ where: { grantId } }));
    }
  }
}

/**
 * Refresh tokens: read with where their rotation stands, and consumed through the
 * rotation's claim (refresh-rotation.ts) instead of a plain update.
 */
class RefreshTokenAdapter extends PrismaModelAdapter {
  readonly #store: RefreshRotationStore;
  readonly #rotation: RefreshRotationHooks | undefined;

  constructor(descriptor: ModelDescriptor, prisma: PrismaClient, store: RefreshRotationStore, rotation: RefreshRotationHooks | undefined, lookups: BearerLookups) {
    super('RefreshToken', descriptor, prisma, lookups);
    this.#store = store;
    this.#rotation = rotation;
  }

  protected override extraColumns(): Record<string, string | undefined> {
    const from = this.#rotation?.rotatedFrom();
    return from ? { rotatedFrom: from } : {};
  }

  override async find(id: string): Promise<AdapterPayload | undefined> {
    const key = this.key(id);
    // Asked for together with other models (introspection): read with where its rotation
    // stands only if the batch found the row.
    const looked = await translated(() => this.lookups!.lookup('RefreshToken', key));
    if (!looked.alone && !looked.row) return undefined;
    const row = await this.#store.findRefreshToken(key);
    if (!row || !live(row)) return undefined;
    if (row.claimAgeMs === undefined || this.#rotation?.presentAsUnused(key, row.grantId, row)) return this.toPayload(row.payload, id);
    return this.toPayload(row.payload, id, new Date(Date.now() - row.claimAgeMs));
  }

  override async consume(id: string): Promise<void> {
    const key = this.key(id);
    if (this.#rotation) {
      await this.#rotation.consume(key);
      return;
    }
    const outcome = await this.#store.claimRefreshToken(key, 'unrotated', NEVER_MS);
    if (outcome === 'refused') throw new errors.InvalidGrant('refresh token already used');
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
  store: RefreshRotationStore;
  loadClient: (clientId: string) => Promise<AdapterPayload | undefined>;
  rotation?: RefreshRotationHooks;
}): AdapterFactory {
  const table = delegates(deps.prisma);
  const lookups = createBearerLookups(deps.prisma);
  return (model: string) => {
    if (model === 'Client') return new RegistryClientAdapter(deps.loadClient);
    const known = MODELS[model];
    if (!known) throw new Error(`oidc model ${model} has no table; enable its feature only after adding one`);
    const descriptor: ModelDescriptor = { ...known, delegate: () => table[model] as OidcDelegate };
    if (model === 'RefreshToken') return new RefreshTokenAdapter(descriptor, deps.prisma, deps.store, deps.rotation, lookups);
    const bearer = model === 'AccessToken' || model === 'ClientCredentials';
    return new PrismaModelAdapter(model, descriptor, deps.prisma, bearer ? lookups : undefined);
  };
}
