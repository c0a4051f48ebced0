/**
 * The threat score of a remote address: 0 (nothing against it) to 100 (certain attacker), from what the logs and
 * the flow table say it did. One scale for the offline summary (`netwatch-ingest logs --summary`, counters over a
 * whole file) and for the live reputation table (the same weights applied event by event, decaying with time).
 *
 * Evidence is counted in points and mapped onto the score by a saturating curve,
 *
 *     score = 100 * (1 - 2^(-points / halfScorePoints))
 *
 * so every piece of evidence raises the score, none can push it past 100, and the first pieces count most: a
 * host's fifth failed password says more than its five-hundredth. The weights are calibrated on the thresholds
 * the two reference tools act on:
 *
 * - failure, 10 points. fail2ban's sshd jail bans at `maxretry = 5` failures (jail.conf default), so five
 *   failures are 50 points, score 50: the point where fail2ban would act. Failures are counted as fail2ban's
 *   sshd filter counts them: "Invalid user" and "Failed password for invalid user" are one failure each.
 * - invalid user, 10 more points. Guessing names that have no account is what password-spraying bots do and a
 *   person mistyping does not; CrowdSec's `ssh-bf_user-enum` scenario acts on it separately from plain
 *   brute force. As the line is already a failure, its weight is what it adds on top.
 * - ban, 40 points. A ban is fail2ban's own verdict. Seen alone (only fail2ban.log is tailed) it gives 42;
 *   with the five failures behind it, 71.
 * - scan, 50 points. A port scan or sweep past Zeek's thresholds (more than 15 ports of one host, or one port on
 *   more than 25 hosts, within 5 minutes: policy/misc/scan.zeek) is reconnaissance, never an accident: one
 *   alone puts the address where five failures do.
 * - accepted login. A successful login from an address with little against it (score below 50, i.e. fewer
 *   failures than fail2ban's maxretry) is most likely its owner mistyping: the score is halved. After enough
 *   failures for a ban, the same login is the worst case, a guessed password: 30 more points.
 *
 * With these weights "score above 80" (a usual alert threshold) means about twelve failures, or a scan plus a
 * few failures, or a ban plus failures and invalid users: more than any one tool's trigger alone.
 *
 * Decay: the live score halves every half-life (configurable) without new evidence, like CrowdSec decisions that
 * expire and fail2ban bans that are lifted. New evidence is added in points onto the decayed score
 * ({@link addPoints}), so with no time passing the event-by-event score equals {@link threatScore} of the
 * totals when the accepted logins come after the other evidence (the totals do not say in which order they came).
 */

export interface ThreatCounters {
  /** Failed authentications, as fail2ban's sshd filter counts them (invalid-user lines included). */
  failures: number;
  /** Attempts naming an account that does not exist. */
  invalidUsers?: number;
  /** fail2ban bans (restored bans included). */
  bans?: number;
  /** Port scans and sweeps detected from the flow table. */
  scans?: number;
  /** Accepted logins (password, public key, keyboard-interactive/pam, ...: security/evidence.ts). */
  accepted?: number;
}

export interface ThreatWeights {
  failure: number;
  invalidUser: number;
  ban: number;
  scan: number;
  /** Added by an accepted login once the score is at or above `compromiseAt`. */
  compromise: number;
  /** Score from which an accepted login counts as a possible compromise instead of a mistyped password. */
  compromiseAt: number;
  /** Factor applied by an accepted login below `compromiseAt`. */
  acceptedFactor: number;
  /** Points that give a score of 50. */
  halfScorePoints: number;
}

export const THREAT_WEIGHTS: Readonly<ThreatWeights> = Object.freeze({
  failure: 10,
  invalidUser: 10,
  ban: 40,
  scan: 50,
  compromise: 30,
  compromiseAt: 50,
  acceptedFactor: 0.5,
  halfScorePoints: 50,
});

/** Score of `points` of evidence, unrounded. */
export function scoreFromPoints(points: number, w: Readonly<ThreatWeights> = THREAT_WEIGHTS): number {
  if (!(points > 0)) return 0;
  return 100 * (1 - Math.pow(2, -points / w.halfScorePoints));
}

/** The points a score stands for (inverse of {@link scoreFromPoints}); 100 maps to Infinity. */
export function pointsFromScore(score: number, w: Readonly<ThreatWeights> = THREAT_WEIGHTS): number {
  if (!(score > 0)) return 0;
  if (score >= 100) return Infinity;
  return -w.halfScorePoints * Math.log2(1 - score / 100);
}

/** Adds evidence to a score: the score it would have had with those points more. */
export function addPoints(score: number, points: number, w: Readonly<ThreatWeights> = THREAT_WEIGHTS): number {
  return scoreFromPoints(pointsFromScore(score, w) + points, w);
}

/** A score after `elapsedSeconds` without evidence: halved every half-life. Negative elapsed times do not raise it. */
export function decayScore(score: number, elapsedSeconds: number, halfLifeSeconds: number): number {
  if (!(elapsedSeconds > 0) || !(score > 0)) return Math.max(0, score);
  if (!(halfLifeSeconds > 0)) return 0;
  return score * Math.pow(2, -elapsedSeconds / halfLifeSeconds);
}

/** How an accepted login changes a score (see the module comment). */
export function applyAccepted(score: number, w: Readonly<ThreatWeights> = THREAT_WEIGHTS): number {
  return score >= w.compromiseAt ? addPoints(score, w.compromise, w) : score * w.acceptedFactor;
}

/** Points of the counters other than accepted logins. */
export function evidencePoints(c: ThreatCounters, w: Readonly<ThreatWeights> = THREAT_WEIGHTS): number {
  return count(c.failures, 'failures') * w.failure + count(c.invalidUsers, 'invalidUsers') * w.invalidUser + count(c.bans, 'bans') * w.ban + count(c.scans, 'scans') * w.scan;
}

/**
 * The threat score of an address from its counters over a period, 0-100 rounded to 0.1, without decay (the offline
 * summary of a file). Throws a RangeError for a negative or non-finite counter.
 */
export function threatScore(c: ThreatCounters, w: Readonly<ThreatWeights> = THREAT_WEIGHTS): number {
  let score = scoreFromPoints(evidencePoints(c, w), w);
  const accepted = count(c.accepted, 'accepted');
  // Each login applies once, as it does event by event; past these bounds further logins change nothing reported.
  for (let i = 0; i < accepted && score > 0.01 && score < 99.95; i++) score = applyAccepted(score, w);
  return roundScore(score);
}

/** A score as reported: 0-100 with one decimal. */
export function roundScore(score: number): number {
  return Math.min(100, Math.max(0, Math.round(score * 10) / 10));
}

function count(v: number | undefined, name: string): number {
  if (v === undefined) return 0;
  if (!Number.isFinite(v) || v < 0) throw new RangeError(`threat counter ${name} must be a finite number >= 0, got ${v}`);
  return v;
}
