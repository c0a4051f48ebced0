/**
 * Decodes captured frames in place: link layer -> IP -> transport ports, into one reused DecodedPacket.
 *
 * Packet bytes are untrusted, so every read is preceded by a bounds check and nothing here throws: a frame
 * that cannot be accounted is counted under exactly one skip reason and `decode` returns false. The per-packet
 * path allocates nothing and has no closures or try/catch.
 *
 * Accounting follows the tshark-based reference (../shared/data/pcap/reference/gen_ref.py): a packet is a flow
 * packet of its outer IP header (tunnels and ICMP-quoted headers are never decoded inside), and a non-first IP
 * fragment belongs to the flow of its first fragment.
 */
import { FragmentCache } from './fragment-cache';
import type { PacketRecord } from '../capture/pcap-file';
import type { DecodedPacket } from './packet';

// LINKTYPE_* values of the pcap and pcapng formats (https://www.tcpdump.org/linktypes.html).
export const LINKTYPE_NULL = 0;
export const LINKTYPE_ETHERNET = 1;
export const LINKTYPE_RAW = 101;
export const LINKTYPE_LOOP = 108;
export const LINKTYPE_LINUX_SLL = 113;
export const LINKTYPE_IPV4 = 228;
export const LINKTYPE_IPV6 = 229;
export const LINKTYPE_LINUX_SLL2 = 276;
/** Some writers store the platform's DLT_RAW (12, or 14 on OpenBSD) instead of LINKTYPE_RAW (libpcap pcap-common.c). */
export const DLT_RAW_12 = 12;
export const DLT_RAW_14 = 14;

const ETHERTYPE_IPV4 = 0x0800;
const ETHERTYPE_IPV6 = 0x86dd;
const ETHERTYPE_VLAN = 0x8100; // IEEE 802.1Q
const ETHERTYPE_QINQ = 0x88a8; // IEEE 802.1ad service tag
const ETHERTYPE_QINQ_OLD1 = 0x9100; // pre-standard QinQ tags still sent by some switches
const ETHERTYPE_QINQ_OLD2 = 0x9200;
const ETHERTYPE_MPLS = 0x8847;
const ETHERTYPE_MPLS_MULTICAST = 0x8848;
const ETHERTYPE_PPPOE_SESSION = 0x8864;
/** IEEE 802.3: a type field below 0x0600 is a length, and an 802.2 LLC header follows. */
const ETHERTYPE_MIN = 0x0600;

const PPP_IPV4 = 0x0021;
const PPP_IPV6 = 0x0057;

// BSD loopback address families: AF_INET is 2 everywhere, AF_INET6 differs by system.
const AF_INET = 2;
const AF_INET6_BSD = 24; // NetBSD, OpenBSD, BSD/OS
const AF_INET6_FREEBSD = 28; // FreeBSD, DragonFly BSD
const AF_INET6_DARWIN = 30; // macOS, iOS

const PROTO_ICMP = 1;
const PROTO_TCP = 6;
const PROTO_UDP = 17;
const PROTO_DCCP = 33;
const PROTO_ICMPV6 = 58;
const PROTO_SCTP = 132;
const PROTO_UDPLITE = 136;

// IPv6 extension headers sharing the RFC 8200 §4 layout: next header, length in 8-octet units not counting the first.
const IPV6_HOP_BY_HOP = 0;
const IPV6_ROUTING = 43;
const IPV6_FRAGMENT = 44;
const IPV6_AH = 51;
const IPV6_DESTINATION = 60;
const IPV6_MOBILITY = 135; // RFC 6275 §6.1.1
const IPV6_HIP = 139; // RFC 7401 §5.1
const IPV6_SHIM6 = 140; // RFC 5533 §5.1

/**
 * Every counter of the decoder. `packets` = `decoded` + the skip reasons (see SKIP_REASONS): each frame that is
 * not decoded is counted under exactly one reason. The others describe decoded packets.
 */
