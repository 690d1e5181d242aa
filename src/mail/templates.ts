import type { MailMessage } from './mail-message.ts';

// The messages Portcullis sends, each as plain text and as HTML (every value escaped).
// English for now: the pages speak the person's language, these do not yet.

const ESCAPES: Readonly<Record<string, string>> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };
const escapeHtml = (text: string) => text.replace(/[&<>"']/g, (char) => ESCAPES[char]!);

/** A small, inline-styled page: mail clients drop stylesheets. Paragraphs are text, escaped here. */
function html(title: string, paragraphs: readonly string[], action?: { label: string; url: string }): string {
  const body = paragraphs.map((text) => `<p style="margin:0 0 16px">${escapeHtml(text)}</p>`).join('\n');
  const button = action
    ? `<p style="margin:0 0 16px"><a href="${escapeHtml(action.url)}" style="display:inline-block;padding:10px 18px;background:#1d4ed8;color:#fff;border-radius:6px;text-decoration:none">${escapeHtml(action.label)}</a></p>\n<p style="margin:0 0 16px;font-size:13px;color:#555">${escapeHtml(action.url)}</p>`
    : '';
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${escapeHtml(title)}</title></head>
<body style="font-family:system-ui,sans-serif;font-size:15px;line-height:1.5;color:#111;max-width:560px;margin:24px auto;padding:0 16px">
${body}
${button}
</body></html>`;
}

function minutes(seconds: number): string {
  const count = Math.max(1, Math.round(seconds / 60));
  return count === 1 ? '1 minute' : `${count} minutes`;
}

/** The link that sets a new password. */
export function passwordResetMessage(input: { to: string; link: string; ttlSeconds: number; issuerHost: string }): MailMessage {
  const subject = 'Reset your password';
  const lines = [
    `Someone asked to reset the password of your account at ${input.issuerHost}.`,
    `To choose a new password, open the link below within ${minutes(input.ttlSeconds)}. It works once.`,
  ];
  const ignore = 'If you did not ask for this, ignore this message: your password stays as it is.';
  return {
    kind: 'password_reset',
    to: input.to,
    subject,
    text: `${lines.join('\n\n')}\n\n${input.link}\n\n${ignore}\n`,
    html: html(subject, lines, { label: 'Choose a new password', url: input.link }).replace('</body>', `<p style="margin:0 0 16px">${escapeHtml(ignore)}</p>\n</body>`),
  };
}

/** Told after the password changed through a reset link, or on the account page. */
export function passwordChangedMessage(input: { to: string; issuerHost: string; endedSessions: boolean; via?: 'reset' | 'account' }): MailMessage {
  const subject = 'Your password was changed';
  const how = input.via === 'account' ? 'on your account page' : 'through a reset link';
  const lines = [
    `The password of your account at ${input.issuerHost} was just changed ${how}.`,
    ...(input.endedSessions ? [input.via === 'account' ? 'Every other device and every app signed in to your account has been signed out.' : 'Every device signed in to your account has been signed out.'] : []),
    'If this was not you, reset your password again at once and tell your administrator.',
  ];
  return { kind: 'password_changed', to: input.to, subject, text: `${lines.join('\n\n')}\n`, html: html(subject, lines) };
}

/** Told when the app's codes are refused after many wrong ones: whoever typed them had the password. */
export function secondFactorLockedMessage(input: { to: string; issuerHost: string }): MailMessage {
  const subject = 'Sign-in codes refused after many wrong tries';
  const lines = [
    `Someone entered the password of your account at ${input.issuerHost} and then many wrong codes from an authenticator app. Codes from your app are refused until you sign in with one of your recovery codes, or an administrator resets your authenticator.`,
    'If this was not you, someone knows your password: change it at once.',
  ];
  return { kind: 'second_factor_locked', to: input.to, subject, text: `${lines.join('\n\n')}\n`, html: html(subject, lines) };
}

/** Told when an authenticator app was set up for the account. */
export function secondFactorAddedMessage(input: { to: string; issuerHost: string }): MailMessage {
  const subject = 'An authenticator app was added to your account';
  const lines = [
    `An authenticator app was just set up for two-step verification on your account at ${input.issuerHost}. Signing in now needs a code from it.`,
    'If this was not you, someone knows your password: tell your administrator at once, who can remove that app, and change your password.',
  ];
  return { kind: 'second_factor_added', to: input.to, subject, text: `${lines.join('\n\n')}\n`, html: html(subject, lines) };
}

/** A passkey was added to the account (its name as the person gave it: shown, never a link). */
export function passkeyAddedMessage(input: { to: string; issuerHost: string; name: string }): MailMessage {
  const subject = 'A passkey was added to your account';
  const lines = [
    `A passkey named “${input.name}” was just added to your account at ${input.issuerHost}. It can now be used to sign in.`,
    'If this was not you, someone is in your account: remove that passkey on your account page, change your password, and tell your administrator.',
  ];
  return { kind: 'passkey_added', to: input.to, subject, text: `${lines.join('\n\n')}\n`, html: html(subject, lines) };
}

/** A passkey was removed from the account. */
export function passkeyRemovedMessage(input: { to: string; issuerHost: string; name: string }): MailMessage {
  const subject = 'A passkey was removed from your account';
  const lines = [
    `The passkey named “${input.name}” was just removed from your account at ${input.issuerHost}. It no longer signs you in.`,
    'If this was not you, change your password and tell your administrator.',
  ];
  return { kind: 'passkey_removed', to: input.to, subject, text: `${lines.join('\n\n')}\n`, html: html(subject, lines) };
}

/** The authenticator app was removed from the account by its owner on the account page. */
export function authenticatorRemovedMessage(input: { to: string; issuerHost: string }): MailMessage {
  const subject = 'Your authenticator app was removed';
  const lines = [
    `The authenticator app of your account at ${input.issuerHost} was just removed on your account page. Sign-ins no longer ask for its codes.`,
    'If this was not you, someone is in your account: change your password and tell your administrator.',
  ];
  return { kind: 'authenticator_removed', to: input.to, subject, text: `${lines.join('\n\n')}\n`, html: html(subject, lines) };
}

/** New recovery codes were made for the account: the old ones no longer work. */
export function recoveryCodesRenewedMessage(input: { to: string; issuerHost: string }): MailMessage {
  const subject = 'New recovery codes for your account';
  const lines = [
    `New recovery codes were just made for your account at ${input.issuerHost} on your account page. Your old recovery codes no longer work.`,
    'If this was not you, someone is in your account: change your password and tell your administrator.',
  ];
  return { kind: 'recovery_codes_renewed', to: input.to, subject, text: `${lines.join('\n\n')}\n`, html: html(subject, lines) };
}

/** The code that proves the mailbox before a first authenticator is set up at sign-in. */
export function mailboxCodeMessage(input: { to: string; code: string; ttlSeconds: number; issuerHost: string; purpose?: 'setup' | 'change' }): MailMessage {
  // A change (removing the app or a passkey, new recovery codes) is worded as what it is.
  const change = input.purpose === 'change';
  const subject = change ? 'Your code to change two-step verification' : 'Your code to set up two-step verification';
  const lines = [
    `Someone signed in to your account at ${input.issuerHost} with your password and is ${change ? 'changing' : 'setting up'} two-step verification.`,
    `If this is you, enter this code within ${minutes(input.ttlSeconds)}:`,
    input.code,
    'If this was not you, do not give this code to anyone: someone knows your password. Change it and tell your administrator.',
  ];
  return { kind: 'mailbox_code', to: input.to, subject, text: `${lines.join('\n\n')}\n`, html: html(subject, lines) };
}

/** The link that proves the address and makes the account (sign-up). */
export function signUpMessage(input: { to: string; link: string; ttlSeconds: number; issuerHost: string }): MailMessage {
  const subject = 'Finish making your account';
  const lines = [
    `Someone asked to make an account at ${input.issuerHost} for this address.`,
    `To choose your name and password, open the link below within ${minutes(input.ttlSeconds)}. It works once.`,
  ];
  const ignore = 'If you did not ask for this, ignore this message: no account is made without the link.';
  return {
    kind: 'sign_up',
    to: input.to,
    subject,
    text: `${lines.join('\n\n')}\n\n${input.link}\n\n${ignore}\n`,
    html: html(subject, lines, { label: 'Finish making your account', url: input.link }).replace('</body>', `<p style="margin:0 0 16px">${escapeHtml(ignore)}</p>\n</body>`),
  };
}

/** Told, instead of a sign-up link, when the address already has an account. */
export function alreadyRegisteredMessage(input: { to: string; issuerHost: string; resetUrl?: string | undefined }): MailMessage {
  const subject = 'You already have an account';
  const lines = [
    `Someone asked to make an account at ${input.issuerHost} for this address, which already has one. No new account was made.`,
    input.resetUrl ? 'If you forgot your password, you can choose a new one:' : 'If you forgot your password, ask your administrator to reset it.',
  ];
  const ignore = 'If you did not ask for this, ignore this message: your account stays as it is.';
  return {
    kind: 'already_registered',
    to: input.to,
    subject,
    text: `${lines.join('\n\n')}\n\n${input.resetUrl ? `${input.resetUrl}\n\n` : ''}${ignore}\n`,
    html: html(subject, lines, input.resetUrl ? { label: 'Reset your password', url: input.resetUrl } : undefined).replace('</body>', `<p style="margin:0 0 16px">${escapeHtml(ignore)}</p>\n</body>`),
  };
}

/** The link that proves a new address before the account takes it (the account page). */
export function emailChangeMessage(input: { to: string; link: string; ttlSeconds: number; issuerHost: string }): MailMessage {
  const subject = 'Confirm your new email address';
  const lines = [
    `Someone signed in to an account at ${input.issuerHost} asked to use this address for it.`,
    `To make the change, open the link below within ${minutes(input.ttlSeconds)}. It works once.`,
  ];
  const ignore = 'If you did not ask for this, ignore this message: nothing changes without the link.';
  return {
    kind: 'email_change',
    to: input.to,
    subject,
    text: `${lines.join('\n\n')}\n\n${input.link}\n\n${ignore}\n`,
    html: html(subject, lines, { label: 'Confirm the new address', url: input.link }).replace('</body>', `<p style="margin:0 0 16px">${escapeHtml(ignore)}</p>\n</body>`),
  };
}

/** Told at the old address once the account moved to a new one. */
export function emailChangedMessage(input: { to: string; newEmail: string; issuerHost: string }): MailMessage {
  const subject = 'Your email address was changed';
  const lines = [
    `The account at ${input.issuerHost} that used this address now uses ${input.newEmail}. Password reset links sent here no longer work.`,
    'If this was not you, tell your administrator at once.',
  ];
  return { kind: 'email_changed', to: input.to, subject, text: `${lines.join('\n\n')}\n`, html: html(subject, lines) };
}

/** Before an address change: a code to the current address, so that the password alone cannot move the account's mail. */
export function addressChangeCodeMessage(input: { to: string; code: string; newEmail: string; ttlSeconds: number; issuerHost: string }): MailMessage {
  const subject = 'Your code to change your email address';
  const lines = [
    `Someone signed in to your account at ${input.issuerHost} with your password and asked to change its address to ${input.newEmail}.`,
    `If this is you, enter this code within ${minutes(input.ttlSeconds)}:`,
    input.code,
    'If this was not you, do not give this code to anyone: someone knows your password. Change it and tell your administrator.',
  ];
  return { kind: 'address_change_code', to: input.to, subject, text: `${lines.join('\n\n')}\n`, html: html(subject, lines) };
}
