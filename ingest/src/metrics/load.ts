/** load collector: the 1, 5 and 15 minute load averages from /proc/loadavg. */
import { readProcText, type Collector, type HostPaths } from './collector';
import { SYS, type Sample } from './sample';

export function parseLoadavg(text: string): [number, number, number] {
  const f = text.trim().split(/\s+/);
  const v = [Number(f[0]), Number(f[1]), Number(f[2])] as [number, number, number];
  if (f.length < 3 || !v.every((x) => Number.isFinite(x) && x >= 0)) throw new Error(`/proc/loadavg: cannot parse "${text.slice(0, 80)}"`);
  return v;
}

export class LoadCollector implements Collector {
  readonly name = 'load';

  constructor(private readonly paths: HostPaths) {}

  update(sample: Sample): void {
    const [l1, l5, l15] = parseLoadavg(readProcText(`${this.paths.proc}/loadavg`));
    sample.sys[SYS.load_1] = l1;
    sample.sys[SYS.load_5] = l5;
    sample.sys[SYS.load_15] = l15;
  }
}
