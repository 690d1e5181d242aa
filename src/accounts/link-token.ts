import { createHash, randomBytes } from 'node:crypto';

// The tokens of the links Portcullis mails or prints (password resets, sign-up links,
// invitations): 256 random bits in 43 base64url characters, stored only as their SHA-256.

const TOKEN = /^[A-Za-z0-9_-]{43}$/;

export const newLinkToken = () => randomBytes(32).toString('base64url');

export const hashLinkToken = (token: string) => createHash('sha256').update(token).digest('base64url');

/** Whether `token` has the shape of one: anything else names no link and is not looked up. */
export const isLinkToken = (token: string) => TOKEN.test(token);
