/**
 * What the API serves, filled in by the components at wiring time: a handler per query kind, a provider per
 * value list, and each component's health and counters. The API knows no component; components know no route.
 */
import type { ComponentHealth, Frame, NormalizedQuery, QueryKind, ValueListName } from '../protocol';

export interface QueryContext {
  fromMs: number;
  toMs: number;
  /** Wall clock at the time of the request, epoch ms. */
  nowMs: number;
}

export type KindHandler = (query: NormalizedQuery, ctx: QueryContext) => Frame[] | Promise<Frame[]>;
export type ValuesProvider = () => string[] | Promise<string[]>;

export interface ComponentReport {
  health?: () => ComponentHealth;
  /** Flat counters and gauges; numbers, strings or booleans. */
  stats?: () => Record<string, number | string | boolean | null>;
}

export class ApiRegistry {
  readonly kinds = new Map<QueryKind, KindHandler>();
  readonly values = new Map<ValueListName, ValuesProvider>();
  readonly components = new Map<string, ComponentReport>();

  registerKind(kind: QueryKind, handler: KindHandler): void {
    if (this.kinds.has(kind)) throw new Error(`query kind ${kind} registered twice`);
    this.kinds.set(kind, handler);
  }

  registerValues(name: ValueListName, provider: ValuesProvider): void {
    if (this.values.has(name)) throw new Error(`value list ${name} registered twice`);
    this.values.set(name, provider);
  }

  registerComponent(name: string, report: ComponentReport): void {
    if (this.components.has(name)) throw new Error(`component ${name} registered twice`);
    this.components.set(name, report);
  }

  health(): Record<string, ComponentHealth> {
    const out: Record<string, ComponentHealth> = {};
    for (const [name, c] of this.components) {
      try {
        out[name] = c.health ? c.health() : { state: 'ok' };
      } catch (e) {
        out[name] = { state: 'down', detail: (e as Error).message };
      }
    }
    return out;
  }

  stats(): Record<string, Record<string, number | string | boolean | null>> {
    const out: Record<string, Record<string, number | string | boolean | null>> = {};
    for (const [name, c] of this.components) if (c.stats) out[name] = c.stats();
    return out;
  }
}
