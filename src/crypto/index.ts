export { createSealer, SealedSecretError, type Sealer } from './sealer.ts';
export { loadOrCreateDevMasterSecret } from './dev-master-secret.ts';
export { masterSecretCheck } from './master-secret-check.ts';
