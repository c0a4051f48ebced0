/**
 * Inputs of the query editor that keep what the user types until blur or Enter, then hand the parsed value
 * over once: a half-typed CIDR must neither reach the query model nor run a query.
 */
import { useEffect, useState, type KeyboardEvent } from 'react';
import { Input, MultiSelect } from '@grafana/ui';
import { rangeUtil } from '@grafana/data';

interface DraftProps {
  id: string;
  /** The committed value as text; the draft follows it when the query changes from outside (kind switch, undo). */
  text: string;
  placeholder?: string;
  width?: number;
  invalid?: boolean;
  type?: 'text' | 'number';
  min?: number;
  max?: number;
  onCommit: (text: string) => void;
}

/** A text box whose edits are committed on blur or Enter, and only when the text changed. */
export function DraftInput({ id, text, placeholder, width, invalid, type = 'text', min, max, onCommit }: DraftProps) {
  const [draft, setDraft] = useState(text);
  useEffect(() => setDraft(text), [text]);
  const commit = () => {
    if (draft !== text) onCommit(draft);
  };
  return (
    <Input
      id={id}
      type={type}
      min={min}
      max={max}
      value={draft}
      placeholder={placeholder}
      width={width}
      invalid={invalid}
      onChange={(e) => setDraft(e.currentTarget.value)}
      onBlur={commit}
      onKeyDown={(e: KeyboardEvent<HTMLInputElement>) => {
        if (e.key === 'Enter') commit();
      }}
    />
  );
}

const UNITS: Array<[string, number]> = [
  ['w', 604_800_000],
  ['d', 86_400_000],
  ['h', 3_600_000],
  ['m', 60_000],
  ['s', 1000],
];

/** `intervalMs` as Grafana writes intervals: the largest unit that divides it exactly (`90000` is `90s`, not `1m`). */
export function formatInterval(ms: number | undefined): string {
  if (ms === undefined) return '';
  for (const [unit, size] of UNITS) if (ms % size === 0) return `${ms / size}${unit}`;
  return `${ms}ms`;
}

/** An interval typed as `30s`, `5m`, `1h` (unit-less means seconds, as in Grafana's own interval fields). */
export function parseInterval(text: string): number | undefined {
  const t = text.trim();
  if (t === '') return undefined;
  const ms = rangeUtil.intervalToMs(t);
  if (!Number.isFinite(ms) || ms <= 0) throw new Error(`${JSON.stringify(t)}: an interval must be positive`);
  return ms;
}

interface ValuesPickerProps {
  inputId: string;
  /** Loads the suggestions (a value list of the ingest service) the first time the menu opens. */
  load: () => Promise<string[]>;
  value: string[];
  placeholder?: string;
  width?: number;
  invalid?: boolean;
  onChange: (values: string[]) => void;
}

/**
 * A multi-select suggesting what the ingest service knows (targets, log sources, interfaces, mounts) while
 * accepting anything typed, template variables included. When the list cannot be loaded (the capability is
 * off, the service is down), the menu says why and typing still works.
 */
export function ValuesPicker({ inputId, load, value, placeholder, width, invalid, onChange }: ValuesPickerProps) {
  const [loaded, setLoaded] = useState<string[] | null>(null);
  const [loading, setLoading] = useState(false);
  const [problem, setProblem] = useState<string | null>(null);
  const onOpenMenu = () => {
    if (loaded !== null || loading) return;
    setLoading(true);
    load()
      .then((values) => setLoaded(values))
      .catch((e: unknown) => {
        setLoaded([]);
        setProblem(describeLoadError(e));
      })
      .finally(() => setLoading(false));
  };
  const known = [...new Set([...(loaded ?? []), ...value])];
  return (
    <MultiSelect<string>
      inputId={inputId}
      options={known.map((v) => ({ label: v, value: v }))}
      value={value.map((v) => ({ label: v, value: v }))}
      allowCustomValue
      isLoading={loading}
      noOptionsMessage={problem ?? 'no values known yet: type one'}
      placeholder={placeholder}
      width={width}
      invalid={invalid}
      onOpenMenu={onOpenMenu}
      onChange={(sel) => onChange(sel.map((s) => s.value).filter((v): v is string => v !== undefined))}
    />
  );
}

/** A values request failure in a few words: the ingest error's message when the backend passed it on. */
function describeLoadError(e: unknown): string {
  const data = (e as { data?: { error?: { message?: string }; message?: string } } | null)?.data;
  const message = data?.error?.message ?? data?.message ?? (e instanceof Error ? e.message : undefined);
  return `suggestions unavailable${message ? `: ${message}` : ''}`;
}
