/**
 * Diagnostics.CheckHealth, behind the data source page's "Save & test": reachability through the public
 * `/api/v1/health`, the token through `/api/v1/stats` (which requires it), then a one-line summary of what the
 * service holds. Every failure says what to fix: the URL, the service not running, the token, the timeout.
 */
import type { HealthResponse, StatsResponse } from '@netwatch/ingest/protocol';
import type { IngestClients } from './clients';
import type { Logger } from './hclog';
import { IngestError, type IngestClient } from './ingest-client';
import type { CheckHealthRequestMsg, CheckHealthResponseMsg } from './messages';
import { SettingsError } from './settings';

/** Health checks answer within this even when the data source's query timeout is longer. */
export const HEALTH_TIMEOUT_MS = 10_000;

function reply(status: 'OK' | 'ERROR', message: string, details?: unknown): CheckHealthResponseMsg {
  return { status, message, jsonDetails: details === undefined ? Buffer.alloc(0) : Buffer.from(JSON.stringify(details), 'utf8') };
}

function firstNumber(counters: Record<string, unknown> | undefined, keys: readonly string[]): number | undefined {
  if (!counters) return undefined;
  for (const k of keys) if (typeof counters[k] === 'number') return counters[k] as number;
  return undefined;
}

const FLOW_COUNTERS = ['flowsActive', 'flows_active', 'active_flows', 'active'] as const;

export interface HealthSummary {
  flows?: number;
  targets?: number;
  logSources?: number;
}

/** `flows 1,234 active · targets 3 · log sources 2`; a capability the service does not run says so. */
export function summaryLine(s: HealthSummary): string {
  const n = (v: number) => v.toLocaleString('en-US');
  return [
    s.flows === undefined ? 'flows: not enabled' : `flows: ${n(s.flows)} active`,
    s.targets === undefined ? 'targets: not enabled' : `targets: ${n(s.targets)}`,
    s.logSources === undefined ? 'log sources: not enabled' : `log sources: ${n(s.logSources)}`,
  ].join(' · ');
}

async function summarize(client: IngestClient, stats: StatsResponse, timeoutMs: number): Promise<HealthSummary> {
  const [targets, logSources] = await Promise.all([client.valueList('targets', timeoutMs), client.valueList('log_sources', timeoutMs)]);
  return { flows: firstNumber(stats.components?.flows as Record<string, unknown> | undefined, FLOW_COUNTERS), targets: targets?.length, logSources: logSources?.length };
}

export async function checkHealth(req: CheckHealthRequestMsg, deps: { clients: IngestClients; logger: Logger }): Promise<CheckHealthResponseMsg> {
  let client: IngestClient;
  try {
    client = deps.clients.get(req.pluginContext?.dataSourceInstanceSettings);
  } catch (e) {
    return reply('ERROR', e instanceof SettingsError ? e.message : `bad data source settings: ${(e as Error).message}`);
  }
  const timeoutMs = Math.min(client.settings.timeoutMs, HEALTH_TIMEOUT_MS);
  const url = client.settings.baseUrl;
  let health: HealthResponse;
  let stats: StatsResponse;
  try {
    health = await client.health(timeoutMs);
    if (typeof health?.version !== 'string' || typeof health.components !== 'object') {
      return reply('ERROR', `${url}/api/v1/health did not answer like a Netwatch ingest service: is the URL right?`);
    }
    stats = await client.stats(timeoutMs);
    const summary = await summarize(client, stats, timeoutMs);
    const down = Object.entries(health.components ?? {}).filter(([, c]) => c.state === 'down' || c.state === 'degraded');
    const state = down.length === 0 ? '' : ` (${health.status}: ${down.map(([n, c]) => `${n} ${c.state}${c.detail ? `: ${c.detail}` : ''}`).join(', ')})`;
    return reply('OK', `Netwatch ingest ${health.version}${state} at ${url}: ${summaryLine(summary)}`, { version: health.version, status: health.status, uptimeSeconds: health.uptimeSeconds, components: health.components, summary });
  } catch (e) {
    if (e instanceof IngestError) {
      deps.logger.info('health check failed', { failure: e.failure, status: e.status });
      if (e.failure === 'http' && e.status === 404) return reply('ERROR', `${url} answered HTTP 404 for a Netwatch route: is this the URL of a Netwatch ingest service (not of something else on that port)?`);
      return reply('ERROR', e.message);
    }
    deps.logger.error('health check crashed', { error: (e as Error).message });
    return reply('ERROR', `health check failed: ${(e as Error).message}`);
  }
}
