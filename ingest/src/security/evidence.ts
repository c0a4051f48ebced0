/**
 * Which reputation counters one log event moves. The one classification the live engine
 * (`SecurityEngine.applyEvidence`) and the offline summary (`netwatch-ingest logs --summary`) both use, so that a
 * file read either way gives the same counters per address, and from them the same threat score.
 *
 * Bits, so that the offline summary's hot path can ask "does this line count at all" without building anything.
 */
import type { LogAction } from '../logs/events';

/** A failure as fail2ban's sshd filter counts it (the parsers' `metadata.f2b_failure`). */
export const EVIDENCE_FAILURE = 1;
/** An attempt on an account that does not exist ("Invalid user X from IP"). */
export const EVIDENCE_INVALID_USER = 2;
/** An accepted login: password, public key, or any other method (keyboard-interactive/pam, hostbased, gssapi). */
export const EVIDENCE_ACCEPTED = 4;
/** A fail2ban ban. */
export const EVIDENCE_BAN = 8;
/**
 * A ban fail2ban restored at its start: fail2ban restores every ban at each restart, so it counts as a ban only
 * for an address that has none counted yet (a ban whose original line is not in what was read).
 */
export const EVIDENCE_RESTORED_BAN = 16;

/** The counters an event of `action` moves; `f2bFailure` is the event's `metadata.f2b_failure`. */
export function logEvidence(action: LogAction | null | undefined, f2bFailure: boolean): number {
  const failure = f2bFailure ? EVIDENCE_FAILURE : 0;
  switch (action) {
    case 'invalid_user':
      return failure | EVIDENCE_INVALID_USER;
    case 'accepted_password':
    case 'accepted_publickey':
    case 'accepted_other':
      return failure | EVIDENCE_ACCEPTED;
    case 'f2b_ban':
      return failure | EVIDENCE_BAN;
    case 'f2b_restore_ban':
      return failure | EVIDENCE_RESTORED_BAN;
    default:
      return failure;
  }
}
