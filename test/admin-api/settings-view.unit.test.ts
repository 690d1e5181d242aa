import assert from 'node:assert/strict';
import { test } from 'node:test';

import { settingsView, settingsViewSchema } from '../../src/admin-api/settings-view.ts';
import { loadConfig } from '../../src/config/index.ts';

// GET /settings answers what an instance runs with, never what a setting holds secretly.

const SECRETS = {
  MASTER_SECRET: 'master-secret-value-that-is-long-enough-0123456789',
  DATABASE_URL: 'postgresql://portcullis:db-password-42@db.internal:5432/portcullis',
  REDIS_URL: 'rediss://default:redis-password-42@cache.internal:6380',
  SMTP_URL: 'smtps://mailer:smtp-password-42@mail.internal:465',
  SENTRY_DSN: 'https://sentry-key-42@o1.ingest.sentry.io/42',
};

test('every secret a setting may hold is said only as whether it is set; the answer matches its schema', () => {
  const config = loadConfig({ NODE_ENV: 'production', ISSUER: 'https://id.example.com', TRUST_PROXY: 'true', ...SECRETS, DATABASE_POOL_MAX: '7', ADMIN_API: 'true' });
  const view = settingsView(config);
  assert.doesNotThrow(() => settingsViewSchema.parse(view));
  const text = JSON.stringify(view);
  for (const [name, value] of Object.entries(SECRETS)) {
    assert.ok(!text.includes(value), `${name} is not shown`);
    for (const part of value.split(/[/:@]/).filter((piece) => piece.length > 6)) assert.ok(!text.includes(part), `no part of ${name} (${part})`);
  }
  assert.deepEqual(view.database, { kind: 'postgres', poolMax: 7 });
  assert.deepEqual(view.redis, { configured: true, whenUnavailable: config.redis!.whenUnavailable });
  assert.equal(view.mail.smtp, true);
  assert.equal(view.features.errorReporting, true);
  assert.deepEqual(view.grantTypes, ['authorization_code', 'refresh_token', 'client_credentials']);
  assert.deepEqual(settingsView(loadConfig({ ...SECRETS, GRANT_TYPES: 'client_credentials' })).grantTypes, ['client_credentials']);
  assert.deepEqual(view.mfa, { mode: 'optional', requiredRoles: ['admin'] });
});

test('development on the embedded database: nothing configured is said as not set, paths are not shown', () => {
  const config = loadConfig({ DATA_DIR: '/srv/secret-place/data' });
  const view = settingsView(config);
  assert.doesNotThrow(() => settingsViewSchema.parse(view));
  assert.deepEqual(view.database, { kind: 'embedded', poolMax: null });
  assert.deepEqual(view.redis, { configured: false, whenUnavailable: null });
  assert.equal(view.mail.smtp, false);
  assert.ok(!JSON.stringify(view).includes('secret-place'));
});
