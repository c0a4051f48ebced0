import net from 'node:net';
import { FpingPinger } from './icmp-fping';
import { summarizeRound, type RoundResult } from './round';
import { PingScheduler, systemResolver, type Resolver } from './scheduler';
import { resolvePingTargets } from './targets';

const DEFAULTS = { intervalSec: 1, count: 5, spacingMs: 50, timeoutMs: 500 };
const target = (spec: Parameters<typeof resolvePingTargets>[0][number]) => resolvePingTargets([spec], DEFAULTS)[0];

function listen(server: net.Server): Promise<number> {
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve((server.address() as net.AddressInfo).port)));
}

describe('PingScheduler rounds', () => {
  const fping = new FpingPinger();
  afterAll(() => fping.close());
  const rounds: RoundResult[] = [];
  const scheduler = (resolve?: Resolver, targets = [target({ target: '127.0.0.1' })]) =>
    new PingScheduler(targets, { icmp: fping, resolve, now: Date.now, onRound: (r) => rounds.push(r) });

  it('shows partial loss when the TCP listener stops in the middle of a burst', async () => {
    let accepted = 0;
    const server = net.createServer((c) => {
      c.destroy();
      // After the second handshake nobody listens any more: the remaining three probes are refused.
      if (++accepted === 2) server.close();
    });
    const port = await listen(server);
    const t = target({ target: `tcp://127.0.0.1:${port}` });
    const r = await scheduler().runRound(t, 1000);
    expect(r.probes.map((p) => (p.rttMs === null ? p.error : 'ok'))).toEqual(['ok', 'ok', 'connect: ECONNREFUSED', 'connect: ECONNREFUSED', 'connect: ECONNREFUSED']);
    expect([r.error, summarizeRound(r.probes).packetLoss, summarizeRound(r.probes).success]).toEqual(['3 of 5 probes failed: connect: ECONNREFUSED', 60, true]);
  });

  it('records a resolution failure as a failed round with its reason', async () => {
    const failing: Resolver = () => Promise.reject(Object.assign(new Error('getaddrinfo ENOTFOUND nowhere.invalid'), { code: 'ENOTFOUND' }));
    const r = await scheduler(failing).runRound(target({ target: 'tcp://nowhere.invalid:80' }), 1000);
    expect(r).toEqual({
      ts: 1000,
      target: 'tcp://nowhere.invalid:80',
      kind: 'tcp',
      address: null,
      probes: Array.from({ length: 5 }, () => ({ rttMs: null, ttl: null, error: 'resolve nowhere.invalid: ENOTFOUND' })),
      error: 'resolve nowhere.invalid: ENOTFOUND',
    });
  });

  it('resolves a host name through the system resolver (localhost from /etc/hosts) and pings it', async () => {
    const r = await scheduler(systemResolver).runRound(target({ target: 'localhost', count: 2 }), 1000);
    expect(['127.0.0.1', '::1']).toContain(r.address);
    expect([r.error, r.probes.filter((p) => p.rttMs !== null).length]).toEqual([null, 2]);
  });

  it('resolves the host name anew each round and follows a changed address', async () => {
    const answers: Array<{ address: string; family: 4 | 6 }> = [
      { address: '127.0.0.1', family: 4 },
      { address: '::1', family: 6 },
    ];
    let calls = 0;
    const s = scheduler(async () => answers[calls++ % 2]);
    const t = target({ target: 'moving.example', count: 1 });
    const a = await s.runRound(t, 1);
    const b = await s.runRound(t, 2);
    expect([a.address, b.address, a.error, b.error, calls]).toEqual(['127.0.0.1', '::1', null, null, 2]);
  });

  it('fails ICMP rounds with the reason when no ICMP mechanism works', async () => {
    const s = new PingScheduler([], { icmp: null, icmpUnavailable: 'no way to send ICMP echoes: test', now: Date.now, onRound: () => undefined });
    const r = await s.runRound(target({ target: '127.0.0.1', count: 2 }), 5);
    expect([r.error, r.probes.length]).toEqual(['no way to send ICMP echoes: test', 2]);
  });
});

describe('PingScheduler timing', () => {
  it('runs a round per interval with increasing timestamps, skips a round still running, and abandons it on stop', async () => {
    const rounds: RoundResult[] = [];
    let slow = false;
    const hangs: NodeJS.Timeout[] = [];
    // The resolver of the second target hangs once asked to, longer than an interval.
    const resolve: Resolver = async (host) => {
      if (host === 'slow.example' && slow) await new Promise((r) => hangs.push(setTimeout(r, 2500)));
      return { address: '127.0.0.1', family: 4 };
    };
    const fping = new FpingPinger();
    const s = new PingScheduler(resolvePingTargets([{ target: '127.0.0.1' }, { target: 'slow.example' }], { intervalSec: 1, count: 2, spacingMs: 20, timeoutMs: 300 }), {
      icmp: fping,
      resolve,
      now: Date.now,
      onRound: (r) => rounds.push(r),
    });
    s.start();
    await new Promise((r) => setTimeout(r, 500));
    slow = true;
    await new Promise((r) => setTimeout(r, 2200));
    await s.stop(100);
    fping.close();
    hangs.forEach(clearTimeout);
    const fast = rounds.filter((r) => r.target === '127.0.0.1');
    const slowRounds = rounds.filter((r) => r.target === 'slow.example');
    expect(fast.length).toBe(3);
    expect(fast.every((r, i) => i === 0 || r.ts > fast[i - 1].ts)).toBe(true);
    expect(fast.every((r) => r.error === null)).toBe(true);
    // Round 0 of the slow target ran; round 1 hung, so round 2 (due while it hung) was skipped, and round 1 was abandoned at stop.
    expect(slowRounds.length).toBe(1);
    expect(s.counters()).toMatchObject({ rounds: 4, rounds_skipped: 1, rounds_abandoned: 1, targets: 2 });
  });
});
