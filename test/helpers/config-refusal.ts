import assert from 'node:assert/strict';

import { loadConfig } from '../../src/config/index.ts';

/** The least a production environment needs to start (NODE_ENV=production). */
export const PRODUCTION_ENV = { NODE_ENV: 'production', ISSUER: 'https://id.example.com', MASTER_SECRET: 'master-secret-value-that-is-long-enough-0123456789' };

/** Why loadConfig refuses an environment; fails the test if it accepts it. */
export function configRefusal(env: Record<string, string>): string {
  try {
    loadConfig(env);
  } catch (error) {
    return (error as Error).message;
  }
  return assert.fail('the configuration was accepted');
}
