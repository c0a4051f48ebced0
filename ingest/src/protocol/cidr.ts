/**
 * CIDR blocks (RFC 4632 §3.1, RFC 4291 §2.3): parsed once per query, then matched against millions of
 * flow addresses, so the matching functions take numbers and allocate nothing.
 */
import { NetwatchError } from './errors';
import { formatIPv4, formatIPv6, parseIPv4, parseIPv6 } from './ip';

export interface Cidr {
  family: 4 | 6;
  prefix: number;
  /** The network address with host bits cleared: four big-endian words; IPv4 uses words[0], the others are 0. */
  words: Uint32Array;
  /** The prefix as four word masks; IPv4 uses masks[0], the others are 0. */
  masks: Uint32Array;
  /** Canonical text, always with the prefix length: `10.0.0.0/8`, `2001:db8::/32`, `192.0.2.1/32`. */
  text: string;
}

/** The mask of the `bits` high bits of one 32-bit word (`<< 32` is a no-op in JavaScript, hence the 0 case). */
function wordMask(bits: number): number {
  if (bits <= 0) return 0;
  if (bits >= 32) return 0xffffffff;
  return (0xffffffff << (32 - bits)) >>> 0;
}

function bad(value: string, reason: string, path: string): NetwatchError {
  return new NetwatchError('NETWATCH_ERR_BAD_CIDR', `${JSON.stringify(value)}: ${reason}`, path);
}

/**
 * Parses `a.b.c.d/n`, `x:y::z/n` or a bare address (a /32 or /128 block); surrounding whitespace is ignored.
 * Host bits are accepted and cleared (`10.1.2.3/8` is `10.0.0.0/8`), as Python's
 * `ipaddress.ip_network(strict=False)` does: a user typing a host address with its subnet's length
 * means that subnet, and refusing it would only make dashboards fail.
 * A v4-mapped block such as `::ffff:10.0.0.0/104` stays IPv6: it matches v4-mapped IPv6 addresses, not IPv4 ones.
 * Throws NETWATCH_ERR_BAD_CIDR naming the value and the reason otherwise.
 */
export function parseCidr(s: string, path = ''): Cidr {
  if (typeof s !== 'string') throw new NetwatchError('NETWATCH_ERR_BAD_CIDR', `expected a CIDR string, got ${typeof s}`, path);
  const value = s.trim();
  if (value === '') throw bad(value, 'empty CIDR', path);
  if (value.includes('%')) throw bad(value, 'zone identifiers (%...) are not allowed in a CIDR', path);
  const slash = value.indexOf('/');
  const addrText = slash < 0 ? value : value.slice(0, slash);
  const words = new Uint32Array(4);
  let family: 4 | 6;
  const v4 = parseIPv4(addrText);
  if (v4 !== null) {
    family = 4;
    words[0] = v4;
  } else if (parseIPv6(addrText, words)) {
    family = 6;
  } else {
    throw bad(value, `${JSON.stringify(addrText)} is not an IPv4 or IPv6 address`, path);
  }
  const maxPrefix = family === 4 ? 32 : 128;
  let prefix = maxPrefix;
  if (slash >= 0) {
    const prefixText = value.slice(slash + 1);
    // Decimal digits only, no sign or leading zero, as Go's netip.ParsePrefix requires.
    if (!/^(0|[1-9][0-9]{0,2})$/.test(prefixText)) {
      throw bad(value, prefixText === '' ? 'missing prefix length after "/"' : `prefix length ${JSON.stringify(prefixText)} is not a decimal integer`, path);
    }
    prefix = Number(prefixText);
    if (prefix > maxPrefix) throw bad(value, `prefix length ${prefix} out of range 0-${maxPrefix}`, path);
  }
  const masks = new Uint32Array(4);
  for (let k = 0; k < (family === 4 ? 1 : 4); k++) {
    masks[k] = wordMask(prefix - 32 * k);
    words[k] = words[k] & masks[k];
  }
  const addr = family === 4 ? formatIPv4(words[0]) : formatIPv6(words[0], words[1], words[2], words[3]);
  return { family, prefix, words, masks, text: `${addr}/${prefix}` };
}

/** parseCidr for inline validation in the query editor: null instead of an error. */
export function tryParseCidr(s: string): Cidr | null {
  try {
    return parseCidr(s);
  } catch {
    return null;
  }
}

/** One error message per item (null when the item is a valid CIDR), for the query editor. */
export function validateCidrList(values: string[]): Array<string | null> {
  return values.map((v) => {
    try {
      parseCidr(v);
      return null;
    } catch (e) {
      return (e as Error).message;
    }
  });
}

/** Whether the IPv4 address (an unsigned or signed 32-bit number) is inside `c`; always false for an IPv6 block. */
export function cidrContainsV4(c: Cidr, addr: number): boolean {
  // XOR then mask compares in int32 space, so signed and unsigned forms of the same address both work.
  return c.family === 4 && ((addr ^ c.words[0]) & c.masks[0]) === 0;
}

/** Whether the IPv6 address (four big-endian words) is inside `c`; always false for an IPv4 block. */
export function cidrContainsV6(c: Cidr, w0: number, w1: number, w2: number, w3: number): boolean {
  const w = c.words;
  const m = c.masks;
  return (
    c.family === 6 &&
    ((w0 ^ w[0]) & m[0]) === 0 &&
    ((w1 ^ w[1]) & m[1]) === 0 &&
    ((w2 ^ w[2]) & m[2]) === 0 &&
    ((w3 ^ w[3]) & m[3]) === 0
  );
}

/** Whether any block of the list contains the IPv4 address; an empty list matches nothing (callers skip an absent filter). */
export function cidrListMatchesV4(list: readonly Cidr[], addr: number): boolean {
  for (let i = 0; i < list.length; i++) if (cidrContainsV4(list[i], addr)) return true;
  return false;
}

/** Whether any block of the list contains the IPv6 address; an empty list matches nothing. */
export function cidrListMatchesV6(list: readonly Cidr[], w0: number, w1: number, w2: number, w3: number): boolean {
  for (let i = 0; i < list.length; i++) if (cidrContainsV6(list[i], w0, w1, w2, w3)) return true;
  return false;
}

/** First and last address of an IPv4 block, unsigned, for range scans over a sorted address index. */
export function cidrRangeV4(c: Cidr): [number, number] {
  if (c.family !== 4) throw new TypeError(`cidrRangeV4 needs an IPv4 block, got ${c.text}`);
  return [c.words[0], (c.words[0] | ~c.masks[0]) >>> 0];
}
