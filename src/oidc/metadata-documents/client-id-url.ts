// Which client_id values name a Client ID Metadata Document
// (draft-ietf-oauth-client-id-metadata-document section 3): an https URL with a path, no
// fragment, no user name or password, no `.` or `..` path segment. Judged on the string as
// sent, not on what the URL parser makes of it: the parser removes dot segments and fixes
// other oddities silently, and the document must name exactly the URL it was fetched from.

import ipaddr from 'ipaddr.js';

import { isLoopbackHost } from '../../clients/index.ts';

/** The longest client_id URL resolved: whatever names such a client (a revocation by a person) takes this many characters too. */
export const MAX_CLIENT_ID_URL_LENGTH = 2000;
const MAX_LENGTH = MAX_CLIENT_ID_URL_LENGTH;

/** Whitespace, controls and backslashes: the parser drops or rewrites them, so the URL fetched would not be the one sent. */
const UNSAFE_CHARACTERS = /[\p{Cc}\s\\]/u;

/** Whether a client_id is meant as a URL at all: such an id is never one of the registry's (clients/validation.ts). */
export function looksLikeUrlClientId(clientId: string): boolean {
  return /^https?:\/\//i.test(clientId);
}

/**
 * Why a client_id cannot be a metadata document's URL here; undefined when it can.
 * `allowLoopbackHttp` (CLIENT_ID_METADATA_ALLOW_PRIVATE_HOSTS): http:// on a loopback host
 * as well, for development and tests.
 */
export function clientIdUrlProblem(clientId: string, options: { readonly allowLoopbackHttp: boolean }): string | undefined {
  if (clientId.length > MAX_LENGTH) return `a client_id URL is at most ${MAX_LENGTH} characters`;
  if (UNSAFE_CHARACTERS.test(clientId)) return 'a client_id URL must not contain spaces, control characters or backslashes';
  const url = URL.parse(clientId);
  if (!url) return 'client_id is not a URL';
  // The registry's loopback hosts, and the rest of 127/8 (tests serve documents of several hosts).
  const loopback = isLoopbackHost(url.hostname) || (ipaddr.IPv4.isValidFourPartDecimal(url.hostname) && ipaddr.IPv4.parse(url.hostname).range() === 'loopback');
  if (url.protocol !== 'https:' && !(options.allowLoopbackHttp && url.protocol === 'http:' && loopback)) return 'a client_id URL must be https';
  if (clientId.includes('#')) return 'a client_id URL must not contain a fragment';
  const afterScheme = clientId.slice(clientId.indexOf('//') + 2);
  const authorityEnd = afterScheme.search(/[/?]/);
  const authority = authorityEnd === -1 ? afterScheme : afterScheme.slice(0, authorityEnd);
  if (authority.includes('@')) return 'a client_id URL must not contain a user name or password';
  const path = authorityEnd === -1 || afterScheme[authorityEnd] !== '/' ? '' : afterScheme.slice(authorityEnd).split('?')[0]!;
  if (path === '' || path === '/') return 'a client_id URL must have a path';
  const segments = path.split('/').map((segment) => segment.replace(/%2e/gi, '.'));
  if (segments.some((segment) => segment === '.' || segment === '..')) return 'a client_id URL must not contain . or .. path segments';
  return undefined;
}
