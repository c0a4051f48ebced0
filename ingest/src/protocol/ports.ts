/**
 * Port filters: a port (`443`, `"443"`) or an inclusive range (`"8000-8099"`), alone, in an array, or
 * comma-separated in one string, which is what Grafana's `${var:csv}` and `{a,b}` interpolation produce.
 */
import { NetwatchError } from './errors';

const PORT_MAX = 65535; // ports are 16-bit (RFC 793 §3.1, RFC 768)

function bad(reason: string, path: string): NetwatchError {
  return new NetwatchError('NETWATCH_ERR_BAD_PORT', reason, path);
}

/** Parses one port spec into an inclusive `[lo, hi]` range; throws NETWATCH_ERR_BAD_PORT naming the value otherwise. */
export function parsePortSpec(v: unknown, path = ''): [number, number] {
  if (typeof v === 'number') {
    if (!Number.isInteger(v)) throw bad(`${v}: a port must be an integer 0-${PORT_MAX}`, path);
    if (v < 0 || v > PORT_MAX) throw bad(`${v}: port out of range 0-${PORT_MAX}`, path);
    return [v, v];
  }
  if (typeof v !== 'string') throw bad(`expected a port number or "lo-hi" range, got ${typeof v}`, path);
  const m = /^\s*(\d+)\s*(?:-\s*(\d+)\s*)?$/.exec(v);
  const shown = JSON.stringify(v);
  if (!m) throw bad(`${shown}: not a port number or "lo-hi" range of ports 0-${PORT_MAX}`, path);
  for (const digits of [m[1], m[2]]) {
    if (digits !== undefined && Number(digits) > PORT_MAX) throw bad(`${shown}: port ${digits} out of range 0-${PORT_MAX}`, path);
  }
  const lo = Number(m[1]);
  const hi = m[2] === undefined ? lo : Number(m[2]);
  if (lo > hi) throw bad(`${shown}: range start ${lo} is greater than end ${hi}`, path);
  return [lo, hi];
}

/** The items of a port list: array elements as they are, strings split on commas (an enclosing `{}` removed), empty items dropped. */
function portItems(v: unknown): unknown[] {
  const items: unknown[] = [];
  for (const item of Array.isArray(v) ? v : [v]) {
    if (typeof item !== 'string') {
      items.push(item);
      continue;
    }
    let s = item.trim();
    if (s.startsWith('{') && s.endsWith('}')) s = s.slice(1, -1);
    for (const part of s.split(',')) if (part.trim() !== '') items.push(part);
  }
  return items;
}

/**
 * Parses a port list (a spec, an array of specs, or `"22,80-90"`) into inclusive ranges. The error path of
 * item i is `path/i`, counting items after comma-splitting, as the query normalizer counts them.
 */
export function parsePortList(v: unknown, path = ''): Array<[number, number]> {
  return portItems(v).map((item, i) => parsePortSpec(item, `${path}/${i}`));
}

/** One error message per item (null when the item is a valid port spec), for the query editor. */
export function validatePortList(values: readonly unknown[]): Array<string | null> {
  return values.map((v) => {
    try {
      parsePortSpec(v);
      return null;
    } catch (e) {
      return (e as Error).message;
    }
  });
}

/** Whether `port` is inside any of the ranges; an empty list matches nothing (callers skip an absent filter). */
export function portListMatches(ranges: ReadonlyArray<readonly [number, number]>, port: number): boolean {
  for (let i = 0; i < ranges.length; i++) {
    const r = ranges[i];
    if (port >= r[0] && port <= r[1]) return true;
  }
  return false;
}
