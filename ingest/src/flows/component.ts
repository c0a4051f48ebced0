/**
 * The flows component: packet sources (live libpcap captures, replayed capture files, and the demo generator
 * through `sink`) -> one PacketDecoder -> one FlowTable, served as the `flows`, `flow_series` and `top_talkers`
 * kinds, the `interfaces`, `top_talkers` and `top_ports` value lists, and the `flows` part of `stats`.
 *
 * Time. Live packets carry wall-clock stamps; replayed ones are shifted to end when their replay starts. The
 * table's clock is the newest packet stamp, so while a replay runs the table is swept on that clock (a wall
 * clock ahead of the replayed stamps would put their traffic in the wrong buckets); with only live sources, or
 * once replays are done, it is swept on the wall clock so flows turn idle and expire with no packets arriving.
 *
 * Persistence. The table is saved to `<data-dir>/flows.snapshot` every minute and at stop, and loaded at
 * start; a corrupt or partial snapshot is ignored with a warning (snapshot.ts checks its CRC and lengths).
 */
import { readdirSync } from 'node:fs';
import path from 'node:path';
import { Gauge } from 'prom-client';
import { CaptureUnavailableError, LiveCapture, listInterfaces, type PacketSink } from '../capture/live';
import { CaptureFileReader } from '../capture/pcap-file';
import { PcapReplay, type FrameSink } from '../capture/replay';
import type { Component, ComponentDeps } from '../component';
import type { ServeConfig } from '../config/options';
import { PacketDecoder, SKIP_REASONS, type SkipReason } from '../decode/decoder';
import { DecodedPacket } from '../decode/packet';
import type { NormalizedQuery } from '../protocol';
import {
  NO_FLOW_FILTER,
  flowStats,
  queryFlowSeries,
  queryFlows,
  queryTopTalkers,
  type FlowFilter,
  type FlowGroupBy,
  type FlowOrderBy,
  type FlowSeriesMetric,
  type TopTalkersBy,
} from './queries';
import { loadSnapshot, saveSnapshot } from './snapshot';
import { FlowTable, type FlowTableConfig } from './table';

/** What the host metrics' capture collector reads: counters since start, `flowsActive` a gauge. */
export interface CaptureCounters {
  /** Packets delivered by every source (live, replay, demo), decoded or not. */
  packets: number;
  /** Their wire bytes. */
  bytes: number;
  flowsActive: number;
  /**
   * Packets the kernel dropped because a live capture's ring was full (PACKET_STATISTICS, via
   * @netwatch/packet-stats). A capture whose counters are unknown adds 0 here (the collector needs a number);
   * the `packets_dropped` stat is null with a reason then.
   */
  dropped: number;
  /** Source failures (a replay that stopped, a truncated file) plus malformed frames (decode errors). */
  captureErrors: number;
}

export interface FlowComponent {
  component: Component;
  table: FlowTable;
  /**
   * Feeds one frame through the same decoder and table as the captures: `frame[0, captureLength)`, the
   * frame's original length on the wire, its time in epoch µs. Synchronous; `frame` may be reused afterwards.
   */
  sink: PacketSink;
  captureCounters(): CaptureCounters;
}

export interface FlowComponentOptions {
  /** Default 60,000 ms (the snapshot period). */
  snapshotIntervalMs?: number;
  /** How often the table is swept (idle flows, retention). Default 1000 ms. */
  sweepIntervalMs?: number;
}

/** Health is degraded while the kernel dropped capture packets within this window. */
const DROPS_DEGRADED_MS = 60_000;

/** cap's fixed snap length: a frame this long may have been cut, and its wire length is then unknown. */
const CAP_SNAPLEN = 65535;
export const SNAPSHOT_FILE = 'flows.snapshot';

/** Skip reasons that mean damaged input; the others (non-IP traffic, a link type we do not decode) are normal. */
const MALFORMED: readonly SkipReason[] = SKIP_REASONS.filter((r) => r !== 'nonIp' && r !== 'unknownLinkType' && r !== 'fragmentsOrphan');

/** The table's configuration from the serve options. */
export function flowTableConfig(config: ServeConfig): FlowTableConfig {
  return {
    maxFlows: config.maxFlows,
    retentionMs: config.flowRetention * 1000,
    bucketMs: config.flowBucket * 1000,
    idleTimeoutMs: {
      tcp: config.flowTimeoutTcp * 1000,
      tcpClosed: config.flowTimeoutTcpClosed * 1000,
      udp: config.flowTimeoutUdp * 1000,
      icmp: config.flowTimeoutIcmp * 1000,
      other: config.flowTimeoutOther * 1000,
    },
  };
}

