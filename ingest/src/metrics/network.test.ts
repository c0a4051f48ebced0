import { execFileSync } from 'node:child_process';
import { DEFAULT_HOST_PATHS } from './collector';
import { countTcpStates, NetworkCollector, parseNetDev, TCP_STATES } from './network';
import { NET, Sample } from './sample';
import { fakeHost, NET_DEV, NET_TCP, NET_TCP6, netDev } from './test-fixtures';

describe('parseNetDev', () => {
  it('reads every interface with receive and transmit counters in their columns', () => {
    expect(parseNetDev(NET_DEV)).toEqual([
      { name: 'lo', bytesRecv: 35924, packetsRecv: 276, errin: 0, dropin: 0, bytesSent: 35924, packetsSent: 276, errout: 0, dropout: 0 },
      { name: 'ifb0', bytesRecv: 0, packetsRecv: 0, errin: 0, dropin: 0, bytesSent: 0, packetsSent: 0, errout: 0, dropout: 0 },
      { name: 'eth0', bytesRecv: 1101823389, packetsRecv: 36760, errin: 0, dropin: 0, bytesSent: 4703408, packetsSent: 28944, errout: 0, dropout: 0 },
    ]);
  });

  it('reads a name that runs into its first counter, and errors and drops in their columns', () => {
    const text = 'x\ny\nveryverylong0:1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16\n';
    expect(parseNetDev(text)).toEqual([{ name: 'veryverylong0', bytesRecv: 1, packetsRecv: 2, errin: 3, dropin: 4, bytesSent: 9, packetsSent: 10, errout: 11, dropout: 12 }]);
  });

  it('refuses a line with a non-numeric counter', () => {
    expect(() => parseNetDev('a\nb\n eth0: 1 2 3 x 5 6 7 8 9 10 11 12 13 14 15 16\n')).toThrow(/bad counters for eth0/);
  });
});

describe('countTcpStates', () => {
  it('counts IPv4 and IPv6 sockets by state', () => {
    const counts = new Float64Array(TCP_STATES.length);
    expect(countTcpStates(NET_TCP, counts) + countTcpStates(NET_TCP6, counts)).toBe(0);
    const named = Object.fromEntries(TCP_STATES.map((s, i) => [s, counts[i]]).filter(([s, n]) => s !== '' && (n as number) > 0));
    expect(named).toEqual({ listen: 2, time_wait: 1, established: 2 });
  });

  it('counts unreadable lines instead of failing', () => {
    const counts = new Float64Array(TCP_STATES.length);
    const bad = countTcpStates(`${NET_TCP.trimEnd()}\n   2: garbage\n   3: 0100007F:C712 0100007F:A33F ZZ 0\n`, counts);
    expect([bad, counts[10], counts[6]]).toEqual([2, 1, 1]);
  });
});

