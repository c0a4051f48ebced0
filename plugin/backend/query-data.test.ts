import { NetwatchError } from '@netwatch/ingest/protocol';
import { isAlertRequest, netwatchErrorText, queryModel } from './query-data';
import type { DataQueryMsg } from './messages';

function dq(model: unknown, extra: Partial<DataQueryMsg> = {}): DataQueryMsg {
  return {
    refId: 'A',
    maxDataPoints: 0,
    intervalMS: 0,
    timeRange: { fromEpochMS: 1000, toEpochMS: 2000 },
    json: Buffer.from(typeof model === 'string' ? model : JSON.stringify(model)),
    queryType: '',
    ...extra,
  };
}

describe('queryModel', () => {
  it.each<[string, DataQueryMsg, Record<string, unknown>]>([
    ['takes the protocol parameters of the model and the refId of the DataQuery', dq({ refId: 'Z', kind: 'flows', cidr: ['10.0.0.0/8'], limit: 5 }), { refId: 'A', kind: 'flows', cidr: ['10.0.0.0/8'], limit: 5 }],
    [
      "drops Grafana's own keys (datasource, key, hide) and nulls",
      dq({ kind: 'stats', datasource: { type: 'netwatch-ingest-datasource', uid: 'x' }, key: 'Q-1', hide: false, source: null }),
      { refId: 'A', kind: 'stats' },
    ],
    ['fills the kind from queryType when the model has none', dq({ limit: 3 }, { queryType: 'flows' }), { refId: 'A', kind: 'flows', limit: 3 }],
    ['fills intervalMs from intervalMS for a kind that reads it', dq({ kind: 'flow_series' }, { intervalMS: 15000 }), { refId: 'A', kind: 'flow_series', intervalMs: 15000 }],
    ['keeps the model intervalMs over intervalMS', dq({ kind: 'pings', intervalMs: 60000 }, { intervalMS: 15000 }), { refId: 'A', kind: 'pings', intervalMs: 60000 }],
    ['does not add intervalMs to a kind that does not read it', dq({ kind: 'flows' }, { intervalMS: 15000 }), { refId: 'A', kind: 'flows' }],
    ['fills maxDataPoints', dq({ kind: 'system_metrics' }, { maxDataPoints: 1200 }), { refId: 'A', kind: 'system_metrics', maxDataPoints: 1200 }],
  ])('%s', (_name, q, want) => {
    expect(queryModel(q, 0)).toEqual(want);
  });

  it.each<[string, string, DataQueryMsg, RegExp]>([
    ['not JSON', 'NETWATCH_ERR_BAD_JSON', dq('{"kind": "flows",'), /the query model is not valid JSON/],
    ['an array', 'NETWATCH_ERR_VALIDATION', dq([1, 2]), /must be a JSON object, not an array/],
    ['no kind', 'NETWATCH_ERR_UNKNOWN_KIND', dq({ limit: 3 }), /unknown kind undefined/],
    ['an unknown kind', 'NETWATCH_ERR_UNKNOWN_KIND', dq({ kind: 'packets' }), /unknown kind "packets"/],
    ['a bad CIDR', 'NETWATCH_ERR_BAD_CIDR', dq({ kind: 'flows', cidr: ['10.0.0.0/33'] }), /10.0.0.0\/33/],
    ['a bad limit', 'NETWATCH_ERR_VALIDATION', dq({ kind: 'flows', limit: 0 }), /limit/],
  ])('refuses a model that is %s with %s', (_name, code, q, message) => {
    let err: unknown;
    try {
      queryModel(q, 0);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(NetwatchError);
    expect((err as NetwatchError).code).toBe(code);
    expect((err as NetwatchError).message).toMatch(message);
  });

  it('names the offending field without the protocol request index', () => {
    expect(netwatchErrorText('NETWATCH_ERR_BAD_CIDR', 'prefix length 33 out of range 0-32', '/queries/3/cidr/0')).toBe('NETWATCH_ERR_BAD_CIDR: prefix length 33 out of range 0-32 (field cidr/0)');
    expect(netwatchErrorText('NETWATCH_ERR_UNAVAILABLE', 'flows are not running', '')).toBe('NETWATCH_ERR_UNAVAILABLE: flows are not running');
  });

  it.each([
    [{ FromAlert: 'true' }, true],
    [{ fromalert: 'TRUE' }, true],
    [{ FromAlert: 'false' }, false],
    [{}, false],
  ])('treats headers %j as from alerting: %s', (headers, want) => {
    expect(isAlertRequest({ headers })).toBe(want);
  });
});
