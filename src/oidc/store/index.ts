// The Prisma implementations of the oidc stores. Free of the engine (it is imported only for
// types), so the CLI's services can build them without loading oidc-provider.
export { createPrismaTokenStore } from './prisma-token-store.ts';
export { createPrismaKeyStore } from './prisma-key-store.ts';
