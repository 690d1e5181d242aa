import type { Client } from 'oidc-provider';

import { translator, type Translate } from './messages/index.ts';

// How a client introduces itself on our pages. Read from the engine's client (the same
// metadata the protocol uses), so logo and links appear as soon as a client carries them.

export interface ClientDisplay {
  readonly name: string;
  /** The first letter of the name, shown when there is no logo. */
  readonly initial: string;
  readonly logoUri: string | undefined;
  readonly clientUri: string | undefined;
  readonly policyUri: string | undefined;
  readonly tosUri: string | undefined;
  /**
   * The client registered itself (RFC 7591): no operator vouched for its name or links. The
   * page says so and names the hosts it sends people back to; its logo is not shown (an
   * image of anyone's choosing, fetched by the person's browser).
   */
  readonly registered: boolean;
  /**
   * The client is described by its Client ID Metadata Document, at a URL on this host: as
   * unverified as a registered one (the page says so, names the host and where it sends
   * people, shows no logo), and the host is the one thing about it that is checked.
   */
  readonly metadataDocumentHost: string | undefined;
  readonly redirectHosts: readonly string[];
}

/** Only web URLs become links or images; anything else (javascript:, data:) is dropped. */
function webUrl(value: unknown): string | undefined {
  if (typeof value !== 'string' || !URL.canParse(value)) return undefined;
  const { protocol } = new URL(value);
  return protocol === 'https:' || protocol === 'http:' ? value : undefined;
}

/** A client without a name is called what the page's language calls an unknown application. */
export function clientDisplay(client: Client | undefined, t: Translate = translator('en')): ClientDisplay {
  const name = client?.clientName?.trim() || t('client.unknown');
  const registered = (client as { portcullis_registered?: unknown } | undefined)?.portcullis_registered === true;
  const fromDocument = (client as { portcullis_metadata_document?: unknown } | undefined)?.portcullis_metadata_document === true && URL.canParse(client?.clientId ?? '');
  const unverified = registered || fromDocument;
  return {
    name,
    initial: client?.clientName ? [...name][0]!.toUpperCase() : '?',
    // A logo over plain http would be mixed content on an https page; https only.
    logoUri: !unverified && webUrl(client?.logoUri)?.startsWith('https:') ? client?.logoUri : undefined,
    clientUri: webUrl(client?.clientUri),
    policyUri: webUrl(client?.policyUri),
    tosUri: webUrl(client?.tosUri),
    registered,
    metadataDocumentHost: fromDocument ? new URL(client!.clientId).host : undefined,
    redirectHosts: unverified ? [...new Set((client?.redirectUris ?? []).filter((uri) => URL.canParse(uri)).map((uri) => new URL(uri).host || uri))] : [],
  };
}

/** Where forms on this client's pages may lead: its registered redirect targets. */
export function clientFormTargets(client: Client | undefined): string[] {
  return [...(client?.redirectUris ?? []), ...(client?.postLogoutRedirectUris ?? [])];
}

/**
 * The form targets of whatever page this response is: set by our interaction routes, or
 * the client of the engine's own page (logout confirmation, form_post, error).
 */
export function pageFormTargets(ctx: { state: Record<string, unknown>; oidc?: { client?: Client | undefined } }): string[] {
  const fromRoute = ctx.state.formTargets;
  if (Array.isArray(fromRoute)) return fromRoute.filter((uri): uri is string => typeof uri === 'string');
  return clientFormTargets(ctx.oidc?.client);
}
