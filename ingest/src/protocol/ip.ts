/**
 * IP address text forms without `node:net` or `Buffer`: the Grafana plugin runs this in the browser.
 * Addresses are unsigned 32-bit numbers (IPv4) or four big-endian 32-bit words (IPv6).
 */

/** Parses `s[start, end)` as a strict dotted quad; -1 when it is not one. */
function parseIPv4At(s: string, start: number, end: number): number {
  let addr = 0;
  let octets = 0;
  let i = start;
  while (octets < 4) {
    const from = i;
    let value = 0;
    while (i < end && i - from < 3) {
      const c = s.charCodeAt(i) - 48;
      if (c < 0 || c > 9) break;
      value = value * 10 + c;
      i++;
    }
    const digits = i - from;
    // A leading zero reads as octal to inet_aton (RFC 6943 §3.1.1), so "010" is refused rather than guessed.
    if (digits === 0 || value > 255 || (digits > 1 && s.charCodeAt(from) === 48)) return -1;
    addr = addr * 256 + value;
    octets++;
    if (octets < 4) {
      if (i >= end || s.charCodeAt(i) !== 46 /* . */) return -1;
      i++;
    }
  }
  return i === end ? addr : -1;
}

/** Parses a strict dotted-quad IPv4 address (four decimal octets 0-255, no leading zeros) to an unsigned 32-bit number. */
export function parseIPv4(s: string): number | null {
  const addr = parseIPv4At(s, 0, s.length);
  return addr < 0 ? null : addr >>> 0;
}

function hexValue(c: number): number {
  if (c >= 48 && c <= 57) return c - 48;
  const lower = c | 0x20;
  if (lower >= 97 && lower <= 102) return lower - 87;
  return -1;
}

// Reused by parseIPv6: parsing is synchronous, so one scratch array serves every call without allocating.
const groups = new Uint16Array(8);

/**
 * Parses an IPv6 address in any RFC 4291 §2.2 text form (full, `::`-compressed, trailing dotted quad;
 * hex digits in either case) into four big-endian words in `out`. Returns false, leaving `out` unspecified,
 * for anything else, including zone identifiers (`fe80::1%eth0`, RFC 6874): a zone names a local interface,
 * which means nothing to a query about captured traffic.
 */
export function parseIPv6(s: string, out: Uint32Array): boolean {
  const len = s.length;
  let n = 0;
  let gap = -1;
  let i = 0;
  if (len >= 2 && s.charCodeAt(0) === 58 && s.charCodeAt(1) === 58) {
    gap = 0;
    i = 2;
  }
  while (i < len) {
    let j = i;
    let value = 0;
    while (j < len) {
      const h = hexValue(s.charCodeAt(j));
      if (h < 0) break;
      value = value * 16 + h;
      j++;
    }
    if (j < len && s.charCodeAt(j) === 46 /* . */) {
      // RFC 4291 §2.2 form 3: a dotted quad may only be the last 32 bits.
      const v4 = n <= 6 ? parseIPv4At(s, i, len) : -1;
      if (v4 < 0) return false;
      groups[n++] = v4 >>> 16;
      groups[n++] = v4 & 0xffff;
      break;
    }
    if (j === i || j - i > 4 || n === 8) return false;
    groups[n++] = value;
    if (j === len) break;
    if (s.charCodeAt(j) !== 58 /* : */) return false;
    j++;
    if (j < len && s.charCodeAt(j) === 58) {
      if (gap >= 0) return false; // RFC 4291 §2.2: "::" can appear only once.
      gap = n;
      j++;
    } else if (j === len) {
      return false; // a trailing single colon
    }
    i = j;
  }
  if (gap < 0 ? n !== 8 : n > 7) return false;
  const zeros = 8 - n;
  for (let k = 0; k < 4; k++) {
    out[k] = ((groupAt(2 * k, gap, zeros) << 16) | groupAt(2 * k + 1, gap, zeros)) >>> 0;
  }
  return true;
}

/** Group `g` of the expanded address: the parsed groups with `zeros` zero groups inserted at `gap`. */
function groupAt(g: number, gap: number, zeros: number): number {
  if (gap < 0 || g < gap) return groups[g];
  return g < gap + zeros ? 0 : groups[g - zeros];
}

export function formatIPv4(n: number): string {
  return `${n >>> 24}.${(n >>> 16) & 255}.${(n >>> 8) & 255}.${n & 255}`;
}

/**
 * Formats an IPv6 address in RFC 5952 canonical form: lowercase, no leading zeros (§4.1, §4.3), the longest
 * run of two or more zero groups shortened to "::", the first one on a tie (§4.2), and IPv4-mapped addresses
 * with a dotted quad (§5).
 */
export function formatIPv6(w0: number, w1: number, w2: number, w3: number): string {
  if (w0 === 0 && w1 === 0 && w2 >>> 0 === 0xffff) return `::ffff:${formatIPv4(w3)}`;
  const g = [w0 >>> 16, w0 & 0xffff, w1 >>> 16, w1 & 0xffff, w2 >>> 16, w2 & 0xffff, w3 >>> 16, w3 & 0xffff];
  let bestStart = -1;
  let bestLen = 1; // §4.2.2: a single zero group is not shortened.
  for (let i = 0; i < 8; ) {
    if (g[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && g[j] === 0) j++;
    if (j - i > bestLen) {
      bestStart = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = (from: number, to: number) => g.slice(from, to).map((x) => x.toString(16)).join(':');
  if (bestStart < 0) return hex(0, 8);
  return `${hex(0, bestStart)}::${hex(bestStart + bestLen, 8)}`;
}

export interface ParsedIp {
  family: 4 | 6;
  /** IPv6: the four big-endian words. IPv4: the address in words[0], words[1..3] zero (as in Cidr and DecodedPacket). */
  words: [number, number, number, number];
}

/** Parses an IPv4 or IPv6 address; null when `s` is neither. */
export function parseIp(s: string): ParsedIp | null {
  const v4 = parseIPv4(s);
  if (v4 !== null) return { family: 4, words: [v4, 0, 0, 0] };
  const w = new Uint32Array(4);
  return parseIPv6(s, w) ? { family: 6, words: [w[0], w[1], w[2], w[3]] } : null;
}
