// Abuse limits: request budgets, the credential throttle (passwords and client secrets),
// the limit stores and the one 429 writer. app.ts mounts what createAbuseLimits builds;
// server.ts opens the Redis connection they share (openLimitRedis).
export { createAbuseLimits, type AbuseLimitDeps, type AbuseLimits } from './create-abuse-limits.ts';
export { connectLimitRedis, createLimitRedis } from './redis.ts';
export { peekBody } from './peek-form-body.ts';
