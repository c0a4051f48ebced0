import { normalizeQuery } from '@netwatch/ingest/protocol';
import { DEFAULT_QUERIES, KINDS } from './types';

describe('the plugin query model', () => {
  it('has a default for every kind of the protocol', () => {
    expect(Object.keys(DEFAULT_QUERIES).sort()).toEqual([...KINDS].sort());
  });

  it.each(KINDS.map((k) => [k]))('starts %s with a query the ingest service accepts', (kind) => {
    const q = normalizeQuery({ refId: 'A', ...DEFAULT_QUERIES[kind] }, 0);
    expect(q.kind).toBe(kind);
    expect(q.refId).toBe('A');
  });
});
