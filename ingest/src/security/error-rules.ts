/**
 * Error analysis of error-level log events: what kind of failure a line reports, where in code it happened when
 * the line says so, and what usually causes it and fixes it. The rules are a table, first match wins, ordered
 * from the most specific (a kernel OOM kill) to the most generic (a timeout); a line no rule knows is still an
 * error trace, of type `error`, category `unknown`.
 */

export type ErrorCategory = 'resource' | 'process' | 'service' | 'network' | 'security' | 'hardware' | 'application' | 'configuration' | 'unknown';

export interface ErrorRule {
  type: string;
  category: ErrorCategory;
  /** Raises the trace to critical whatever the line's level (the host or its data is at risk). */
  critical?: boolean;
  pattern: RegExp;
  hints: string[];
  suggestions: string[];
}

export const ERROR_RULES: readonly ErrorRule[] = [
  {
    type: 'out_of_memory',
    category: 'resource',
    critical: true,
    pattern: /out of memory|oom-kill|oom_reaper|invoked oom-killer|killed process \d+/i,
    hints: ["The kernel's OOM killer ended a process to free memory", 'Memory use exceeded what the host or the cgroup allows'],
    suggestions: ['Find the process with the largest RSS before the kill (system_metrics memory_percent, process traces)', 'Add memory or swap, or set MemoryMax= on the service that grows'],
  },
  {
    type: 'disk_full',
    category: 'resource',
    critical: true,
    pattern: /no space left on device|ENOSPC|disk quota exceeded|EDQUOT/i,
    hints: ['A file system or quota is full'],
    suggestions: ['Check disk_percent per mount and the largest directories (du -xh --max-depth=2)', 'Rotate or delete old logs, raise the quota or grow the volume'],
  },
  {
    type: 'filesystem_error',
    category: 'hardware',
    critical: true,
    pattern: /EXT4-fs error|XFS .*(?:corrupt|error)|remounting filesystem read-only|BTRFS (?:error|critical)/i,
    hints: ['The file system found inconsistent metadata, often after an I/O error or an unclean shutdown'],
    suggestions: ['Check the disk (smartctl -a) and the kernel log around this line', 'Run fsck on the unmounted file system'],
  },
  {
    type: 'io_error',
    category: 'hardware',
    pattern: /I\/O error|\bEIO\b|blk_update_request|medium error|ata\d+(?:\.\d+)?: .*(?:failed|error)|end_request: I\/O/i,
    hints: ['A block device failed a read or write'],
    suggestions: ['Check the device with smartctl -a and dmesg', 'Replace the disk or cable if errors repeat'],
  },
  {
    type: 'crash',
    category: 'process',
    pattern: /segfault at|general protection(?: fault)?|SIGSEGV|SIGABRT|core dumped|trap invalid opcode/i,
    hints: ['A process crashed on a bad memory access or aborted'],
    suggestions: ['Look for a core dump (coredumpctl list) and the package version of the crashed binary', 'Update the program; report the crash with its backtrace'],
  },
  {
    type: 'service_failure',
    category: 'service',
    pattern: /failed to start |\.service: (?:main process exited|failed with result|start request repeated too quickly)|entered failed state/i,
    hints: ['A systemd unit failed to start or exited with an error'],
    suggestions: ['Read the unit\'s own log: journalctl -u UNIT -b', 'Check its configuration and the resources it needs (ports, files, permissions)'],
  },
  {
    type: 'exception',
    category: 'application',
    pattern: /Traceback \(most recent call last\)|\b(?:[A-Za-z_][\w$]*\.)*[A-Z][\w$]*(?:Exception|Error)\b(?::|\s+at\b|$)|Uncaught |panic: /,
    hints: ['The application raised an error it did not handle'],
    suggestions: ['Find the first frame in the application\'s own code (file and line) and the input that reached it', 'Deploy the fix or roll back the release that introduced it'],
  },
  {
    type: 'configuration_error',
    category: 'configuration',
    pattern: /syntax error|invalid (?:configuration|config|option|argument)|unknown (?:directive|option|key)|bad configuration/i,
    hints: ['A configuration file or option is invalid'],
    suggestions: ['Validate the configuration with the program\'s own check (nginx -t, sshd -t, named-checkconf, ...)', 'Compare with the last known good version'],
  },
  {
    type: 'tls_error',
    category: 'security',
    pattern: /certificate (?:verify failed|has expired|expired|not yet valid|unknown)|SSL(?:_| )(?:routines|error|handshake)|TLS handshake|x509:/i,
    hints: ['A TLS peer could not be verified or the handshake failed'],
    suggestions: ['Check certificate expiry and chain (openssl s_client -connect HOST:PORT)', 'Check that both sides share a protocol version and cipher'],
  },
  {
    type: 'permission_denied',
    category: 'security',
    pattern: /permission denied|\bEACCES\b|operation not permitted|\bEPERM\b|avc: +denied/i,
    hints: ['A process lacked the rights for a file or an operation (ownership, mode, SELinux/AppArmor, capabilities)'],
    suggestions: ['Check the owner and mode of the path, and the user the service runs as', 'Check the security module log (ausearch -m avc, aa-status)'],
  },
  {
    type: 'authentication_failure',
    category: 'security',
    pattern: /authentication (?:failed|failure)|auth(?:entication)? error|invalid credentials|login failed/i,
    hints: ['Credentials were refused'],
    suggestions: ['If expected, check the credentials the client uses; if not, check the source address in the threats table'],
  },
  {
    type: 'dns_failure',
    category: 'network',
    pattern: /could not resolve|name or service not known|temporary failure in name resolution|NXDOMAIN|SERVFAIL|no address associated with hostname/i,
    hints: ['A host name could not be resolved'],
    suggestions: ['Check /etc/resolv.conf and the resolver (resolvectl status, dig NAME)', 'Check that the name exists'],
  },
  {
    type: 'connection_refused',
    category: 'network',
    pattern: /connection refused|\bECONNREFUSED\b/i,
    hints: ['Nothing listens on the target port, or a firewall rejects the connection'],
    suggestions: ['Check that the target service runs and listens (ss -ltnp)', 'Check firewall rules between the two hosts'],
  },
  {
    type: 'connection_reset',
    category: 'network',
    pattern: /connection reset|\bECONNRESET\b|broken pipe|\bEPIPE\b|software caused connection abort/i,
    hints: ['The peer or a middlebox closed the connection abruptly'],
    suggestions: ['Look at the peer\'s log at the same time', 'Check idle timeouts of load balancers and NAT'],
  },
  {
    type: 'timeout',
    category: 'network',
    pattern: /timed? ?out|\bETIMEDOUT\b|deadline exceeded/i,
    hints: ['An operation waited longer than its limit: an unreachable or overloaded peer, or packet loss'],
    suggestions: ['Check reachability and latency to the peer (pings kind)', 'Check the load of the peer and the network path'],
  },
];

