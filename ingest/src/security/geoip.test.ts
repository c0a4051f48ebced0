import { openGeoDatabases } from './geoip';
import { tempDir } from './test-harness';
import { writeMmdb } from './test-mmdb';

const tmp = tempDir('netwatch-geoip-');

describe('openGeoDatabases', () => {
  it('merges the country of a Country database and the AS of an ASN database for one address', async () => {
    const country = tmp.file('country.mmdb');
    const asn = tmp.file('asn.mmdb');
    writeMmdb(country, 'GeoLite2-Country', '203.0.113.0', { country: { iso_code: 'NL' } });
    writeMmdb(asn, 'GeoLite2-ASN', '203.0.113.0', { autonomous_system_number: 64500, autonomous_system_organization: 'Example Networks' });
    const geo = await openGeoDatabases([country, asn]);
    expect(geo.opened).toEqual([
      { path: country, type: 'GeoLite2-Country' },
      { path: asn, type: 'GeoLite2-ASN' },
    ]);
    expect(geo.failed).toEqual([]);
    expect(geo.lookup!('203.0.113.77')).toEqual({ country: 'NL', asn: 64500, asOrg: 'Example Networks', city: null });
    expect([geo.lookup!('198.51.100.1'), geo.lookup!('2001:db8::1'), geo.lookup!('not an ip')]).toEqual([null, null, null]);
  });

  it('reports a file it cannot open and serves the others; nothing configured means no lookups', async () => {
    const asn = tmp.file('asn.mmdb');
    writeMmdb(asn, 'GeoLite2-ASN', '192.0.2.0', { autonomous_system_number: 64501 });
    const missing = tmp.file('missing.mmdb');
    const geo = await openGeoDatabases([missing, asn]);
    expect(geo.failed.map((f) => f.path)).toEqual([missing]);
    expect(geo.failed[0].error).toContain('ENOENT');
    expect(geo.lookup!('192.0.2.5')).toEqual({ country: null, asn: 64501, asOrg: null, city: null });
    expect(await openGeoDatabases([])).toEqual({ lookup: undefined, opened: [], failed: [] });
  });
});
