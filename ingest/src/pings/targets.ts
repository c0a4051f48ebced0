/**
 * Probe targets: what `--ping TARGET` and the `ping:` list of the config file accept, parsed once at load time so
 * a bad target stops the service with a message naming it, before anything starts.
 *
 * Forms: `1.1.1.1`, `::1`, `host.example` and `icmp://HOST` (ICMP echo), `tcp://HOST:PORT` (TCP connect),
 * `http://…` and `https://…` (one request per probe; TLS details for https). In the file a target may also be a
 * mapping with per-target settings:
 *
 *   ping:
 *     - 1.1.1.1
 *     - target: https://example.org/health
 *       name: example          # label in queries and the `target` column (default: the target as written)
 *       interval: 30           # seconds between rounds (default --ping-interval)
 *       count: 3               # probes per round (default --ping-count)
 *       spacing: 500           # ms between the probes of a round (default --ping-spacing)
 *       timeout: 2000          # ms per probe (default --ping-timeout)
 *       family: 6              # address family used when resolving a host name (default: the resolver's first)
 *       insecure: true         # https: accept a certificate that does not verify (its expiry is reported anyway)
 */
import net from 'node:net';

export type PingKind = 'icmp' | 'tcp' | 'http' | 'https';

/** A target as configured; settings left undefined take the global --ping-* values. */
export interface PingTargetSpec {
  /** The target as written (trimmed). */
  target: string;
  name?: string;
  interval?: number;
  count?: number;
  spacing?: number;
  timeout?: number;
  family?: 4 | 6;
  insecure?: boolean;
}

/** A target with every setting resolved: what the scheduler runs. */
export interface PingTarget {
  /** Label in the store and in queries. */
  name: string;
  kind: PingKind;
  /** Host name or address literal (IPv6 without brackets). */
  host: string;
  /** The literal's family, or undefined for a host name that is resolved each round. */
  literal?: 4 | 6;
  /** tcp, http(s): destination port. */
  port?: number;
  /** http(s): the URL requested. */
  url?: string;
  intervalMs: number;
  count: number;
  spacingMs: number;
  timeoutMs: number;
  family?: 4 | 6;
  insecure: boolean;
}

export interface PingDefaults {
  intervalSec: number;
  count: number;
  spacingMs: number;
  timeoutMs: number;
}

/** Bounds of the per-target settings; the global options use the same. */
export const PING_LIMITS = {
  interval: { min: 1, max: 3600 },
  count: { min: 1, max: 100 },
  spacing: { min: 10, max: 10_000 },
  timeout: { min: 10, max: 60_000 },
  /** Targets per service: each holds a timer, a few counters and its in-flight probes. */
  targets: 1000,
  nameLength: 200,
} as const;

const SPEC_KEYS = new Set(['target', 'name', 'interval', 'count', 'spacing', 'timeout', 'family', 'insecure']);

// RFC 1123 host names (labels of letters, digits and hyphens), with an optional final dot.
const HOSTNAME = /^(?=.{1,253}\.?$)(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*\.?$/;

export class PingTargetError extends Error {
  override name = 'PingTargetError';
}

function checkHost(host: string, target: string): { host: string; literal?: 4 | 6 } {
  const bare = host.startsWith('[') && host.endsWith(']') ? host.slice(1, -1) : host;
  const fam = net.isIP(bare);
  if (bare !== host && fam !== 6) throw new PingTargetError(`"${target}": [${bare}] is not an IPv6 address`);
  if (fam === 4 || fam === 6) return { host: fam === 6 ? canonicalIPv6(bare) : bare, literal: fam };
  if (!HOSTNAME.test(host)) throw new PingTargetError(`"${target}": "${host}" is neither an IP address nor a host name`);
  return { host: host.toLowerCase() };
}

/** The compressed lowercase form of an IPv6 address (RFC 5952), as the WHATWG URL serializer writes it. */
export function canonicalIPv6(a: string): string {
  return new URL(`http://[${a}]/`).hostname.slice(1, -1);
}

interface ParsedForm {
  kind: PingKind;
  host: string;
  literal?: 4 | 6;
  port?: number;
  url?: string;
}

/** Parses the target string alone (no settings). */
export function parseTargetForm(target: string): ParsedForm {
  const t = target.trim();
  if (t === '') throw new PingTargetError('a ping target must not be empty');
  const scheme = /^([a-z][a-z0-9+.-]*):\/\//i.exec(t)?.[1]?.toLowerCase();
  if (scheme === undefined) return { kind: 'icmp', ...checkHost(t, t) };
  if (scheme === 'icmp') {
    const rest = t.slice('icmp://'.length).replace(/\/$/, '');
    return { kind: 'icmp', ...checkHost(rest, t) };
  }
  if (scheme === 'tcp') {
    const m = /^tcp:\/\/(\[[^\]]+\]|[^:/[\]]+):(\d{1,5})\/?$/i.exec(t);
    const port = m ? Number(m[2]) : NaN;
    if (!m || port < 1 || port > 65535) throw new PingTargetError(`"${t}": expected tcp://HOST:PORT with a port from 1 to 65535`);
    return { kind: 'tcp', ...checkHost(m[1], t), port };
  }
  if (scheme === 'http' || scheme === 'https') {
    let u: URL;
    try {
      u = new URL(t);
    } catch {
      throw new PingTargetError(`"${t}": not a valid URL`);
    }
    if (u.username || u.password) throw new PingTargetError(`"${t}": credentials in a probe URL would be stored and logged; not accepted`);
    const hostPart = u.hostname;
    const h = checkHost(hostPart, t);
    const port = u.port ? Number(u.port) : scheme === 'https' ? 443 : 80;
    return { kind: scheme, ...h, port, url: u.href };
  }
  throw new PingTargetError(`"${t}": unknown scheme ${scheme}://; expected icmp://, tcp://, http:// or https://`);
}

