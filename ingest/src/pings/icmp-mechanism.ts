/**
 * Chooses how this process sends ICMP echoes, by trying each way at start rather than guessing from the user id:
 *
 *  1. raw: raw ICMP sockets in-process (root or CAP_NET_RAW; file capabilities of node do count). Proven by
 *     opening both sockets and getting an echo reply from 127.0.0.1. Records the IPv4 reply TTL.
 *  2. datagram: unprivileged ICMP datagram sockets (Linux `socket(AF_INET, SOCK_DGRAM, IPPROTO_ICMP)`), allowed
 *     when the process's group is inside net.ipv4.ping_group_range. Node.js cannot open them (dgram is UDP only,
 *     raw-socket opens SOCK_RAW only), so this step reports what the sysctl allows and moves on.
 *  3. fping: one long-running fping (loop mode) for all ICMP targets; works unprivileged as Debian's fping carries
 *     cap_net_raw. Proven by one echo to 127.0.0.1.
 *
 * Then where the reply TTL comes from: raw sockets read the IPv4 TTL from the reply header but see no IPv6 header,
 * and fping 5.1 prints no TTL, so for those families a companion echo per round by oping, else ping(8), gives it
 * (icmp-ttl.ts), each proven at start by echoes to 127.0.0.1 and ::1.
 *
 * The outcome and the reason of every step are logged at start and served in the component's health.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { FpingPinger, parseFpingLine } from './icmp-fping';
import { RawIcmpPinger } from './icmp-raw';
import { proveTtlTool, TTL_TOOL_NAME, TtlCompanion, TtlFilledPinger, type TtlStep, type TtlTool } from './icmp-ttl';
import type { IcmpMechanismName, IcmpPinger } from './icmp';

export type IcmpPreference = 'auto' | 'raw' | 'fping';
export type TtlPreference = 'auto' | 'oping' | 'ping' | 'off';

export interface MechanismStep {
  mechanism: IcmpMechanismName;
  ok: boolean;
  why: string;
}

/** Where the reply TTL of each family comes from. */
export interface TtlChoice {
  /** 'reply header' (raw IPv4), the companion tool's name, or null when this family's TTL is not recorded. */
  v4: string | null;
  v6: string | null;
  tool: TtlTool | null;
  /** One sentence: where TTLs come from and why. */
  reason: string;
  steps: TtlStep[];
}

export interface MechanismChoice {
  pinger: IcmpPinger | null;
  mechanism: IcmpMechanismName | 'none';
  /** The mechanism with its TTL source, for health and the start-up line: `raw (IPv4), oping for IPv6 hop limits`. */
  label: string;
  /** One sentence: what was chosen and why (or why nothing works). */
  reason: string;
  steps: MechanismStep[];
  ttl: TtlChoice;
}

export interface ChooseOptions {
  prefer?: IcmpPreference;
  fpingBin?: string;
  /** Which companion tool gives the TTLs the mechanism cannot read (`auto`: oping, else ping(8)). */
  ttl?: TtlPreference;
  opingBin?: string;
  pingBin?: string;
  /** For tests: where the sysctl is read. */
  pingGroupRangeFile?: string;
}

const PROOF_TIMEOUT_MS = 1000;

async function tryRaw(): Promise<{ step: MechanismStep; pinger?: IcmpPinger }> {
  let pinger: RawIcmpPinger;
  try {
    pinger = new RawIcmpPinger();
  } catch (err) {
    const msg = (err as Error).message;
    const missing = /Cannot find module/.test(msg);
    return {
      step: {
        mechanism: 'raw',
        ok: false,
        why: missing ? 'net-ping/raw-socket (optional dependency) is not installed' : `cannot open a raw ICMP socket: ${msg} (needs root or CAP_NET_RAW)`,
      },
    };
  }
  const [r] = await pinger.echoBurst('127.0.0.1', 4, { count: 1, spacingMs: 0, timeoutMs: PROOF_TIMEOUT_MS });
  if (r.rttMs === null) {
    pinger.close();
    return { step: { mechanism: 'raw', ok: false, why: `raw ICMP sockets open, but 127.0.0.1 did not answer: ${r.error ?? 'no reply'}` } };
  }
  return { step: { mechanism: 'raw', ok: true, why: `raw ICMP sockets open (root or CAP_NET_RAW) and 127.0.0.1 answered in ${r.rttMs.toFixed(3)} ms` }, pinger };
}

/** Whether net.ipv4.ping_group_range admits one of this process's groups. */
export function datagramStep(file = '/proc/sys/net/ipv4/ping_group_range'): MechanismStep {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    return { mechanism: 'datagram', ok: false, why: `cannot read ${file}: no unprivileged ICMP sockets on this kernel` };
  }
  const [lo, hi] = text.trim().split(/\s+/).map(Number);
  const groups = [process.getgid?.() ?? -1, ...(process.getgroups?.() ?? [])];
  const gid = groups.find((g) => g >= lo && g <= hi);
  if (gid === undefined) {
    return { mechanism: 'datagram', ok: false, why: `net.ipv4.ping_group_range = ${lo} ${hi} admits none of this process's groups (${[...new Set(groups)].join(', ')})` };
  }
  return {
    mechanism: 'datagram',
    ok: false,
    why: `net.ipv4.ping_group_range = ${lo} ${hi} admits group ${gid}, but Node.js cannot open ICMP datagram sockets (dgram is UDP only, raw-socket opens SOCK_RAW only)`,
  };
}

