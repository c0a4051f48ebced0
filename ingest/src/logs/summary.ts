/**
 * Per-address totals over parsed events: what `netwatch-ingest logs --summary` prints. `failures` counts the events
 * fail2ban's sshd filter counts (metadata.f2b_failure), so it equals `fail2ban-regex -o ip FILE sshd` per address.
 * Which event moves which counter is the security engine's own classification (security/evidence.ts), and the
 * threat score is its scorer over the totals, so the live reputation of the same lines has the same counters.
 */
import { EVIDENCE_ACCEPTED, EVIDENCE_BAN, EVIDENCE_FAILURE, EVIDENCE_INVALID_USER, EVIDENCE_RESTORED_BAN, logEvidence } from '../security/evidence';
import { formatIPv4, parseIPv4 } from '../protocol/ip';
import { threatScore } from '../security/score';
import type { LogEvent } from './events';

export interface IpSummary {
  ip: string;
  failures: number;
  /** "Invalid user X from IP" lines (one per attempt on a name with no account). */
  invalid_users: number;
  /** Accepted logins (password, public key, keyboard-interactive...). */
  accepted: number;
  /** fail2ban bans (a restored ban counts when the address has no ban counted yet, as the engine counts them). */
  bans: number;
  threat_score: number;
}

interface Totals {
  failures: number;
  invalidUsers: number;
  accepted: number;
  bans: number;
}

export class LogSummary {
  // IPv4 addresses in a table of their own, by number (the offline scan counts them without cutting the address
  // out of the line, and without a Map key to box per line); other addresses by text. An address is in one only.
  private readonly v4 = new Ipv4Totals();
  private readonly byIp = new Map<string, Totals>();
  /** Events of addresses not counted because maxIps addresses were already held. */
  droppedEvents = 0;

  constructor(readonly maxIps = 1_000_000) {}

  add(e: LogEvent): void {
    this.count(e.ip, e.metadata?.f2b_failure === true, e.action);
  }

  /** Counts one event of `ip` (what {@link add} reads of an event, for callers that never build one). */
  count(ip: string | null | undefined, failure: boolean, a: LogEvent['action']): void {
    const ev = logEvidence(a, failure);
    if (ev !== 0 && ip) this.countEvidence(ip, ev);
  }

  /** Counts the evidence bits of one event of `ip` ({@link logEvidence}, not 0). */
  countEvidence(ip: string, ev: number): void {
    const v4 = parseIPv4(ip);
    if (v4 !== null) return this.countEvidenceV4(v4 | 0, ev);
    let t = this.byIp.get(ip);
    if (t === undefined) {
      if (this.full()) return;
      t = { failures: 0, invalidUsers: 0, accepted: 0, bans: 0 };
      this.byIp.set(ip, t);
    }
    if (ev & EVIDENCE_FAILURE) t.failures++;
    if (ev & EVIDENCE_INVALID_USER) t.invalidUsers++;
    if (ev & EVIDENCE_ACCEPTED) t.accepted++;
    if (ev & EVIDENCE_BAN || (ev & EVIDENCE_RESTORED_BAN && t.bans === 0)) t.bans++;
  }

  /** {@link countEvidence} of the IPv4 address `v4` (its 32 bits as a signed integer). */
  countEvidenceV4(v4: number, ev: number): void {
    const t = this.v4;
    let i = t.find(v4);
    if (i < 0) {
      if (this.full()) return;
      i = t.insert(v4);
    }
    if (ev & EVIDENCE_FAILURE) t.failures[i]++;
    if (ev & EVIDENCE_INVALID_USER) t.invalidUsers[i]++;
    if (ev & EVIDENCE_ACCEPTED) t.accepted[i]++;
    if (ev & EVIDENCE_BAN || (ev & EVIDENCE_RESTORED_BAN && t.bans[i] === 0)) t.bans[i]++;
  }

  private full(): boolean {
    if (this.byIp.size + this.v4.size < this.maxIps) return false;
    this.droppedEvents++;
    return true;
  }

