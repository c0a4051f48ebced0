/**
 * A round: one burst of probes to one target, and what the ping schema stores of it.
 */
import type { PingKind } from './targets';

/** One probe of a burst: its round-trip time, or null when no reply came in time. */
export interface ProbeResult {
  rttMs: number | null;
  /** IP TTL / IPv6 hop limit of the reply, where the mechanism can see it. */
  ttl: number | null;
  /** Why the probe failed (timeout, refused, unreachable, ...). */
  error?: string;
}

/** HTTP(S) and TLS details of a round (the ping_probes columns). */
export interface HttpDetails {
  statusCode: number | null;
  totalMs: number | null;
  connectMs: number | null;
  tlsHandshakeMs: number | null;
  certDaysLeft: number | null;
  certIssuer: string | null;
  tlsVersion: string | null;
}

export interface RoundResult {
  /** Round start, Unix seconds. */
  ts: number;
  target: string;
  kind: PingKind;
  /** The address probed this round; null when the host name did not resolve. */
  address: string | null;
  probes: ProbeResult[];
  /** Why the round (or some of its probes) failed; null when every probe got a reply. */
  error: string | null;
  http?: HttpDetails;
}

export interface RoundSummary {
  /** Median RTT of the replies; null without replies. */
  latencyMs: number | null;
  /** Any reply. */
  success: boolean;
  /** Percent of probes without a reply. */
  packetLoss: number;
  /**
   * Mean absolute difference of consecutive reply RTTs, in send order; null with fewer than two replies. Not RFC
   * 3550's smoothed estimator: a round is only a handful of probes, and each round stands on its own.
   */
  jitterMs: number | null;
  /** TTL of the last reply that carried one. */
  ttl: number | null;
}

export function median(sorted: readonly number[]): number {
  const n = sorted.length;
  const mid = n >> 1;
  return n % 2 === 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

export function summarizeRound(probes: readonly ProbeResult[]): RoundSummary {
  const rtts: number[] = [];
  let ttl: number | null = null;
  for (const p of probes) {
    if (p.rttMs === null) continue;
    rtts.push(p.rttMs);
    if (p.ttl !== null) ttl = p.ttl;
  }
  let jitter: number | null = null;
  if (rtts.length >= 2) {
    let sum = 0;
    for (let i = 1; i < rtts.length; i++) sum += Math.abs(rtts[i] - rtts[i - 1]);
    jitter = sum / (rtts.length - 1);
  }
  const latency = rtts.length > 0 ? median([...rtts].sort((a, b) => a - b)) : null;
  const loss = probes.length === 0 ? 100 : (100 * (probes.length - rtts.length)) / probes.length;
  return { latencyMs: latency, success: rtts.length > 0, packetLoss: loss, jitterMs: jitter, ttl };
}

/** The round's error text from its probes: null when all replied, else the first reason with how many failed. */
export function probesError(probes: readonly ProbeResult[]): string | null {
  const failed = probes.filter((p) => p.rttMs === null);
  if (failed.length === 0) return null;
  const reason = failed.find((p) => p.error)?.error ?? 'no reply';
  return failed.length === probes.length ? reason : `${failed.length} of ${probes.length} probes failed: ${reason}`;
}
