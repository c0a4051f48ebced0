import { KINDS, KIND_INFO, normalizeQuery } from '@netwatch/ingest/protocol';
import { hasTemplateVariable, isValidQuery, parseListText, switchKind, validateQuery } from './query-model';
import { DEFAULT_QUERIES, type NetwatchQuery, type QueryKind } from './types';

describe('template variable detection', () => {
  it.each([
    ['$subnet', true],
    ['${subnet}', true],
    ['${port:csv}', true],
    ['${host.name}', true],
    ['[[subnet]]', true],
    ['[[port:pipe]]', true],
    ['10.0.0.0/8', false],
    ['8000-8100', false],
    ['$', false],
    ['${}', false],
  ])('%s refers to a variable: %s', (text, want) => {
    expect(hasTemplateVariable(text)).toBe(want);
  });
});

describe('list text', () => {
  it('splits on commas, trims and drops empty items, keeping ${var:format} whole', () => {
    expect(parseListText(' 10.0.0.0/8, ,2001:db8::/32 ,${subnet:csv},')).toEqual(['10.0.0.0/8', '2001:db8::/32', '${subnet:csv}']);
  });
});

describe('validateQuery', () => {
  const q = (fields: Partial<NetwatchQuery>): NetwatchQuery => ({ refId: 'A', ...DEFAULT_QUERIES.flows, ...fields });

  it('names every invalid CIDR with the protocol parser message, and only those', () => {
    expect(validateQuery(q({ cidr: ['10.0.0.0/8', '10.0.0.0/33', 'nope', '$subnet'] }))).toEqual({
      cidr: '"10.0.0.0/33": prefix length 33 out of range 0-32; "nope": "nope" is not an IPv4 or IPv6 address',
    });
  });

  it('accepts valid IPv4 and IPv6 blocks, bare addresses and template variables in every CIDR field', () => {
    const query = q({ cidr: ['192.0.2.1', '2001:db8::/32'], srcCidr: ['${subnet}', '[[net]]'], dstCidr: '10.0.0.0/8,${dst:csv}' });
    expect(validateQuery(query)).toEqual({});
    expect(isValidQuery(query)).toBe(true);
  });

  it('reports ports, protocols and numbers with the normalizer messages', () => {
    expect(
      validateQuery({ refId: 'A', kind: 'flows', port: ['22', '70000'], dstPort: ['90-80'], srcPort: ['${port:csv}'], protocol: ['tcp', 'bogus'], limit: 0 }),
    ).toEqual({
      port: '"70000": port 70000 out of range 0-65535',
      dstPort: '"90-80": range start 90 is greater than end 80',
      protocol: expect.stringMatching(/^"bogus": unknown protocol name/),
      limit: 'Expected integer to be greater or equal to 1',
    });
  });

  it('reports a metric of another kind, a score out of range and an unknown group', () => {
    expect(validateQuery({ refId: 'A', kind: 'pings', metric: ['latency_ms', 'bytes'] })).toEqual({
      metric: 'unknown metric "bytes" for pings; expected one of latency_ms, packet_loss, jitter_ms, ttl',
    });
    expect(validateQuery({ refId: 'A', kind: 'threats', minScore: 101 })).toEqual({ minScore: 'Expected number to be less or equal to 100' });
    expect(validateQuery({ refId: 'A', kind: 'top_talkers', groupBy: 'subnet' })).toEqual({
      groupBy: 'groupBy "subnet" is not one of ip, src_ip, dst_ip, pair, dst_port',
    });
  });

  it('ignores fields the kind does not read, as the service does', () => {
    expect(validateQuery({ refId: 'A', kind: 'stats', cidr: ['not a cidr'], metric: ['bytes'] })).toEqual({});
  });

  it('agrees with the service: a query it calls valid normalizes without error', () => {
    const query: NetwatchQuery = { refId: 'A', kind: 'flow_series', cidr: ['10.1.2.3/8'], port: ['443', '8000-8100'], protocol: ['tcp', '17'], metric: ['bytes'], groupBy: 'subnet', subnetPrefix: 24, intervalMs: 60000, limit: 5 };
    expect(validateQuery(query)).toEqual({});
    expect(normalizeQuery(query, 0).cidr.map((c) => c.text)).toEqual(['10.0.0.0/8']);
  });
});

describe('switchKind', () => {
  it.each(KINDS.flatMap((from) => KINDS.map((to) => [from, to] as [QueryKind, QueryKind])))('from %s to %s gives a query the service accepts', (from, to) => {
    const next = switchKind({ refId: 'A', ...DEFAULT_QUERIES[from] }, to);
    expect(next.kind).toBe(to);
    expect(validateQuery(next)).toEqual({});
    expect(() => normalizeQuery(next, 0)).not.toThrow();
  });

  it('keeps filters both kinds read, replaces a metric the new kind lacks, fills the new defaults', () => {
    const flows: NetwatchQuery = { refId: 'A', kind: 'flow_series', cidr: ['10.0.0.0/8'], port: ['443'], metric: ['bytes'], groupBy: 'dst_port', limit: 10 };
    expect(switchKind(flows, 'top_talkers')).toEqual({ refId: 'A', kind: 'top_talkers', cidr: ['10.0.0.0/8'], port: ['443'], metric: ['bytes'], groupBy: 'dst_port', orderBy: 'bytes', limit: 10 });
    expect(switchKind(flows, 'pings')).toEqual({ refId: 'A', kind: 'pings', cidr: ['10.0.0.0/8'], port: ['443'], metric: ['latency_ms'], groupBy: 'dst_port', limit: 10 });
    expect(switchKind({ refId: 'A', kind: 'flows', orderBy: 'packets' }, 'threats')).toEqual({ refId: 'A', kind: 'threats', orderBy: 'threat_score', limit: 100 });
    expect(switchKind({ refId: 'A', kind: 'flows', orderBy: 'last_seen' }, 'threats').orderBy).toBe('last_seen');
  });

  it('keeps a templated metric or group', () => {
    expect(switchKind({ refId: 'A', kind: 'flow_series', metric: ['$metric', 'bytes'], groupBy: '$group' }, 'pings').metric).toEqual(['$metric']);
    expect(switchKind({ refId: 'A', kind: 'flow_series', groupBy: '$group' }, 'top_talkers').groupBy).toBe('$group');
  });

  it('offers every kind a one-line description', () => {
    for (const k of KINDS) expect(KIND_INFO[k].description).toMatch(/^[^\n]{10,140}$/);
  });
});
