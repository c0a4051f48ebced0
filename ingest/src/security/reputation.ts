/**
 * The IP reputation table: per remote address, what it did (counters), when (first and last seen), and its
 * threat score, which decays exponentially with the configured half-life (score.ts says why the weights).
 *
 * In memory, a bounded LRU of the addresses being seen; persisted to `ip_reputation` through a batch writer. An
 * address evicted from memory is written first and read back when it shows up again, so eviction loses nothing
 * (and is counted). Changed entries are written on `flush()` (the component's timer) rather than on each event,
 * so a brute force of a thousand lines is one row update a second.
 *
 * The stored `threat_score` is the score at `updated_at`; readers decay it to their own time.
 */
import type Database from 'better-sqlite3';
import { BatchWriter, type WriterHost } from '../store';
import { BoundedMap } from './lru';
import { THREAT_WEIGHTS, addPoints, applyAccepted, decayScore, type ThreatWeights } from './score';
import { parseStoredJson } from './stored-json';

export interface GeoInfo {
  country: string | null;
  asn: number | null;
  asOrg?: string | null;
  city?: string | null;
}

export type GeoLookup = (ip: string) => GeoInfo | null;

export type Evidence = 'failure' | 'invalid_user' | 'ban' | 'scan' | 'accepted';

export interface Reputation {
  ip: string;
  /** Unix seconds. */
  firstSeen: number;
  lastSeen: number;
  failures: number;
  invalidUsers: number;
  bans: number;
  scans: number;
  accepted: number;
  /** Score at `scoreAt`, unrounded. */
  score: number;
  scoreAt: number;
  country: string | null;
  asn: number | null;
  metadata: Record<string, unknown> | null;
}

export interface ReputationConfig {
  /** Addresses kept in memory. Default 100,000. */
  maxIps: number;
  /** Seconds for the score to halve without new evidence. Default 3600. */
  halfLifeSeconds: number;
  weights: Readonly<ThreatWeights>;
}

export const REPUTATION_DEFAULTS: Readonly<ReputationConfig> = Object.freeze({ maxIps: 100_000, halfLifeSeconds: 3600, weights: THREAT_WEIGHTS });

export interface ReputationCounters {
  ips: number;
  evictions: number;
  loaded: number;
  created: number;
  geoLookups: number;
}

/** A row of `ip_reputation` as SQLite gives it. */
export interface ReputationRow {
  ip: string;
  first_seen: number;
  last_seen: number;
  threat_score: number;
  failures: number;
  invalid_users: number;
  bans: number;
  scans: number;
  accepted: number;
  country: string | null;
  asn: number | null;
  metadata: string | null;
  updated_at: number;
}

export function createReputationWriter(host: WriterHost): BatchWriter<Reputation> {
  return new BatchWriter<Reputation>(host, {
    name: 'ip_reputation',
    sql:
      'INSERT OR REPLACE INTO ip_reputation (ip, first_seen, last_seen, threat_score, failures, invalid_users, bans, scans, accepted, country, asn, metadata, updated_at) ' +
      'VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)',
    toParams: (r) => [
      r.ip,
      Math.floor(r.firstSeen),
      Math.floor(r.lastSeen),
      Math.min(100, Math.max(0, r.score)),
      r.failures,
      r.invalidUsers,
      r.bans,
      r.scans,
      r.accepted,
      r.country,
      r.asn,
      r.metadata ? JSON.stringify(r.metadata) : null,
      Math.floor(r.scoreAt),
    ],
  });
}

export class ReputationTable {
  readonly config: Readonly<ReputationConfig>;
  private readonly mem: BoundedMap<string, Reputation>;
  private readonly dirty = new Set<Reputation>();
  private readonly select: Database.Statement;
  private readonly c = { loaded: 0, created: 0, geoLookups: 0 };

  constructor(
    db: Database.Database,
    private readonly writer: BatchWriter<Reputation>,
    config: Partial<ReputationConfig> = {},
    private geo?: GeoLookup,
  ) {
    this.config = { ...REPUTATION_DEFAULTS, ...config };
    if (!(this.config.halfLifeSeconds > 0)) throw new RangeError(`halfLifeSeconds must be > 0, got ${this.config.halfLifeSeconds}`);
    this.mem = new BoundedMap(this.config.maxIps, (_ip, rep) => {
      this.dirty.delete(rep);
      this.writer.push(rep);
    });
    this.select = db.prepare('SELECT * FROM ip_reputation WHERE ip = ?');
  }