/** A query's flow filter: the parsed CIDRs, port ranges and protocol numbers. */
export function flowFilterOf(q: NormalizedQuery): FlowFilter {
  return { cidr: q.cidr, srcCidr: q.srcCidr, dstCidr: q.dstCidr, port: q.port, srcPort: q.srcPort, dstPort: q.dstPort, protocol: q.protocol };
}

const snake = (s: string) => s.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);

export function createFlowComponent(deps: ComponentDeps, opts: FlowComponentOptions = {}): FlowComponent {
  const { config } = deps;
  const log = deps.logger.child({ component: 'flows' });
  const table = new FlowTable(flowTableConfig(config), log);
  const decoder = new PacketDecoder();
  const packet = new DecodedPacket();
  const snapshotPath = path.join(config.dataDir, SNAPSHOT_FILE);
  const nowUs = () => deps.now() * 1000;

  const src = { packets: 0, bytes: 0, sourceErrors: 0 };
  const snap = { lastMs: 0, saves: 0, errors: 0, loaded: 0, dropped: 0, flows: 0 };
  const lives: LiveCapture[] = [];
  const replays: PcapReplay[] = [];
  let timers: NodeJS.Timeout[] = [];

  const ingest: FrameSink = (linkType, buf, offset, captureLength, wireLength, tsUs) => {
    src.packets++;
    src.bytes += wireLength;
    if (decoder.decode(linkType, buf, offset, captureLength, wireLength, tsUs, packet)) table.add(packet);
  };
  const sink: PacketSink = (linkType, frame, captureLength, wireLength, tsUs) => ingest(linkType, frame, 0, captureLength, wireLength, tsUs);
  // cap reports only the captured length: a frame cut at the snap length gets the length its IP header states.
  const liveSink: PacketSink = (linkType, frame, captureLength, wireLength, tsUs) => {
    src.packets++;
    if (!decoder.decode(linkType, frame, 0, captureLength, wireLength, tsUs, packet)) {
      src.bytes += wireLength;
      return;
    }
    if (captureLength >= CAP_SNAPLEN && packet.ipOffset + packet.ipLength > packet.wireLength) packet.wireLength = packet.ipOffset + packet.ipLength;
    src.bytes += packet.wireLength;
    table.add(packet);
  };

  const replaying = () => replays.some((r) => !r.stats.done);
  const sweep = () => {
    if (lives.length > 0 || !replaying()) table.sweep(nowUs());
    else table.sweep();
  };

  const save = () => {
    try {
      const saved = saveSnapshot(table, snapshotPath);
      snap.lastMs = deps.now();
      snap.saves++;
      snap.flows = saved.flows;
    } catch (err) {
      snap.errors++;
      log.error({ err, path: snapshotPath }, 'cannot write the flow snapshot');
    }
  };

  const framesCut = () => {
    let n = 0;
    for (const l of lives) n += l.stats.truncated;
    return n;
  };
  /** The kernel counters summed over the live captures; a sum is null when any capture's is unknown. */
  const kernelTotals = () => {
    let received: number | null = 0;
    let dropped: number | null = 0;
    let knownDropped = 0;
    let reason: string | null = null;
    for (const l of lives) {
      const k = l.stats;
      if (k.kernelDropped === null || k.kernelReceived === null) {
        received = dropped = null;
        reason ??= `${k.interface}: ${k.kernelUnavailable ?? 'unknown'}`;
        continue;
      }
      knownDropped += k.kernelDropped;
      if (received !== null) received += k.kernelReceived;
      if (dropped !== null) dropped += k.kernelDropped;
    }
    return { received, dropped, knownDropped, reason };
  };
  const dropsRising = (l: LiveCapture) => l.stats.kernelLastDropMs !== null && deps.now() - l.stats.kernelLastDropMs < DROPS_DEGRADED_MS;
  const decodeErrors = () => MALFORMED.reduce((n, r) => n + decoder.counters[r], 0);
  const replayErrors = () => replays.reduce((n, r) => n + r.stats.truncatedFiles + (r.stats.error ? 1 : 0), 0);

  const window = (): { fromMs: number; toMs: number } => {
    const toMs = Math.max(deps.now(), Math.floor(table.nowUs() / 1000));
    return { fromMs: toMs - table.retentionMs, toMs };
  };

  deps.api.registerKind('flows', (q, ctx) => [
    queryFlows(table, flowFilterOf(q), { fromMs: ctx.fromMs, toMs: ctx.toMs, orderBy: q.orderBy as FlowOrderBy | undefined, limit: q.limit }),
  ]);
  deps.api.registerKind('flow_series', (q, ctx) => {
    // Without an interval from Grafana, about maxDataPoints points (300 by default), never finer than a bucket.
    const points = q.maxDataPoints ?? 300;
    const intervalMs = q.intervalMs ?? Math.max(table.bucketMs, Math.ceil((ctx.toMs - ctx.fromMs) / Math.max(1, points)));
    return queryFlowSeries(table, flowFilterOf(q), {
      fromMs: ctx.fromMs,
      toMs: ctx.toMs,
      intervalMs,
      metric: (q.metric[0] ?? 'bytes') as FlowSeriesMetric,
      groupBy: q.groupBy as FlowGroupBy | undefined,
      subnetPrefix: q.subnetPrefix,
      limit: q.limit,
    });
  });
  deps.api.registerKind('top_talkers', (q, ctx) => [
    queryTopTalkers(table, flowFilterOf(q), {
      fromMs: ctx.fromMs,
      toMs: ctx.toMs,
      by: (q.groupBy ?? 'ip') as TopTalkersBy,
      orderBy: q.orderBy as 'bytes' | 'packets' | 'flows' | undefined,
      limit: q.limit,
    }),
  ]);

  deps.api.registerValues('interfaces', () => {
    const names = new Set<string>(config.interface);
    for (const n of listInterfaces()) names.add(n);
    if (names.size === config.interface.length) {
      try {
        for (const n of readdirSync('/sys/class/net')) names.add(n);
      } catch {
        // Not Linux, or no sysfs: the configured interfaces are all there is to offer.
      }
    }
    return [...names].sort();
  });
  const topValues = (by: TopTalkersBy) => {
    const f = queryTopTalkers(table, NO_FLOW_FILTER, { ...window(), by, limit: 20 });
    return f.data.values[0].map(String);
  };
  deps.api.registerValues('top_talkers', () => topValues('ip'));
  deps.api.registerValues('top_ports', () => topValues('dst_port'));

  deps.api.registerComponent('flows', {
    health: () => {
      const parts: string[] = [];
      for (const l of lives) l.pollKernelStats();
      for (const l of lives) {
        const k = l.stats;
        if (dropsRising(l)) parts.push(`capturing on ${k.interface}, the kernel dropping packets (${k.kernelDropped} dropped of ${k.kernelReceived})`);
        else parts.push(`capturing on ${k.interface}`);
      }
      for (const r of replays) parts.push(r.stats.error ? `replay of ${r.stats.file} failed: ${r.stats.error}` : `${r.stats.done ? 'replayed' : 'replaying'} ${r.stats.file} (${r.stats.loops} loops)`);
      parts.push(`${table.size} flows, ${(table.fillRatio * 100).toFixed(1)} % of ${table.maxFlows}`);
      const failed = replays.some((r) => r.stats.error !== null) || lives.some(dropsRising);
      return { state: failed || table.warning80 ? 'degraded' : 'ok', detail: parts.join('; ') };
    },
    stats: () => {
      const s = flowStats(table);
      const c = decoder.counters;
      // The kernel counters are running totals, so reading them for every stats request is harmless.
      for (const l of lives) l.pollKernelStats();
      const k = kernelTotals();
      const out: Record<string, number | string | boolean | null> = {
        packets_seen: src.packets,
        bytes_seen: src.bytes,
        packets_decoded: c.decoded,
        // The kernel's counters of the live captures' packet sockets; replays and the demo generator hand over
        // every packet, so without a live capture nothing is dropped.
        packets_received_kernel: lives.length > 0 ? k.received : 0,
        packets_dropped: lives.length > 0 ? k.dropped : 0,
        frames_cut: framesCut(),
        decode_errors: decodeErrors(),
      };
      if (k.reason !== null) out.packets_dropped_reason = k.reason;
      for (const l of lives) {
        const ls = l.stats;
        const key = `interface_${ls.interface}`;
        const add = (name: string, v: number | null) => {
          const prev = out[`${key}_${name}`];
          out[`${key}_${name}`] = v === null || prev === null ? null : ((prev as number | undefined) ?? 0) + v;
        };
        add('packets_captured', ls.received);
        add('kernel_received', ls.kernelReceived);
        add('kernel_dropped', ls.kernelDropped);
        add('kernel_ring_freezes', ls.kernelFreezes);
      }
      for (const r of SKIP_REASONS) out[`skipped_${snake(r)}`] = c[r];
      out.fragments_first = c.fragmentsFirst;
      out.fragments_later = c.fragmentsLater;
      out.fragment_cache_evictions = c.fragmentCacheEvictions;
      out.live_captures = lives.length;
      out.replays_running = replays.filter((r) => !r.stats.done).length;
      out.replay_errors = replayErrors();
      out.table_flows = s.flowsActive;
      out.table_max_flows = s.maxFlows;
      out.table_fill_ratio = s.fillRatio;
      out.table_warning_80 = s.warning80;
      out.flows_open = s.flowsOpen;
      out.flows_idle = s.flowsIdle;
      out.flows_closed = s.flowsClosed;
      out.flows_created = s.flowsCreated;
      out.evictions = s.evictions;
      out.expired = s.expired;
      out.tcp_closed = s.closed;
      out.bucket_log_drops = s.bucketLogDrops;
      out.memory_flow_bytes = s.memoryFlowBytes;
      out.memory_bucket_log_bytes = s.memoryBucketLogBytes;
      out.snapshot_age_seconds = snap.lastMs > 0 ? Math.max(0, (deps.now() - snap.lastMs) / 1000) : null;
      out.snapshot_flows = snap.flows;
      out.snapshot_errors = snap.errors;
      out.snapshot_loaded_flows = snap.loaded;
      return out;
    },
  });

  new Gauge({
    name: 'netwatch_flow_table_fill_ratio',
    help: 'Stored flows over --max-flows',
    registers: [deps.metrics],
    collect() {
      this.set(table.fillRatio);
    },
  });
  new Gauge({
    name: 'netwatch_flow_table_warning',
    help: '1 while the flow table is at least 80 % full (the oldest idle flows are evicted at capacity)',
    registers: [deps.metrics],
    collect() {
      this.set(table.warning80 ? 1 : 0);
    },
  });

  const component: Component = {
    name: 'flows',
    start() {
      const loaded = loadSnapshot(table, snapshotPath, nowUs());
      if (typeof loaded === 'string') {
        log.warn({ path: snapshotPath }, `${loaded}; starting with an empty flow table`);
      } else if (loaded.loaded + loaded.dropped > 0) {
        snap.loaded = loaded.loaded;
        snap.dropped = loaded.dropped;
        log.info({ path: snapshotPath, flows: loaded.loaded, dropped: loaded.dropped }, 'flow snapshot loaded');
      }

      // Open every file now, so that a path that is not a capture fails the start with its own message.
      for (const file of config.pcap) CaptureFileReader.open(file).close();
      try {
        for (const name of config.interface) {
          let warnedMs = 0;
          const onKernelDrops = (n: number, k: { interface: string; kernelDropped: number | null; kernelReceived: number | null }) => {
            if (deps.now() - warnedMs < DROPS_DEGRADED_MS) return;
            warnedMs = deps.now();
            log.warn({ interface: k.interface, dropped: n, droppedTotal: k.kernelDropped, receivedTotal: k.kernelReceived }, 'the kernel dropped captured packets: the capture ring was full');
          };
          const live = new LiveCapture({ interface: name, bpf: config.bpf, bufferSize: config.captureBuffer * 1024 * 1024, now: deps.now, onKernelDrops }, liveSink);
          live.start();
          lives.push(live);
          log.info({ interface: name, linkType: live.stats.linkType, bpf: config.bpf || undefined, bufferMiB: config.captureBuffer }, 'live capture started');
          if (live.stats.kernelUnavailable !== null) log.warn({ interface: name }, `kernel drop counters unavailable: ${live.stats.kernelUnavailable}`);
        }
      } catch (e) {
        for (const l of lives.splice(0)) l.stop();
        if (e instanceof CaptureUnavailableError) throw e;
        throw new CaptureUnavailableError((e as Error).message);
      }
      if (config.pcap.length > 0) {
        const replay = new PcapReplay({ paths: config.pcap, speed: config.replaySpeed, loop: config.replayLoop, nowUs }, ingest, (msg) => log.warn(msg));
        replays.push(replay);
        replay.start();
        void replay.done.then(() => {
          if (!replay.stats.error) log.info({ packets: replay.stats.packets, loops: replay.stats.loops }, 'capture replay finished');
        });
        log.info({ files: config.pcap, speed: config.replaySpeed, loop: config.replayLoop }, 'capture replay started');
      }

      const sweeper = setInterval(sweep, opts.sweepIntervalMs ?? 1000);
      const snapshotter = setInterval(save, opts.snapshotIntervalMs ?? 60_000);
      sweeper.unref();
      snapshotter.unref();
      timers = [sweeper, snapshotter];
    },
    stop() {
      for (const t of timers) clearInterval(t);
      timers = [];
      for (const l of lives.splice(0)) l.stop();
      for (const r of replays) r.stop();
      sweep();
      save();
      log.info({ path: snapshotPath, flows: snap.flows }, 'flow snapshot written');
    },
  };

  return {
    component,
    table,
    sink,
    captureCounters: () => ({
      packets: src.packets,
      bytes: src.bytes,
      flowsActive: table.size,
      dropped: kernelTotals().knownDropped,
      captureErrors: replayErrors() + decodeErrors(),
    }),
  };
}
