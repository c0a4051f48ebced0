import {
  cidrContainsV4,
  cidrContainsV6,
  cidrListMatchesV4,
  cidrListMatchesV6,
  cidrRangeV4,
  parseCidr,
  tryParseCidr,
  validateCidrList,
  type Cidr,
} from './cidr';
import { caught } from '../testing/errors';
import { parseIPv4, parseIPv6 } from './ip';

function plain(c: Cidr) {
  return { family: c.family, prefix: c.prefix, words: Array.from(c.words), masks: Array.from(c.masks), text: c.text };
}

function v4(s: string): number {
  const n = parseIPv4(s);
  if (n === null) throw new Error(`bad test address ${s}`);
  return n;
}

function v6(s: string): [number, number, number, number] {
  const w = new Uint32Array(4);
  if (!parseIPv6(s, w)) throw new Error(`bad test address ${s}`);
  return [w[0], w[1], w[2], w[3]];
}

/** Whether `addr` (either family) is inside `c`, through the matcher of its family. */
function contains(c: Cidr, addr: string): boolean {
  return addr.includes(':') ? cidrContainsV6(c, ...v6(addr)) : cidrContainsV4(c, v4(addr));
}

describe('parseCidr', () => {
  it.each([
    ['10.0.0.0/8', { family: 4, prefix: 8, words: [0x0a000000, 0, 0, 0], masks: [0xff000000, 0, 0, 0], text: '10.0.0.0/8' }],
    ['0.0.0.0/0', { family: 4, prefix: 0, words: [0, 0, 0, 0], masks: [0, 0, 0, 0], text: '0.0.0.0/0' }],
    ['192.0.2.1', { family: 4, prefix: 32, words: [0xc0000201, 0, 0, 0], masks: [0xffffffff, 0, 0, 0], text: '192.0.2.1/32' }],
    ['192.0.2.1/32', { family: 4, prefix: 32, words: [0xc0000201, 0, 0, 0], masks: [0xffffffff, 0, 0, 0], text: '192.0.2.1/32' }],
    ['128.0.0.0/1', { family: 4, prefix: 1, words: [0x80000000, 0, 0, 0], masks: [0x80000000, 0, 0, 0], text: '128.0.0.0/1' }],
    // Host bits are cleared, as ipaddress.ip_network(strict=False) does.
    ['10.1.2.3/8', { family: 4, prefix: 8, words: [0x0a000000, 0, 0, 0], masks: [0xff000000, 0, 0, 0], text: '10.0.0.0/8' }],
    ['255.255.255.255/1', { family: 4, prefix: 1, words: [0x80000000, 0, 0, 0], masks: [0x80000000, 0, 0, 0], text: '128.0.0.0/1' }],
    ['  172.16.5.4/12\n', { family: 4, prefix: 12, words: [0xac100000, 0, 0, 0], masks: [0xfff00000, 0, 0, 0], text: '172.16.0.0/12' }],
    ['::/0', { family: 6, prefix: 0, words: [0, 0, 0, 0], masks: [0, 0, 0, 0], text: '::/0' }],
    ['::1', { family: 6, prefix: 128, words: [0, 0, 0, 1], masks: [0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff], text: '::1/128' }],
    ['2001:DB8::/32', { family: 6, prefix: 32, words: [0x20010db8, 0, 0, 0], masks: [0xffffffff, 0, 0, 0], text: '2001:db8::/32' }],
    ['2001:db8:abcd:12::1/48', { family: 6, prefix: 48, words: [0x20010db8, 0xabcd0000, 0, 0], masks: [0xffffffff, 0xffff0000, 0, 0], text: '2001:db8:abcd::/48' }],
    ['fe80::1:2/64', { family: 6, prefix: 64, words: [0xfe800000, 0, 0, 0], masks: [0xffffffff, 0xffffffff, 0, 0], text: 'fe80::/64' }],
    ['2001:db8::3/127', { family: 6, prefix: 127, words: [0x20010db8, 0, 0, 2], masks: [0xffffffff, 0xffffffff, 0xffffffff, 0xfffffffe], text: '2001:db8::2/127' }],
    ['ffff::/1', { family: 6, prefix: 1, words: [0x80000000, 0, 0, 0], masks: [0x80000000, 0, 0, 0], text: '8000::/1' }],
    ['::ffff:10.0.0.0/104', { family: 6, prefix: 104, words: [0, 0, 0xffff, 0x0a000000], masks: [0xffffffff, 0xffffffff, 0xffffffff, 0xff000000], text: '::ffff:10.0.0.0/104' }],
  ])('parses %j', (text, want) => {
    expect(plain(parseCidr(text))).toEqual(want);
  });

  it.each([
    ['10.0.0.0/33', '"10.0.0.0/33": prefix length 33 out of range 0-32'],
    ['::/129', '"::/129": prefix length 129 out of range 0-128'],
    ['10.0.0.0/', '"10.0.0.0/": missing prefix length after "/"'],
    ['10.0.0.0/-1', '"10.0.0.0/-1": prefix length "-1" is not a decimal integer'],
    ['10.0.0.0/08', '"10.0.0.0/08": prefix length "08" is not a decimal integer'],
    ['10.0.0.0/8/8', '"10.0.0.0/8/8": prefix length "8/8" is not a decimal integer'],
    ['10.0.0.0/ 8', '"10.0.0.0/ 8": prefix length " 8" is not a decimal integer'],
    ['10.0.0/8', '"10.0.0/8": "10.0.0" is not an IPv4 or IPv6 address'],
    ['010.0.0.0/8', '"010.0.0.0/8": "010.0.0.0" is not an IPv4 or IPv6 address'],
    ['/8', '"/8": "" is not an IPv4 or IPv6 address'],
    ['any', '"any": "any" is not an IPv4 or IPv6 address'],
    ['2001:db8::/32::', '"2001:db8::/32::": prefix length "32::" is not a decimal integer'],
    ['1::2::/64', '"1::2::/64": "1::2::" is not an IPv4 or IPv6 address'],
    ['fe80::1%eth0/64', '"fe80::1%eth0/64": zone identifiers (%...) are not allowed in a CIDR'],
    ['   ', '"": empty CIDR'],
  ])('refuses %j with NETWATCH_ERR_BAD_CIDR naming the value', (text, message) => {
    expect(caught(() => parseCidr(text, '/queries/0/cidr/1'))).toEqual({ code: 'NETWATCH_ERR_BAD_CIDR', message, path: '/queries/0/cidr/1' });
  });

  it('refuses a value that is not a string', () => {
    expect(caught(() => parseCidr(8 as unknown as string, '/cidr/0'))).toEqual({
      code: 'NETWATCH_ERR_BAD_CIDR',
      message: 'expected a CIDR string, got number',
      path: '/cidr/0',
    });
  });

  it('defaults the error path to empty', () => {
    expect(caught(() => parseCidr('x'))).toEqual({ code: 'NETWATCH_ERR_BAD_CIDR', message: '"x": "x" is not an IPv4 or IPv6 address', path: '' });
  });
});

