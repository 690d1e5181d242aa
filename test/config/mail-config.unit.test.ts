import assert from 'node:assert/strict';
import { describe, test } from 'node:test';

import { configWarnings, loadConfig } from '../../src/config/index.ts';
import { configRefusal, PRODUCTION_ENV } from '../helpers/config-refusal.ts';

// SMTP_URL, MAIL_FROM and the password reset settings: parsed at start, the SMTP password
// never echoed, and production never offering a flow whose mail would go nowhere.

describe('mail configuration', () => {
  test('takes smtp:// and smtps:// URLs with credentials, and a From with or without a name', () => {
    const config = loadConfig({ SMTP_URL: 'smtps://user:p%40ss@mail.example.com:465', MAIL_FROM: 'Sign-in <signin@example.com>' });
    assert.equal(config.mail.smtpUrl, 'smtps://user:p%40ss@mail.example.com:465');
    assert.equal(config.mail.from, 'Sign-in <signin@example.com>');
    assert.equal(loadConfig({ MAIL_FROM: 'signin@example.com' }).mail.from, 'signin@example.com');
    assert.equal(loadConfig({ ISSUER: 'https://id.example.com' }).mail.from, 'Portcullis <no-reply@id.example.com>');
    assert.ok(Object.isFrozen(config.mail));
  });

  test('refuses another scheme, a URL it cannot parse, and a From that is no address, never echoing the value', () => {
    const secret = 'hunter2-secret';
    for (const url of [`http://user:${secret}@mail.example.com`, `smtp://user:${secret}@`, `smtp://user:${secret}@[bad`]) {
      const message = configRefusal({ SMTP_URL: url });
      assert.match(message, /SMTP_URL/);
      assert.ok(!message.includes(secret), message);
    }
    for (const url of [`smtp://user:${secret}@mail.example.com:587?requireTLS=false`, `smtp://user:${secret}@mail.example.com?tls.rejectUnauthorized=false`, `smtps://user:${secret}@mail.example.com#x`]) {
      const message = configRefusal({ SMTP_URL: url });
      assert.match(message, /SMTP_URL: must not carry a query string or fragment/, url);
      assert.ok(!message.includes(secret), message);
    }
    assert.match(configRefusal({ MAIL_FROM: 'not an address' }), /MAIL_FROM/);
    assert.match(configRefusal({ MAIL_FROM: 'a@example.com\r\nBcc: b@example.com' }), /MAIL_FROM/);
  });

  test('password reset is on by default in development, and in production only with SMTP_URL', () => {
    assert.equal(loadConfig({}).passwordReset.enabled, true);
    assert.equal(loadConfig(PRODUCTION_ENV).passwordReset.enabled, false);
    assert.equal(loadConfig({ ...PRODUCTION_ENV, SMTP_URL: 'smtp://u:p@mail.example.com:587' }).passwordReset.enabled, true);
    assert.equal(loadConfig({ PASSWORD_RESET: 'false' }).passwordReset.enabled, false);
    assert.deepEqual(loadConfig({}).passwordReset, { enabled: true, ttl: 1800, endSessions: true });
    assert.deepEqual(loadConfig({ PASSWORD_RESET_TTL: '600', PASSWORD_RESET_ENDS_SESSIONS: 'false' }).passwordReset, { enabled: true, ttl: 600, endSessions: false });
    assert.match(configRefusal({ PASSWORD_RESET_TTL: '10' }), /PASSWORD_RESET_TTL/);
  });

  test('production refuses to start with PASSWORD_RESET=true and no SMTP_URL, saying what to set', () => {
    assert.match(configRefusal({ ...PRODUCTION_ENV, PASSWORD_RESET: 'true' }), /PASSWORD_RESET: needs SMTP_URL in production .*set SMTP_URL, or PASSWORD_RESET=false/);
  });

  test('sign-up is off by default; invite and open need SMTP_URL in production, and say what to set', () => {
    assert.deepEqual(loadConfig({}).registration, { mode: 'off', linkTtl: 3600 });
    assert.deepEqual(loadConfig({ REGISTRATION: 'open', SIGN_UP_LINK_TTL: '600' }).registration, { mode: 'open', linkTtl: 600 });
    for (const mode of ['invite', 'open']) {
      assert.match(configRefusal({ ...PRODUCTION_ENV, REGISTRATION: mode }), new RegExp(`REGISTRATION: ${mode} needs SMTP_URL in production .*set SMTP_URL, or REGISTRATION=off`));
      assert.equal(loadConfig({ ...PRODUCTION_ENV, REGISTRATION: mode, SMTP_URL: 'smtps://user:pass@mail.example.com:465' }).registration.mode, mode);
    }
    assert.equal(loadConfig({ ...PRODUCTION_ENV, REGISTRATION: 'off' }).registration.mode, 'off');
    assert.match(configRefusal({ REGISTRATION: 'everyone' }), /REGISTRATION.*one of off, invite, open/);
    assert.match(configRefusal({ SIGN_UP_LINK_TTL: '10' }), /SIGN_UP_LINK_TTL/);
  });

  test('production refuses MFA=required without SMTP_URL (enrolment mails a code), and starts with it', () => {
    assert.match(configRefusal({ ...PRODUCTION_ENV, MFA: 'required' }), /MFA: required needs SMTP_URL in production .*set SMTP_URL, or MFA=optional/);
    assert.equal(loadConfig({ ...PRODUCTION_ENV, MFA: 'required', SMTP_URL: 'smtps://user:pass@mail.example.com:465' }).mfa.mode, 'required');
  });

  test('MFA_REQUIRED_ROLES: admin by default where mail reaches people; a list, or none; production without SMTP_URL has none and says so', () => {
    const SMTP = { SMTP_URL: 'smtps://user:pass@mail.example.com:465' };
    assert.deepEqual(loadConfig({}).mfa.roles, ['admin']);
    assert.deepEqual(loadConfig({ ...PRODUCTION_ENV, ...SMTP }).mfa.roles, ['admin']);
    assert.deepEqual(loadConfig({ MFA_REQUIRED_ROLES: ' admin , finance' }).mfa.roles, ['admin', 'finance']);
    // Nothing that looks like a list turns the rule off by accident: only `none` does.
    for (const value of [' ', ',', ' , ', 'admin,', 'none,', 'none,admin', 'admin,,ops']) assert.match(configRefusal({ MFA_REQUIRED_ROLES: value }), /MFA_REQUIRED_ROLES/, JSON.stringify(value));
    assert.deepEqual(loadConfig({ MFA_REQUIRED_ROLES: 'none' }).mfa.roles, []);
    assert.deepEqual(loadConfig({ MFA_REQUIRED_ROLES: '' }).mfa.roles, ['admin'], 'empty is unset, as for every setting');
    assert.ok(Object.isFrozen(loadConfig({}).mfa.roles));
    assert.match(configRefusal({ MFA_REQUIRED_ROLES: 'Admin' }), /MFA_REQUIRED_ROLES/);

    const withoutMail = loadConfig({ ...PRODUCTION_ENV });
    assert.deepEqual(withoutMail.mfa.roles, []);
    assert.ok(configWarnings(withoutMail).some((warning) => /admins sign in with a password alone; set SMTP_URL/.test(warning)));
    assert.ok(!configWarnings(loadConfig({ ...PRODUCTION_ENV, ...SMTP })).some((warning) => /second factor/.test(warning)));
    assert.ok(!configWarnings(loadConfig({ ...PRODUCTION_ENV, MFA_REQUIRED_ROLES: 'none' })).some((warning) => /second factor/.test(warning)), 'chosen, not warned about');
    // With the admin API on, a list without admin is warned about (admins would reach it with a password alone).
    assert.ok(configWarnings(loadConfig({ ADMIN_API: 'true', MFA_REQUIRED_ROLES: 'ops' })).some((warning) => /does not name admin/.test(warning)));
    assert.ok(configWarnings(loadConfig({ ADMIN_API: 'true', MFA_REQUIRED_ROLES: 'none' })).some((warning) => /does not name admin/.test(warning)));
    assert.ok(!configWarnings(loadConfig({ ADMIN_API: 'true' })).some((warning) => /does not name admin/.test(warning)));
    assert.ok(!configWarnings(loadConfig({ ADMIN_API: 'true', MFA_REQUIRED_ROLES: 'ops', MFA: 'required' })).some((warning) => /does not name admin/.test(warning)), 'everyone needs one anyway');
    assert.match(configRefusal({ ...PRODUCTION_ENV, MFA_REQUIRED_ROLES: 'admin' }), /MFA_REQUIRED_ROLES: needs SMTP_URL in production .*or MFA_REQUIRED_ROLES=none/);
    assert.deepEqual(loadConfig({ ...PRODUCTION_ENV, MFA_REQUIRED_ROLES: 'none' }).mfa.roles, [], 'explicitly none: no refusal');
  });

  test('mail reaches people through SMTP_URL, or outside production through the log; in production without SMTP_URL, only the log', () => {
    assert.equal(loadConfig({ ...PRODUCTION_ENV }).mail.reachesPeople, false);
    assert.equal(loadConfig({ ...PRODUCTION_ENV, SMTP_URL: 'smtps://user:pass@mail.example.com:465' }).mail.reachesPeople, true);
    assert.equal(loadConfig({}).mail.reachesPeople, true);
  });
});
