/** capture collector: the flow component's own counters (packets, bytes, active flows, drops, capture errors). */
import type { CaptureCounters } from '../flows/component';
import type { Collector } from './collector';
import { CAP, type Sample } from './sample';

/** What the flow component reports (defined there): counters cumulative since it started, flowsActive a gauge. */
export type { CaptureCounters };

export class CaptureCollector implements Collector {
  readonly name = 'capture';

  constructor(private readonly counters?: () => CaptureCounters) {}

  disabledReason(): string | undefined {
    return this.counters ? undefined : 'no capture';
  }

  update(sample: Sample): void {
    if (!this.counters) return;
    const c = this.counters();
    sample.capture[CAP.capture_packets] = c.packets;
    sample.capture[CAP.capture_bytes] = c.bytes;
    sample.capture[CAP.flows_active] = c.flowsActive;
    sample.capture[CAP.capture_dropped] = c.dropped;
    sample.capture[CAP.capture_errors] = c.captureErrors;
  }
}
