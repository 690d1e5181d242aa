import type { Sql } from '../db/index.ts';

// Introspection and revocation without a token_type_hint look the presented value up as an
// access token, a client-credentials token and a refresh token at once (the engine's
// helpers/token_find.js, a Promise.all): three reads for one answer. Lookups of one stored id
// asked for in the same tick are answered here by one query over the tables asked for.
// A lookup alone in its tick is left to its adapter's own query (`alone`), so nothing else
// changes: the batch only merges reads that were already concurrent.
//
// For refresh tokens the batch says only whether the row exists; one that does is read by
// its adapter as always (with where its rotation stands), one that does not costs nothing more.

export type BearerModel = 'AccessToken' | 'ClientCredentials' | 'RefreshToken';

const TABLES: Record<BearerModel, string> = {
  AccessToken: 'oidc_access_tokens',
  ClientCredentials: 'oidc_client_credentials',
  RefreshToken: 'oidc_refresh_tokens',
};

export interface BatchedRow {
  readonly payload: unknown;
  readonly expiresAt: Date | null;
}

/** `alone`: no other lookup of this id in the tick, so the adapter reads as usual. */
export type BearerLookupResult = { readonly alone: true } | { readonly alone: false; readonly row: BatchedRow | null };

interface Waiting {
  readonly model: BearerModel;
  resolve(result: BearerLookupResult): void;
  reject(error: unknown): void;
}

export interface BearerLookups {
  lookup(model: BearerModel, storedId: string): Promise<BearerLookupResult>;
}

export function createBearerLookups(sql: Sql): BearerLookups {
  let pending = new Map<string, Waiting[]>();
  let scheduled = false;

  async function readTogether(storedId: string, waiting: Waiting[]): Promise<void> {
    const models = [...new Set(waiting.map((entry) => entry.model))];
    // Table names from the constant above; the values are parameters ($1 the id, then the models).
    const selects = models.map((model, i) => `SELECT $${i + 2}::text AS model, payload, expires_at FROM ${TABLES[model]} WHERE id = $1`);
    try {
      const { rows } = await sql.query<{ model: BearerModel; payload: unknown; expires_at: Date | null }>(selects.join(' UNION ALL '), [storedId, ...models]);
      const found = new Map(rows.map((row) => [row.model, { payload: row.payload, expiresAt: row.expires_at }]));
      for (const entry of waiting) entry.resolve({ alone: false, row: found.get(entry.model) ?? null });
    } catch (error) {
      for (const entry of waiting) entry.reject(error);
    }
  }

  function flush(): void {
    const batch = pending;
    pending = new Map();
    scheduled = false;
    for (const [storedId, waiting] of batch) {
      if (waiting.length === 1) waiting[0]!.resolve({ alone: true });
      else void readTogether(storedId, waiting);
    }
  }

  return {
    lookup(model, storedId) {
      return new Promise<BearerLookupResult>((resolve, reject) => {
        const waiting = pending.get(storedId);
        if (waiting) waiting.push({ model, resolve, reject });
        else pending.set(storedId, [{ model, resolve, reject }]);
        if (!scheduled) {
          scheduled = true;
          // After the current microtasks: the engine's Promise.all has asked for every model by then.
          process.nextTick(flush);
        }
      });
    },
  };
}
