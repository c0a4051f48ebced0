/**
 * Replays capture files through the pipeline as if they were live. Timestamps are shifted so that each file
 * ends at the moment its replay starts, which puts the data inside the retention window ("now"); each loop
 * continues the clock from where the previous one ended. Work is done in slices so the API stays responsive
 * while a large file is replayed at full speed.
 */
import { CaptureFileReader, createPacketRecord, type PacketRecord } from './pcap-file';

/**
 * Called synchronously for every replayed packet, the frame being `buf[offset, offset + captureLength)`; the
 * buffer is the reader's chunk, reused for later packets, so nothing of it may be kept. Handing over the offset
 * rather than a subarray keeps the replay free of a per-packet allocation.
 */
export type FrameSink = (linkType: number, buf: Buffer, offset: number, captureLength: number, wireLength: number, tsUs: number) => void;

export type ReplaySpeed = 'max' | 'realtime' | number;

export interface ReplayOptions {
  paths: string[];
  speed: ReplaySpeed;
  loop: boolean;
  /** Wall clock in µs; injectable for tests. */
  nowUs?: () => number;
  /** Packets per slice before yielding to the event loop. */
  sliceSize?: number;
}

export interface ReplayStats {
  file: string;
  loops: number;
  packets: number;
  bytes: number;
  truncatedFiles: number;
  done: boolean;
  error: string | null;
}

interface Span {
  firstUs: number;
  lastUs: number;
  packets: number;
}

/** One pass over the file for its first and last timestamps (pcap has no index); a few hundred ms per GB. */
export function captureSpan(path: string): Span {
  const reader = CaptureFileReader.open(path);
  const rec = createPacketRecord();
  let firstUs = Number.POSITIVE_INFINITY;
  let lastUs = Number.NEGATIVE_INFINITY;
  let packets = 0;
  try {
    while (reader.next(rec)) {
      if (rec.tsUs < firstUs) firstUs = rec.tsUs;
      if (rec.tsUs > lastUs) lastUs = rec.tsUs;
      packets++;
    }
  } finally {
    reader.close();
  }
  return packets === 0 ? { firstUs: 0, lastUs: 0, packets } : { firstUs, lastUs, packets };
}

export class PcapReplay {
  readonly stats: ReplayStats;
  private stopped = false;
  private timer: NodeJS.Timeout | null = null;
  private readonly nowUs: () => number;
  private resolveDone!: () => void;
  readonly done: Promise<void>;

  constructor(
    private readonly options: ReplayOptions,
    private readonly sink: FrameSink,
    private readonly warn: (msg: string) => void = () => {},
  ) {
    this.nowUs = options.nowUs ?? (() => Date.now() * 1000);
    this.stats = { file: options.paths.join(','), loops: 0, packets: 0, bytes: 0, truncatedFiles: 0, done: false, error: null };
    this.done = new Promise((r) => (this.resolveDone = r));
  }

  start(): void {
    void this.run().then(
      () => this.finish(),
      (e: unknown) => {
        this.stats.error = (e as Error).message;
        this.warn(`replay stopped: ${(e as Error).message}`);
        this.finish();
      },
    );
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.finish();
  }

  private finish(): void {
    this.stats.done = true;
    this.resolveDone();
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((r) => {
      this.timer = setTimeout(r, Math.max(0, ms));
    });
  }

  private async run(): Promise<void> {
    const spans = this.options.paths.map((p) => captureSpan(p));
    // Each loop continues the clock: loop k of a file is shifted by k spans (plus one second between loops).
    const startUs = this.nowUs();
    let loop = 0;
    do {
      for (let i = 0; i < this.options.paths.length && !this.stopped; i++) {
        const span = spans[i];
        if (span.packets === 0) continue;
        const period = span.lastUs - span.firstUs + 1_000_000;
        const shiftUs = startUs - span.lastUs + loop * period;
        // Never put packets in the future: a later loop waits until its data would be "now".
        const wait = (span.lastUs + shiftUs - this.nowUs()) / 1000;
        if (loop > 0 && this.options.speed === 'max' && wait > 0) await this.sleep(wait);
        await this.replayFile(this.options.paths[i], span, shiftUs);
      }
      loop++;
      this.stats.loops = loop;
    } while (this.options.loop && !this.stopped);
  }

  private async replayFile(path: string, span: Span, shiftUs: number): Promise<void> {
    const reader = CaptureFileReader.open(path);
    const rec: PacketRecord = createPacketRecord();
    const speed = this.options.speed;
    const rate = speed === 'max' ? 0 : speed === 'realtime' ? 1 : speed;
    const slice = this.options.sliceSize ?? 20_000;
    const wallStartUs = this.nowUs();
    try {
      for (;;) {
        let n = 0;
        let more = true;
        while (n < slice && (more = reader.next(rec))) {
          if (rate > 0) {
            const dueUs = wallStartUs + (rec.tsUs - span.firstUs) / rate;
            const aheadMs = (dueUs - this.nowUs()) / 1000;
            if (aheadMs > 2) {
              await this.sleep(aheadMs);
              if (this.stopped) return;
            }
          }
          this.sink(rec.linkType, rec.data, rec.offset, rec.captureLength, rec.originalLength, rec.tsUs + shiftUs);
          this.stats.packets++;
          this.stats.bytes += rec.originalLength;
          n++;
        }
        if (!more || this.stopped) break;
        await new Promise<void>((r) => setImmediate(r));
        if (this.stopped) break;
      }
      if (reader.truncated) {
        this.stats.truncatedFiles++;
        this.warn(`${path}: ${reader.warnings.join('; ') || 'truncated capture'}; replayed what could be read`);
      }
    } finally {
      reader.close();
    }
  }
}
