import type { AdapterPayload } from 'oidc-provider';

import type {
  ClaimOutcome,
  ConsentRecord,
  GrantRow,
  RotationState,
  StoredRefreshToken,
  TokenStore,
} from '../../src/oidc/token-store.ts';

// The token store in memory, for unit tests of the rules built on it (refresh rotation,
// the verifier). It keeps the contract of src/oidc/token-store.ts, which the Prisma store
// keeps on both databases (test/contracts/token-store.ts: one suite for the fake and both databases).

interface RefreshRow {
  payload: AdapterPayload;
  expiresAt: Date | null;
  grantId: string | null;
  consumedAt: number | undefined;
  claim: string | undefined;
  rotatedAt: number | undefined;
  successor: string | undefined;
  rotatedFrom: string | undefined;
}

export interface MemoryTokenStore extends TokenStore {
  /** Adds a refresh token as the adapter would store it. */
  putRefreshToken(id: string, row: { grantId?: string; payload?: AdapterPayload; rotatedFrom?: string }): void;
  hasRefreshToken(id: string): boolean;
  putGrant(row: GrantRow): void;
  readonly denied: Set<string>;
}

export function createMemoryTokenStore(now: () => number = Date.now): MemoryTokenStore {
  const refresh = new Map<string, RefreshRow>();
  const grants = new Map<string, GrantRow>();
  const consents = new Map<string, ConsentRecord>();
  const denied = new Set<string>();
  const proofs = new Set<string>();

  const live = (row: { expiresAt: Date | null }) => !row.expiresAt || row.expiresAt.getTime() > now();
  const state = (row: RefreshRow): RotationState => ({
    claimAgeMs: row.consumedAt === undefined ? undefined : now() - row.consumedAt,
    rotated: row.rotatedAt !== undefined,
    successor: row.successor,
  });
  const union = (a: string, b: string) => [...new Set(`${a} ${b}`.split(' ').filter(Boolean))].join(' ');

  return {
    denied,
    putRefreshToken(id, row) {
      refresh.set(id, {
        payload: row.payload ?? { kind: 'RefreshToken' },
        expiresAt: null,
        grantId: row.grantId ?? null,
        consumedAt: undefined,
        claim: undefined,
        rotatedAt: undefined,
        successor: undefined,
        rotatedFrom: row.rotatedFrom,
      });
    },
    hasRefreshToken: (id) => refresh.has(id),
    putGrant: (row) => grants.set(row.id, row),

    findRefreshToken(id) {
      const row = refresh.get(id);
      const found: StoredRefreshToken | undefined = row && { ...state(row), payload: row.payload, expiresAt: row.expiresAt, grantId: row.grantId };
      return Promise.resolve(found);
    },
    claimRefreshToken(id, claim, leaseMs) {
      const row = refresh.get(id);
      let outcome: ClaimOutcome = 'refused';
      if (row && (row.consumedAt === undefined || (row.rotatedAt === undefined && row.consumedAt < now() - leaseMs))) {
        outcome = row.claim === undefined ? 'claimed' : 'taken_over';
        row.consumedAt = now();
        row.claim = claim;
        if (outcome === 'taken_over') for (const [other, candidate] of refresh) if (candidate.rotatedFrom === id) refresh.delete(other);
      }
      return Promise.resolve(outcome);
    },
    completeRotation(id, claim, successor, next) {
      const row = refresh.get(id);
      if (!row || row.claim !== claim || row.rotatedAt !== undefined) return Promise.resolve(false);
      row.rotatedAt = now();
      row.successor = successor;
      if (next) {
        refresh.set(next.id, {
          payload: next.payload,
          expiresAt: next.expiresAt,
          grantId: next.grantId,
          consumedAt: undefined,
          claim: undefined,
          rotatedAt: undefined,
          successor: undefined,
          rotatedFrom: id,
        });
      }
      return Promise.resolve(true);
    },
    releaseClaim(id, claim) {
      // Only the holder's claim is released, with what it stored (as prisma-token-store.ts).
      const row = refresh.get(id);
      if (row && row.claim === claim && row.rotatedAt === undefined) {
        row.consumedAt = undefined;
        row.claim = undefined;
        for (const [other, candidate] of refresh) if (candidate.rotatedFrom === id) refresh.delete(other);
      }
      return Promise.resolve();
    },
    readRotation(id) {
      const row = refresh.get(id);
      return Promise.resolve(row && state(row));
    },

    findConsent: (accountId, clientId) => Promise.resolve(consents.get(`${accountId}|${clientId}`)),
    rememberConsent(accountId, clientId, consent) {
      const key = `${accountId}|${clientId}`;
      const current = consents.get(key);
      const resources: Record<string, string> = { ...current?.resourceScopes };
      for (const [indicator, scope] of Object.entries(consent.resourceScopes)) resources[indicator] = union(resources[indicator] ?? '', scope);
      consents.set(key, {
        oidcScope: union(current?.oidcScope ?? '', consent.oidcScope),
        oidcClaims: [...new Set([...(current?.oidcClaims ?? []), ...consent.oidcClaims])],
        resourceScopes: resources,
      });
      return Promise.resolve();
    },

    listGrants: ({ accountId }) => Promise.resolve([...grants.values()].filter((row) => row.accountId === accountId && live(row))),
    findGrant: (grantId) => Promise.resolve([grants.get(grantId)].find((row) => row && live(row))),
    grantIds: ({ accountId, clientId }) =>
      Promise.resolve(
        [...grants.values()]
          .filter((row) => (accountId === undefined || row.accountId === accountId) && (clientId === undefined || row.clientId === clientId))
          .map((row) => row.id),
      ),
    revokeGrants(grantIds) {
      let removedGrants = 0;
      let tokens = 0;
      for (const grantId of grantIds) {
        if (grants.delete(grantId)) removedGrants += 1;
        for (const [id, row] of refresh) {
          if (row.grantId === grantId) {
            refresh.delete(id);
            tokens += 1;
          }
        }
      }
      return Promise.resolve({ grants: removedGrants, tokens });
    },
    revokeExchangedFrom: () => Promise.resolve(0),
    linkExchangedGrant: (grantId, parentId) => Promise.resolve(grants.has(grantId) && grants.has(parentId)),
    forgetConsent({ accountId, clientId }) {
      let count = 0;
      for (const key of [...consents.keys()]) {
        const [account, client] = key.split('|');
        if ((accountId === undefined || account === accountId) && (clientId === undefined || client === clientId)) {
          consents.delete(key);
          count += 1;
        }
      }
      return Promise.resolve(count);
    },
    endSessions: () => Promise.resolve(0),
    listSessions: () => Promise.resolve([]),
    endSession: () => Promise.resolve(undefined),
    deleteUngrantedTokens: () => Promise.resolve(0),

    jwtStanding(jti, grantId) {
      const grant = grantId === undefined ? undefined : grants.get(grantId);
      return Promise.resolve({ denied: denied.has(jti), grantLive: grantId === undefined || (grant !== undefined && live(grant)) });
    },
    denyJwt(jti) {
      denied.add(jti);
      return Promise.resolve();
    },
    takePushedRequest(id) {
      const key = `pushed-request|${id}`;
      if (proofs.has(key)) return Promise.resolve(false);
      proofs.add(key);
      return Promise.resolve(true);
    },
    firstUse(jkt, jti) {
      const key = `${jkt}|${jti}`;
      if (proofs.has(key)) return Promise.resolve(false);
      proofs.add(key);
      return Promise.resolve(true);
    },
  };
}
