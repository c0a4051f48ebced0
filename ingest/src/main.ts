/**
 * Wiring only: configuration -> components -> start, and the orderly stop on SIGTERM/SIGINT
 * (stop accepting requests, flush every writer, close the database).
 */
import { mkdirSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Gauge, Registry } from 'prom-client';
import { ApiRegistry } from './api/registry';
import { buildApi } from './api/server';
import type { ServeConfig } from './config/options';
import { redactedConfig } from './config/load';
import type { Component, ComponentDeps } from './component';
import { createDemoComponent, demoConfig } from './demo/component';
import { createFlowComponent } from './flows/component';
import type { Logger } from './log';
import { createLogEventWriter } from './logs/events';
import { createLogComponent } from './logs';
import { createMetricsComponent, metricsRetention } from './metrics/component';
import { createPingComponent } from './pings/component';
import { createSecurityComponent } from './security';
import { Store } from './store';
import { VERSION } from './version';

export interface Service {
  url: string;
  registry: ApiRegistry;
  store: Store;
  stop(): Promise<void>;
}

/** Options of capabilities that are reserved in the configuration but not built into this version yet. */
const NOT_YET: ReadonlyArray<[keyof ServeConfig, string]> = [];

export class NotAvailableError extends Error {}

export function checkAvailable(config: ServeConfig): void {
  for (const [key, what] of NOT_YET) {
    const v = config[key];
    if ((Array.isArray(v) && v.length > 0) || v === true) throw new NotAvailableError(`${what} is not available in this version of netwatch-ingest`);
  }
}

export async function startService(config: ServeConfig, logger: Logger): Promise<Service> {
  checkAvailable(config);
  const startedAtMs = Date.now();
  mkdirSync(config.dataDir, { recursive: true });
  const store = Store.open({
    path: path.join(config.dataDir, 'netwatch.db'),
    hostname: os.hostname(),
    maxSizeBytes: config.dbMaxSize,
    retention: metricsRetention(config),
    logger,
  });
  store.startMaintenance(3600_000);
  // The service's own start and stop are events too: a gap between a stop and the next start is a gap in the data.
  const events = createLogEventWriter(store);
  const lifecycle = (action: 'start' | 'stop', message: string) =>
    events.push({ timestamp: Date.now() / 1000, source: 'netwatch', level: 'info', message, service: 'netwatch-ingest', action, metadata: { version: VERSION } });
  lifecycle('start', `netwatch-ingest ${VERSION} started`);

  const registry = new ApiRegistry();
  const metrics = new Registry();
  registry.registerComponent('store', {
    health: () => ({ state: 'ok', detail: `schema v${store.schemaVersion}` }),
    stats: () => {
      const s = store.stats();
      const out: Record<string, number> = { schema_version: s.schemaVersion, file_size_bytes: s.fileSizeBytes, wal_size_bytes: s.walSizeBytes };
      for (const [t, n] of Object.entries(s.tables)) out[`rows_${t}`] = n;
      for (const [w, c] of Object.entries(s.writers)) for (const [k, v] of Object.entries(c)) if (typeof v === 'number') out[`writer_${w}_${k}`] = v;
      return out;
    },
  });
  // Demo mode adds its log files (as --log sources) and the loopback ping targets to what the user configured.
  const deps: ComponentDeps = { config: demoConfig(config), logger, store, api: registry, metrics, events, now: Date.now };
  // Capabilities, in start order (stopped in reverse). Each one lives in its own folder and is wired here only.
  const components: Component[] = [];
  // -- flows (capture, decode, flow table)
  const flows = createFlowComponent(deps);
  components.push(flows.component);
  // -- host metrics
  components.push(createMetricsComponent(deps, { captureCounters: flows.captureCounters }));
  // -- pings
  components.push(createPingComponent(deps));
  // -- logs and security
  // Security before logs: it is started before the log sources feed it and stopped after them. Give the logs
  // component `security.ingest` for its parsed events.
  const security = createSecurityComponent(deps, { flowTable: flows.table });
  components.push(security);
  components.push(createLogComponent(deps, { onEvent: (e) => security.ingest(e) }));
  // -- demo generators
  // Last: it feeds the flow component's sink and the log files the logs component tails, so both run first.
  if (config.demo) components.push(createDemoComponent(deps, { sink: flows.sink }));

  // Component counters as one gauge family; label values are component and counter names, never data.
  new Gauge({
    name: 'netwatch_component_value',
    help: 'Counters and gauges reported by each component (see /api/v1/stats)',
    labelNames: ['component', 'name'],
    registers: [metrics],
    collect() {
      this.reset();
      for (const [component, counters] of Object.entries(registry.stats())) {
        for (const [name, v] of Object.entries(counters)) if (typeof v === 'number' && Number.isFinite(v)) this.set({ component, name }, v);
      }
    },
  });

  const started: Component[] = [];
  const stopComponents = async () => {
    for (const c of started.reverse()) {
      try {
        await c.stop();
      } catch (err) {
        logger.error({ err, component: c.name }, 'stopping a component failed');
      }
    }
  };
  // A start that fails after the store opened still ends with a stop event, so the start event it wrote is not
  // read as a service that ran (and its gap in the data has its reason).
  const abandonStart = async (reason: string) => {
    await stopComponents();
    lifecycle('stop', `netwatch-ingest ${VERSION} did not start: ${reason}`);
    store.close();
  };
  try {
    for (const c of components) {
      await c.start();
      started.push(c);
    }
  } catch (err) {
    await abandonStart((err as Error).message);
    throw err;
  }

  const app = buildApi({ version: VERSION, registry, logger, token: config.token, startedAtMs, metrics });
  try {
    // Listening on the server itself, after ready(), rather than app.listen(): fastify logs a line per address
    // (one per interface on 0.0.0.0), and the ready line below is the one line that says where the API is.
    await app.ready();
    await new Promise<void>((resolve, reject) => {
      app.server.once('error', reject);
      app.server.listen({ host: config.listen.host, port: config.listen.port }, () => {
        app.server.off('error', reject);
        resolve();
      });
    });
  } catch (err) {
    const message = `cannot listen on ${config.listen.host}:${config.listen.port}: ${(err as Error).message}`;
    await app.close();
    await abandonStart(message);
    throw new Error(message);
  }
  const addr = app.server.address();
  const port = typeof addr === 'object' && addr ? addr.port : config.listen.port;
  const host = config.listen.host.includes(':') ? `[${config.listen.host}]` : config.listen.host;
  const url = `http://${host}:${port}`;
  logger.info({ url, version: VERSION, config: redactedConfig(config), auth: config.token ? 'bearer' : 'none' }, `netwatch-ingest ready on ${url}`);

  let stopping: Promise<void> | undefined;
  return {
    url,
    registry,
    store,
    stop() {
      stopping ??= (async () => {
        await app.close();
        await stopComponents();
        lifecycle('stop', `netwatch-ingest ${VERSION} stopped`);
        store.close();
        logger.info('netwatch-ingest stopped: writers flushed, database closed');
      })();
      return stopping;
    },
  };
}