export interface DecodeCounters {
  /** Frames handed to decode(). */
  packets: number;
  /** Frames that returned true: `ipv4` + `ipv6`. */
  decoded: number;
  ipv4: number;
  ipv6: number;
  /** Decoded first fragments (offset 0, more-fragments set); their ports are remembered for the later ones. */
  fragmentsFirst: number;
  /** Decoded later fragments whose first fragment was seen: accounted to its flow. */
  fragmentsLater: number;
  /** Live fragment cache entries replaced before their timeout: the cache is too small for the fragment rate. */
  fragmentCacheEvictions: number;

  /** Skipped: not IP (ARP, LLDP, STP and other LLC frames, MPLS pseudowires, PPPoE discovery, …). */
  nonIp: number;
  /** Skipped: a link type this decoder does not know. */
  unknownLinkType: number;
  /** Skipped: the capture ends inside the link-layer header (or the frame is empty). */
  truncatedLink: number;
  /** Skipped: the capture ends inside the IP header or the IPv6 extension header chain. */
  truncatedIp: number;
  /** Skipped: TCP/UDP/SCTP/DCCP without the 4 port bytes, or ICMP without type and code, inside the IP packet. */
  truncatedTransport: number;
  /** Skipped: the IP version nibble contradicts the link layer (or is neither 4 nor 6 on raw IP links). */
  badIpVersion: number;
  /** Skipped: IPv4 IHL below 5 (RFC 791 §3.1: the header is at least 20 octets). */
  badIpHeaderLength: number;
  /** Skipped: IPv4 total length shorter than the header. */
  badIpTotalLength: number;
  /** Skipped: an IPv6 extension header runs past the payload length. */
  badIpv6ExtHeader: number;
  /** Skipped: a later fragment whose first fragment was never seen (or has expired): it has no flow. */
  fragmentsOrphan: number;
}

export type SkipReason = keyof Pick<
  DecodeCounters,
  | 'nonIp'
  | 'unknownLinkType'
  | 'truncatedLink'
  | 'truncatedIp'
  | 'truncatedTransport'
  | 'badIpVersion'
  | 'badIpHeaderLength'
  | 'badIpTotalLength'
  | 'badIpv6ExtHeader'
  | 'fragmentsOrphan'
>;

export const SKIP_REASONS: readonly SkipReason[] = [
  'nonIp',
  'unknownLinkType',
  'truncatedLink',
  'truncatedIp',
  'truncatedTransport',
  'badIpVersion',
  'badIpHeaderLength',
  'badIpTotalLength',
  'badIpv6ExtHeader',
  'fragmentsOrphan',
];

export interface PacketDecoderOptions {
  /** Entries of the first-fragment cache (rounded up to a power of two). Default 4096. */
  fragmentCacheSize?: number;
}

export const DEFAULT_FRAGMENT_CACHE_SIZE = 4096;

function newCounters(): DecodeCounters {
  return {
    packets: 0,
    decoded: 0,
    ipv4: 0,
    ipv6: 0,
    fragmentsFirst: 0,
    fragmentsLater: 0,
    fragmentCacheEvictions: 0,
    nonIp: 0,
    unknownLinkType: 0,
    truncatedLink: 0,
    truncatedIp: 0,
    truncatedTransport: 0,
    badIpVersion: 0,
    badIpHeaderLength: 0,
    badIpTotalLength: 0,
    badIpv6ExtHeader: 0,
    fragmentsOrphan: 0,
  };
}

export class PacketDecoder {
  readonly counters: DecodeCounters = newCounters();
  private readonly fragments: FragmentCache;
  /** Buffer index just past the frame as it was on the wire: bounds the IP length of TSO and jumbo packets. */
  private wireEnd = 0;
  /** Buffer index of the frame's first byte. */
  private frameStart = 0;

