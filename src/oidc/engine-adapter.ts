import type { Adapter, AdapterPayload } from 'oidc-provider';
import { errors } from './engine.ts';

import type { Sealer } from '../crypto/index.ts';
import { translatePrismaError, type Sql } from '../db/index.ts';
import { createBearerLookups, type BearerLookups, type BearerModel } from './bearer-lookups.ts';
import type { RefreshRotationHooks } from './refresh-rotation.ts';
import { ENDED_SESSION } from './ended-session.ts';
import { HASHED_MODELS, storedId } from './token-id.ts';
import type { RefreshRotationStore } from './token-store.ts';

// oidc-provider's storage seam: one table per model (see schema.prisma), read and written
// with plain SQL on the pool (db/sql.ts says why not through Prisma). Every value is a
// parameter; table and column names come only from the constants below.
// Promised semantics, each covered by test/oidc/engine-adapter.integration.test.ts:
// - find/findByUid return undefined for a missing or expired row, and for an id that
//   cannot exist (NUL), never a database error;
// - bearer values (tokens, codes, session ids) are stored only as their
//   SHA-256 (token-id.ts), and their payloads without the value itself (the engine's
//   `jti`): find puts the value it was asked for back;
// - after consume, find returns the payload with `consumed` (epoch seconds);
// - consume is atomic: of two concurrent consumptions of one authorization code exactly
//   one succeeds, the other fails with invalid_grant (not a 500); refresh tokens are
//   consumed through their rotation (refresh-rotation.ts), with the same guarantee;
// - revokeByGrantId deletes the model's rows of that grant (the engine calls it per model);
// - the successor of a refresh-token rotation is written only with the rotation's
//   completion, in one statement (token-store.ts): never a successor without a completed
//   rotation, never a completed rotation without its successor.

interface Row {
  payload: unknown;
  expires_at: Date | null;
  consumed_at?: Date | null;
}

/** A row about to be written: stored id, payload without the bearer value, lookup columns. */
interface EngineRow {
  readonly id: string;
  readonly payload: AdapterPayload;
  readonly expiresAt: Date | null;
  readonly columns: Record<string, string | null>;
}

/** Lookup columns (SQL names) copied out of the payload. */
type Columns = (payload: AdapterPayload) => Record<string, string | null>;

interface Table {
  readonly name: string;
  /** The lookup columns this table has, in the order `columns` gives them. */
  readonly columnNames: readonly string[];
  readonly columns: Columns;
  /** Has consumed_at: redeemed once. */
  readonly consumable?: boolean;
  /** Rows of a grant: deleted with it. */
  readonly byGrant?: boolean;
  /**
   * Seconds a row is kept (and found) past the engine's own expiry, which the engine then
   * judges from the payload's `exp`: a device polling with an expired device code is told
   * expired_token (RFC 8628 3.5), not that the code never existed.
   */
  readonly keptAfterExpiry?: number;
  /** Has ended_at: destroy marks the row ended (ENDED_SESSION); an ended row is never found, nor saved over. */
  readonly endable?: boolean;
}

const none: Columns = () => ({});
const grantColumn: Columns = (payload) => ({ grant_id: payload.grantId ?? null });

