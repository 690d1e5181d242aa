export { createProvider } from './create-provider.ts';
export { loadKeyMaterial, type KeyMaterial } from './signing-keys.ts';
export { createPrismaAdapterFactory, PERSISTED_MODELS } from './prisma-adapter.ts';
export type { ProviderDeps } from './provider-config.ts';
export { createAccessTokenVerifier, looksLikeJwt, type AccessTokenVerifier, type TokenBinding, type VerifiedAccessToken } from './access-token-verifier.ts';
export { createDpopReplayStore, type DpopReplayStore } from './dpop-replay-store.ts';
export { createGrantService, type GrantService, type GrantSummary } from './grant-service.ts';