describe('NetworkCollector', () => {
  const host = fakeHost();
  host.physical('eth0');
  host.write('net/tcp', NET_TCP);
  host.write('net/tcp6', NET_TCP6);

  it('keeps interface counters and the host total monotonic across a 32-bit wrap, a 64-bit wrap and a reset', () => {
    const c = new NetworkCollector(host.paths, { maxInterfaces: 8 });
    const s = new Sample();
    const TWO64 = 2n ** 64n;
    // eth0 receive bytes wrap at 32 bits; its transmit bytes wrap at 64 bits; eth1 (physical too) resets.
    host.physical('eth1');
    const rounds: Array<Parameters<typeof netDev>[0]> = [
      [['lo', 10, 1, 10, 1], ['eth0', 4_294_967_000, 10, TWO64 - 1000n, 10], ['eth1', 5000, 5, 5000, 5]],
      [['lo', 20, 2, 20, 2], ['eth0', 4_294_967_200, 20, TWO64 - 10n, 20], ['eth1', 6000, 6, 6000, 6]],
      [['lo', 30, 3, 30, 3], ['eth0', 104, 30, 2038n, 30], ['eth1', 100, 1, 100, 1]],
      [['lo', 40, 4, 40, 4], ['eth0', 1104, 40, 4038n, 40], ['eth1', 300, 3, 300, 3]],
    ];
    const eth0: number[][] = [];
    const total: number[][] = [];
    for (const r of rounds) {
      host.write('net/dev', netDev(r));
      s.clear(0);
      c.update(s);
      const i = s.interfaces.indexOf('eth0');
      eth0.push([s.interfaces.values[i * 11 + NET.bytes_recv], s.interfaces.values[i * 11 + NET.bytes_sent]]);
      total.push([s.netTotal[NET.bytes_recv], s.netTotal[NET.packets_recv]]);
    }
    const W32 = 2 ** 32;
    expect(eth0.map((r) => r[0])).toEqual([4_294_967_000, 4_294_967_200, W32 + 104, W32 + 1104]);
    // Near 2^64 a double's spacing is 4096 (the parsed raw value is already rounded), so the 64-bit case is only
    // proven monotonic: the wrap is not read as a fall back to 2038.
    const sent = eth0.map((r) => r[1]);
    for (let i = 1; i < sent.length; i++) expect(sent[i]).toBeGreaterThanOrEqual(sent[i - 1]);
    expect(sent[2]).toBeGreaterThan(2 ** 63);
    // The total counts the physical interfaces (eth0, eth1), not lo; eth1's reset adds its new value.
    expect(total).toEqual([
      [4_294_967_000 + 5000, 15],
      [4_294_967_200 + 6000, 26],
      [W32 + 104 + 6000 + 100, 26 + 10 + 1],
      [W32 + 1104 + 6000 + 300, 26 + 10 + 1 + 10 + 2],
    ]);
    for (let i = 1; i < total.length; i++) expect(total[i][0]).toBeGreaterThan(total[i - 1][0]);
    expect([s.netTotal[NET.connections_listen], s.netTotal[NET.connections_established], s.netTotal[NET.connections_time_wait]]).toEqual([2, 2, 1]);
  });

  it('refuses interfaces beyond its bound, counted, while the total still counts them', () => {
    const c = new NetworkCollector(host.paths, { maxInterfaces: 1 });
    const s = new Sample({ maxInterfaces: 1, maxMounts: 1, maxCpus: 1 });
    host.write('net/dev', netDev([['eth0', 100, 1, 100, 1], ['eth1', 50, 1, 50, 1]]));
    c.update(s);
    expect([s.interfaces.count, s.interfaces.names[0], s.interfaces.overflow, s.netTotal[NET.bytes_recv]]).toEqual([1, 'eth0', 1, 100]);
  });
});

describe('NetworkCollector on this machine', () => {
  it('counts listening TCP sockets as ss does', () => {
    const c = new NetworkCollector(DEFAULT_HOST_PATHS, { maxInterfaces: 64 });
    // Other tests open and close sockets meanwhile: the two reads must agree on one of a few tries.
    let agreed = false;
    let last: [number, number] = [0, 0];
    for (let i = 0; i < 5 && !agreed; i++) {
      const s = new Sample();
      c.update(s);
      const ss = execFileSync('ss', ['-H', '-t', '-a', '-n', 'state', 'listening'], { encoding: 'utf8' }).split('\n').filter((l) => l.trim() !== '').length;
      last = [s.netTotal[NET.connections_listen], ss];
      agreed = last[0] === last[1];
    }
    expect(last[0]).toBe(last[1]);
  });

  it('reports lo with packets both ways', () => {
    const s = new Sample();
    new NetworkCollector(DEFAULT_HOST_PATHS, { maxInterfaces: 64 }).update(s);
    const i = s.interfaces.indexOf('lo');
    expect(i).toBeGreaterThanOrEqual(0);
    expect(s.interfaces.values[i * 11 + NET.packets_recv]).toBeGreaterThan(0);
  });
});
