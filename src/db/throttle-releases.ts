import type { PrismaClient } from './create-database.ts';

// Releases of login-throttle blocks, left by the CLI for every server to apply (the
// throttle's counts live in each server's memory, or Redis: abuse/throttle-releases.ts).

export interface ThrottleRelease {
  readonly id: bigint;
  /** An account's email as stored, when the release is for an account. */
  readonly subject: string | null;
  /** An IP address, when the release is for an address. */
  readonly address: string | null;
}

export interface ThrottleReleaseStore {
  add(release: { readonly subject?: string; readonly address?: string }): Promise<void>;
  /** Releases with an id above `afterId` made since `since`, in id order (at most 100). */
  listAfter(afterId: bigint, since: Date): Promise<ThrottleRelease[]>;
}

export function createThrottleReleaseStore(prisma: PrismaClient): ThrottleReleaseStore {
  return {
    async add({ subject, address }) {
      await prisma.throttleRelease.create({ data: { subject: subject ?? null, address: address ?? null } });
    },
    listAfter: (afterId, since) =>
      prisma.throttleRelease.findMany({
        where: { id: { gt: afterId }, createdAt: { gte: since } },
        orderBy: { id: 'asc' },
        take: 100,
        select: { id: true, subject: true, address: true },
      }),
  };
}
