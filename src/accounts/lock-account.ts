import type { PrismaClient } from '../db/index.ts';

/**
 * The account's row, locked until the transaction ends (a uuid: the page's own session names
 * it): changes of one account that must see each other's writes (its address, its passkeys)
 * wait in turn, and each reads what the one before wrote.
 */
export async function lockAccount(tx: Pick<PrismaClient, '$queryRaw'>, accountId: string): Promise<void> {
  await tx.$queryRaw`SELECT id::text FROM accounts WHERE id = ${accountId}::uuid FOR UPDATE`;
}
