export {
  loadConfig,
  RATE_LIMIT_TIERS,
  type AuthThrottleConfig,
  type Config,
  type RateLimitBudget,
  type RateLimitTier,
} from './load-config.ts';
export { configWarnings } from './warnings.ts';