  constructor(options: PacketDecoderOptions = {}) {
    this.fragments = new FragmentCache(options.fragmentCacheSize ?? DEFAULT_FRAGMENT_CACHE_SIZE);
  }

  /** Why frames were not decoded, one count per skipped frame: `decoded` plus these sum to `packets`. */
  countersByReason(): Record<SkipReason, number> {
    const c = this.counters;
    const out = {} as Record<SkipReason, number>;
    for (const r of SKIP_REASONS) out[r] = c[r];
    return out;
  }

  /**
   * Decodes one frame of `buf[offset, offset + captureLength)` into `out`. Returns true when `out` holds an IP
   * packet to account; false when the frame is skipped (counted by reason; `out` is then unspecified).
   * `wireLength` is the frame's original length, `tsUs` its capture time. Never throws.
   */
  decode(linkType: number, buf: Buffer, offset: number, captureLength: number, wireLength: number, tsUs: number, out: DecodedPacket): boolean {
    out.tsUs = tsUs;
    return this.decodeFrame(linkType, buf, offset, captureLength, wireLength, out);
  }

  /**
   * decode() for a record of a capture file reader. The timestamp goes from record to packet without being passed
   * as an argument: a double argument of a call V8 does not inline is boxed, a heap number per packet.
   */
  decodeRecord(rec: PacketRecord, out: DecodedPacket): boolean {
    out.tsUs = rec.tsUs;
    return this.decodeFrame(rec.linkType, rec.data, rec.offset, rec.captureLength, rec.originalLength, out);
  }

  /** decode() with `out.tsUs` already set. */
  private decodeFrame(linkType: number, buf: Buffer, offset: number, captureLength: number, wireLength: number, out: DecodedPacket): boolean {
    const c = this.counters;
    c.packets++;
    let end = offset + captureLength;
    if (end > buf.length) end = buf.length;
    if (!(offset >= 0 && end > offset)) {
      c.truncatedLink++;
      return false;
    }
    out.wireLength = wireLength;
    this.wireEnd = offset + wireLength;
    this.frameStart = offset;

    switch (linkType) {
      case LINKTYPE_ETHERNET:
        if (end - offset < 14) {
          c.truncatedLink++;
          return false;
        }
        return this.decodeEthertype((buf[offset + 12] << 8) | buf[offset + 13], buf, offset + 14, end, out);
      case LINKTYPE_LINUX_SLL:
        // The protocol field is an ethertype except for the few ARPHRD types that put a small number there
        // (802.3, 802.2 LLC, CAN, netlink families), all below 0x0600, which decodeEthertype treats as non-IP.
        if (end - offset < 16) {
          c.truncatedLink++;
          return false;
        }
        return this.decodeEthertype((buf[offset + 14] << 8) | buf[offset + 15], buf, offset + 16, end, out);
      case LINKTYPE_LINUX_SLL2:
        if (end - offset < 20) {
          c.truncatedLink++;
          return false;
        }
        return this.decodeEthertype((buf[offset] << 8) | buf[offset + 1], buf, offset + 20, end, out);
      case LINKTYPE_NULL: {
        if (end - offset < 4) {
          c.truncatedLink++;
          return false;
        }
        // The family is in the capturing host's byte order, which the file does not record; families are small,
        // so nonzero upper bytes mean a little-endian host (what libpcap and Wireshark infer).
        const af =
          (buf[offset] | buf[offset + 1]) !== 0
            ? buf[offset] | (buf[offset + 1] << 8) | (buf[offset + 2] << 16) | (buf[offset + 3] << 24)
            : (buf[offset + 2] << 8) | buf[offset + 3];
        return this.decodeAddressFamily(af, buf, offset + 4, end, out);
      }
      case LINKTYPE_LOOP:
        // OpenBSD's loopback header: the same families, always in network byte order.
        if (end - offset < 4) {
          c.truncatedLink++;
          return false;
        }
        return this.decodeAddressFamily(
          (buf[offset] << 24) | (buf[offset + 1] << 16) | (buf[offset + 2] << 8) | buf[offset + 3],
          buf,
          offset + 4,
          end,
          out,
        );
      case LINKTYPE_RAW:
      case DLT_RAW_12:
      case DLT_RAW_14: {
        const version = buf[offset] >> 4;
        if (version === 4) return this.decodeIPv4(buf, offset, end, out);
        if (version === 6) return this.decodeIPv6(buf, offset, end, out);
        c.badIpVersion++;
        return false;
      }
      case LINKTYPE_IPV4:
        return this.decodeIPv4(buf, offset, end, out);
      case LINKTYPE_IPV6:
        return this.decodeIPv6(buf, offset, end, out);
      default:
        c.unknownLinkType++;
        return false;
    }
  }

