// oidc-provider is loaded through this module only (its types may be imported directly):
// the first import below silences the engine's "Unsupported runtime" notice on Node 20.19+,
// which the engine prints while it loads (see quiet-runtime-notice.ts). ES modules
// evaluate their imports in order, so the notice filter is in place before the engine
// runs and removed right after.
import { restoreWarnings } from './quiet-runtime-notice.ts';
import Provider, { errors, interactionPolicy } from 'oidc-provider';

restoreWarnings();

export { errors, interactionPolicy, Provider };
