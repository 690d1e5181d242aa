import { isIP } from 'node:net';
import path from 'node:path';

import { StartupError } from '../errors.ts';
import { envSchema } from './schema.ts';

export interface Config {
  readonly env: 'development' | 'production' | 'test';
  readonly production: boolean;
  readonly port: number;
  readonly host: string;
  readonly issuer: string;
  readonly database:
    | { readonly kind: 'postgres'; readonly url: string; readonly poolMax: number }
    | { readonly kind: 'embedded'; readonly dataDir: string };
  readonly dataDir: string;
  /** Absent only in development/test: then main.ts generates one into DATA_DIR. */
  readonly masterSecret: string | undefined;
  readonly logLevel: string;
  readonly trustProxy: boolean;
  readonly ttl: {
    readonly accessToken: number;
    readonly idToken: number;
    readonly refreshToken: number;
    readonly session: number;
    readonly grant: number;
  };
}

function isLocalhost(hostname: string): boolean {
  const bare = hostname.replace(/^\[|\]$/g, '');
  if (bare === 'localhost' || bare.endsWith('.localhost')) return true;
  if (isIP(bare) === 4) return bare.startsWith('127.');
  return bare === '::1';
}

/**
 * Parses the environment once into a frozen Config. Throws StartupError naming every
 * bad variable; never echoes a value (it may be a secret).
 */
export function loadConfig(source: Record<string, string | undefined> = process.env): Config {
  // Empty strings mean "unset", as they do in most .env tooling.
  const cleaned = Object.fromEntries(Object.entries(source).filter(([, value]) => value !== ''));
  const parsed = envSchema.safeParse(cleaned);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((issue) => `  ${issue.path.join('.')}: ${issue.message}`);
    throw new StartupError(`invalid configuration:\n${lines.join('\n')}`);
  }
  const env = parsed.data;
  const production = env.NODE_ENV === 'production';
  const issuer = (env.ISSUER ?? `http://localhost:${env.PORT}`).replace(/\/+$/, '');
  const issuerUrl = new URL(issuer);

  const refusals: string[] = [];
  if (production && !env.MASTER_SECRET) {
    refusals.push('  MASTER_SECRET: required in production (a generated development secret is refused)');
  }
  if (production && issuerUrl.protocol !== 'https:' && !isLocalhost(issuerUrl.hostname)) {
    refusals.push('  ISSUER: must be https in production (only localhost may use http)');
  }
  if (issuerUrl.search || issuerUrl.hash) {
    refusals.push('  ISSUER: must not have a query or fragment');
  }
  if (refusals.length > 0) {
    throw new StartupError(`invalid configuration:\n${refusals.join('\n')}`);
  }

  const dataDir = path.resolve(env.DATA_DIR);
  return Object.freeze({
    env: env.NODE_ENV,
    production,
    port: env.PORT,
    host: env.HOST,
    issuer,
    database: Object.freeze(
      env.DATABASE_URL
        ? { kind: 'postgres' as const, url: env.DATABASE_URL, poolMax: env.DATABASE_POOL_MAX }
        : { kind: 'embedded' as const, dataDir },
    ),
    dataDir,
    masterSecret: env.MASTER_SECRET,
    logLevel: env.LOG_LEVEL,
    trustProxy: env.TRUST_PROXY,
    ttl: Object.freeze({
      accessToken: env.ACCESS_TOKEN_TTL,
      idToken: env.ID_TOKEN_TTL,
      refreshToken: env.REFRESH_TOKEN_TTL,
      session: env.SESSION_TTL,
      grant: env.GRANT_TTL,
    }),
  });
}
