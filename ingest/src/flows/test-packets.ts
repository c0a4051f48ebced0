/**
 * Builds DecodedPackets from readable descriptions for the flow tests, and reads query frames back as rows,
 * so a test states traffic and expected flows in the words of the domain.
 */
import { DecodedPacket } from '../decode/packet';
import type { Frame } from '../protocol/frame';
import { parseIp } from '../protocol/ip';
import type { FlowFilter } from './queries';

/** Test time zero: 2024-01-01T00:00:00Z, epoch ms. */
export const T0 = Date.UTC(2024, 0, 1);

export interface PacketSpec {
  src: string;
  dst: string;
  /** Source port, or the ICMP type. */
  sport?: number;
  /** Destination port, or the ICMP code. */
  dport?: number;
  proto?: 'tcp' | 'udp' | 'icmp' | 'icmpv6' | number;
  /** TCP flags by letter: S(YN) A(CK) F(IN) R(ST) P(SH). */
  flags?: string;
  /** Wire length; default 100. */
  len?: number;
  /** Milliseconds after T0. */
  t?: number;
}

const PROTOS = { tcp: 6, udp: 17, icmp: 1, icmpv6: 58 } as const;
const FLAGS: Record<string, number> = { F: 0x01, S: 0x02, R: 0x04, P: 0x08, A: 0x10 };

export function packet(spec: PacketSpec, p = new DecodedPacket()): DecodedPacket {
  const src = parseIp(spec.src);
  const dst = parseIp(spec.dst);
  if (!src || !dst || src.family !== dst.family) throw new Error(`bad addresses ${spec.src} -> ${spec.dst}`);
  p.family = src.family;
  p.src.set(src.words);
  p.dst.set(dst.words);
  p.protocol = typeof spec.proto === 'number' ? spec.proto : PROTOS[spec.proto ?? 'tcp'];
  p.srcPort = spec.sport ?? 0;
  p.dstPort = spec.dport ?? 0;
  p.tcpFlags = [...(spec.flags ?? '')].reduce((f, c) => f | FLAGS[c], 0);
  p.wireLength = spec.len ?? 100;
  p.ipLength = p.wireLength - 14;
  p.tsUs = (T0 + (spec.t ?? 0)) * 1000;
  return p;
}

/** Feeds packets through one reused DecodedPacket, as the decoder does. */
export function feed(table: { add(p: DecodedPacket): void }, specs: PacketSpec[]): void {
  const p = new DecodedPacket();
  for (const s of specs) table.add(packet(s, p));
}

/** A frame's rows as objects keyed by field name. */
export function rows(f: Frame): Array<Record<string, unknown>> {
  const names = f.schema.fields.map((x) => x.name);
  const n = f.data.values[0]?.length ?? 0;
  return Array.from({ length: n }, (_, i) => Object.fromEntries(names.map((name, j) => [name, f.data.values[j][i]])));
}

/** Keeps only the listed keys of each row. */
export function pick<K extends string>(list: Array<Record<string, unknown>>, keys: readonly K[]): Array<Record<K, unknown>> {
  return list.map((r) => Object.fromEntries(keys.map((k) => [k, r[k]])) as Record<K, unknown>);
}

export function filter(f: Partial<FlowFilter> = {}): FlowFilter {
  return { cidr: [], srcCidr: [], dstCidr: [], port: [], srcPort: [], dstPort: [], protocol: [], ...f };
}

/** The whole time range: every stored flow overlaps it. */
export const ALL_TIME = { fromMs: 0, toMs: T0 + 400 * 86_400_000 };