function intIn(v: unknown, key: keyof typeof PING_LIMITS, where: string): number {
  const lim = PING_LIMITS[key] as { min: number; max: number };
  if (typeof v !== 'number' || !Number.isFinite(v)) throw new PingTargetError(`${where}: "${key}" must be a number`);
  if (key !== 'interval' && !Number.isInteger(v)) throw new PingTargetError(`${where}: "${key}" must be an integer`);
  if (v < lim.min || v > lim.max) throw new PingTargetError(`${where}: "${key}" must be between ${lim.min} and ${lim.max}`);
  return v;
}

/**
 * One entry of the `ping` option: a string from a flag, the environment or the file, or (file only) a mapping
 * with per-target settings. Throws PingTargetError naming the problem.
 */
export function parsePingTargetSpec(raw: unknown, allowMapping: boolean): PingTargetSpec {
  if (typeof raw === 'string') {
    parseTargetForm(raw);
    return { target: raw.trim() };
  }
  if (!allowMapping || typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    throw new PingTargetError(allowMapping ? 'expected a target string or a mapping with a "target" key' : 'expected a target string');
  }
  const o = raw as Record<string, unknown>;
  for (const k of Object.keys(o)) {
    if (!SPEC_KEYS.has(k)) throw new PingTargetError(`unknown per-target key "${k}"; expected ${[...SPEC_KEYS].join(', ')}`);
  }
  if (typeof o.target !== 'string') throw new PingTargetError('a target mapping needs a "target" string');
  const target = o.target.trim();
  parseTargetForm(target);
  const where = `target "${target}"`;
  const spec: PingTargetSpec = { target };
  if (o.name !== undefined) {
    if (typeof o.name !== 'string' || o.name.trim() === '' || o.name.length > PING_LIMITS.nameLength) {
      throw new PingTargetError(`${where}: "name" must be a non-empty string of at most ${PING_LIMITS.nameLength} characters`);
    }
    spec.name = o.name.trim();
  }
  if (o.interval !== undefined) spec.interval = intIn(o.interval, 'interval', where);
  if (o.count !== undefined) spec.count = intIn(o.count, 'count', where);
  if (o.spacing !== undefined) spec.spacing = intIn(o.spacing, 'spacing', where);
  if (o.timeout !== undefined) spec.timeout = intIn(o.timeout, 'timeout', where);
  if (o.family !== undefined) {
    if (o.family !== 4 && o.family !== 6) throw new PingTargetError(`${where}: "family" must be 4 or 6`);
    spec.family = o.family;
  }
  if (o.insecure !== undefined) {
    if (typeof o.insecure !== 'boolean') throw new PingTargetError(`${where}: "insecure" must be true or false`);
    spec.insecure = o.insecure;
  }
  return spec;
}

/**
 * Resolves every target's settings against the global defaults and checks what only the whole list can show:
 * unique names (they key the tables), a bounded count, and rounds that end before the next one starts.
 */
export function resolvePingTargets(specs: readonly PingTargetSpec[], d: PingDefaults): PingTarget[] {
  if (specs.length > PING_LIMITS.targets) throw new PingTargetError(`at most ${PING_LIMITS.targets} ping targets, got ${specs.length}`);
  const seen = new Set<string>();
  return specs.map((s) => {
    const form = parseTargetForm(s.target);
    const name = s.name ?? s.target;
    if (name.length > PING_LIMITS.nameLength) throw new PingTargetError(`target "${name}": longer than ${PING_LIMITS.nameLength} characters; give it a shorter "name"`);
    if (seen.has(name)) throw new PingTargetError(`ping target "${name}" is listed twice (give one a different "name")`);
    seen.add(name);
    const t: PingTarget = {
      name,
      kind: form.kind,
      host: form.host,
      intervalMs: Math.round((s.interval ?? d.intervalSec) * 1000),
      count: s.count ?? d.count,
      spacingMs: s.spacing ?? d.spacingMs,
      timeoutMs: s.timeout ?? d.timeoutMs,
      insecure: s.insecure ?? false,
    };
    if (form.literal) t.literal = form.literal;
    if (form.port !== undefined) t.port = form.port;
    if (form.url !== undefined) t.url = form.url;
    if (s.family !== undefined) t.family = s.family;
    if (t.literal && t.family && t.literal !== t.family) throw new PingTargetError(`target "${name}": family ${t.family} conflicts with the IPv${t.literal} address`);
    // A round is the burst plus the last probe's timeout; the next round must not start before it ends, or rounds
    // of one target would overlap and share a ts second.
    const roundMs = (t.count - 1) * t.spacingMs + t.timeoutMs;
    if (roundMs >= t.intervalMs) {
      throw new PingTargetError(
        `target "${name}": a round takes up to ${roundMs} ms (${t.count} probes ${t.spacingMs} ms apart, ${t.timeoutMs} ms timeout), not less than its interval of ${t.intervalMs} ms`,
      );
    }
    return t;
  });
}
