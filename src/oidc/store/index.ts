// The engine-free entry of oidc/: the Prisma stores of the engine's extra data and the grant
// service over them. It loads oidc-provider for types only, so the CLI's services build them
// without loading the engine (src/oidc/index.ts is the entry of everything else).
export { createPrismaTokenStore } from './prisma-token-store.ts';
export { createPrismaKeyStore } from './prisma-key-store.ts';
export { createGrantService, type GrantService } from '../grant-service.ts';
export type { TokenStore } from '../token-store.ts';
