/**
 * The pings capability: probe targets in rounds, write each round through the batch writers, and serve the
 * `pings` and `ping_summary` kinds and the `targets` list. Stored pings are served even with no target configured.
 */
import type { Component, ComponentDeps } from '../component';
import type { ComponentHealth } from '../protocol';
import type { IcmpPinger } from './icmp';
import { chooseIcmpMechanism, type MechanismChoice } from './icmp-mechanism';
import { listTargets, queryPingSeries, queryPingSummary, type PingMetric } from './queries';
import type { RoundResult } from './round';
import { PingScheduler, type Resolver } from './scheduler';
import { createPingWriters, type PingWriterOptions, type PingWriters } from './store';
import { resolvePingTargets, type PingTarget, type PingTargetSpec } from './targets';

export interface PingComponentOptions {
  /** Host name resolution (tests); default getaddrinfo. */
  resolve?: Resolver;
  fpingBin?: string;
  /** The TTL companions' binaries (tests); default oping and ping from PATH. */
  opingBin?: string;
  pingBin?: string;
  /** How long stop() lets running rounds finish, ms. Default 2000 (the service must exit within 5 s). */
  stopGraceMs?: number;
  writer?: PingWriterOptions;
}

export interface PingComponent extends Component {
  /** After start: the ICMP mechanism chosen (null when no target uses ICMP). */
  readonly icmp: MechanismChoice | null;
  readonly targets: readonly PingTarget[];
}

export function createPingComponent(deps: ComponentDeps, opts: PingComponentOptions = {}): PingComponent {
  const { config, logger, store, api } = deps;
  let targets: PingTarget[] = [];
  let names: string[] = [];
  let writers: PingWriters | undefined;
  let scheduler: PingScheduler | undefined;
  let choice: MechanismChoice | null = null;
  let pinger: IcmpPinger | null = null;
  let dropped = 0;
  // Which targets are failing, to log each change of state once rather than every round.
  const failing = new Set<string>();

  const onRound = (r: RoundResult) => {
    if (!writers!.write(r)) dropped++;
    const down = r.error !== null && r.probes.every((p) => p.rttMs === null);
    if (down && !failing.has(r.target)) {
      failing.add(r.target);
      logger.warn({ target: r.target, error: r.error }, 'ping target is failing');
    } else if (!down && failing.delete(r.target)) {
      logger.info({ target: r.target }, 'ping target answers again');
    }
  };

  const health = (): ComponentHealth => {
    if (!scheduler) return { state: 'ok', detail: 'not started' };
    const icmpNote = choice ? `; ICMP by ${choice.label}` : '';
    if (targets.length === 0) return { state: 'ok', detail: 'no targets configured; serving stored pings' };
    if (choice && choice.mechanism === 'none') return { state: 'degraded', detail: choice.reason };
    const down = scheduler.states().filter((s) => s.lastError !== null && s.consecutiveFailures > 0).length;
    if (down > 0) return { state: 'degraded', detail: `${down} of ${targets.length} targets failing${icmpNote}` };
    return { state: 'ok', detail: `${targets.length} targets${icmpNote}` };
  };

  const stats = () => {
    const out: Record<string, number | string | boolean | null> = {
      ...(scheduler?.counters() ?? {}),
      rows_dropped: dropped,
      icmp_mechanism: choice?.mechanism ?? null,
      icmp_ttl_v4: choice?.ttl.v4 ?? null,
      icmp_ttl_v6: choice?.ttl.v6 ?? null,
    };
    for (const [k, v] of Object.entries(pinger?.counters() ?? {})) out[`icmp_${k}`] = v;
    return out;
  };

  return {
    name: 'pings',
    get icmp() {
      return choice;
    },
    get targets() {
      return targets;
    },
    async start() {
      targets = resolvePingTargets(config.ping.map((p): PingTargetSpec => (typeof p === 'string' ? { target: p } : p)), {
        intervalSec: config.pingInterval,
        count: config.pingCount,
        spacingMs: config.pingSpacing,
        timeoutMs: config.pingTimeout,
      });
      names = targets.map((t) => t.name);
      writers = createPingWriters(store, opts.writer);
      const w = writers;
      api.registerKind('pings', (q, ctx) => {
        // Rows of the last second are still queued; a query sees them.
        w.flush();
        const metrics = (q.metric.length > 0 ? q.metric : ['latency_ms']) as PingMetric[];
        return queryPingSeries(store.db, { fromMs: ctx.fromMs, toMs: ctx.toMs, targets: q.target, metrics, intervalMs: q.intervalMs, maxDataPoints: q.maxDataPoints, aggregate: q.aggregate });
      });
      api.registerKind('ping_summary', (q, ctx) => {
        w.flush();
        return queryPingSummary(store.db, ctx.fromMs, ctx.toMs, q.target, names);
      });
      api.registerValues('targets', () => listTargets(store.db, names));
      api.registerComponent('pings', { health, stats });

      if (targets.some((t) => t.kind === 'icmp')) {
        choice = await chooseIcmpMechanism({ prefer: config.pingIcmp, fpingBin: opts.fpingBin, ttl: config.pingTtl, opingBin: opts.opingBin, pingBin: opts.pingBin });
        pinger = choice.pinger;
        if (!pinger && config.pingIcmp !== 'auto') throw new Error(`--ping-icmp ${config.pingIcmp}: ${choice.reason}`);
        if (pinger && (config.pingTtl === 'oping' || config.pingTtl === 'ping') && choice.ttl.tool === null) {
          pinger.close();
          throw new Error(`--ping-ttl ${config.pingTtl}: ${choice.ttl.reason}`);
        }
        const log = { icmp: choice.mechanism, reason: choice.reason, tried: choice.steps, ttl: { v4: choice.ttl.v4, v6: choice.ttl.v6, reason: choice.ttl.reason, tried: choice.ttl.steps } };
        if (pinger) logger.info(log, `pings: ICMP echo by ${choice.label}: ${choice.reason}; ${choice.ttl.reason}`);
        else logger.error(log, `pings: ICMP targets will fail: ${choice.reason}`);
      }
      scheduler = new PingScheduler(targets, { icmp: pinger, icmpUnavailable: choice?.reason, resolve: opts.resolve, now: deps.now, onRound });
      scheduler.start();
      if (targets.length > 0) {
        logger.info({ targets: targets.map((t) => ({ name: t.name, kind: t.kind, intervalMs: t.intervalMs, count: t.count })) }, `pings: probing ${targets.length} targets`);
      }
    },
    async stop() {
      if (!scheduler) return;
      await scheduler.stop(opts.stopGraceMs ?? 2000);
      pinger?.close();
      writers?.flush();
      const c = scheduler.counters();
      if (targets.length > 0) logger.info({ rounds: c.rounds, rounds_abandoned: c.rounds_abandoned, rows_dropped: dropped }, 'pings stopped: every recorded round flushed');
    },
  };
}
