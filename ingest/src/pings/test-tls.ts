/** For the pings tests: a self-signed certificate for 127.0.0.1, made by the openssl CLI. */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';

/** Valid from now for `days` days (openssl sets notAfter = now + days × 86400 s); issuer = subject `CN=<cn>, O=Netwatch Tests`. */
export function selfSignedCert(dir: string, days: number, cn = 'netwatch-test'): { key: Buffer; cert: Buffer } {
  const key = path.join(dir, `key-${days}.pem`);
  const cert = path.join(dir, `cert-${days}.pem`);
  execFileSync(
    'openssl',
    ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', key, '-out', cert, '-days', String(days), '-subj', `/CN=${cn}/O=Netwatch Tests`, '-addext', 'subjectAltName=IP:127.0.0.1'],
    { stdio: 'ignore' },
  );
  return { key: readFileSync(key), cert: readFileSync(cert) };
}