// One table per model (schema.prisma), all of one shape: id, payload, expires_at, and the
// columns the model is looked up by.
const TABLES: Record<string, Table> = {
  // Ended, not deleted (see ENDED_SESSION): every request that loaded a session saves it
  // again as it finishes, which would bring a deleted row back.
  Session: { name: 'oidc_sessions', columnNames: ['uid', 'account_id'], columns: (p) => ({ uid: p.uid ?? null, account_id: p.accountId ?? null }), endable: true },
  Interaction: { name: 'oidc_interactions', columnNames: [], columns: none },
  Grant: { name: 'oidc_grants', columnNames: ['account_id', 'client_id'], columns: (p) => ({ account_id: p.accountId ?? null, client_id: p.clientId ?? null }) },
  AuthorizationCode: { name: 'oidc_authorization_codes', columnNames: ['grant_id'], columns: grantColumn, consumable: true, byGrant: true },
  AccessToken: { name: 'oidc_access_tokens', columnNames: ['grant_id'], columns: grantColumn, byGrant: true },
  RefreshToken: { name: 'oidc_refresh_tokens', columnNames: ['grant_id'], columns: grantColumn, consumable: true, byGrant: true },
  ClientCredentials: { name: 'oidc_client_credentials', columnNames: [], columns: none },
  PushedAuthorizationRequest: { name: 'oidc_pushed_authorization_requests', columnNames: [], columns: none, consumable: true },
  // The user code is a lookup column in the clear: 8 characters of 20 (about 34 bits), a
  // hash of it would be reversed in seconds, and it only lets someone approve the device
  // with their own account while the device code lives.
  DeviceCode: {
    name: 'oidc_device_codes',
    columnNames: ['grant_id', 'user_code', 'sealed_code'],
    // sealed_code is filled in by DeviceCodeAdapter, which holds the sealer.
    columns: (p) => ({ grant_id: p.grantId ?? null, user_code: typeof p.userCode === 'string' ? p.userCode : null }),
    consumable: true,
    byGrant: true,
    keptAfterExpiry: 3600,
  },
  ReplayDetection: { name: 'oidc_replay_detections', columnNames: [], columns: none },
  // RFC 7592: a registered client's management token, deleted with its client (foreign key).
  RegistrationAccessToken: { name: 'oidc_registration_access_tokens', columnNames: ['client_id'], columns: (p) => ({ client_id: p.clientId ?? null }) },
};

export const PERSISTED_MODELS = Object.freeze(Object.keys(TABLES));

/** The statements of one table, written once. */
function statementsOf(table: Table) {
  const notEnded = table.endable ? ' AND ended_at IS NULL' : '';
  const names = ['id', 'payload', 'expires_at', ...table.columnNames];
  const values = names.map((name, i) => (name === 'payload' ? `$${i + 1}::jsonb` : `$${i + 1}`));
  const updates = names.slice(1).map((name) => `${name} = EXCLUDED.${name}`);
  return {
    upsert: `INSERT INTO ${table.name} (${names.join(', ')}) VALUES (${values.join(', ')}) ON CONFLICT (id) DO UPDATE SET ${updates.join(', ')}${table.endable ? ` WHERE ${table.name}.ended_at IS NULL` : ''}`,
    find: `SELECT payload, expires_at${table.consumable ? ', consumed_at' : ''} FROM ${table.name} WHERE id = $1${notEnded}`,
    findByUid: `SELECT payload, expires_at FROM ${table.name} WHERE uid = $1${notEnded}`,
    findByUserCode: `SELECT payload, expires_at${table.columnNames.includes('sealed_code') ? ', sealed_code' : ''} FROM ${table.name} WHERE user_code = $1`,
    consume: `UPDATE ${table.name} SET consumed_at = now() WHERE id = $1 AND consumed_at IS NULL`,
    destroy: table.endable ? `UPDATE ${table.name} SET ${ENDED_SESSION} WHERE id = $1 AND ended_at IS NULL` : `DELETE FROM ${table.name} WHERE id = $1`,
    revokeByGrant: `DELETE FROM ${table.name} WHERE grant_id = $1`,
  };
}

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
  DeviceCode: () => new errors.InvalidGrant('device code already used'),
};

function live(expiresAt: Date | null): boolean {
  return !(expiresAt && expiresAt.getTime() <= Date.now());
}

class TableAdapter implements Adapter {
  readonly #model: string;
  readonly #table: Table;
  readonly #statements: ReturnType<typeof statementsOf>;
  readonly #hashed: boolean;
  protected readonly sql: Sql;
  /** For the models a presented token may be (bearer-lookups.ts): concurrent lookups of one value, one query. */
  protected readonly lookups: BearerLookups | undefined;