  /** Sets the GeoIP lookup for addresses first seen from now on (databases open after the table exists). */
  setGeo(geo: GeoLookup | undefined): void {
    this.geo = geo;
  }

  counters(): ReputationCounters {
    return { ips: this.mem.size, evictions: this.mem.evictions, ...this.c };
  }

  /** The entry of an address (from memory, else the database, else new), marked as seen at `timeSec`. */
  touch(ip: string, timeSec: number): Reputation {
    let rep = this.mem.get(ip);
    if (!rep) {
      rep = this.load(ip) ?? this.create(ip, timeSec);
      this.mem.set(ip, rep);
    }
    if (timeSec > rep.lastSeen) rep.lastSeen = timeSec;
    if (timeSec < rep.firstSeen) rep.firstSeen = timeSec;
    this.dirty.add(rep);
    return rep;
  }

  /** The entry in memory, without loading or touching it. */
  peek(ip: string): Reputation | undefined {
    return this.mem.peek(ip);
  }

  /** The score of an entry at `timeSec`, decayed from its last change (never raised for an earlier time). */
  scoreAt(rep: Reputation, timeSec: number): number {
    return decayScore(rep.score, timeSec - rep.scoreAt, this.config.halfLifeSeconds);
  }

  /** Records one piece of evidence against `ip` at `timeSec` and returns the entry with its new score. */
  record(ip: string, timeSec: number, evidence: Evidence, n = 1): Reputation {
    const rep = this.touch(ip, timeSec);
    const w = this.config.weights;
    // Decay to the evidence's time first; evidence older than the last change adds at the last change's time.
    let s = this.scoreAt(rep, timeSec);
    const at = Math.max(rep.scoreAt, timeSec);
    switch (evidence) {
      case 'failure':
        rep.failures += n;
        s = addPoints(s, n * w.failure, w);
        break;
      case 'invalid_user':
        rep.invalidUsers += n;
        s = addPoints(s, n * w.invalidUser, w);
        break;
      case 'ban':
        rep.bans += n;
        s = addPoints(s, n * w.ban, w);
        break;
      case 'scan':
        rep.scans += n;
        s = addPoints(s, n * w.scan, w);
        break;
      case 'accepted':
        rep.accepted += n;
        for (let i = 0; i < n; i++) s = applyAccepted(s, w);
        break;
    }
    rep.score = Math.min(100, s);
    rep.scoreAt = at;
    return rep;
  }

  /** Queues every changed entry for writing; returns how many. */
  flush(): number {
    let n = 0;
    for (const rep of this.dirty) {
      this.writer.push(rep);
      n++;
    }
    this.dirty.clear();
    return n;
  }

  private load(ip: string): Reputation | null {
    // An entry evicted a moment ago may still sit in the writer's queue: write it before reading it back.
    if (this.writer.counters().queued > 0) this.writer.flush();
    const r = this.select.get(ip) as ReputationRow | undefined;
    if (!r) return null;
    this.c.loaded++;
    const metadata = parseStoredJson<Record<string, unknown> | null>(r.metadata, null);
    return {
      ip: r.ip,
      firstSeen: r.first_seen,
      lastSeen: r.last_seen,
      failures: r.failures,
      invalidUsers: r.invalid_users,
      bans: r.bans,
      scans: r.scans,
      accepted: r.accepted,
      score: r.threat_score,
      scoreAt: r.updated_at,
      country: r.country,
      asn: r.asn,
      metadata,
    };
  }

  private create(ip: string, timeSec: number): Reputation {
    this.c.created++;
    let geo: GeoInfo | null = null;
    if (this.geo) {
      this.c.geoLookups++;
      geo = this.geo(ip);
    }
    const metadata: Record<string, unknown> = {};
    if (geo?.asOrg) metadata.as_org = geo.asOrg;
    if (geo?.city) metadata.city = geo.city;
    return {
      ip,
      firstSeen: timeSec,
      lastSeen: timeSec,
      failures: 0,
      invalidUsers: 0,
      bans: 0,
      scans: 0,
      accepted: 0,
      score: 0,
      scoreAt: timeSec,
      country: geo?.country ?? null,
      asn: geo?.asn ?? null,
      metadata: Object.keys(metadata).length > 0 ? metadata : null,
    };
  }
}
