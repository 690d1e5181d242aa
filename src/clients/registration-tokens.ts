import { z } from 'zod';

import { discardAudit, type ActedBy, type AuditSink } from '../audit/index.ts';
import { toValidationError } from '../errors.ts';
import type { LiveRegistrationToken, RegistrationTokenRecord, RegistrationTokenStore } from './registration-token-store.ts';
import { nameSchema } from './validation.ts';

// Minting, listing and revoking initial access tokens (the CLI's `registration-tokens`);
// each change is an audit event that names the token by its id, never its value.

/** At most a year: a token is a standing permission to write clients. */
const MAX_LIFETIME_SECONDS = 365 * 24 * 3600;

const mintSchema = z
  .object({
    expiresInSeconds: z.number().int().min(60, 'must be at least 60 seconds').max(MAX_LIFETIME_SECONDS, 'must be at most a year'),
    uses: z.number().int().min(1, 'must be at least 1').max(100_000, 'must be at most 100000'),
    label: nameSchema.nullable().default(null),
  })
  .strict();

export interface RegistrationTokens {
  /** The token's value is in the answer only: shown once, stored as its hash. */
  mint(input: { expiresInSeconds: number; uses: number; label?: string | null }, by?: ActedBy): Promise<{ token: string; record: RegistrationTokenRecord }>;
  list(): Promise<RegistrationTokenRecord[]>;
  revoke(id: string, by?: ActedBy): Promise<RegistrationTokenRecord>;
  /** The token a presented value names while it has a use left (the engine's lookup; spends nothing). */
  findLive(value: string): Promise<LiveRegistrationToken | undefined>;
}

export function createRegistrationTokens(deps: { store: RegistrationTokenStore; audit?: AuditSink | undefined; clock?: () => number }): RegistrationTokens {
  const audit = deps.audit ?? discardAudit;
  const now = deps.clock ?? Date.now;
  return {
    async mint(raw, by) {
      const parsed = mintSchema.safeParse(raw);
      if (!parsed.success) throw toValidationError(parsed.error);
      const { expiresInSeconds, uses, label } = parsed.data;
      const minted = await deps.store.create({ label, uses, expiresAt: new Date(now() + expiresInSeconds * 1000) });
      audit.record({ type: 'registration_token.created', data: { id: minted.record.id, uses, expiresAt: minted.record.expiresAt.toISOString(), label }, ...by });
      return minted;
    },
    list: () => deps.store.list(),
    findLive: (value) => deps.store.findLive(value),
    async revoke(id, by) {
      const record = await deps.store.revoke(id);
      audit.record({ type: 'registration_token.revoked', data: { id: record.id, usesLeft: record.usesLeft }, ...by });
      return record;
    },
  };
}