  constructor(model: string, table: Table, sql: Sql, lookups?: BearerLookups) {
    this.#model = model;
    this.#table = table;
    this.#statements = statementsOf(table);
    this.#hashed = HASHED_MODELS.has(model);
    this.sql = sql;
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

  /** The row the engine asks to store: the payload without the bearer value, and its columns. */
  protected toRow(id: string, payload: AdapterPayload, expiresIn: number): EngineRow {
    refuseNul(payload);
    let stored: AdapterPayload = payload;
    if (this.#hashed) {
      const { jti: _value, ...rest } = payload;
      stored = rest;
    }
    return {
      id: this.key(id),
      payload: stored,
      expiresAt: expiresIn ? new Date(Date.now() + (expiresIn + (this.#table.keptAfterExpiry ?? 0)) * 1000) : null,
      columns: this.#table.columns(payload),
    };
  }

  protected async write(row: EngineRow): Promise<void> {
    const columns = this.#table.columnNames.map((name) => row.columns[name] ?? null);
    let written;
    try {
      written = await this.sql.query(this.#statements.upsert, [row.id, JSON.stringify(row.payload), row.expiresAt, ...columns]);
    } catch (error) {
      // A session carried on under a new id whose uid another row holds: one signed out
      // (ended-session.ts), or a second tab's rotation of it that lost the race. Either way
      // that session is over here: the person signs in again, never a 500.
      if (this.#table.endable && (error as { code?: unknown }).code === '23505' && (error as { constraint?: unknown }).constraint === `${this.#table.name}_uid_key`) {
        throw new errors.SessionNotFound('the session has ended');
      }
      throw translatePrismaError(error, 'oidc record');
    }
    // A save of a session that ended while the request was in flight writes nothing (the
    // upsert's guard). The request must not go on as if it were signed in: a prompt=none
    // request would otherwise deliver a code made after an operator's sign-out (from
    // remembered consent, with a new grant the sign-out never saw).
    if (this.#table.endable && written.rowCount === 0) throw new errors.SessionNotFound('the session has ended');
  }

  async upsert(id: string, payload: AdapterPayload, expiresIn: number): Promise<void> {
    await this.write(this.toRow(id, payload, expiresIn));
  }

  async find(id: string): Promise<AdapterPayload | undefined> {
    if (!this.#hashed && impossible(id)) return undefined;
    if (this.lookups) {
      const looked = await translated(() => this.lookups!.lookup(this.#model as BearerModel, this.key(id)));
      if (!looked.alone) return looked.row && live(looked.row.expiresAt) ? this.toPayload(looked.row.payload, id) : undefined;
    }
    const { rows } = await translated(() => this.sql.query<Row>(this.#statements.find, [this.key(id)]));
    const row = rows[0];
    return row && live(row.expires_at) ? this.toPayload(row.payload, id, row.consumed_at) : undefined;
  }

  async findByUid(uid: string): Promise<AdapterPayload | undefined> {
    if (this.#model !== 'Session' || impossible(uid)) return undefined;
    const { rows } = await translated(() => this.sql.query<Row>(this.#statements.findByUid, [uid]));
    const row = rows[0];
    // Found by uid, the session's own id (its cookie value) is unknown: only its hash is
    // stored. The engine reads such a session and never saves it.
    return row && live(row.expires_at) ? this.toPayload(row.payload, undefined) : undefined;
  }

  findByUserCode(_userCode: string): Promise<AdapterPayload | undefined> {
    // Only device codes are found by a user code (DeviceCodeAdapter).
    return Promise.resolve(undefined);
  }

  protected async findRowByUserCode(userCode: string): Promise<(Row & { sealed_code?: string | null }) | undefined> {
    if (impossible(userCode) || userCode.length > 64) return undefined;
    const { rows } = await translated(() => this.sql.query<Row & { sealed_code?: string | null }>(this.#statements.findByUserCode, [userCode]));
    const row = rows[0];
    return row && live(row.expires_at) ? row : undefined;
  }

  async consume(id: string): Promise<void> {
    if (!this.#table.consumable) throw new TypeError(`${this.#model} is never consumed`);
    const { rowCount } = await translated(() => this.sql.query(this.#statements.consume, [this.key(id)]));
    const spent = rowCount === 0 ? ALREADY_CONSUMED[this.#model] : undefined;
    if (spent) throw spent();
  }

  async destroy(id: string): Promise<void> {
    if (!this.#hashed && impossible(id)) return;
    await translated(() => this.sql.query(this.#statements.destroy, [this.key(id)]));
  }

  async revokeByGrantId(grantId: string): Promise<void> {
    if (this.#table.byGrant && !impossible(grantId)) {
      await translated(() => this.sql.query(this.#statements.revokeByGrant, [grantId]));
    }
  }
}

/**
 * Refresh tokens: read with where their rotation stands, consumed through the rotation's
 * claim (refresh-rotation.ts) instead of a plain update, and a rotation's successor stored
 * by the rotation's completion, in the same statement (token-store.ts).
 */
class RefreshTokenAdapter extends TableAdapter {
  readonly #store: RefreshRotationStore;
  readonly #rotation: RefreshRotationHooks | undefined;

  constructor(table: Table, sql: Sql, store: RefreshRotationStore, rotation: RefreshRotationHooks | undefined, lookups: BearerLookups) {
    super('RefreshToken', table, sql, lookups);
    this.#store = store;
    this.#rotation = rotation;
  }

  override async upsert(id: string, payload: AdapterPayload, expiresIn: number): Promise<void> {
    const row = this.toRow(id, payload, expiresIn);
    // The successor of a rotation is written when the rotation completes, together with it.
    if (this.#rotation?.holdSuccessor({ id: row.id, payload: row.payload, expiresAt: row.expiresAt, grantId: row.columns.grant_id ?? null })) return;
    await this.write(row);
  }

  override async find(id: string): Promise<AdapterPayload | undefined> {
    const key = this.key(id);
    // Asked for together with other models (introspection): read with where its rotation
    // stands only if the batch found the row.
    const looked = await translated(() => this.lookups!.lookup('RefreshToken', key));
    if (!looked.alone && !looked.row) return undefined;
    const row = await this.#store.findRefreshToken(key);
    if (row?.grantId && row.grant !== undefined) this.#rotation?.keepGrant(row.grantId, row.grant);
    if (row && row.account !== undefined && typeof row.payload.accountId === 'string') this.#rotation?.keepAccount(row.payload.accountId, row.account);
    if (!row || !live(row.expiresAt)) return undefined;
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

/** Grants: in a refresh, the engine's read of the token's grant is answered by the token's own read. */
class GrantAdapter extends TableAdapter {
  readonly #rotation: RefreshRotationHooks;

  constructor(table: Table, sql: Sql, rotation: RefreshRotationHooks) {
    super('Grant', table, sql);
    this.#rotation = rotation;
  }

  override async find(id: string): Promise<AdapterPayload | undefined> {
    const kept = this.#rotation.takeGrant(id);
    if (kept === undefined) return super.find(id);
    return kept && live(kept.expiresAt) ? this.toPayload(kept.payload, id) : undefined;
  }
}

/**
 * Device codes (RFC 8628). The device polls with the device code, stored as its hash like
 * every bearer value; the person types the user code, and the engine then saves the same
 * code again by its value (the `jti`), which a hash cannot give back. So the row also holds
 * the device code sealed with MASTER_SECRET, opened only when the code is found by its user
 * code: a copy of the database alone yields no device code.
 */
class DeviceCodeAdapter extends TableAdapter {
  readonly #sealer: Sealer;

  constructor(table: Table, sql: Sql, sealer: Sealer) {
    super('DeviceCode', table, sql);
    this.#sealer = sealer;
  }

  protected override toRow(id: string, payload: AdapterPayload, expiresIn: number): EngineRow {
    const row = super.toRow(id, payload, expiresIn);
    return { ...row, columns: { ...row.columns, sealed_code: this.#sealer.seal(id) } };
  }

  override async findByUserCode(userCode: string): Promise<AdapterPayload | undefined> {
    const row = await this.findRowByUserCode(userCode);
    if (!row?.sealed_code) return undefined;
    return this.toPayload(row.payload, this.#sealer.open(row.sealed_code));
  }
}

/**
 * Interactions of the device flow carry the device code they resume (the engine's
 * `deviceCode`): sealed at rest like the device code's own row, opened when read.
 */
class InteractionAdapter extends TableAdapter {
  readonly #sealer: Sealer;

  constructor(table: Table, sql: Sql, sealer: Sealer) {
    super('Interaction', table, sql);
    this.#sealer = sealer;
  }

  protected override toRow(id: string, payload: AdapterPayload, expiresIn: number): EngineRow {
    if (typeof payload.deviceCode !== 'string') return super.toRow(id, payload, expiresIn);
    const { deviceCode, ...rest } = payload;
    return super.toRow(id, { ...rest, sealedDeviceCode: this.#sealer.seal(deviceCode) }, expiresIn);
  }

  override async find(id: string): Promise<AdapterPayload | undefined> {
    const payload = await super.find(id);
    if (typeof payload?.sealedDeviceCode !== 'string') return payload;
    const { sealedDeviceCode, ...rest } = payload;
    return { ...rest, deviceCode: this.#sealer.open(sealedDeviceCode) };
  }
}

/** The engine writing a client: dynamic registration (client-registration.ts), the only way it does. */
export interface ClientWrites {
  write(clientId: string, metadata: AdapterPayload): Promise<void>;
  remove(clientId: string): Promise<void>;
}

/** Clients are read from our registry; the engine writes them only through registration, into the registry. */
class RegistryClientAdapter implements Adapter {
  readonly #load: (clientId: string) => Promise<AdapterPayload | undefined>;
  readonly #writes: ClientWrites | undefined;
  constructor(load: (clientId: string) => Promise<AdapterPayload | undefined>, writes: ClientWrites | undefined) {
    this.#load = load;
    this.#writes = writes;
  }
  find(id: string) {
    return this.#load(id);
  }
  upsert(id: string, payload: AdapterPayload): Promise<void> {
    if (this.#writes) return this.#writes.write(id, payload);
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
  destroy(id: string): Promise<void> {
    if (this.#writes) return this.#writes.remove(id);
    return Promise.reject(new Error('clients are managed through the registry, not the provider'));
  }
  revokeByGrantId() {
    return Promise.resolve();
  }
}

/**
 * Initial access tokens are minted by the CLI into our own store and spent with the client
 * they register (clients/registration-token-store.ts): the engine only looks them up.
 */
class InitialAccessTokenAdapter implements Adapter {
  readonly #find: (value: string) => Promise<AdapterPayload | undefined>;
  constructor(find: (value: string) => Promise<AdapterPayload | undefined>) {
    this.#find = find;
  }
  find(value: string) {
    return this.#find(value);
  }
  upsert(): Promise<void> {
    return Promise.reject(new Error('initial access tokens are minted by `portcullis registration-tokens create`'));
  }
  findByUid() {
    return Promise.resolve(undefined);
  }
  findByUserCode() {
    return Promise.resolve(undefined);
  }
  consume(): Promise<void> {
    return Promise.reject(new Error('initial access tokens are spent with the client they register'));
  }
  destroy(): Promise<void> {
    return Promise.reject(new Error('initial access tokens are revoked by `portcullis registration-tokens revoke`'));
  }
  revokeByGrantId() {
    return Promise.resolve();
  }
}

export type AdapterFactory = (model: string) => Adapter;

export function createEngineAdapterFactory(deps: {
  sql: Sql;
  store: RefreshRotationStore;
  loadClient: (clientId: string) => Promise<AdapterPayload | undefined>;
  /** With dynamic client registration: the engine's writes of clients, and its look-ups of initial access tokens. */
  registration?: (ClientWrites & { findInitialAccessToken(value: string): Promise<AdapterPayload | undefined> }) | undefined;
  rotation?: RefreshRotationHooks;
  /** Seals device codes (DeviceCodeAdapter); needed only with the device flow. */
  sealer?: Sealer | undefined;
}): AdapterFactory {
  const lookups = createBearerLookups(deps.sql);
  return (model: string) => {
    if (model === 'Client') return new RegistryClientAdapter(deps.loadClient, deps.registration);
    if (model === 'InitialAccessToken') {
      if (!deps.registration) throw new Error('initial access tokens need client registration');
      return new InitialAccessTokenAdapter((value) => deps.registration!.findInitialAccessToken(value));
    }
    const table = TABLES[model];
    if (!table) throw new Error(`oidc model ${model} has no table; enable its feature only after adding one`);
    if (model === 'RefreshToken') return new RefreshTokenAdapter(table, deps.sql, deps.store, deps.rotation, lookups);
    if (model === 'Grant' && deps.rotation) return new GrantAdapter(table, deps.sql, deps.rotation);
    if (model === 'Interaction' && deps.sealer) return new InteractionAdapter(table, deps.sql, deps.sealer);
    if (model === 'DeviceCode') {
      if (!deps.sealer) throw new Error('device codes need the sealer (MASTER_SECRET)');
      return new DeviceCodeAdapter(table, deps.sql, deps.sealer);
    }
    const bearer = model === 'AccessToken' || model === 'ClientCredentials';
    return new TableAdapter(model, table, deps.sql, bearer ? lookups : undefined);
  };
}
