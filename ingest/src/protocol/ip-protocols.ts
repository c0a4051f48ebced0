/**
 * IP protocol numbers (the IPv4 Protocol / IPv6 Next Header field) and their names, from the IANA
 * "Assigned Internet Protocol Numbers" registry. Any number 0-255 is accepted; the names cover what
 * flows commonly carry. The first name of an entry is the one shown; the others are accepted aliases
 * (the IANA keyword where the common name differs, e.g. ipv6-icmp).
 */
import { NetwatchError } from './errors';

const PROTOCOLS: ReadonlyArray<readonly [number, ...string[]]> = [
  [0, 'hopopt'],
  [1, 'icmp'],
  [2, 'igmp'],
  [4, 'ipip', 'ipv4', 'ip-in-ip'],
  [6, 'tcp'],
  [17, 'udp'],
  [41, 'ipv6'],
  [43, 'ipv6-route'],
  [44, 'ipv6-frag'],
  [46, 'rsvp'],
  [47, 'gre'],
  [50, 'esp'],
  [51, 'ah'],
  [58, 'icmpv6', 'ipv6-icmp'],
  [59, 'ipv6-nonxt'],
  [60, 'ipv6-opts'],
  [89, 'ospf', 'ospfigp'],
  [103, 'pim'],
  [112, 'vrrp'],
  [115, 'l2tp'],
  [132, 'sctp'],
  [136, 'udplite'],
];

const numberByName = new Map<string, number>();
const nameByNumber: string[] = [];
for (const [n, ...names] of PROTOCOLS) {
  nameByNumber[n] = names[0];
  for (const name of names) numberByName.set(name, n);
}

/** The shown protocol names in protocol-number order, for the query editor's multi-select. */
export const PROTOCOL_NAMES: readonly string[] = PROTOCOLS.map((p) => p[1]);

/** Parses a protocol name (case-insensitive) or number 0-255; throws NETWATCH_ERR_BAD_PROTOCOL otherwise. */
export function parseProtocol(v: string | number, path = ''): number {
  const text = typeof v === 'string' ? v.trim().toLowerCase() : v;
  if (typeof text === 'number') {
    if (Number.isInteger(text) && text >= 0 && text <= 255) return text;
    throw new NetwatchError('NETWATCH_ERR_BAD_PROTOCOL', `${text}: protocol number out of range 0-255`, path);
  }
  if (typeof text !== 'string') {
    throw new NetwatchError('NETWATCH_ERR_BAD_PROTOCOL', `expected a protocol name or number, got ${typeof v}`, path);
  }
  const named = numberByName.get(text);
  if (named !== undefined) return named;
  if (/^\d{1,3}$/.test(text) && Number(text) <= 255) return Number(text);
  const reason = /^\d+$/.test(text) ? 'protocol number out of range 0-255' : 'unknown protocol name; expected a number 0-255 or one of ' + PROTOCOL_NAMES.join(', ');
  throw new NetwatchError('NETWATCH_ERR_BAD_PROTOCOL', `${JSON.stringify(v)}: ${reason}`, path);
}

/** The lowercase name of a protocol number, or the number itself as text when it has no name here. */
export function protocolName(n: number): string {
  return nameByNumber[n] ?? String(n);
}
