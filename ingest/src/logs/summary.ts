/**
 * Per-address totals over parsed events: what `netwatch-ingest logs --summary` prints. `failures` counts the events
 * fail2ban's sshd filter counts (metadata.f2b_failure), so it equals `fail2ban-regex -o ip FILE sshd` per address;
 * the threat score is the security engine's scorer over the totals.
 */
import { threatScore } from '../security/score';
import type { LogEvent } from './events';

export interface IpSummary {
  ip: string;
  failures: number;
  /** "Invalid user X from IP" lines (one per attempt on a name with no account). */
  invalid_users: number;
  /** Accepted logins (password, public key, keyboard-interactive...). */
  accepted: number;
  /** fail2ban bans (restored bans included, as the scorer counts them). */
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
  private readonly byIp = new Map<string, Totals>();
  /** Events of addresses not counted because maxIps addresses were already held. */
  droppedEvents = 0;

  constructor(readonly maxIps = 1_000_000) {}

  add(e: LogEvent): void {
    this.count(e.ip, e.metadata?.f2b_failure === true, e.action);
  }

  /** Counts one event of `ip` (what {@link add} reads of an event, for callers that never build one). */
  count(ip: string | null | undefined, failure: boolean, a: LogEvent['action']): void {
    if (!ip) return;
    const invalid = a === 'invalid_user';
    const accepted = a === 'accepted_password' || a === 'accepted_publickey' || a === 'accepted_other';
    const ban = a === 'f2b_ban' || a === 'f2b_restore_ban';
    if (!failure && !invalid && !accepted && !ban) return;
    let t = this.byIp.get(ip);
    if (!t) {
      if (this.byIp.size >= this.maxIps) {
        this.droppedEvents++;
        return;
      }
      t = { failures: 0, invalidUsers: 0, accepted: 0, bans: 0 };
      this.byIp.set(ip, t);
    }
    if (failure) t.failures++;
    if (invalid) t.invalidUsers++;
    if (accepted) t.accepted++;
    if (ban) t.bans++;
  }

  /** Rows ordered by failures, then bans, then address. */
  rows(): IpSummary[] {
    const out: IpSummary[] = [];
    for (const [ip, t] of this.byIp) {
      out.push({
        ip,
        failures: t.failures,
        invalid_users: t.invalidUsers,
        accepted: t.accepted,
        bans: t.bans,
        threat_score: threatScore({ failures: t.failures, invalidUsers: t.invalidUsers, accepted: t.accepted, bans: t.bans }),
      });
    }
    return out.sort((a, b) => b.failures - a.failures || b.bans - a.bans || (a.ip < b.ip ? -1 : a.ip > b.ip ? 1 : 0));
  }
}
