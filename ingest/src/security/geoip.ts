/**
 * Optional GeoIP and ASN of addresses, from MaxMind databases the user supplies (GeoLite2-Country or -City for the
 * country, GeoLite2-ASN for the autonomous system; any number of .mmdb files, their answers merged). Nothing
 * configured: no lookups. A configured file that cannot be opened is reported (the component's health says
 * which) and the others still serve.
 */
import maxmind, { type Reader, type Response } from 'maxmind';
import type { GeoInfo, GeoLookup } from './reputation';

interface MaxMindRecord {
  country?: { iso_code?: string };
  registered_country?: { iso_code?: string };
  city?: { names?: Record<string, string> };
  autonomous_system_number?: number;
  autonomous_system_organization?: string;
}

export interface GeoDatabases {
  lookup: GeoLookup | undefined;
  /** Files opened, with their database type. */
  opened: Array<{ path: string; type: string }>;
  /** Files that could not be opened, with the reason. */
  failed: Array<{ path: string; error: string }>;
}

export async function openGeoDatabases(paths: readonly string[]): Promise<GeoDatabases> {
  const readers: Array<Reader<Response>> = [];
  const opened: GeoDatabases['opened'] = [];
  const failed: GeoDatabases['failed'] = [];
  for (const path of paths) {
    try {
      const r = await maxmind.open<Response>(path, { cache: { max: 10_000 } });
      readers.push(r);
      opened.push({ path, type: r.metadata.databaseType });
    } catch (e) {
      failed.push({ path, error: (e as Error).message });
    }
  }
  if (readers.length === 0) return { lookup: undefined, opened, failed };
  const lookup: GeoLookup = (ip) => {
    if (!maxmind.validate(ip)) return null;
    const out: GeoInfo = { country: null, asn: null, asOrg: null, city: null };
    for (const r of readers) {
      let rec: MaxMindRecord | null;
      try {
        rec = r.get(ip) as MaxMindRecord | null;
      } catch {
        // An IPv6 address in an IPv4-only database.
        continue;
      }
      if (!rec) continue;
      out.country ??= rec.country?.iso_code ?? rec.registered_country?.iso_code ?? null;
      out.city ??= rec.city?.names?.en ?? null;
      out.asn ??= typeof rec.autonomous_system_number === 'number' ? rec.autonomous_system_number : null;
      out.asOrg ??= rec.autonomous_system_organization ?? null;
    }
    return out.country === null && out.asn === null && out.city === null ? null : out;
  };
  return { lookup, opened, failed };
}