export interface ErrorAnalysis {
  errorType: string;
  errorCategory: ErrorCategory;
  exceptionType: string | null;
  severity: 'error' | 'critical';
  filePath: string | null;
  lineNumber: number | null;
  errorCode: string | null;
  hasStacktrace: boolean;
  rootCauseHints: string[];
  recoverySuggestions: string[];
}

// Where in code, in the forms runtimes print: Python frames, JS/Java stack frames, compiler-style path:line.
const LOCATIONS: readonly RegExp[] = [
  /File "([^"]+)", line (\d+)/,
  /([\w./\\$-]+\.(?:js|mjs|cjs|ts|java|kt|scala)):(\d+)(?::\d+)?\)?/,
  /((?:\/|\.{1,2}\/)?[\w./-]+\.(?:c|cc|cpp|h|go|rs|py|rb|php|pl|lua|sh|conf|ya?ml|json|toml|ini)):(\d+)\b/,
  /((?:\/|\.{1,2}\/)[\w./-]+):(\d+)\b/,
  /((?:\/|\.{1,2}\/)?[\w./-]+) line (\d+)/,
];

const EXCEPTION = /\b((?:[A-Za-z_][\w$]*\.)*[A-Z][\w$]*(?:Exception|Error))\b/;
const ERRNO = /\b(E(?:NOSPC|DQUOT|IO|ACCES|PERM|CONNREFUSED|CONNRESET|TIMEDOUT|PIPE|NOENT|NOMEM|AGAIN|BADF|EXIST|INVAL|MFILE|NFILE|ADDRINUSE|HOSTUNREACH|NETUNREACH))\b/;
const CODE = /\b(?:errno|error code|code|status|exit code|exit status)[=: ]+(-?\w+)/i;

/** Analyzes an error-level message; `level` is the line's level ('critical' stays critical). */
export function analyzeError(message: string, level: string): ErrorAnalysis {
  const rule = ERROR_RULES.find((r) => r.pattern.test(message));
  let filePath: string | null = null;
  let lineNumber: number | null = null;
  for (const re of LOCATIONS) {
    const m = re.exec(message);
    if (m) {
      filePath = m[1];
      lineNumber = Number(m[2]);
      break;
    }
  }
  const exception = EXCEPTION.exec(message);
  const errno = ERRNO.exec(message);
  const code = errno ? errno[1] : (CODE.exec(message)?.[1] ?? null);
  return {
    errorType: rule?.type ?? 'error',
    errorCategory: rule?.category ?? 'unknown',
    exceptionType: exception ? exception[1] : null,
    severity: level === 'critical' || rule?.critical ? 'critical' : 'error',
    filePath,
    lineNumber,
    errorCode: code,
    hasStacktrace: /Traceback \(most recent call last\)|\n\s+at |\n\s+File "/.test(message),
    rootCauseHints: rule?.hints ?? ['The line reports an error no rule recognizes'],
    recoverySuggestions: rule?.suggestions ?? ['Read the lines around it in the service log'],
  };
}
