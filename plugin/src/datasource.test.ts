/** @jest-environment jsdom */
import { FieldType, createDataFrame, dateTime, type DataFrame, type DataQueryRequest } from '@grafana/data';
import { setBackendSrv } from '@grafana/runtime';
import { normalizeQuery } from '@netwatch/ingest/protocol';
import { firstValueFrom, lastValueFrom } from 'rxjs';
import pluginJson from './plugin.json';
import { DataSource, NetwatchVariableSupport, framesToAnnotations, netwatchAnnotations, toVariableQuery } from './datasource';
import { httpBackendSrv, instanceSettings, startFakeGrafana, type FakeGrafana } from './testing/grafana-api';
import { TestTemplateSrv } from './testing/template-srv';
import { VALUE_LISTS, type NetwatchQuery, type NetwatchVariableQuery } from './types';

const UID = 'netwatch';

const settings = () => instanceSettings(UID);

const variables = new TestTemplateSrv([
  { name: 'subnet', value: '10.0.0.0/8' },
  { name: 'subnets', value: ['192.168.0.0/16', '2001:db8::/32'] },
  { name: 'port', value: ['22', '8000-8100'] },
  { name: 'proto', value: ['tcp', 'udp'] },
  { name: 'target', value: '$__all', includeAll: true, options: ['1.1.1.1', '::1'] },
  { name: 'group', value: 'dst_port' },
  { name: 'none', value: [] },
]);

describe('applyTemplateVariables', () => {
  const ds = new DataSource(settings(), variables);
  const interpolate = (q: Partial<NetwatchQuery>, scoped = {}) => ds.applyTemplateVariables({ refId: 'A', kind: 'flows', ...q } as NetwatchQuery, scoped);

  it.each<[string, Partial<NetwatchQuery>, Partial<NetwatchQuery>]>([
    ['a single-value variable becomes one item', { cidr: ['$subnet'] }, { cidr: ['10.0.0.0/8'] }],
    ['a multi-value variable becomes one item per value', { cidr: ['172.16.0.0/12', '$subnets'] }, { cidr: ['172.16.0.0/12', '192.168.0.0/16', '2001:db8::/32'] }],
    ['${var:csv} expands to its values', { port: ['${port:csv}', '443'] }, { port: ['22', '8000-8100', '443'] }],
    ['${var:glob} braces are unwrapped', { srcPort: ['${port:glob}'] }, { srcPort: ['22', '8000-8100'] }],
    ['[[var]] is interpolated', { dstCidr: ['[[subnet]]'] }, { dstCidr: ['10.0.0.0/8'] }],
    ['the All option gives every option', { target: ['$target'] }, { target: ['1.1.1.1', '::1'] }],
    ['a multi-value variable with nothing selected removes the item', { protocol: ['$none'] }, { protocol: [] }],
    ['a comma-separated string stays a string', { cidr: '10.1.0.0/16,$subnets' }, { cidr: '10.1.0.0/16,192.168.0.0/16,2001:db8::/32' }],
    ['protocols expand too', { protocol: ['$proto', 'icmp'] }, { protocol: ['tcp', 'udp', 'icmp'] }],
    ['text fields are interpolated as text', { groupBy: '$group', text: 'from ${subnet}' }, { groupBy: 'dst_port', text: 'from 10.0.0.0/8' }],
    ['numbers and plain items are left alone', { port: [443, '80'], limit: 5, minScore: 50 }, { port: [443, '80'], limit: 5, minScore: 50 }],
    ['an unknown variable is left as written', { cidr: ['$nosuch'] }, { cidr: ['$nosuch'] }],
  ])('%s', (_name, fields, want) => {
    expect(interpolate(fields)).toEqual({ refId: 'A', kind: 'flows', ...want });
  });

  it('prefers scoped variables (repeated panels) to dashboard ones', () => {
    expect(interpolate({ cidr: ['$subnet'] }, { subnet: { text: '203.0.113.0/24', value: '203.0.113.0/24' } })).toEqual({ refId: 'A', kind: 'flows', cidr: ['203.0.113.0/24'] });
  });

  it('gives a query the ingest service accepts, with every expanded block parsed', () => {
    const q = interpolate({ kind: 'flow_series', cidr: ['$subnets'], port: ['${port:csv}'], protocol: ['$proto'], groupBy: '$group', metric: ['bytes'] });
    expect(normalizeQuery(q, 0)).toMatchObject({
      cidr: [{ text: '192.168.0.0/16' }, { text: '2001:db8::/32' }],
      port: [[22, 22], [8000, 8100]],
      protocol: [6, 17],
      groupBy: 'dst_port',
    });
  });
});

