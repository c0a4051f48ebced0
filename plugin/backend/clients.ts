/**
 * One ingest client per data source, as the Go SDK's instance manager keeps one instance per data source:
 * built on first use, rebuilt when Grafana reports newer settings (lastUpdatedMS changed), bounded with
 * least-recently-used eviction so a Grafana with many data sources cannot grow it without limit.
 */
import { IngestClient } from './ingest-client';
import type { PluginMetrics } from './metrics';
import { parseSettings, type DataSourceInstanceSettings } from './settings';

export const DEFAULT_MAX_CLIENTS = 256;

export class IngestClients {
  private readonly clients = new Map<string, IngestClient>();

  constructor(
    private readonly metrics?: PluginMetrics,
    readonly maxClients = DEFAULT_MAX_CLIENTS,
  ) {
    metrics?.clientsCached(() => this.clients.size);
  }

  get size(): number {
    return this.clients.size;
  }

  /** The client for these settings; throws SettingsError when they are unusable. */
  get(ds: DataSourceInstanceSettings | undefined | null): IngestClient {
    const settings = parseSettings(ds);
    const cached = this.clients.get(settings.key);
    if (cached && cached.settings.lastUpdatedMS === settings.lastUpdatedMS) {
      // Map order is insertion order: re-inserting marks it most recently used.
      this.clients.delete(settings.key);
      this.clients.set(settings.key, cached);
      return cached;
    }
    if (cached) {
      cached.close();
      this.clients.delete(settings.key);
    }
    const client = new IngestClient(settings, this.metrics);
    this.metrics?.clientsBuilt.inc();
    this.clients.set(settings.key, client);
    while (this.clients.size > this.maxClients) {
      const [oldestKey, oldest] = this.clients.entries().next().value as [string, IngestClient];
      oldest.close();
      this.clients.delete(oldestKey);
      this.metrics?.clientsEvicted.inc();
    }
    return client;
  }

  close(): void {
    for (const c of this.clients.values()) c.close();
    this.clients.clear();
  }
}
