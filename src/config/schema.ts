import { z } from 'zod';

// Every environment variable Portcullis reads, with its default. `.env.example` lists the
// same names with one comment line each; keep the two in step.

const bool = z
  .enum(['true', 'false', '1', '0', 'yes', 'no'])
  .transform((value) => value === 'true' || value === '1' || value === 'yes');

const port = z.coerce.number().int().min(0).max(65535);
const seconds = z.coerce.number().int().positive();

export const envSchema = z.object({
  NODE_ENV: z.enum(['development', 'production', 'test']).default('development'),
  PORT: port.default(3000),
  HOST: z.string().min(1).default('127.0.0.1'),
  /** Public issuer URL; defaults to http://localhost:PORT. */
  ISSUER: z.url({ protocol: /^https?$/ }).optional(),
  /** Postgres connection URL; without it an embedded database under DATA_DIR is used. */
  DATABASE_URL: z
    .string()
    .regex(/^postgres(ql)?:\/\//, 'must be a postgresql:// URL')
    .optional(),
  DATABASE_POOL_MAX: z.coerce.number().int().min(1).max(200).default(10),
  DATA_DIR: z.string().min(1).default('./data'),
  /** Seals signing keys, cookie keys and client secrets at rest. At least 32 characters. */
  MASTER_SECRET: z.string().min(32, 'must be at least 32 characters').optional(),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  /** Trust X-Forwarded-* from a TLS-terminating proxy in front of Portcullis. */
  TRUST_PROXY: bool.default(false),
  ACCESS_TOKEN_TTL: seconds.default(600),
  ID_TOKEN_TTL: seconds.default(3600),
  REFRESH_TOKEN_TTL: seconds.default(14 * 24 * 3600),
  SESSION_TTL: seconds.default(14 * 24 * 3600),
  GRANT_TTL: seconds.default(365 * 24 * 3600),
});

export type Env = z.infer<typeof envSchema>;