  /** Rows ordered by failures, then bans, then address. */
  rows(): IpSummary[] {
    const out: IpSummary[] = [];
    for (const [ip, t] of this.byIp) out.push(summaryRow(ip, t.failures, t.invalidUsers, t.accepted, t.bans));
    const v4 = this.v4;
    for (let i = 0; i < v4.size; i++) out.push(summaryRow(formatIPv4(v4.addressAt(i)), v4.failures[i], v4.invalidUsers[i], v4.accepted[i], v4.bans[i]));
    scoreMemo.clear();
    return out.sort((a, b) => b.failures - a.failures || b.bans - a.bans || (a.ip < b.ip ? -1 : a.ip > b.ip ? 1 : 0));
  }
}

// Thousands of addresses share a few totals (one failure, two...): each score is computed once, by totals packed
// into one small integer (counters under 128; larger ones are scored directly).
const scoreMemo = new Map<number, number>();

function summaryRow(ip: string, failures: number, invalidUsers: number, accepted: number, bans: number): IpSummary {
  let score: number | undefined;
  if ((failures | invalidUsers | accepted | bans) < 128) {
    const key = (((failures * 128 + invalidUsers) * 128 + accepted) * 128 + bans) | 0;
    score = scoreMemo.get(key);
    if (score === undefined) scoreMemo.set(key, (score = threatScore({ failures, invalidUsers, accepted, bans })));
  } else score = threatScore({ failures, invalidUsers, accepted, bans });
  return { ip, failures, invalid_users: invalidUsers, accepted, bans, threat_score: score };
}

/**
 * Totals of IPv4 addresses, struct of arrays: entry i in the counter arrays, found through an open-addressing
 * index (linear probing) of the addresses; both double when the index is half full.
 */
class Ipv4Totals {
  size = 0;
  // Small at first: the start-up warm-up (parse.ts primeTally) then grows a table too, so V8 never takes these
  // fields for constants and has no compiled code to throw away at the first growth in a real file.
  private addresses = new Int32Array(4);
  failures = new Int32Array(4);
  invalidUsers = new Int32Array(4);
  accepted = new Int32Array(4);
  bans = new Int32Array(4);
  /** Slot -> entry + 1 (0: empty). */
  private slots = new Int32Array(8);

  /** The entry of `addr`, or -1. */
  find(addr: number): number {
    const mask = this.slots.length - 1;
    for (let s = hash32(addr) & mask; ; s = (s + 1) & mask) {
      const e = this.slots[s] - 1;
      if (e < 0) return -1;
      if (this.addresses[e] === addr) return e;
    }
  }

  /** Adds `addr` (not present) with zero counters; returns its entry. */
  insert(addr: number): number {
    if (this.size === this.addresses.length) this.grow();
    const e = this.size++;
    this.addresses[e] = addr;
    this.place(addr, e);
    return e;
  }

  addressAt(e: number): number {
    return this.addresses[e] >>> 0;
  }

  private place(addr: number, e: number): void {
    const mask = this.slots.length - 1;
    let s = hash32(addr) & mask;
    while (this.slots[s] !== 0) s = (s + 1) & mask;
    this.slots[s] = e + 1;
  }

  private grow(): void {
    const n = this.addresses.length * 2;
    const wider = (a: Int32Array) => {
      const b = new Int32Array(n);
      b.set(a);
      return b;
    };
    this.addresses = wider(this.addresses);
    this.failures = wider(this.failures);
    this.invalidUsers = wider(this.invalidUsers);
    this.accepted = wider(this.accepted);
    this.bans = wider(this.bans);
    this.slots = new Int32Array(n * 2);
    for (let e = 0; e < this.size; e++) this.place(this.addresses[e], e);
  }
}

/** A mix of the 32 bits (addresses of one network differ in their low bits only). */
function hash32(x: number): number {
  x = Math.imul(x ^ (x >>> 16), 0x45d9f3b);
  return x ^ (x >>> 16);
}
