import { isLocalhost, type Config } from './load-config.ts';

/**
 * Settings that start but are probably not what the operator meant. Returned, not logged:
 * the server's entry logs them once per process (the CLI and test servers do not).
 */
export function configWarnings(config: Config): string[] {
  const warnings: string[] = [];
  if (config.production && !config.trustProxy && !config.tls && !isLocalhost(new URL(config.issuer).hostname)) {
    warnings.push(
      'the issuer is https but requests arrive over plain http: set TRUST_PROXY=true behind a TLS-terminating proxy, or TLS_CERT_FILE and TLS_KEY_FILE; until then cookies are not marked Secure',
    );
  }
  if (config.production && config.mail.insecure && config.mail.smtpUrl?.startsWith('smtp://')) {
    warnings.push('SMTP_INSECURE=true: mail (reset links, and the SMTP password) may go to the mail server unencrypted when it offers no STARTTLS; unset it once the server speaks TLS');
  }
  if (config.adminApi && !config.mfaDefaultWithheld && !config.mfa.roles.includes('admin') && config.mfa.mode !== 'required') {
    warnings.push('MFA_REQUIRED_ROLES does not name admin: people with the admin role reach the admin API with a password alone; add admin to it');
  }
  if (config.mfaDefaultWithheld) {
    warnings.push('no role requires a second factor: without SMTP_URL no one can enrol at sign-in, so admins sign in with a password alone; set SMTP_URL (admin then needs a second factor by default), or MFA_REQUIRED_ROLES=none to say this is meant');
  }
  return warnings;
}
