/**
 * cpu collector: overall busy percent from the deltas of /proc/stat's aggregate line, each core's from the deltas
 * of its cpuN line, and the CPU count.
 */
import { readProcText, type Collector, type HostPaths } from './collector';
import { CORE_PERCENT, SYS, type Sample } from './sample';

/** Jiffies of one `cpu` line of /proc/stat (proc(5)); guest time is already included in user and nice. */
export interface CpuTimes {
  user: number;
  nice: number;
  system: number;
  idle: number;
  iowait: number;
  irq: number;
  softirq: number;
  steal: number;
}

export interface ProcStat {
  all: CpuTimes;
  /** Per online CPU, in the order of cpuN lines. */
  cpus: CpuTimes[];
  /** The N of each cpuN line, beside `cpus`: an offline core has no line, so the numbers may have holes. */
  ids: number[];
}

function parseCpuLine(line: string): CpuTimes {
  const f = line.trim().split(/\s+/);
  const n = (i: number) => {
    const v = f[i] === undefined ? 0 : Number(f[i]);
    if (!Number.isFinite(v)) throw new Error(`/proc/stat: bad number in "${line.slice(0, 80)}"`);
    return v;
  };
  if (f.length < 5) throw new Error(`/proc/stat: short cpu line "${line.slice(0, 80)}"`);
  // iowait, irq, softirq, steal appeared in Linux 2.5.41 .. 2.6.11; missing fields read as 0.
  return { user: n(1), nice: n(2), system: n(3), idle: n(4), iowait: n(5), irq: n(6), softirq: n(7), steal: n(8) };
}

export function parseProcStat(text: string): ProcStat {
  let all: CpuTimes | undefined;
  const cpus: CpuTimes[] = [];
  const ids: number[] = [];
  for (const line of text.split('\n')) {
    if (!line.startsWith('cpu')) continue;
    if (line.startsWith('cpu ')) {
      all = parseCpuLine(line);
      continue;
    }
    const id = /^cpu(\d+)\s/.exec(line);
    if (!id) continue;
    cpus.push(parseCpuLine(line));
    ids.push(Number(id[1]));
  }
  if (!all) throw new Error('/proc/stat: no aggregate cpu line');
  return { all, cpus, ids };
}

/** Busy and total jiffies as psutil counts them: idle and iowait are not busy; steal is (the CPU was not ours). */
export function cpuBusyTotal(t: CpuTimes): { busy: number; total: number } {
  const busy = t.user + t.nice + t.system + t.irq + t.softirq + t.steal;
  return { busy, total: busy + t.idle + t.iowait };
}

/** Percent busy between two reads; NaN when no time passed (two reads within one jiffy). */
export function cpuPercent(before: CpuTimes, after: CpuTimes): number {
  const a = cpuBusyTotal(before);
  const b = cpuBusyTotal(after);
  const dt = b.total - a.total;
  if (!(dt > 0)) return NaN;
  return Math.min(100, Math.max(0, (100 * (b.busy - a.busy)) / dt));
}

export class CpuCollector implements Collector {
  readonly name = 'cpu';
  private prev: CpuTimes | undefined;
  /** Each core's previous times by its number; a core that went offline is forgotten, so at most the host's cores. */
  private readonly prevCores = new Map<number, CpuTimes>();
  private readonly names: string[] = [];

  constructor(private readonly paths: HostPaths) {}

  update(sample: Sample): void {
    const stat = parseProcStat(readProcText(`${this.paths.proc}/stat`));
    // The first round has nothing to take a delta from: cpu_percent starts with the second.
    if (this.prev) sample.sys[SYS.cpu_percent] = cpuPercent(this.prev, stat.all);
    this.prev = stat.all;
    sample.sys[SYS.cpu_count] = stat.cpus.length;

    const cores = sample.cores;
    for (let i = 0; i < stat.cpus.length; i++) {
      const id = stat.ids[i];
      const before = this.prevCores.get(id);
      this.prevCores.set(id, stat.cpus[i]);
      // A core back online restarts from its new times: the delta against the old ones would span its offline time.
      if (!before) continue;
      const busy = cpuPercent(before, stat.cpus[i]);
      if (Number.isNaN(busy)) continue;
      const base = cores.add((this.names[id] ??= String(id)));
      if (base >= 0) cores.values[base + CORE_PERCENT] = busy;
    }
    if (this.prevCores.size > stat.ids.length) {
      for (const id of this.prevCores.keys()) if (!stat.ids.includes(id)) this.prevCores.delete(id);
    }
  }
}
