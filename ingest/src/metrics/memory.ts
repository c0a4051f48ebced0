/** memory collector: total, available and used percent from /proc/meminfo. */
import { readProcText, type Collector, type HostPaths } from './collector';
import { SYS, type Sample } from './sample';

/** /proc/meminfo as bytes per field (values given in kB are multiplied by 1024, as the kernel means kibibytes). */
export function parseMeminfo(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    const m = /^([\w()]+):\s+(\d+)(?:\s+(kB))?\s*$/.exec(line);
    if (m) out.set(m[1], m[3] ? Number(m[2]) * 1024 : Number(m[2]));
  }
  return out;
}

export interface MemoryValues {
  total: number;
  available: number;
  percent: number;
}

/**
 * MemAvailable is the kernel's own estimate (Linux 3.14+); older kernels get psutil's fallback of free + buffers
 * + page cache. Percent is of memory not available, as psutil and `free` report "used".
 */
export function memoryValues(info: Map<string, number>): MemoryValues {
  const total = info.get('MemTotal');
  if (total === undefined || total <= 0) throw new Error('/proc/meminfo: no MemTotal');
  const available = info.get('MemAvailable') ?? (info.get('MemFree') ?? 0) + (info.get('Buffers') ?? 0) + (info.get('Cached') ?? 0);
  return { total, available, percent: (100 * (total - available)) / total };
}

export class MemoryCollector implements Collector {
  readonly name = 'memory';

  constructor(private readonly paths: HostPaths) {}

  update(sample: Sample): void {
    const v = memoryValues(parseMeminfo(readProcText(`${this.paths.proc}/meminfo`)));
    sample.sys[SYS.memory_total] = v.total;
    sample.sys[SYS.memory_available] = v.available;
    sample.sys[SYS.memory_percent] = v.percent;
  }
}
