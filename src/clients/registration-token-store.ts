import { createHash, randomBytes } from 'node:crypto';

import { withTranslatedErrors, type PrismaClient } from '../db/index.ts';
import { NotFoundError } from '../errors.ts';
import { isUuid } from './validation.ts';

// Initial access tokens (RFC 7591 section 3): what lets a client register itself when
// CLIENT_REGISTRATION=initial-access-token. Rules:
// - The value is 256 random bits, shown once when minted; only its SHA-256 is stored, so
//   neither the database nor a log line holds a usable token.
// - A token works while it has uses left, is not revoked and has not expired. A use is
//   spent only by a registration that is written: in the same transaction as the client
//   (client-store.ts), so of N concurrent registrations with a single-use token exactly
//   one is written, and a refused document spends nothing.

export interface RegistrationTokenRecord {
  /** The public id (list, revoke, audit); never the value. */
  readonly id: string;
  readonly label: string | null;
  readonly uses: number;
  readonly usesLeft: number;
  readonly expiresAt: Date;
  readonly revokedAt: Date | null;
  readonly createdAt: Date;
}

/** A token as the engine looks it up: its id and expiry (seconds), while it may be spent. */
export interface LiveRegistrationToken {
  readonly id: string;
  readonly expiresAt: Date;
  readonly createdAt: Date;
}

export interface RegistrationTokenStore {
  create(input: { label: string | null; uses: number; expiresAt: Date }): Promise<{ token: string; record: RegistrationTokenRecord }>;
  list(): Promise<RegistrationTokenRecord[]>;
  /** Revokes by id; NotFoundError for an unknown one. Idempotent for a revoked one. */
  revoke(id: string): Promise<RegistrationTokenRecord>;
  /** The token a presented value names, if it may still be spent (no use is taken). */
  findLive(value: string): Promise<LiveRegistrationToken | undefined>;
}

/** Base64url SHA-256: how a token's value is stored and looked up. */
export function registrationTokenHash(value: string): string {
  return createHash('sha256').update(value, 'utf8').digest('base64url');
}

/** Tokens are 43 base64url characters; anything else names none (and is never sent to the database). */
const POSSIBLE_VALUE = /^[A-Za-z0-9_-]{43}$/;
export const isPossibleRegistrationToken = (value: string) => POSSIBLE_VALUE.test(value);

type Row = { id: string; label: string | null; uses: number; usesLeft: number; expiresAt: Date; revokedAt: Date | null; createdAt: Date };
const toRecord = ({ id, label, uses, usesLeft, expiresAt, revokedAt, createdAt }: Row): RegistrationTokenRecord => ({ id, label, uses, usesLeft, expiresAt, revokedAt, createdAt });

export function createRegistrationTokenStore(prisma: PrismaClient): RegistrationTokenStore {
  return {
    async create({ label, uses, expiresAt }) {
      const token = randomBytes(32).toString('base64url');
      const row = await withTranslatedErrors('registration token', () =>
        prisma.registrationToken.create({ data: { tokenHash: registrationTokenHash(token), label, uses, usesLeft: uses, expiresAt } }),
      );
      return { token, record: toRecord(row) };
    },
    async list() {
      const rows = await withTranslatedErrors('registration token', () => prisma.registrationToken.findMany({ orderBy: { createdAt: 'asc' } }));
      return rows.map(toRecord);
    },
    async revoke(id) {
      if (!isUuid(id)) throw new NotFoundError(`no registration token ${id.slice(0, 100)}`);
      const row = await withTranslatedErrors('registration token', async () => {
        const found = await prisma.registrationToken.findUnique({ where: { id } });
        if (!found) throw new NotFoundError(`no registration token ${id}`);
        return found.revokedAt ? found : prisma.registrationToken.update({ where: { id }, data: { revokedAt: new Date() } });
      });
      return toRecord(row);
    },
    async findLive(value) {
      if (!isPossibleRegistrationToken(value)) return undefined;
      const row = await withTranslatedErrors('registration token', () =>
        prisma.registrationToken.findFirst({
          where: { tokenHash: registrationTokenHash(value), revokedAt: null, usesLeft: { gt: 0 }, expiresAt: { gt: new Date() } },
          select: { id: true, expiresAt: true, createdAt: true },
        }),
      );
      return row ?? undefined;
    },
  };
}
