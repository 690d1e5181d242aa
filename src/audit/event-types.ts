// The catalogue of audit event types: the one list of what the trail can hold. An event's
// `type` is typed from it (sink.ts), so recording a type missing here fails to compile, and
// `portcullis events --help` and the README's list are this table. A type joins the list
// with the code that records it, and leaves with the last caller: the list never promises
// an event nothing writes. Keep types dotted, lower case, past tense.

export const AUDIT_EVENT_TYPES = {
  'login.success': 'a person logged in with their password',
  'login.failure': 'a login was refused (data.reason; the account, when the email names one)',
  'login.blocked': 'repeated failures blocked logins for an address or an account and address (data.scope, data.seconds)',
  'login.unblocked': "an operator lifted the login blocks of an account or an address (data.scope; from the CLI: data.osUser, data.host)",
  'password_reset.requested': 'a password reset link was asked for (the account, when the address names one; data.sent: whether a link was queued for mailing)',
  'password_reset.failed': 'a password reset link, or the password sent with it, was refused (data.reason: invalid_link, too_short, too_long, too_common)',
  'password_reset.completed': "a password was set through a reset link; the account's login blocks were lifted (data.endedSessions, data.grants, data.tokens; data.endFailed when the password changed but ending its sessions failed, also logged as an error)",
  'mfa.enrolment_started': 'a new authenticator secret was made for a person to scan; it works once confirmed (data.factor)',
  'mfa.enrolled': 'a person set up an authenticator app (TOTP) and was shown ten new recovery codes (data.factor, data.recoveryCodes)',
  'mfa.success': 'a second factor was accepted at sign-in (data.method: otp or recovery)',
  'mfa.mailbox_code_sent': 'a code was mailed to the account’s address before an authenticator is set up at sign-in (proof that the mailbox is the person’s)',
  'mfa.mailbox_proven': 'the code mailed before an enrolment was typed back: the sign-in may now set up an authenticator',
  'mfa.failure': 'a second-factor code was refused at sign-in or enrolment (wrong, replayed, spent or expired; data.step: code, mailbox or enrolment)',
  'mfa.locked': "the app's codes of an account are refused after 100 wrong ones in a row (until a recovery code or an operator's reset); its owner was mailed",
  'mfa.unmet': 'a request required a second factor (essential acr) of a person who has none: the client got unmet_authentication_requirements (only once the engine’s `claims` parameter is enabled; it is off)',
  'mfa.recovery_code_used': 'a recovery code was spent at sign-in (data.left: unused codes left)',
  'mfa.reset': "an operator removed an account's authenticator and recovery codes (data.removed)",
  'rate_limit.blocked': 'a request was refused by an abuse limit (data.tier)',
  'consent.granted': 'a person granted a client scopes or resources (data.scopes)',
  'consent.denied': 'a person refused a client',
  'consent.revoked': 'a person revoked what they had granted a client: one authorization (data.grantId) or every one and the consent (data.all)',
  'device.authorization_requested': 'a device asked to be connected (device flow, RFC 8628): a device code and user code were issued to the client (data.scope; never a code)',
  'device.code_wrong': 'a user code typed at /device was not valid (unknown, expired or already used); counted per address',
  'device.approved': 'a person signed in at /device and connected the device: the client may now poll for its tokens (data.scope)',
  'device.denied': 'a person cancelled connecting a device (at the confirmation, login or consent page); its polling gets access_denied',
  'token.issued': 'the token endpoint issued tokens (data.grantType, data.scope, data.resource; never a token)',
  'token.revoked': 'a client revoked one of its tokens (data.tokenType)',
  'token.refresh_reuse_detected': 'a rotated refresh token was presented again; its grant was revoked',
  'grant.revoked': 'every token of one grant was revoked (data.reason: revocation, refresh_token_reuse, logout, operator, ...)',
  logout: 'a person ended their session, or their session with one client (data.scope)',
  'session.ended': 'an operator signed one browser session of a person out: the session and every grant made in it ended (data.session, data.clients, data.grants, data.tokens)',
  'client.created': 'a client was registered',
  'client.updated': 'a client registration changed (data.fields)',
  'client.secret_rotated': "a confidential client's secret was replaced",
  'client.deleted': 'a client was deleted, and every grant, token and consent it held ended (data.grants, data.tokens)',
  'client.tokens_revoked': "every grant, token and consent of a client was ended; its client-credentials JWTs stop verifying (data.grants, data.tokens)",
  'resource.created': 'a resource server was registered (data.indicator, data.accessTokenFormat, data.accessTokenTtl, data.scopes with their roles)',
  'resource.updated': 'a resource server changed (data.indicator, data.fields: the fields given, * for a whole replacement; and its settings and scopes after)',
  'resource.deleted': 'a resource server was deleted with its scopes (data.indicator)',
  'user.created': 'an account was created',
  'user.updated': 'an account\'s name, roles or verified flag changed (data.fields)',
  'user.disabled': 'an account was disabled, and every grant, token and session it held ended (data.grants, data.tokens)',
  'user.tokens_revoked': 'every grant, token, session and consent of an account was ended (data.grants, data.tokens)',
  'user.enabled': 'an account was enabled again',
  'user.password_changed': "an account's password was set",
  'admin.refused': 'the admin API refused a valid access token that lacks the scope a request needs, or whose subject no longer holds the role or registration it was issued for; once per subject a minute (data.method, data.path, data.scope)',
  'key.created': 'a signing or cookie key was generated (data.use, data.kid or data.id, data.alg, data.activatesAt: when it starts signing)',
  'key.retired': 'a signing key was withdrawn from the JWKS, or a cookie key from verification (data.use, data.kid or data.id, data.forced)',
} as const satisfies Record<string, string>;

/** Every type an event may be recorded with. */
export type AuditEventType = keyof typeof AUDIT_EVENT_TYPES;