describe('filterQuery', () => {
  const ds = new DataSource(settings(), variables);
  it.each<[string, NetwatchQuery, boolean]>([
    ['a valid query runs', { refId: 'A', kind: 'flows', cidr: ['10.0.0.0/8'] }, true],
    ['a templated CIDR runs (checked once interpolated)', { refId: 'A', kind: 'flows', cidr: ['$subnet'] }, true],
    ['a hidden query does not', { refId: 'A', kind: 'flows', hide: true }, false],
    ['an invalid CIDR does not', { refId: 'A', kind: 'flows', cidr: ['10.0.0.0/33'] }, false],
    ['an invalid port does not', { refId: 'A', kind: 'top_talkers', dstPort: ['99999'] }, false],
    ['an unknown kind does not', { refId: 'A', kind: 'nope' as NetwatchQuery['kind'] }, false],
  ])('%s', (_name, q, want) => {
    expect(ds.filterQuery(q)).toBe(want);
  });
});

describe('through Grafana HTTP API', () => {
  let grafana: FakeGrafana;
  beforeAll(async () => {
    grafana = await startFakeGrafana();
    setBackendSrv(httpBackendSrv(grafana.url));
  });
  afterAll(() => grafana.close());

  it('sends queries to the backend with variables interpolated', async () => {
    const ds = new DataSource(settings(), variables);
    const request = {
      requestId: 'r1',
      interval: '1m',
      intervalMs: 60000,
      maxDataPoints: 500,
      range: { from: dateTime(1795341600000), to: dateTime(1795345200000), raw: { from: 'now-1h', to: 'now' } },
      scopedVars: {},
      targets: [{ refId: 'A', kind: 'flows', cidr: ['$subnets'], dstPort: ['${port:csv}'], limit: 10 }],
      timezone: 'utc',
      app: 'dashboard',
      startTime: 0,
    } as unknown as DataQueryRequest<NetwatchQuery>;
    await lastValueFrom(ds.query(request));
    expect(grafana.queries.at(-1)).toEqual({
      from: '1795341600000',
      to: '1795345200000',
      queries: [
        {
          refId: 'A',
          kind: 'flows',
          cidr: ['192.168.0.0/16', '2001:db8::/32'],
          dstPort: ['22', '8000-8100'],
          limit: 10,
          datasource: { type: pluginJson.id, uid: UID },
          datasourceId: 1,
          intervalMs: 60000,
          maxDataPoints: 500,
        },
      ],
    });
  });

  it('fills a template variable from the backend values resource', async () => {
    grafana.setResource(UID, 'values/top_ports', { status: 200, body: { name: 'top_ports', values: ['443', '22', '53'] } });
    const ds = new DataSource(settings(), variables);
    const request = { targets: [{ refId: 'V', list: 'top_ports' }] } as unknown as DataQueryRequest<NetwatchVariableQuery>;
    expect(ds.variables).toBeInstanceOf(NetwatchVariableSupport);
    const rsp = await firstValueFrom((ds.variables as NetwatchVariableSupport).query(request));
    const frame = rsp.data[0] as DataFrame;
    expect(frame.fields.map((f) => [f.name, f.type, Array.from(f.values)])).toEqual([['text', 'string', ['443', '22', '53']]]);
    const sent = grafana.requests.at(-1)!;
    expect([sent.method, sent.url, sent.headers['x-plugin-id'], sent.headers['x-datasource-uid']]).toEqual([
      'GET',
      `/api/datasources/uid/${UID}/resources/values/top_ports`,
      pluginJson.id,
      UID,
    ]);
  });

  it.each(['targets', 'log_sources', 'interfaces', 'top_talkers', 'top_ports'] as const)('lists %s for metricFindQuery', async (list) => {
    grafana.setResource(UID, `values/${list}`, { status: 200, body: { name: list, values: [`${list}-1`, `${list}-2`] } });
    const ds = new DataSource(settings(), variables);
    expect(await ds.metricFindQuery({ refId: 'V', list })).toEqual([
      { text: `${list}-1`, value: `${list}-1` },
      { text: `${list}-2`, value: `${list}-2` },
    ]);
  });

  it('fails a variable whose list the ingest service does not provide', async () => {
    grafana.setResource(UID, 'values/mounts', { status: 501, body: { error: { code: 'NETWATCH_ERR_NOT_IMPLEMENTED', message: 'no component provides mounts' }, status: 501 } });
    const ds = new DataSource(settings(), variables);
    await expect(ds.listValues('mounts')).rejects.toMatchObject({ status: 501, data: { error: { code: 'NETWATCH_ERR_NOT_IMPLEMENTED' } } });
  });

  it('passes the backend health message to Save & test', async () => {
    const ds = new DataSource(settings(), variables);
    grafana.setHealth(UID, { status: 'OK', message: 'Netwatch ingest 0.1.0: 1234 flows, 2 targets, 3 log sources' });
    await expect(ds.testDatasource()).resolves.toEqual({ status: 'success', message: 'Netwatch ingest 0.1.0: 1234 flows, 2 targets, 3 log sources' });
    grafana.setHealth(UID, { status: 'ERROR', message: 'unauthorized: the ingest service refused the API token' });
    await expect(ds.testDatasource()).rejects.toMatchObject({ status: 'error', message: 'unauthorized: the ingest service refused the API token' });
  });
});

