import { caught } from '../testing/errors';
import { PROTOCOL_NAMES, parseProtocol, protocolName } from './ip-protocols';

describe('parseProtocol', () => {
  it.each([
    ['icmp', 1], ['igmp', 2], ['ipip', 4], ['ipv4', 4], ['tcp', 6], ['udp', 17], ['ipv6', 41], ['gre', 47],
    ['esp', 50], ['ah', 51], ['icmpv6', 58], ['ipv6-icmp', 58], ['ospf', 89], ['pim', 103], ['vrrp', 112],
    ['l2tp', 115], ['sctp', 132], ['TCP', 6], [' Udp ', 17], ['ICMPv6', 58],
    ['0', 0], ['6', 6], ['253', 253], ['255', 255], [0, 0], [17, 17], [255, 255],
  ] as Array<[string | number, number]>)('parses %j as %d', (v, want) => {
    expect(parseProtocol(v, '/protocol/0')).toBe(want);
  });

  it.each([
    [256, '256: protocol number out of range 0-255'],
    [-1, '-1: protocol number out of range 0-255'],
    [6.5, '6.5: protocol number out of range 0-255'],
    ['256', '"256": protocol number out of range 0-255'],
    ['1000', '"1000": protocol number out of range 0-255'],
    ['-6', `"-6": unknown protocol name; expected a number 0-255 or one of ${PROTOCOL_NAMES.join(', ')}`],
    ['tcpx', `"tcpx": unknown protocol name; expected a number 0-255 or one of ${PROTOCOL_NAMES.join(', ')}`],
    ['', `"": unknown protocol name; expected a number 0-255 or one of ${PROTOCOL_NAMES.join(', ')}`],
    ['constructor', `"constructor": unknown protocol name; expected a number 0-255 or one of ${PROTOCOL_NAMES.join(', ')}`],
  ] as Array<[string | number, string]>)('refuses %j with NETWATCH_ERR_BAD_PROTOCOL', (v, message) => {
    expect(caught(() => parseProtocol(v, '/queries/0/protocol/3'))).toEqual({ code: 'NETWATCH_ERR_BAD_PROTOCOL', message, path: '/queries/0/protocol/3' });
  });

  it('refuses a value that is neither string nor number', () => {
    expect(caught(() => parseProtocol(true as unknown as string))).toEqual({
      code: 'NETWATCH_ERR_BAD_PROTOCOL',
      message: 'expected a protocol name or number, got boolean',
      path: '',
    });
  });
});

describe('protocolName', () => {
  it.each([
    [1, 'icmp'], [4, 'ipip'], [6, 'tcp'], [17, 'udp'], [41, 'ipv6'], [47, 'gre'], [58, 'icmpv6'], [89, 'ospf'],
    [132, 'sctp'], [253, '253'], [255, '255'],
  ])('names %d %s', (n, want) => {
    expect(protocolName(n)).toBe(want);
  });

  it('round-trips every listed name through its number', () => {
    expect(PROTOCOL_NAMES.map((name) => protocolName(parseProtocol(name)))).toEqual(PROTOCOL_NAMES);
  });

  it('lists the names in protocol-number order', () => {
    expect(PROTOCOL_NAMES).toEqual([
      'hopopt', 'icmp', 'igmp', 'ipip', 'tcp', 'udp', 'ipv6', 'ipv6-route', 'ipv6-frag', 'rsvp', 'gre', 'esp', 'ah',
      'icmpv6', 'ipv6-nonxt', 'ipv6-opts', 'ospf', 'pim', 'vrrp', 'l2tp', 'sctp', 'udplite',
    ]);
  });
});
