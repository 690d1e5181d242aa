import type { PrismaClient } from './generated/client.ts';

// Settings one deployment shares through its database (table deployment_settings), so
// that every instance and the CLI, wherever they run, can tell whether they belong to it.

/** A check value of the master secret (never the secret): the first process to start writes it. */
export const MASTER_SECRET_CHECK = 'master_secret_check';
/** The issuer the server last started as; the CLI compares its own with it. */
export const SERVED_ISSUER = 'served_issuer';

export async function readDeploymentSetting(prisma: PrismaClient, name: string): Promise<string | undefined> {
  const row = await prisma.deploymentSetting.findUnique({ where: { name } });
  return row?.value;
}

/**
 * Stores `value` unless a value is already stored, and returns the one that is: ours, or
 * that of a process that got there first (instances starting together agree on one).
 */
export async function claimDeploymentSetting(prisma: PrismaClient, name: string, value: string): Promise<string> {
  await prisma.deploymentSetting.createMany({ data: [{ name, value }], skipDuplicates: true });
  return (await readDeploymentSetting(prisma, name)) ?? value;
}

/** Stores `value`, replacing what was there; returns the previous value. */
export async function writeDeploymentSetting(prisma: PrismaClient, name: string, value: string): Promise<string | undefined> {
  const previous = await readDeploymentSetting(prisma, name);
  if (previous !== value) {
    await prisma.deploymentSetting.upsert({ where: { name }, create: { name, value }, update: { value, updatedAt: new Date() } });
  }
  return previous;
}

/**
 * Whether `check` is this deployment's master secret check. The first process claims it;
 * on a database from before the check, only if a secret sealed there opens (`opens`).
 */
export async function verifyMasterSecretCheck(prisma: PrismaClient, check: string, opens: (sealed: string) => boolean): Promise<boolean> {
  const stored = await readDeploymentSetting(prisma, MASTER_SECRET_CHECK);
  if (stored !== undefined) return stored === check;
  const sealed = await prisma.signingKey.findFirst({ select: { privateJwkCiphertext: true } });
  if (sealed && !opens(sealed.privateJwkCiphertext)) return false;
  return (await claimDeploymentSetting(prisma, MASTER_SECRET_CHECK, check)) === check;
}
