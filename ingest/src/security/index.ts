/**
 * The security component: event traces, IP reputation with decaying threat scores, log patterns and flow scans,
 * and the query kinds `traces`, `threats`, `threat_scores`, `annotations`.
 *
 * Wiring: the logs component hands every parsed event to `ingest()` after queueing it in the log event writer
 * (which gives it its id); the flows component's table, when there is one, is scanned every `scanIntervalMs`.
 */
import type { Component, ComponentDeps } from '../component';
import type { FlowTable } from '../flows/table';
import type { LogEvent } from '../logs/events';
import { SECURITY_DEFAULTS, SecurityEngine, type SecurityConfig } from './engine';
import { FlowScanAdapter } from './flow-scan';
import { openGeoDatabases, type GeoDatabases } from './geoip';
import { queryAnnotations, queryThreatScores, queryThreats, queryTraces } from './queries';
import { ScanDetector, type ScanConfig } from './scan';

export { threatScore, THREAT_WEIGHTS, type ThreatCounters } from './score';
export { SecurityEngine, SECURITY_DEFAULTS, type SecurityConfig } from './engine';

export interface SecurityComponentOptions {
  /** The flow table to look for port scans and sweeps in. */
  flowTable?: FlowTable;
  /** Overrides of what the serve configuration gives (tests). */
  config?: Partial<SecurityConfig>;
  scan?: Partial<ScanConfig>;
  /** How often the flow table is scanned. Default 10,000 ms. */
  scanIntervalMs?: number;
  /** How often changed reputation entries and patterns are queued for writing. Default 1000 ms. */
  flushIntervalMs?: number;
}

export interface SecurityComponent extends Component {
  readonly engine: SecurityEngine;
  /** Takes one parsed log event (already queued in the log event writer); never throws. */
  ingest(event: LogEvent): void;
  /** Scans the flow table now (the timer does it every scanIntervalMs). */
  scanFlows(): void;
}

/** The security settings of the serve configuration (config/options.ts), over the engine's defaults. */
function configFrom(deps: ComponentDeps): { engine: Partial<SecurityConfig>; scan: Partial<ScanConfig>; maxmind: string[] } {
  const c = deps.config as Partial<ComponentDeps['config']>;
  const engine: Partial<SecurityConfig> = {};
  if (c.threatHalfLife !== undefined) engine.halfLifeSeconds = c.threatHalfLife;
  if (c.bruteForceFailures !== undefined) engine.bruteForceFailures = c.bruteForceFailures;
  if (c.bruteForceWindow !== undefined) engine.bruteForceWindowSeconds = c.bruteForceWindow;
  if (c.userEnumUsers !== undefined) engine.userEnumUsers = c.userEnumUsers;
  if (c.userEnumWindow !== undefined) engine.userEnumWindowSeconds = c.userEnumWindow;
  if (c.reputationMaxIps !== undefined) engine.maxIps = c.reputationMaxIps;
  const scan: Partial<ScanConfig> = {};
  if (c.scanPorts !== undefined) scan.portThreshold = c.scanPorts;
  if (c.scanHosts !== undefined) scan.hostThreshold = c.scanHosts;
  if (c.scanWindow !== undefined) scan.windowMs = c.scanWindow * 1000;
  return { engine, scan, maxmind: c.maxmindDb ?? [] };
}

export function createSecurityComponent(deps: ComponentDeps, opts: SecurityComponentOptions = {}): SecurityComponent {
  const fromConfig = configFrom(deps);
  const config = { ...SECURITY_DEFAULTS, ...fromConfig.engine, ...opts.config };
  const engine = new SecurityEngine({ store: deps.store, events: deps.events, now: deps.now }, config);
  const detector = new ScanDetector({ ...fromConfig.scan, ...opts.scan });
  const adapter = opts.flowTable ? new FlowScanAdapter(opts.flowTable, detector) : null;
  const db = deps.store.db;
  const halfLife = config.halfLifeSeconds;
  let geo: GeoDatabases | null = null;
  let errors = 0;
  let timers: NodeJS.Timeout[] = [];

  const fresh = <T>(run: () => T): T => {
    // Queries read what was ingested up to now.
    engine.flushAll();
    return run();
  };
  deps.api.registerKind('traces', (q, ctx) => fresh(() => queryTraces(db, q, ctx)));
  deps.api.registerKind('threats', (q, ctx) => fresh(() => queryThreats(db, q, ctx, halfLife)));
  deps.api.registerKind('threat_scores', (q, ctx) => fresh(() => queryThreatScores(db, q, ctx, halfLife)));
  deps.api.registerKind('annotations', (q, ctx) => fresh(() => queryAnnotations(db, q, ctx)));
  deps.api.registerComponent('security', {
    health: () => {
      if (geo && geo.failed.length > 0) return { state: 'degraded', detail: `GeoIP database ${geo.failed.map((f) => `${f.path} (${f.error})`).join(', ')} could not be opened` };
      return { state: 'ok', detail: `${engine.reputation.counters().ips} addresses in memory${adapter ? ', scanning the flow table' : ''}` };
    },
    stats: () => {
      const out: Record<string, number> = { ingest_errors: errors };
      for (const [k, v] of Object.entries(engine.counters())) out[k] = v;
      for (const [k, v] of Object.entries(engine.reputation.counters())) out[`reputation_${k}`] = v;
      for (const [k, v] of Object.entries(detector.counters())) out[`scan_${k}`] = v;
      if (adapter) for (const [k, v] of Object.entries(adapter.counters())) out[`flowscan_${k}`] = v;
      out.geoip_databases = geo?.opened.length ?? 0;
      return out;
    },
  });

  const scanFlows = () => {
    if (!adapter) return;
    try {
      engine.ingestScanFindings(adapter.scan(), detector.config.windowMs);
    } catch (err) {
      errors++;
      deps.logger.error({ err }, 'scanning the flow table for port scans failed');
    }
  };

  return {
    name: 'security',
    engine,
    ingest(event: LogEvent) {
      try {
        engine.ingest(event);
      } catch (err) {
        // One bad event must not stop the log pipeline: counted, logged once per hundred.
        if (errors++ % 100 === 0) deps.logger.error({ err, errors }, 'the security engine failed on a log event');
      }
    },
    scanFlows,
    async start() {
      if (fromConfig.maxmind.length > 0) {
        geo = await openGeoDatabases(fromConfig.maxmind);
        engine.reputation.setGeo(geo.lookup);
        for (const f of geo.failed) deps.logger.warn({ path: f.path, err: f.error }, 'cannot open the GeoIP database; addresses get no country or ASN from it');
        if (geo.opened.length > 0) deps.logger.info({ databases: geo.opened }, 'GeoIP databases opened');
      }
      const flush = setInterval(() => engine.flush(), opts.flushIntervalMs ?? 1000);
      flush.unref();
      timers.push(flush);
      if (adapter) {
        const scan = setInterval(scanFlows, opts.scanIntervalMs ?? 10_000);
        scan.unref();
        timers.push(scan);
      }
    },
    stop() {
      for (const t of timers) clearInterval(t);
      timers = [];
      scanFlows();
      // The store's close() writes what this queues.
      engine.flush();
    },
  };
}
