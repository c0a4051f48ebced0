/**
 * The shape every capability of the service takes (after Akvorado's components): created from the
 * configuration and explicit dependencies, started once, stopped once in reverse order of start.
 */
import type { Registry } from 'prom-client';
import type { ApiRegistry } from './api/registry';
import type { ServeConfig } from './config/options';
import type { Logger } from './log';
import type { LogEvent } from './logs/events';
import type { BatchWriter, Store } from './store';

export interface Component {
  readonly name: string;
  start(): void | Promise<void>;
  /** Stops producing, flushes what is buffered into the store's writers; never throws for one bad resource. */
  stop(): void | Promise<void>;
}

/** What main.ts hands every component: shared infrastructure, never another component's internals. */
export interface ComponentDeps {
  config: ServeConfig;
  logger: Logger;
  store: Store;
  /** Query kinds, value lists, health and counters served by the API. */
  api: ApiRegistry;
  /** Prometheus registry behind GET /metrics. */
  metrics: Registry;
  /** The one writer of `log_events`. */
  events: BatchWriter<LogEvent>;
  /** Wall clock, epoch ms; tests substitute it. */
  now: () => number;
}
