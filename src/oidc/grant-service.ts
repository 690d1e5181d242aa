import type { PrismaClient } from '../db/index.ts';
import { withTranslatedErrors } from '../db/index.ts';

// What people granted to apps, and taking it back. Revoking a grant deletes it and every
// code, access and refresh token stored under it, in one transaction, so it is gone for
// every instance at once; JWT access tokens name their grant (access-token-verifier.ts)
// and stop verifying the moment the grant row is gone.

export interface GrantSummary {
  readonly id: string;
  readonly clientId: string;
  readonly accountId: string;
  /** OIDC scopes granted (openid, email, ...). */
  readonly scopes: readonly string[];
  /** Resource indicator -> scopes granted for it. */
  readonly resources: Readonly<Record<string, readonly string[]>>;
  readonly createdAt: Date;
  readonly expiresAt: Date | null;
}

export interface RevocationCount {
  readonly grants: number;
  readonly tokens: number;
}

export interface GrantService {
  listForAccount(accountId: string): Promise<GrantSummary[]>;
  find(grantId: string): Promise<GrantSummary | undefined>;
  revokeGrant(grantId: string): Promise<RevocationCount>;
  /** Every grant, token and browser session of the account. */
  revokeAccount(accountId: string): Promise<RevocationCount>;
  /** Every grant and token of the client, including client-credentials tokens. */
  revokeClient(clientId: string): Promise<RevocationCount>;
}

interface GrantPayload {
  iat?: number;
  openid?: { scope?: string };
  resources?: Record<string, string>;
}

function toSummary(row: { id: string; accountId: string | null; clientId: string | null; payload: unknown; expiresAt: Date | null }): GrantSummary {
  const payload = row.payload as GrantPayload;
  const split = (scope: string | undefined) => (scope ?? '').split(' ').filter(Boolean);
  return {
    id: row.id,
    clientId: row.clientId ?? '',
    accountId: row.accountId ?? '',
    scopes: split(payload.openid?.scope),
    resources: Object.fromEntries(Object.entries(payload.resources ?? {}).map(([indicator, scope]) => [indicator, split(scope)])),
    createdAt: new Date((payload.iat ?? 0) * 1000),
    expiresAt: row.expiresAt,
  };
}

const live = () => ({ OR: [{ expiresAt: null }, { expiresAt: { gt: new Date() } }] });

export function createGrantService(prisma: PrismaClient): GrantService {
  async function revokeGrants(grantIds: string[]): Promise<RevocationCount> {
    if (grantIds.length === 0) return { grants: 0, tokens: 0 };
    const where = { grantId: { in: grantIds } };
    const [codes, accessTokens, refreshTokens, grants] = await prisma.$transaction([
      prisma.oidcAuthorizationCode.deleteMany({ where }),
      prisma.oidcAccessToken.deleteMany({ where }),
      prisma.oidcRefreshToken.deleteMany({ where }),
      prisma.oidcGrant.deleteMany({ where: { id: { in: grantIds } } }),
    ]);
    return { grants: grants.count, tokens: codes.count + accessTokens.count + refreshTokens.count };
  }

  return {
    listForAccount: (accountId) =>
      withTranslatedErrors('grant', async () => {
        const rows = await prisma.oidcGrant.findMany({ where: { accountId, ...live() }, orderBy: { id: 'asc' } });
        return rows.map(toSummary).sort((a, b) => b.createdAt.getTime() - a.createdAt.getTime());
      }),
    find: (grantId) =>
      withTranslatedErrors('grant', async () => {
        const row = await prisma.oidcGrant.findFirst({ where: { id: grantId, ...live() } });
        return row ? toSummary(row) : undefined;
      }),
    revokeGrant: (grantId) => withTranslatedErrors('grant', () => revokeGrants([grantId])),
    revokeAccount: (accountId) =>
      withTranslatedErrors('grant', async () => {
        const grants = await prisma.oidcGrant.findMany({ where: { accountId }, select: { id: true } });
        const result = await revokeGrants(grants.map((grant) => grant.id));
        await prisma.oidcSession.deleteMany({ where: { accountId } });
        return result;
      }),
    revokeClient: (clientId) =>
      withTranslatedErrors('grant', async () => {
        const grants = await prisma.oidcGrant.findMany({ where: { clientId }, select: { id: true } });
        const result = await revokeGrants(grants.map((grant) => grant.id));
        const machineTokens = await prisma.oidcClientCredentials.deleteMany({
          where: { payload: { path: ['clientId'], equals: clientId } },
        });
        return { grants: result.grants, tokens: result.tokens + machineTokens.count };
      }),
  };
}
