import assert from 'node:assert/strict';

import type { CreationOptions, RequestOptions } from './soft-authenticator.ts';

// What a page's passkey button carries: the server's WebAuthn options (data-options, JSON
// in an HTML attribute), as the page's script reads them.

const ENTITIES: Readonly<Record<string, string>> = { '&quot;': '"', '&#39;': "'", '&lt;': '<', '&gt;': '>', '&amp;': '&' };

/** The options of the page's passkey button, or undefined when it has none. */
export function passkeyOptions(html: string): unknown {
  const attribute = /data-options="([^"]*)"/.exec(html)?.[1];
  return attribute === undefined ? undefined : JSON.parse(attribute.replace(/&(quot|#39|lt|gt|amp);/g, (entity) => ENTITIES[entity]!));
}

/** The options of a page that asks to create a passkey. */
export function creationOptions(html: string): CreationOptions {
  const options = passkeyOptions(html) as CreationOptions | undefined;
  assert.ok(options?.challenge && options.rp && options.user, `the page carries creation options: ${html.slice(0, 300)}`);
  return options;
}

/** The options of a page that asks for a passkey. */
export function requestOptions(html: string): RequestOptions {
  const options = passkeyOptions(html) as RequestOptions | undefined;
  assert.ok(options?.challenge, `the page carries request options: ${html.slice(0, 300)}`);
  return options;
}
