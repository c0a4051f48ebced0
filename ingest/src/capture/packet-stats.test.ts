/**
 * Matching a capture to the packet socket libpcap opened for it, and interface indexes from sysfs. The addon's
 * counters themselves are proven on real captures in live.test.ts.
 */
import { readFileSync } from 'node:fs';
import { interfaceIndex, matchNewSocket, type PacketSocketStats } from './packet-stats';

const sock = (inode: number, ifindex: number): PacketSocketStats => ({
  fd: inode - 1000,
  inode,
  ifindex,
  interface: ifindex === 0 ? 'any' : `if${ifindex}`,
  tpacketVersion: 2,
  packets: 0,
  drops: 0,
  freezes: null,
  error: null,
});

describe('matchNewSocket', () => {
  const cases: Array<{ name: string; before: number[]; after: PacketSocketStats[]; ifindex: number | null; want: PacketSocketStats | RegExp }> = [
    { name: 'the only socket that appeared', before: [1001], after: [sock(1001, 1), sock(1002, 1)], ifindex: 1, want: sock(1002, 1) },
    { name: 'the only new one even on another interface (a bonded or renamed device)', before: [], after: [sock(1002, 3)], ifindex: 1, want: sock(1002, 3) },
    { name: 'among several new ones, the one on the interface', before: [1001], after: [sock(1001, 1), sock(1002, 0), sock(1003, 2)], ifindex: 2, want: sock(1003, 2) },
    { name: 'the unbound socket of `any` among several new ones', before: [], after: [sock(1002, 0), sock(1003, 2)], ifindex: 0, want: sock(1002, 0) },
    { name: 'nothing when no socket appeared', before: [1001], after: [sock(1001, 1)], ifindex: 1, want: /no new packet socket appeared/ },
    { name: 'nothing when several new ones share the interface', before: [], after: [sock(1002, 1), sock(1003, 1)], ifindex: 1, want: /2 packet sockets appeared/ },
    { name: 'nothing when several appeared and the interface index is unknown', before: [], after: [sock(1002, 1), sock(1003, 2)], ifindex: null, want: /cannot tell which/ },
  ];
  it.each(cases)('picks $name', ({ before, after, ifindex, want }) => {
    const got = matchNewSocket(new Set(before), after, ifindex);
    if (want instanceof RegExp) expect(got).toMatch(want);
    else expect(got).toEqual(want);
  });
});

describe('interfaceIndex', () => {
  it.each([
    ['lo', Number(readFileSync('/sys/class/net/lo/ifindex', 'utf8'))],
    ['any', 0],
    ['nosuch0', null],
    ['../lo', null],
    ['.', null],
  ])('gives %s the index %p', (name, want) => {
    expect(interfaceIndex(name)).toBe(want);
  });
});