  private decodeAddressFamily(af: number, buf: Buffer, off: number, end: number, out: DecodedPacket): boolean {
    if (af === AF_INET) return this.decodeIPv4(buf, off, end, out);
    if (af === AF_INET6_BSD || af === AF_INET6_FREEBSD || af === AF_INET6_DARWIN) return this.decodeIPv6(buf, off, end, out);
    this.counters.nonIp++;
    return false;
  }

  /** Follows VLAN tags, MPLS labels, PPPoE and LLC/SNAP down to IP. Every step consumes bytes, so it terminates. */
  private decodeEthertype(type: number, buf: Buffer, off: number, end: number, out: DecodedPacket): boolean {
    const c = this.counters;
    for (;;) {
      if (type === ETHERTYPE_IPV4) return this.decodeIPv4(buf, off, end, out);
      if (type === ETHERTYPE_IPV6) return this.decodeIPv6(buf, off, end, out);
      if (type === ETHERTYPE_VLAN || type === ETHERTYPE_QINQ || type === ETHERTYPE_QINQ_OLD1 || type === ETHERTYPE_QINQ_OLD2) {
        // IEEE 802.1Q tag: 2 bytes of TCI, then the inner type; stacked tags (802.1ad) repeat it.
        if (end - off < 4) {
          c.truncatedLink++;
          return false;
        }
        type = (buf[off + 2] << 8) | buf[off + 3];
        off += 4;
      } else if (type === ETHERTYPE_MPLS || type === ETHERTYPE_MPLS_MULTICAST) {
        return this.decodeMpls(buf, off, end, out);
      } else if (type === ETHERTYPE_PPPOE_SESSION) {
        // RFC 2516 §4: 6-byte PPPoE header, then the PPP protocol field (RFC 1661 §2).
        if (end - off < 8) {
          c.truncatedLink++;
          return false;
        }
        const ppp = (buf[off + 6] << 8) | buf[off + 7];
        if (ppp === PPP_IPV4) return this.decodeIPv4(buf, off + 8, end, out);
        if (ppp === PPP_IPV6) return this.decodeIPv6(buf, off + 8, end, out);
        c.nonIp++;
        return false;
      } else if (type < ETHERTYPE_MIN) {
        // 802.2 LLC. Only SNAP with OUI 0 (RFC 1042) carries an ethertype; STP, CDP, IPX and the rest are not IP.
        if (
          end - off >= 8 &&
          buf[off] === 0xaa &&
          buf[off + 1] === 0xaa &&
          buf[off + 2] === 0x03 &&
          buf[off + 3] === 0 &&
          buf[off + 4] === 0 &&
          buf[off + 5] === 0
        ) {
          type = (buf[off + 6] << 8) | buf[off + 7];
          off += 8;
        } else {
          c.nonIp++;
          return false;
        }
      } else {
        c.nonIp++;
        return false;
      }
    }
  }

