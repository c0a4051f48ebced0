/**
 * The data source's settings as Grafana sends them in every request (PluginContext.dataSourceInstanceSettings):
 * the ingest service URL in jsonData (`url`, falling back to the data source's top-level URL), the bearer
 * token in decryptedSecureJsonData (`token`), and an optional request timeout (`timeoutSeconds`).
 */
export interface DataSourceInstanceSettings {
  id?: number;
  uid?: string;
  name?: string;
  url?: string;
  jsonData?: Buffer | Uint8Array;
  decryptedSecureJsonData?: Record<string, string>;
  lastUpdatedMS?: number;
}

export interface IngestSettings {
  /** Cache key of the data source: its uid, or its numeric id in older Grafana versions. */
  key: string;
  name: string;
  lastUpdatedMS: number;
  /** Base URL without a trailing slash; may carry a path prefix (a reverse proxy). */
  baseUrl: string;
  token: string;
  timeoutMs: number;
}

export const DEFAULT_TIMEOUT_SECONDS = 30;
export const MAX_TIMEOUT_SECONDS = 300;

/** A problem with the settings themselves: the user fixes it in the data source's configuration page. */
export class SettingsError extends Error {
  override readonly name = 'SettingsError';
}

function jsonObject(bytes: Buffer | Uint8Array | undefined): Record<string, unknown> {
  if (!bytes || bytes.length === 0) return {};
  let v: unknown;
  try {
    v = JSON.parse(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('utf8'));
  } catch (e) {
    throw new SettingsError(`the data source's jsonData is not valid JSON: ${(e as Error).message}`);
  }
  if (v === null) return {};
  if (typeof v !== 'object' || Array.isArray(v)) throw new SettingsError("the data source's jsonData is not a JSON object");
  return v as Record<string, unknown>;
}

/** Validates an ingest service URL: http or https, a host, no credentials, no query or fragment. */
export function parseIngestUrl(raw: string): string {
  const s = raw.trim();
  if (s === '') throw new SettingsError('no ingest service URL: set the Netwatch URL (for example http://127.0.0.1:7070) in the data source settings');
  // "host:port" parses as a URL with the scheme "host": catch the missing scheme first, a common slip.
  if (!/^[a-z][a-z0-9+.-]*:\/\//i.test(s)) throw new SettingsError(`bad URL ${JSON.stringify(s)}: missing http:// or https:// (for example http://${s.replace(/^\/+/, '')})`);
  let u: URL;
  try {
    u = new URL(s);
  } catch {
    throw new SettingsError(`bad URL ${JSON.stringify(s)}: expected http://HOST:PORT or https://HOST:PORT (for example http://127.0.0.1:7070)`);
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new SettingsError(`bad URL ${JSON.stringify(s)}: the scheme must be http or https, not ${u.protocol.replace(/:$/, '')}`);
  if (u.hostname === '') throw new SettingsError(`bad URL ${JSON.stringify(s)}: no host`);
  if (u.username || u.password) throw new SettingsError(`bad URL ${JSON.stringify(s)}: put the token in the token field, not in the URL`);
  if (u.search || u.hash) throw new SettingsError(`bad URL ${JSON.stringify(s)}: a query string or fragment is not allowed`);
  return `${u.origin}${u.pathname.replace(/\/+$/, '')}`;
}

export function parseSettings(ds: DataSourceInstanceSettings | undefined | null): IngestSettings {
  if (!ds) throw new SettingsError('the request carries no data source settings');
  const json = jsonObject(ds.jsonData);
  const url = typeof json.url === 'string' && json.url.trim() !== '' ? json.url : (ds.url ?? '');
  let timeoutSeconds = DEFAULT_TIMEOUT_SECONDS;
  if (json.timeoutSeconds !== undefined && json.timeoutSeconds !== null && json.timeoutSeconds !== '') {
    const t = Number(json.timeoutSeconds);
    if (!Number.isFinite(t) || t <= 0 || t > MAX_TIMEOUT_SECONDS) {
      throw new SettingsError(`timeoutSeconds ${JSON.stringify(json.timeoutSeconds)}: expected a number of seconds above 0 and at most ${MAX_TIMEOUT_SECONDS}`);
    }
    timeoutSeconds = t;
  }
  return {
    key: ds.uid || String(ds.id ?? ''),
    name: ds.name ?? '',
    lastUpdatedMS: Number(ds.lastUpdatedMS ?? 0),
    baseUrl: parseIngestUrl(url),
    token: ds.decryptedSecureJsonData?.token ?? '',
    timeoutMs: Math.round(timeoutSeconds * 1000),
  };
}
