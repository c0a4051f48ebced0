/**
 * HTTP(S) probe: one GET on a fresh connection to the address resolved this round, timed in its phases (TCP
 * connect, TLS handshake, whole response), with the peer certificate's expiry, issuer and the TLS version.
 *
 * A status below 400 is a reply; 4xx/5xx count as a lost probe (the service answers, but not as it should), with
 * their status and times still recorded. Redirects are not followed: a 301 is the answer of that URL.
 * The certificate is read even when it does not verify (expired, self-signed), since a monitor must report an
 * expiring certificate rather than only fail on it; without `insecure` such a probe fails and sends no request.
 */
import http from 'node:http';
import https from 'node:https';
import type { LookupFunction } from 'node:net';
import type { TLSSocket } from 'node:tls';
import { VERSION } from '../version';
import type { HttpDetails, ProbeResult } from './round';

export interface HttpProbeResult {
  result: ProbeResult;
  details: HttpDetails;
}

/** Body bytes read before the response counts as complete: a probe measures an answer, not a download. */
export const MAX_BODY_BYTES = 1024 * 1024;
const DAY_MS = 86_400_000;

/** Whole days from now to the certificate's notAfter, rounded to the nearest day (negative once expired). */
export function certDaysLeft(validTo: string, nowMs: number): number | null {
  const t = Date.parse(validTo);
  return Number.isFinite(t) ? Math.round((t - nowMs) / DAY_MS) : null;
}

/** The issuer's distinguished name, most specific part first as RFC 4514 writes it (`CN=…, O=…, C=…`). */
export function formatIssuer(issuer: Record<string, string | string[]> | undefined): string | null {
  if (!issuer) return null;
  const order = ['CN', 'OU', 'O', 'L', 'ST', 'C'];
  const keys = [...order.filter((k) => k in issuer), ...Object.keys(issuer).filter((k) => !order.includes(k))];
  const parts = keys.map((k) => `${k}=${([] as string[]).concat(issuer[k]).join('+')}`);
  return parts.length > 0 ? parts.join(', ') : null;
}

export interface HttpProbeTarget {
  url: string;
  insecure: boolean;
}

export function httpProbe(t: HttpProbeTarget, address: string, family: 4 | 6, timeoutMs: number, nowMs: () => number): Promise<HttpProbeResult> {
  return new Promise((resolve) => {
    const details: HttpDetails = { statusCode: null, totalMs: null, connectMs: null, tlsHandshakeMs: null, certDaysLeft: null, certIssuer: null, tlsVersion: null };
    const started = performance.now();
    let connectedAt = 0;
    let settled = false;
    const done = (result: ProbeResult) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      req.destroy();
      resolve({ result, details });
    };
    // The host name was resolved once for this round; connecting to that address keeps the round on one address
    // while the URL still gives Host and SNI.
    const lookup: LookupFunction = (_host, opts, cb) => {
      if ((opts as { all?: boolean }).all) (cb as unknown as (e: null, a: Array<{ address: string; family: number }>) => void)(null, [{ address, family }]);
      else cb(null, address, family);
    };
    const isHttps = t.url.startsWith('https:');
    const options: https.RequestOptions = { method: 'GET', agent: false, lookup, family, headers: { 'user-agent': `netwatch-ingest/${VERSION}`, accept: '*/*' } };
    if (isHttps) options.rejectUnauthorized = false;
    const req = (isHttps ? https : http).request(t.url, options, (res) => {
      details.statusCode = res.statusCode ?? null;
      let bytes = 0;
      const complete = () => {
        const total = performance.now() - started;
        details.totalMs = total;
        const status = res.statusCode ?? 0;
        done(status < 400 ? { rttMs: total, ttl: null } : { rttMs: null, ttl: null, error: `HTTP ${status}` });
      };
      res.on('data', (chunk: Buffer) => {
        bytes += chunk.length;
        if (bytes >= MAX_BODY_BYTES) complete();
      });
      res.once('end', complete);
      res.once('error', (err) => done({ rttMs: null, ttl: null, error: `response: ${err.message}` }));
    });
    const timer = setTimeout(() => done({ rttMs: null, ttl: null, error: 'timeout' }), timeoutMs);
    req.once('socket', (socket) => {
      // Holds the request in the socket's buffer until the certificate is judged, so an unverified peer gets nothing.
      if (isHttps && !t.insecure) socket.cork();
      socket.once('connect', () => {
        connectedAt = performance.now();
        details.connectMs = connectedAt - started;
      });
      if (!isHttps) return;
      socket.once('secureConnect', () => {
        const tls = socket as TLSSocket;
        details.tlsHandshakeMs = performance.now() - connectedAt;
        details.tlsVersion = tls.getProtocol() ?? null;
        const cert = tls.getPeerCertificate(false);
        if (cert && cert.valid_to) {
          details.certDaysLeft = certDaysLeft(cert.valid_to, nowMs());
          details.certIssuer = formatIssuer(cert.issuer as unknown as Record<string, string | string[]>);
        }
        if (t.insecure) return;
        if (tls.authorized) tls.uncork();
        else done({ rttMs: null, ttl: null, error: `tls: ${String(tls.authorizationError ?? 'certificate not verified')}` });
      });
    });
    req.once('error', (err: NodeJS.ErrnoException) => done({ rttMs: null, ttl: null, error: `${details.connectMs === null ? 'connect' : 'request'}: ${err.code ?? err.message}` }));
    req.end();
  });
}
