import { analyzeError, ERROR_RULES } from './error-rules';

describe('analyzeError', () => {
  it.each([
    ['Out of memory: Killed process 4242 (java) total-vm:8123456kB', 'error', { errorType: 'out_of_memory', errorCategory: 'resource', severity: 'critical' }],
    ['rsyslogd: file /var/log/syslog: write error: No space left on device', 'error', { errorType: 'disk_full', errorCategory: 'resource', severity: 'critical', errorCode: null }],
    ['EXT4-fs error (device sda1): ext4_find_entry:1455: inode #2: comm ls: reading directory lblock 0', 'error', { errorType: 'filesystem_error', errorCategory: 'hardware', severity: 'critical' }],
    ['blk_update_request: I/O error, dev sdb, sector 12345', 'error', { errorType: 'io_error', errorCategory: 'hardware', errorCode: null }],
    ['nginx[812]: segfault at 0 ip 000055d5 sp 00007ffd error 4 in nginx[55d5+1000]', 'error', { errorType: 'crash', errorCategory: 'process' }],
    ['Failed to start The nginx HTTP and reverse proxy server.', 'error', { errorType: 'service_failure', errorCategory: 'service' }],
    ['nginx.service: Main process exited, code=exited, status=1/FAILURE', 'error', { errorType: 'service_failure', errorCode: 'exited' }],
    ['app: Traceback (most recent call last):\n  File "/srv/app/main.py", line 42, in handler\nKeyError: \'user\'', 'error', { errorType: 'exception', errorCategory: 'application', exceptionType: 'KeyError', filePath: '/srv/app/main.py', lineNumber: 42, hasStacktrace: true }],
    ['Exception in thread "main" java.lang.NullPointerException\n    at com.acme.Main.run(Main.java:17)', 'error', { errorType: 'exception', exceptionType: 'java.lang.NullPointerException', filePath: 'Main.java', lineNumber: 17, hasStacktrace: true }],
    ['named[733]: /etc/bind/named.conf.local:12: unknown option \'zonee\'', 'error', { errorType: 'configuration_error', errorCategory: 'configuration', filePath: '/etc/bind/named.conf.local', lineNumber: 12 }],
    ['postfix/smtp[99]: SSL_connect error to mx.example.org: certificate verify failed', 'error', { errorType: 'tls_error', errorCategory: 'security' }],
    ['cron[101]: (root) open(/etc/cron.d/job) failed: Permission denied', 'error', { errorType: 'permission_denied', errorCategory: 'security' }],
    ['klogind[2190]: Authentication failed from 163.27.187.39 (163.27.187.39): Permission denied in replay cache code', 'error', { errorType: 'permission_denied' }],
    ['klogind[1234]: Kerberos authentication failed', 'error', { errorType: 'authentication_failure', errorCategory: 'security' }],
    ['curl: (6) Could not resolve host: example.invalid', 'error', { errorType: 'dns_failure', errorCategory: 'network' }],
    ['backup: connect to 10.0.0.5 port 5432 failed: Connection refused (ECONNREFUSED)', 'error', { errorType: 'connection_refused', errorCode: 'ECONNREFUSED' }],
    ['klogind[2190]: Authentication failed from 1.2.3.4: Software caused connection abort', 'error', { errorType: 'authentication_failure' }],
    ['sshd[77]: Read error from remote host 1.2.3.4 port 4567: Connection reset by peer', 'error', { errorType: 'connection_reset', errorCategory: 'network' }],
    ['ntpd[500]: sendto(10.0.0.1) timed out', 'critical', { errorType: 'timeout', errorCategory: 'network', severity: 'critical' }],
    ['something odd happened in module frobnicator', 'error', { errorType: 'error', errorCategory: 'unknown', severity: 'error', rootCauseHints: ['The line reports an error no rule recognizes'] }],
  ])('%j (%s)', (message, level, want) => {
    expect(analyzeError(message, level)).toMatchObject(want);
  });

  it('returns a whole analysis for a line with nothing but a type', () => {
    expect(analyzeError('Out of memory: Killed process 1 (init)', 'error')).toEqual({
      errorType: 'out_of_memory',
      errorCategory: 'resource',
      exceptionType: null,
      severity: 'critical',
      filePath: null,
      lineNumber: null,
      errorCode: null,
      hasStacktrace: false,
      rootCauseHints: ERROR_RULES[0].hints,
      recoverySuggestions: ERROR_RULES[0].suggestions,
    });
  });

  it('gives every rule hints and suggestions', () => {
    for (const r of ERROR_RULES) expect([r.type, r.hints.length > 0 && r.suggestions.length > 0]).toEqual([r.type, true]);
  });
});
