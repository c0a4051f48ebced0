/**
 * Live capture on `lo` through libpcap (`cap`), with the kernel's counters of its packet socket read by the
 * @netwatch/packet-stats addon. Needs root (CI runs as root). Traffic is UDP to a port this test bound, and
 * every capture filters on that port, so other traffic on `lo` (other test runs) never reaches the counts.
 */
import dgram from 'node:dgram';
import { floodUdp } from '../testing/udp-flood';
import { LiveCapture, type PacketSink } from './live';
import { loadPacketStats } from './packet-stats';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until(what: string, fn: () => boolean, ms = 8000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!fn()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

/** A bound UDP socket that discards what it receives: the destination of the test traffic. */
async function receiver(): Promise<{ port: number; close: () => void }> {
  const s = dgram.createSocket('udp4');
  s.on('message', () => undefined);
  await new Promise<void>((r) => s.bind(0, '127.0.0.1', r));
  return { port: s.address().port, close: () => s.close() };
}

/** Sends `n` datagrams of `size` bytes one at a time, yielding now and then so the capture is drained. */
async function send(port: number, n: number, size = 100): Promise<void> {
  const s = dgram.createSocket('udp4');
  const payload = Buffer.alloc(size, 1);
  for (let i = 0; i < n; i++) {
    await new Promise<void>((r, j) => s.send(payload, port, '127.0.0.1', (e) => (e ? j(e) : r())));
    if (i % 10 === 9) await sleep(2);
  }
  s.close();
}

function open(iface: string, port: number, sink: PacketSink = () => undefined, bufferSize?: number): LiveCapture {
  const live = new LiveCapture({ interface: iface, bpf: `udp dst port ${port}`, bufferSize }, sink);
  live.start();
  return live;
}

/** The counters that moved since `base`. */
function moved(live: LiveCapture, base: { captured: number; received: number; dropped: number }) {
  live.pollKernelStats();
  const s = live.stats;
  return { captured: s.received - base.captured, received: s.kernelReceived! - base.received, dropped: s.kernelDropped! - base.dropped };
}
const baseline = (live: LiveCapture) => {
  live.pollKernelStats();
  return { captured: live.stats.received, received: live.stats.kernelReceived!, dropped: live.stats.kernelDropped! };
};

describe('LiveCapture kernel counters', () => {
  it('finds the packet-stats addon on Linux', () => {
    expect(loadPacketStats()).toEqual({ addon: expect.objectContaining({ read: expect.any(Function) }) });
  });

  it.each(['lo', 'any'])('on %s, counts every datagram twice in the kernel (outgoing and incoming copy) and drops none when the consumer keeps up', async (iface) => {
    const rx = await receiver();
    const live = open(iface, rx.port);
    try {
      expect(live.stats).toMatchObject({ kernelUnavailable: null, kernelDropped: 0, kernelFreezes: null });
      const base = baseline(live);
      await send(rx.port, 100);
      await until('100 captured datagrams', () => live.stats.received - base.captured >= 100);
      expect(moved(live, base)).toEqual({ captured: 100, received: 200, dropped: 0 });
    } finally {
      live.stop();
      rx.close();
    }
  });

  const held: Record<number, number> = {};
  it.each([2, 16])('counts the packets the kernel drops while the JavaScript consumer is blocked, and received covers captured plus dropped (%i MiB buffer)', async (mib) => {
    const rx = await receiver();
    let sent = -1;
    let blocked = false;
    // The first packet blocks this thread for as long as a child process floods the port: libpcap's ring (128
    // frames on lo with the default 16 MiB buffer) fills and the kernel drops the rest.
    const live = open('lo', rx.port, () => {
      if (blocked) return;
      blocked = true;
      sent = Number(floodUdp(rx.port, 20000, 200, 15_000));
    }, mib * 1024 * 1024);
    try {
      const base = baseline(live);
      await send(rx.port, 1);
      await until('the flood to end and the ring to be drained', () => sent >= 0 && live.stats.received > base.captured + 10);
      let last = -1;
      await until('the capture to settle', () => {
        const settled = live.stats.received === last;
        last = live.stats.received;
        return settled;
      });
      const m = moved(live, base);
      expect(sent).toBe(20000);
      expect(m.dropped).toBeGreaterThan(1000);
      // The kernel counts a dropped packet in tp_packets too; libpcap discards the outgoing copies on lo.
      expect(m.received).toBeGreaterThanOrEqual(m.captured + m.dropped);
      // At most both copies of the trigger and of each flood datagram (some incoming copies are lost in lo's backlog).
      expect(m.received).toBeLessThanOrEqual(2 * (sent + 1));
      expect(m.captured).toBeLessThanOrEqual(sent + 1);
      held[mib] = m.captured;
    } finally {
      live.stop();
      rx.close();
    }
  });

  it('holds packets in proportion to the buffer size while blocked (what --capture-buffer buys in a burst)', () => {
    // Measured: 16 frames at 2 MiB, 128 at 16 MiB (libpcap sizes the ring's frames from the snapshot length).
    expect(held[2]).toBeGreaterThan(0);
    expect(held[16] / held[2]).toBeGreaterThanOrEqual(4);
    expect(held[16] / held[2]).toBeLessThanOrEqual(16);
  });

  it('never counts a packet twice, however often and by whomever the counters are read', async () => {
    const a = await receiver();
    const b = await receiver();
    const liveA = open('lo', a.port);
    const liveB = open('lo', b.port);
    try {
      const baseA = baseline(liveA);
      const baseB = baseline(liveB);
      await send(a.port, 50);
      await until('50 captured datagrams', () => liveA.stats.received - baseA.captured >= 50);
      // Each read resets the kernel's counters of every packet socket; other readers must not steal A's counts.
      const { addon } = loadPacketStats();
      for (let i = 0; i < 5; i++) {
        liveB.pollKernelStats();
        addon!.read();
      }
      const polls = [moved(liveA, baseA), moved(liveA, baseA), moved(liveA, baseA)];
      expect(polls).toEqual([0, 1, 2].map(() => ({ captured: 50, received: 100, dropped: 0 })));
      expect(moved(liveB, baseB)).toEqual({ captured: 0, received: 0, dropped: 0 });

      await send(a.port, 30);
      await until('80 captured datagrams', () => liveA.stats.received - baseA.captured >= 80);
      expect(moved(liveA, baseA)).toEqual({ captured: 80, received: 160, dropped: 0 });
    } finally {
      liveA.stop();
      liveB.stop();
      a.close();
      b.close();
    }
  });

  it('reads the counters one last time at stop, and forgets the socket once it is closed', async () => {
    const rx = await receiver();
    const live = new LiveCapture({ interface: 'lo', bpf: `udp dst port ${rx.port}`, kernelStatsIntervalMs: 60_000 }, () => undefined);
    live.start();
    const k0 = live.stats.kernelReceived!;
    const before = new Set(loadPacketStats().addon!.read().map((s) => s.inode));
    try {
      await send(rx.port, 20);
      await until('20 captured datagrams', () => live.stats.received >= 20);
    } finally {
      live.stop();
      rx.close();
    }
    // No poll ran between start and stop (60 s interval); the 40 copies were read by stop() itself.
    expect(live.stats.kernelReceived! - k0).toBe(40);
    const after = new Set(loadPacketStats().addon!.read().map((s) => s.inode));
    expect([...before].filter((i) => !after.has(i))).toHaveLength(1);
  });
});