  /**
   * RFC 3032 §2.1: 4-byte label stack entries down to the one with the bottom-of-stack bit. The payload type is
   * not signalled; IP is recognised by its version nibble, and a pseudowire control word (RFC 4385, first nibble
   * 0) or anything else is not IP.
   */
  private decodeMpls(buf: Buffer, off: number, end: number, out: DecodedPacket): boolean {
    for (;;) {
      if (end - off < 4) {
        this.counters.truncatedLink++;
        return false;
      }
      const bottom = buf[off + 2] & 1;
      off += 4;
      if (bottom === 1) break;
    }
    if (off >= end) {
      this.counters.truncatedIp++;
      return false;
    }
    const version = buf[off] >> 4;
    if (version === 4) return this.decodeIPv4(buf, off, end, out);
    if (version === 6) return this.decodeIPv6(buf, off, end, out);
    this.counters.nonIp++;
    return false;
  }

  private decodeIPv4(buf: Buffer, ip: number, end: number, out: DecodedPacket): boolean {
    const c = this.counters;
    if (end - ip < 20) {
      c.truncatedIp++;
      return false;
    }
    const versionIhl = buf[ip];
    if (versionIhl >> 4 !== 4) {
      c.badIpVersion++;
      return false;
    }
    const headerLength = (versionIhl & 0x0f) << 2;
    if (headerLength < 20) {
      c.badIpHeaderLength++;
      return false;
    }
    let totalLength = (buf[ip + 2] << 8) | buf[ip + 3];
    // A zero total length is what a capture on the sending host shows for a TCP segmentation offload
    // super-packet: the NIC fills it in later. Like tshark (ip.tso_support), take the length the frame gives.
    if (totalLength === 0) totalLength = this.wireEnd - ip;
    if (totalLength < headerLength) {
      c.badIpTotalLength++;
      return false;
    }
    if (end - ip < headerLength) {
      c.truncatedIp++;
      return false;
    }
    // The total length bounds the payload (Ethernet pads short frames); a snaplen-truncated capture bounds it first.
    let ipEnd = ip + totalLength;
    if (ipEnd > end) ipEnd = end;

    out.family = 4;
    out.ipOffset = ip - this.frameStart;
    const src = out.src;
    const dst = out.dst;
    src[0] = (buf[ip + 12] << 24) | (buf[ip + 13] << 16) | (buf[ip + 14] << 8) | buf[ip + 15];
    src[1] = 0;
    src[2] = 0;
    src[3] = 0;
    dst[0] = (buf[ip + 16] << 24) | (buf[ip + 17] << 16) | (buf[ip + 18] << 8) | buf[ip + 19];
    dst[1] = 0;
    dst[2] = 0;
    dst[3] = 0;
    const protocol = buf[ip + 9];
    out.protocol = protocol;
    out.ipLength = totalLength;

    // RFC 791 §3.1: flags (reserved, DF, MF) and a 13-bit offset in 8-octet units.
    const flagsOffset = (buf[ip + 6] << 8) | buf[ip + 7];
    const ident = (buf[ip + 4] << 8) | buf[ip + 5];
    if ((flagsOffset & 0x1fff) !== 0) {
      if (!this.laterFragment(4, ident, protocol, out)) return false;
      c.ipv4++;
      return true;
    }
    if (!this.decodeTransport(protocol, buf, ip + headerLength, ipEnd, out)) return false;
    if ((flagsOffset & 0x2000) !== 0) {
      this.firstFragment(4, ident, protocol, out);
    } else {
      out.fragment = 0;
    }
    c.decoded++;
    c.ipv4++;
    return true;
  }

