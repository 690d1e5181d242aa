import { lookup as dnsLookup, type LookupAddress, type LookupOptions } from 'node:dns';

import ipaddr from 'ipaddr.js';

// The SSRF guard of metadata document fetches: a document is fetched only from public
// unicast addresses. ipaddr.js names the range of an address (private, loopback, link-local
// with the cloud metadata services at 169.254.169.254, unique-local, multicast,
// unspecified, CGNAT, reserved, documentation, 6to4 and Teredo, NAT64...); anything but
// plain `unicast` is refused, and an IPv4-mapped IPv6 address is judged as the IPv4
// address it carries. An IPv6 address must moreover be global unicast (2000::/3): ipaddr.js
// calls whatever it has no name for `unicast`, the deprecated IPv4-compatible ::/96
// (::a9fe:a9fe, 169.254.169.254 to a stack that still maps it) among them. The connection is made to the very addresses checked here (the
// lookup below is the connection's own), so a name that resolves to a public address
// when checked and to a private one when connected (DNS rebinding) gets no second look-up.

const GLOBAL_UNICAST = ipaddr.IPv6.parseCIDR('2000::/3');

/** An IPv6 literal as a URL's hostname writes it, [::1], without its brackets. */
const unbracketed = (host: string) => (host.startsWith('[') && host.endsWith(']') ? host.slice(1, -1) : host);

/** Whether an address (IPv4 or IPv6, as text) is a public unicast one. Anything unparseable is not. */
export function isPublicAddress(address: string): boolean {
  const bare = unbracketed(address);
  if (!ipaddr.isValid(bare)) return false;
  let parsed = ipaddr.parse(bare);
  if (parsed.kind() === 'ipv6' && (parsed as ipaddr.IPv6).isIPv4MappedAddress()) parsed = (parsed as ipaddr.IPv6).toIPv4Address();
  if (parsed.kind() === 'ipv6' && !(parsed as ipaddr.IPv6).match(GLOBAL_UNICAST)) return false;
  return parsed.range() === 'unicast';
}

/** Whether a host name is an address literal (the connection then makes no look-up at all). */
export function isAddressLiteral(hostname: string): boolean {
  return ipaddr.isValid(unbracketed(hostname));
}

/**
 * The one thing the requester is told when the guard refuses, or the name does not resolve:
 * telling them apart, or naming the address, would make us an oracle of internal DNS
 * (which internal names exist, and where). The details go to the audit event only.
 */
export const NOT_PUBLIC = 'the host of the client_id does not resolve to a public address';

export class AddressRefusedError extends Error {
  readonly code = 'ADDRESS_REFUSED';
  constructor(hostname: string, address: string) {
    super(`${hostname} resolves to ${address}, which is not a public address`);
  }
}

type LookupCallback = (error: NodeJS.ErrnoException | null, address: string | LookupAddress[], family?: number) => void;

/**
 * A dns.lookup for the connection (undici's connect.lookup): every address the name
 * resolves to must be public (one private answer refuses the name), unless `allowPrivate`.
 */
export function guardedLookup(allowPrivate: boolean) {
  return (hostname: string, options: LookupOptions, callback: LookupCallback): void => {
    dnsLookup(hostname, { ...options, all: true }, (error, addresses) => {
      if (error) {
        callback(error, []);
        return;
      }
      const refused = allowPrivate ? undefined : addresses.find((entry) => !isPublicAddress(entry.address));
      if (refused || addresses.length === 0) {
        callback(new AddressRefusedError(hostname, refused?.address ?? 'nothing'), []);
        return;
      }
      if (options.all) callback(null, addresses);
      else callback(null, addresses[0]!.address, addresses[0]!.family);
    });
  };
}