describe('tryParseCidr and validateCidrList', () => {
  it('gives null instead of throwing', () => {
    expect([tryParseCidr('10.0.0.0/8')?.text, tryParseCidr('10.0.0.0/99')]).toEqual(['10.0.0.0/8', null]);
  });

  it('gives one message per item, null for the valid ones', () => {
    expect(validateCidrList(['10.0.0.0/8', 'nope', '::/0', '1.2.3.4/40'])).toEqual([
      null,
      '"nope": "nope" is not an IPv4 or IPv6 address',
      null,
      '"1.2.3.4/40": prefix length 40 out of range 0-32',
    ]);
  });
});

describe('cidrContainsV4 and cidrContainsV6', () => {
  it.each([
    // Boundaries: one below the first address, first, last, one above the last.
    ['10.0.0.0/8', '9.255.255.255', false],
    ['10.0.0.0/8', '10.0.0.0', true],
    ['10.0.0.0/8', '10.255.255.255', true],
    ['10.0.0.0/8', '11.0.0.0', false],
    ['192.168.1.0/24', '192.168.0.255', false],
    ['192.168.1.0/24', '192.168.1.0', true],
    ['192.168.1.0/24', '192.168.1.255', true],
    ['192.168.1.0/24', '192.168.2.0', false],
    ['10.1.2.3/8', '10.200.0.1', true],
    ['192.0.2.7/32', '192.0.2.7', true],
    ['192.0.2.7/32', '192.0.2.6', false],
    ['192.0.2.7/32', '192.0.2.8', false],
    ['192.0.2.7', '192.0.2.7', true],
    ['0.0.0.0/0', '0.0.0.0', true],
    ['0.0.0.0/0', '255.255.255.255', true],
    ['0.0.0.0/0', '::', false],
    ['0.0.0.0/0', '::ffff:1.2.3.4', false],
    ['128.0.0.0/1', '127.255.255.255', false],
    ['128.0.0.0/1', '128.0.0.0', true],
    ['128.0.0.0/1', '255.255.255.255', true],
    ['0.0.0.0/1', '127.255.255.255', true],
    ['0.0.0.0/1', '128.0.0.0', false],
    ['::/0', '::', true],
    ['::/0', 'ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff', true],
    ['::/0', '0.0.0.0', false],
    ['::/0', '10.0.0.1', false],
    ['2001:db8::/32', '2001:db7:ffff:ffff:ffff:ffff:ffff:ffff', false],
    ['2001:db8::/32', '2001:db8::', true],
    ['2001:db8::/32', '2001:db8:ffff:ffff:ffff:ffff:ffff:ffff', true],
    ['2001:db8::/32', '2001:db9::', false],
    ['2001:db8:0:1::/64', '2001:db8:0:0:ffff:ffff:ffff:ffff', false],
    ['2001:db8:0:1::/64', '2001:db8:0:1::', true],
    ['2001:db8:0:1::/64', '2001:db8:0:1:ffff:ffff:ffff:ffff', true],
    ['2001:db8:0:1::/64', '2001:db8:0:2::', false],
    ['2001:db8::2/127', '2001:db8::1', false],
    ['2001:db8::2/127', '2001:db8::2', true],
    ['2001:db8::2/127', '2001:db8::3', true],
    ['2001:db8::2/127', '2001:db8::4', false],
    ['2001:db8::1/128', '2001:db8::1', true],
    ['2001:db8::1/128', '2001:db8::', false],
    ['2001:db8::1/128', '2001:db8::2', false],
    ['8000::/1', '7fff:ffff:ffff:ffff:ffff:ffff:ffff:ffff', false],
    ['8000::/1', '8000::', true],
    // An IPv4-mapped block matches IPv4-mapped IPv6 addresses only, never plain IPv4 ones.
    ['::ffff:10.0.0.0/104', '::ffff:10.255.255.255', true],
    ['::ffff:10.0.0.0/104', '::ffff:11.0.0.0', false],
    ['::ffff:10.0.0.0/104', '10.0.0.1', false],
    ['::ffff:0:0/96', '::ffff:192.0.2.1', true],
    ['::ffff:0:0/96', '::fffe:192.0.2.1', false],
    ['10.0.0.0/8', '::ffff:10.0.0.1', false],
  ])('%s contains %s: %s', (cidr, addr, want) => {
    expect(contains(parseCidr(cidr), addr)).toBe(want);
  });

  it('matches an IPv4 address given in signed 32-bit form', () => {
    expect([cidrContainsV4(parseCidr('255.0.0.0/8'), 0xff000001 | 0), cidrContainsV4(parseCidr('255.0.0.0/8'), 0xfe000001 | 0)]).toEqual([true, false]);
  });
});