  private decodeIPv6(buf: Buffer, ip: number, end: number, out: DecodedPacket): boolean {
    const c = this.counters;
    if (end - ip < 40) {
      c.truncatedIp++;
      return false;
    }
    if (buf[ip] >> 4 !== 6) {
      c.badIpVersion++;
      return false;
    }
    const payloadLength = (buf[ip + 4] << 8) | buf[ip + 5];
    let next = buf[ip + 6];
    let ipLength = 40 + payloadLength;
    // RFC 2675 §2: a jumbogram has payload length 0 and its real length in a hop-by-hop option; the frame's
    // wire length gives the same figure without parsing options.
    if (payloadLength === 0 && next === IPV6_HOP_BY_HOP && this.wireEnd - ip > 40) ipLength = this.wireEnd - ip;
    const declaredEnd = ip + ipLength;
    const ipEnd = declaredEnd < end ? declaredEnd : end;

    out.family = 6;
    out.ipOffset = ip - this.frameStart;
    const src = out.src;
    const dst = out.dst;
    src[0] = (buf[ip + 8] << 24) | (buf[ip + 9] << 16) | (buf[ip + 10] << 8) | buf[ip + 11];
    src[1] = (buf[ip + 12] << 24) | (buf[ip + 13] << 16) | (buf[ip + 14] << 8) | buf[ip + 15];
    src[2] = (buf[ip + 16] << 24) | (buf[ip + 17] << 16) | (buf[ip + 18] << 8) | buf[ip + 19];
    src[3] = (buf[ip + 20] << 24) | (buf[ip + 21] << 16) | (buf[ip + 22] << 8) | buf[ip + 23];
    dst[0] = (buf[ip + 24] << 24) | (buf[ip + 25] << 16) | (buf[ip + 26] << 8) | buf[ip + 27];
    dst[1] = (buf[ip + 28] << 24) | (buf[ip + 29] << 16) | (buf[ip + 30] << 8) | buf[ip + 31];
    dst[2] = (buf[ip + 32] << 24) | (buf[ip + 33] << 16) | (buf[ip + 34] << 8) | buf[ip + 35];
    dst[3] = (buf[ip + 36] << 24) | (buf[ip + 37] << 16) | (buf[ip + 38] << 8) | buf[ip + 39];
    out.ipLength = ipLength;

    // RFC 8200 §4: walk the extension header chain to the upper-layer header. Each header is at least 8 bytes,
    // so the walk ends within the packet. ESP (50) encrypts what follows and No Next Header (59) ends the chain:
    // both, like any unknown value, are taken as the protocol.
    let off = ip + 40;
    let fragment = 0;
    let ident = 0;
    for (;;) {
      let headerLength: number;
      if (
        next === IPV6_HOP_BY_HOP ||
        next === IPV6_ROUTING ||
        next === IPV6_DESTINATION ||
        next === IPV6_MOBILITY ||
        next === IPV6_HIP ||
        next === IPV6_SHIM6
      ) {
        if (ipEnd - off < 2) return this.extensionHeaderCut(off + 2, declaredEnd);
        headerLength = (buf[off + 1] + 1) << 3;
      } else if (next === IPV6_AH) {
        // RFC 4302 §2.2: AH counts its length in 4-octet units, minus 2.
        if (ipEnd - off < 2) return this.extensionHeaderCut(off + 2, declaredEnd);
        headerLength = (buf[off + 1] + 2) << 2;
      } else if (next === IPV6_FRAGMENT) {
        // RFC 8200 §4.5: next header, reserved, 13-bit offset + M flag, 32-bit identification.
        if (ipEnd - off < 8) return this.extensionHeaderCut(off + 8, declaredEnd);
        const offsetFlags = (buf[off + 2] << 8) | buf[off + 3];
        ident = ((buf[off + 4] << 24) | (buf[off + 5] << 16) | (buf[off + 6] << 8) | buf[off + 7]) >>> 0;
        next = buf[off];
        off += 8;
        if ((offsetFlags & 0xfff8) !== 0) {
          out.protocol = next;
          if (!this.laterFragment(6, ident, next, out)) return false;
          c.ipv6++;
          return true;
        }
        // Offset 0 without M is an atomic fragment (RFC 6946): a whole datagram, not a fragment.
        fragment = offsetFlags & 1;
        continue;
      } else {
        break;
      }
      if (off + headerLength > declaredEnd) {
        c.badIpv6ExtHeader++;
        return false;
      }
      next = buf[off];
      off += headerLength;
    }

    out.protocol = next;
    if (!this.decodeTransport(next, buf, off, ipEnd, out)) return false;
    if (fragment !== 0) {
      this.firstFragment(6, ident, next, out);
    } else {
      out.fragment = 0;
    }
    c.decoded++;
    c.ipv6++;
    return true;
  }

