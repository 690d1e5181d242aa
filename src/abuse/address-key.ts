import { isIP } from 'node:net';

// Who a budget or a throttle count belongs to, by address. Keys are short and carry no
// secrets; they may end up in Redis.

/**
 * The address a budget is kept for: IPv4 as is; IPv6 by its /64 (one subscriber usually
 * holds a whole /64, so single addresses would give them 2^64 budgets); IPv4-mapped IPv6
 * as the IPv4 address. Whatever else (an empty socket address) is kept as is, bounded.
 */
export function addressKey(ip: string): string {
  const bare = ip.startsWith('::ffff:') && isIP(ip.slice(7)) === 4 ? ip.slice(7) : ip;
  if (isIP(bare) !== 6) return bare.slice(0, 64);
  return `${expandIPv6(bare).slice(0, 4).join(':')}::/64`;
}

function expandIPv6(ip: string): string[] {
  const withoutZone = ip.split('%')[0] ?? ip;
  const [head = '', tail] = withoutZone.split('::');
  const left = head ? head.split(':') : [];
  const right = tail ? tail.split(':') : [];
  // An embedded IPv4 tail (::1.2.3.4) counts as two groups; it sits beyond the /64 anyway.
  const width = (groups: string[]) => groups.reduce((n, group) => n + (group.includes('.') ? 2 : 1), 0);
  const fill = tail === undefined ? [] : Array.from({ length: 8 - width(left) - width(right) }, () => '0');
  return [...left, ...fill, ...right].map((group) => (group.includes('.') ? group : group.toLowerCase().replace(/^0+(?=.)/, '')));
}