describe('cidrListMatchesV4 and cidrListMatchesV6', () => {
  const list = ['10.0.0.0/8', '192.168.0.0/16', '2001:db8::/32'].map((s) => parseCidr(s));

  it.each([
    ['10.9.8.7', true],
    ['192.168.255.1', true],
    ['172.16.0.1', false],
    ['2001:db8::42', true],
    ['2001:db9::42', false],
  ])('a list of both families matches %s: %s', (addr, want) => {
    const got = addr.includes(':') ? cidrListMatchesV6(list, ...v6(addr)) : cidrListMatchesV4(list, v4(addr));
    expect(got).toBe(want);
  });

  it('an empty list matches nothing', () => {
    expect([cidrListMatchesV4([], v4('10.0.0.1')), cidrListMatchesV6([], ...v6('::1'))]).toEqual([false, false]);
  });
});

describe('cidrRangeV4', () => {
  it.each([
    ['10.0.0.0/8', ['10.0.0.0', '10.255.255.255']],
    ['0.0.0.0/0', ['0.0.0.0', '255.255.255.255']],
    ['128.0.0.0/1', ['128.0.0.0', '255.255.255.255']],
    ['192.168.1.77/30', ['192.168.1.76', '192.168.1.79']],
    ['255.255.255.255/32', ['255.255.255.255', '255.255.255.255']],
  ])('%s spans %j', (cidr, [lo, hi]) => {
    expect(cidrRangeV4(parseCidr(cidr))).toEqual([v4(lo), v4(hi)]);
  });

  it('refuses an IPv6 block', () => {
    expect(() => cidrRangeV4(parseCidr('::/0'))).toThrow(TypeError);
  });
});