describe('variable queries', () => {
  it.each<[unknown, NetwatchVariableQuery]>([
    [{ refId: 'V', list: 'interfaces' }, { refId: 'V', list: 'interfaces' }],
    ['log_sources', { refId: 'NetwatchVariable', list: 'log_sources' }],
    [undefined, { refId: 'NetwatchVariable', list: 'targets' }],
  ])('reads %j', (raw, want) => {
    expect(toVariableQuery(raw)).toEqual(want);
  });

  it('refuses an unknown list by name', () => {
    expect(() => toVariableQuery('hosts')).toThrow(`unknown value list "hosts"; expected one of ${VALUE_LISTS.join(', ')}`);
  });
});

describe('annotations', () => {
  it('always queries the annotations kind', () => {
    const stored = { name: 'Bans', enable: true, iconColor: 'red', target: { refId: 'X', kind: 'flows', source: ['fail2ban'] } } as never;
    const prepared = netwatchAnnotations.prepareAnnotation!(stored);
    expect(netwatchAnnotations.prepareQuery!(prepared)).toEqual({ refId: 'X', kind: 'annotations', source: ['fail2ban'], limit: 1000 });
    expect(netwatchAnnotations.prepareQuery!({ name: 'New', enable: true, iconColor: 'red' } as never)).toEqual({ refId: 'Anno', kind: 'annotations', limit: 1000 });
  });

  it('turns the annotations frame into events: bans with an end become regions, tags are split', async () => {
    const frame = createDataFrame({
      refId: 'Anno',
      name: 'annotations',
      fields: [
        { name: 'time', type: FieldType.time, values: [1795341600000, 1795341700000, 1795341800000] },
        { name: 'timeEnd', type: FieldType.time, values: [1795342200000, null, null] },
        { name: 'title', type: FieldType.string, values: ['Ban 203.0.113.9', 'Unban 203.0.113.9', 'Pattern: ssh brute force'] },
        { name: 'text', type: FieldType.string, values: ['fail2ban jail sshd banned 203.0.113.9', 'fail2ban jail sshd unbanned 203.0.113.9', '6 failed passwords in 60 s'] },
        { name: 'tags', type: FieldType.string, values: ['ban,sshd', 'unban, sshd', ''] },
      ],
    });
    const want = [
      { time: 1795341600000, timeEnd: 1795342200000, isRegion: true, title: 'Ban 203.0.113.9', text: 'fail2ban jail sshd banned 203.0.113.9', tags: ['ban', 'sshd'] },
      { time: 1795341700000, title: 'Unban 203.0.113.9', text: 'fail2ban jail sshd unbanned 203.0.113.9', tags: ['unban', 'sshd'] },
      { time: 1795341800000, title: 'Pattern: ssh brute force', text: '6 failed passwords in 60 s', tags: [] },
    ];
    expect(framesToAnnotations([frame])).toEqual(want);
    await expect(firstValueFrom(netwatchAnnotations.processEvents!({} as never, [frame]))).resolves.toEqual(want);
  });
});