function tryFping(bin: string): { step: MechanismStep; pinger?: IcmpPinger } {
  const r = spawnSync(bin, ['-C', '1', '-q', '-t', String(PROOF_TIMEOUT_MS), '127.0.0.1'], { encoding: 'utf8', timeout: PROOF_TIMEOUT_MS + 2000 });
  if (r.error) return { step: { mechanism: 'fping', ok: false, why: `cannot run ${bin}: ${r.error.message}` } };
  const line = (r.stderr ?? '').split('\n').map(parseFpingLine).find((p) => p !== null);
  const rtt = line?.rtts[0];
  if (rtt === null || rtt === undefined) {
    const msg = (r.stderr ?? '').trim().split('\n')[0];
    return { step: { mechanism: 'fping', ok: false, why: `${bin} got no echo reply from 127.0.0.1 (exit ${r.status}${msg ? `: ${msg}` : ''})` } };
  }
  return { step: { mechanism: 'fping', ok: true, why: `${bin} works unprivileged (file capability or setuid) and 127.0.0.1 answered in ${rtt} ms` }, pinger: new FpingPinger(bin) };
}

export async function chooseIcmpMechanism(opts: ChooseOptions = {}): Promise<MechanismChoice> {
  const prefer = opts.prefer ?? 'auto';
  const bin = opts.fpingBin ?? 'fping';
  const steps: MechanismStep[] = [];
  const chosen = (pinger: IcmpPinger, step: MechanismStep): MechanismChoice => {
    const ttl = chooseTtl(pinger, opts);
    return { pinger: ttl.pinger, mechanism: step.mechanism, label: ttl.label, reason: step.why, steps, ttl: ttl.choice };
  };

  if (prefer === 'auto' || prefer === 'raw') {
    const raw = await tryRaw();
    steps.push(raw.step);
    if (raw.pinger) return chosen(raw.pinger, raw.step);
  }
  if (prefer === 'auto') steps.push(datagramStep(opts.pingGroupRangeFile));
  if (prefer === 'auto' || prefer === 'fping') {
    const f = tryFping(bin);
    steps.push(f.step);
    if (f.pinger) return chosen(f.pinger, f.step);
  }
  return {
    pinger: null,
    mechanism: 'none',
    label: 'none',
    reason: `no way to send ICMP echoes: ${steps.map((s) => `${s.mechanism}: ${s.why}`).join('; ')}`,
    steps,
    ttl: { v4: null, v6: null, tool: null, reason: 'no ICMP mechanism', steps: [] },
  };
}

/**
 * Picks the companion for the families the mechanism cannot read the TTL of: IPv6 under raw sockets, both under
 * fping. Proven by the families it must serve (IPv6 for raw; IPv4 for fping, so a host without IPv6 still gets
 * IPv4 TTLs).
 */
function chooseTtl(pinger: IcmpPinger, opts: ChooseOptions): { pinger: IcmpPinger; label: string; choice: TtlChoice } {
  const raw = pinger.mechanism === 'raw';
  const families: Array<4 | 6> = raw ? [6] : [4, 6];
  const pref = opts.ttl ?? 'auto';
  const tools: TtlTool[] = pref === 'auto' ? ['oping', 'ping'] : pref === 'off' ? [] : [pref];
  const bins: Record<TtlTool, string> = { oping: opts.opingBin ?? 'oping', ping: opts.pingBin ?? 'ping' };
  const steps: TtlStep[] = [];
  for (const tool of tools) {
    const step = proveTtlTool(tool, bins[tool], raw ? [6] : [4]);
    steps.push(step);
    if (!step.ok) continue;
    const name = TTL_TOOL_NAME[tool];
    const filled = new TtlFilledPinger(pinger, new TtlCompanion(tool, bins[tool]), families);
    return raw
      ? {
          pinger: filled,
          label: `raw (IPv4), ${name} for IPv6 hop limits`,
          choice: { v4: 'reply header', v6: name, tool, steps, reason: `IPv4 TTL from the reply header; IPv6 hop limit from a companion echo per round: ${step.why}` },
        }
      : {
          pinger: filled,
          label: `fping, ${name} for TTL and hop limits`,
          choice: { v4: name, v6: name, tool, steps, reason: `TTL and hop limit from a companion echo per round (fping 5.1 prints none): ${step.why}` },
        };
  }
  const why = pref === 'off' ? '--ping-ttl off' : steps.map((s) => `${TTL_TOOL_NAME[s.tool]}: ${s.why}`).join('; ');
  return raw
    ? {
        pinger,
        label: 'raw (IPv4 TTL only, no IPv6 hop limits)',
        choice: { v4: 'reply header', v6: null, tool: null, steps, reason: `IPv4 TTL from the reply header; no IPv6 hop limit (raw IPv6 sockets never see the IPv6 header): ${why}` },
      }
    : { pinger, label: 'fping (no TTL)', choice: { v4: null, v6: null, tool: null, steps, reason: `no TTL (fping 5.1 prints none): ${why}` } };
}