  /** Counts an extension header that does not fit: past the payload length it is malformed, else the capture is short. */
  private extensionHeaderCut(needEnd: number, declaredEnd: number): boolean {
    if (needEnd > declaredEnd) this.counters.badIpv6ExtHeader++;
    else this.counters.truncatedIp++;
    return false;
  }

  /**
   * Ports of the upper-layer header in `buf[l4, l4End)`. Returns false (truncatedTransport) when a protocol that
   * has ports lacks them: the reference counts a TCP/UDP packet only with its ports, and accounting it with port 0
   * would invent a flow.
   */
  private decodeTransport(protocol: number, buf: Buffer, l4: number, l4End: number, out: DecodedPacket): boolean {
    const available = l4End - l4;
    switch (protocol) {
      case PROTO_TCP:
        if (available < 4) break;
        out.srcPort = (buf[l4] << 8) | buf[l4 + 1];
        out.dstPort = (buf[l4 + 2] << 8) | buf[l4 + 3];
        // Flags are trusted only with byte 13 captured and a sane data offset (RFC 9293 §3.1: at least 5 words).
        out.tcpFlags = available >= 14 && buf[l4 + 12] >> 4 >= 5 ? buf[l4 + 13] : 0;
        return true;
      case PROTO_UDP:
      case PROTO_SCTP:
      case PROTO_UDPLITE:
      case PROTO_DCCP:
        // All four start with 16-bit source and destination ports (RFC 768, 9260 §3.1, 3828 §3.1, 4340 §5.1).
        if (available < 4) break;
        out.srcPort = (buf[l4] << 8) | buf[l4 + 1];
        out.dstPort = (buf[l4 + 2] << 8) | buf[l4 + 3];
        out.tcpFlags = 0;
        return true;
      case PROTO_ICMP:
      case PROTO_ICMPV6:
        // Type and code stand in for the ports, as in Zeek and IPFIX (RFC 7011 icmpTypeCodeIPv4).
        if (available < 2) break;
        out.srcPort = buf[l4];
        out.dstPort = buf[l4 + 1];
        out.tcpFlags = 0;
        return true;
      default:
        // Tunnels (GRE, IPIP, 6in4, ESP, …) and everything else are flows of the outer header, without ports.
        out.srcPort = 0;
        out.dstPort = 0;
        out.tcpFlags = 0;
        return true;
    }
    this.counters.truncatedTransport++;
    return false;
  }

  private firstFragment(family: number, ident: number, protocol: number, out: DecodedPacket): void {
    out.fragment = 1;
    this.counters.fragmentsFirst++;
    if (this.fragments.insert(family, out.src, out.dst, ident, protocol, out.srcPort, out.dstPort, out.tsUs)) {
      this.counters.fragmentCacheEvictions++;
    }
  }

  /** A non-first fragment takes its first fragment's ports; without one it has no flow (counted, skipped). */
  private laterFragment(family: number, ident: number, protocol: number, out: DecodedPacket): boolean {
    const c = this.counters;
    const slot = this.fragments.lookup(family, out.src, out.dst, ident, protocol, out.tsUs);
    if (slot < 0) {
      c.fragmentsOrphan++;
      return false;
    }
    out.srcPort = this.fragments.srcPort[slot];
    out.dstPort = this.fragments.dstPort[slot];
    out.tcpFlags = 0;
    out.fragment = 2;
    c.fragmentsLater++;
    c.decoded++;
    return true;
  }
}
