export {
  loadConfig,
  loadRuntimeConfig,
  RATE_LIMIT_TIERS,
  type AuthThrottleConfig,
  type ClientRegistrationConfig,
  type RegistrationPolicy,
  type Config,
  type ServedGrantType,
  type RateLimitBudget,
  type RateLimitTier,
} from './load-config.ts';
export { configWarnings } from './warnings.ts';
export { ENV_FILE_NAME, loadEnvFile } from './load-env-file.ts';
