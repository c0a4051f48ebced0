/**
 * Feeds the scan detector from the flow table: every TCP flow whose initiator's SYN was seen becomes one
 * connection attempt, once, when its outcome is settled. Reads the table through its public fields and methods
 * only, from a timer of the security component (never on the packet path).
 *
 * Outcome, after Zeek's scan.zeek (connection_attempt, connection_rejected, and resets with no data):
 * - unanswered: the responder sent nothing within `attemptDelayMs` (5 s, Zeek's tcp_attempt_delay);
 * - refused: the responder answered the SYN with a RST;
 * - reset before data: the responder's SYN-ACK was its only packet and the initiator reset (a SYN scan of an
 *   open port: S, SA, R), the flow table's stand-in for Zeek's "no data in either direction";
 * - anything else is answered and does not count.
 */
import { TCP_RST, TCP_SYN } from '../decode/packet';
import { F_LIVE, F_SYN, F_V6, type FlowTable } from '../flows/table';
import { formatIPv4, formatIPv6 } from '../protocol/ip';
import type { ConnectionAttempt, ScanDetector, ScanFinding } from './scan';

export type AttemptOutcome = 'answered' | 'unanswered' | 'refused' | 'reset';

/** The outcome of a TCP connection from its flags and packet counts per direction (initiator = forward). */
export function tcpAttemptOutcome(flagsFwd: number, flagsRev: number, packetsFwd: number, packetsRev: number): AttemptOutcome {
  if (packetsRev === 0) return 'unanswered';
  if ((flagsRev & TCP_RST) !== 0 && (flagsRev & TCP_SYN) === 0) return 'refused';
  if ((flagsRev & TCP_SYN) !== 0 && (flagsFwd & TCP_RST) !== 0 && packetsRev === 1 && packetsFwd <= 3) return 'reset';
  return 'answered';
}

export interface FlowScanOptions {
  /** How long a SYN may wait for an answer before it counts as unanswered. Default 5000 (Zeek's tcp_attempt_delay). */
  attemptDelayMs?: number;
}

export interface FlowScanCounters {
  scans: number;
  flowsRead: number;
  attempts: number;
  failed: number;
}

function address(t: FlowTable, dst: boolean, slot: number): string {
  if ((t.status[slot] & F_V6) === 0) return formatIPv4(t.addrWord(dst, slot, 0));
  return formatIPv6(t.addrWord(dst, slot, 0), t.addrWord(dst, slot, 1), t.addrWord(dst, slot, 2), t.addrWord(dst, slot, 3));
}

export class FlowScanAdapter {
  private readonly attemptDelayMs: number;
  /** Flows first seen before this (epoch ms) were already fed. */
  private watermarkMs = -Infinity;
  private readonly c = { scans: 0, flowsRead: 0, attempts: 0, failed: 0 };

  constructor(
    private readonly table: FlowTable,
    private readonly detector: ScanDetector,
    opts: FlowScanOptions = {},
  ) {
    this.attemptDelayMs = opts.attemptDelayMs ?? 5000;
  }

  counters(): FlowScanCounters {
    return { ...this.c };
  }

  /** Feeds the attempts settled since the last call, in time order; returns the findings they started or updated. */
  scan(): ScanFinding[] {
    const t = this.table;
    this.c.scans++;
    const epoch = t.epochMs;
    const cutoff = epoch + t.nowRel() - this.attemptDelayMs;
    const from = this.watermarkMs;
    if (!(cutoff > from)) return [];
    const attempts: ConnectionAttempt[] = [];
    const limit = t.scanLimit;
    for (let slot = 0; slot < limit; slot++) {
      const st = t.status[slot];
      if ((st & F_LIVE) === 0 || t.proto[slot] !== 6 || (st & F_SYN) === 0) continue;
      const first = epoch + t.firstRel[slot];
      if (first < from || first >= cutoff) continue;
      this.c.flowsRead++;
      const outcome = tcpAttemptOutcome(t.tcpFlagsFwd[slot], t.tcpFlagsRev[slot], t.packetsFwd[slot], t.packetsRev[slot]);
      const src = address(t, false, slot);
      const dst = address(t, true, slot);
      const v6 = (st & F_V6) !== 0;
      const sp = t.srcPort[slot];
      const dp = t.dstPort[slot];
      attempts.push({
        src,
        dst,
        dstPort: dp,
        proto: 6,
        answered: outcome === 'answered',
        timeMs: first,
        flowKey: v6 ? `tcp [${src}]:${sp} > [${dst}]:${dp} ${outcome}` : `tcp ${src}:${sp} > ${dst}:${dp} ${outcome}`,
      });
    }
    this.watermarkMs = cutoff;
    attempts.sort((a, b) => a.timeMs - b.timeMs);
    const out: ScanFinding[] = [];
    for (const a of attempts) {
      this.c.attempts++;
      if (!a.answered) this.c.failed++;
      for (const f of this.detector.observe(a)) {
        // One finding object per episode, updated in place: report it once per scan.
        if (!out.includes(f)) out.push(f);
      }
    }
    return out;
  }
}
