import { ECHO_LENGTH, internetChecksum, parseIcmp4, parseIcmp6, writeEchoRequest } from './icmp';
import { parseFpingLine, parseFpingLoopLine } from './icmp-fping';

/** An IPv4 header (20 bytes, protocol ICMP) before `payload`. */
function ipv4(payload: Buffer, ttl = 64): Buffer {
  const h = Buffer.alloc(20);
  h[0] = 0x45;
  h.writeUInt16BE(20 + payload.length, 2);
  h[8] = ttl;
  h[9] = 1;
  Buffer.from([127, 0, 0, 1]).copy(h, 12);
  Buffer.from([127, 0, 0, 1]).copy(h, 16);
  return Buffer.concat([h, payload]);
}

function echo(family: 4 | 6, id: number, seq: number): Buffer {
  const b = Buffer.alloc(ECHO_LENGTH);
  writeEchoRequest(b, family, id, seq);
  return b;
}

describe('ICMP echo packets', () => {
  it('writes an IPv4 echo request whose checksum verifies (RFC 1071: the sum over the message is 0)', () => {
    const b = echo(4, 0x1234, 7);
    expect([b[0], b[1], b.readUInt16BE(4), b.readUInt16BE(6), b.subarray(8).toString('latin1')]).toEqual([8, 0, 0x1234, 7, 'netwatch']);
    expect(internetChecksum(b)).toBe(0);
  });

  it('leaves the ICMPv6 checksum to the kernel', () => {
    const b = echo(6, 1, 2);
    expect([b[0], b.readUInt16BE(2)]).toEqual([128, 0]);
  });

  it('reads id, seq and TTL of an IPv4 echo reply', () => {
    const reply = echo(4, 0xbeef, 42);
    reply[0] = 0;
    expect(parseIcmp4(ipv4(reply, 57))).toEqual({ what: 'reply', id: 0xbeef, seq: 42, ttl: 57 });
  });

  it('ignores our own echo request seen on loopback, and short or non-IPv4 buffers', () => {
    expect(parseIcmp4(ipv4(echo(4, 1, 1)))).toBeNull();
    expect(parseIcmp4(Buffer.alloc(10))).toBeNull();
    expect(parseIcmp4(Buffer.alloc(40, 0x60))).toBeNull();
  });

  it('matches an IPv4 port-unreachable error to the echo request it quotes', () => {
    const err = Buffer.alloc(8);
    err[0] = 3;
    err[1] = 3;
    expect(parseIcmp4(ipv4(Buffer.concat([err, ipv4(echo(4, 9, 300))])))).toEqual({ what: 'error', id: 9, seq: 300, ttl: null, reason: 'port unreachable' });
  });

  it('reads an ICMPv6 echo reply and a quoted echo in an address-unreachable error', () => {
    const reply = echo(6, 5, 6);
    reply[0] = 129;
    expect(parseIcmp6(reply)).toEqual({ what: 'reply', id: 5, seq: 6, ttl: null });
    const err = Buffer.alloc(8);
    err[0] = 1;
    err[1] = 3;
    const ip6 = Buffer.alloc(40);
    ip6[0] = 0x60;
    ip6[6] = 58;
    expect(parseIcmp6(Buffer.concat([err, ip6, echo(6, 5, 7)]))).toEqual({ what: 'error', id: 5, seq: 7, ttl: null, reason: 'address unreachable' });
  });
});

describe('parseFpingLine', () => {
  it.each([
    ['127.0.0.1 : 0.05 0.04 0.06', { address: '127.0.0.1', rtts: [0.05, 0.04, 0.06] }],
    ['::1       : 0.033 - 0.034', { address: '::1', rtts: [0.033, null, 0.034] }],
    ['10.255.255.1 : - - -', { address: '10.255.255.1', rtts: [null, null, null] }],
    ['192.0.2.1 : 12 13.5', { address: '192.0.2.1', rtts: [12, 13.5] }],
    ['ICMP Host Unreachable from 10.0.0.1 for ICMP Echo sent to 10.0.0.9', null],
    ['', null],
  ])('%j', (line, want) => {
    expect(parseFpingLine(line)).toEqual(want);
  });
});

describe('parseFpingLoopLine', () => {
  it.each([
    ['[1764626000.123456] 127.0.0.1    : [0], 64 bytes, 0.034 ms (0.034 avg, 0% loss)', { printedAt: 1764626000123.456, address: '127.0.0.1', seq: 0, rttMs: 0.034 }],
    ['[1764626001.5] ::1          : [12], 64 bytes, 1.25 ms (0.9 avg, 0% loss)', { printedAt: 1764626001500, address: '::1', seq: 12, rttMs: 1.25 }],
    ['[1764626002.000001] 10.255.255.1 : [3], timed out (NaN avg, 100% loss)', { printedAt: 1764626002000.001, address: '10.255.255.1', seq: 3, rttMs: null }],
    ['127.0.0.1 : [0], 64 bytes, 0.034 ms (0.034 avg, 0% loss)', null],
    ['[1764626002.0] ICMP Port Unreachable from 10.0.0.1 for ICMP Echo sent to 10.0.0.9', null],
  ])('%j', (line, want) => {
    const got = parseFpingLoopLine(line);
    if (want === null) expect(got).toBeNull();
    else expect({ ...got!, printedAt: Math.round(got!.printedAt * 1000) / 1000 }).toEqual(want);
  });
});
