/**
 * Resolves the serve configuration from defaults, a YAML file, the environment and flags, in that order of
 * precedence (later wins). Every error names the offending key and where it came from.
 */
import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { OPTIONS, OPTION_BY_KEY, camel, envName, type OptionDef, type ServeConfig } from './options';

export class ConfigError extends Error {
  constructor(
    readonly key: string,
    message: string,
  ) {
    super(message);
    this.name = 'ConfigError';
  }
}

type Origin = 'flag' | 'env' | 'file';

function describe(def: OptionDef, origin: Origin): string {
  if (origin === 'flag') return `--${def.key}`;
  if (origin === 'env') return envName(def.key);
  return `config key "${def.key}"`;
}

/** Converts one raw value (string from a flag or env, or any YAML value) to the option's type. */
export function convertValue(def: OptionDef, raw: unknown, origin: Origin): unknown {
  const where = describe(def, origin);
  const bad = (why: string) => new ConfigError(def.key, `${where}: ${why} (got ${JSON.stringify(raw)})`);
  if (def.parse) {
    try {
      return def.parse(raw, origin);
    } catch (e) {
      throw bad((e as Error).message);
    }
  }
  switch (def.type) {
    case 'string':
      if (typeof raw === 'number') return String(raw);
      if (typeof raw !== 'string') throw bad('expected a string');
      return raw;
    case 'int':
    case 'number': {
      const n = typeof raw === 'number' ? raw : typeof raw === 'string' && raw.trim() !== '' ? Number(raw) : NaN;
      if (!Number.isFinite(n)) throw bad('expected a number');
      if (def.type === 'int' && !Number.isInteger(n)) throw bad('expected an integer');
      if (def.min !== undefined && n < def.min) throw bad(`must be at least ${def.min}`);
      if (def.max !== undefined && n > def.max) throw bad(`must be at most ${def.max}`);
      return n;
    }
    case 'bool':
      if (typeof raw === 'boolean') return raw;
      if (raw === 'true' || raw === '1' || raw === 'yes') return true;
      if (raw === 'false' || raw === '0' || raw === 'no') return false;
      throw bad('expected true or false');
    case 'enum':
      if (typeof raw !== 'string' || !def.values!.includes(raw)) throw bad(`expected one of ${def.values!.join(', ')}`);
      return raw;
    case 'speed': {
      if (raw === 'max' || raw === 'realtime') return raw;
      const n = typeof raw === 'number' ? raw : typeof raw === 'string' ? Number(raw) : NaN;
      if (!Number.isFinite(n) || n <= 0) throw bad('expected max, realtime or a positive multiplier');
      return n;
    }
    case 'hostport': {
      if (typeof raw !== 'string') throw bad('expected HOST:PORT');
      const m = /^(?:\[([0-9a-fA-F:.]+)\]|([^:\s]+)):(\d{1,5})$/.exec(raw.trim());
      const port = m ? Number(m[3]) : NaN;
      if (!m || port > 65535) throw bad('expected HOST:PORT, e.g. 127.0.0.1:7070 or [::1]:7070');
      return { host: m[1] ?? m[2], port };
    }
  }
}

function convertList(def: OptionDef, raw: unknown, origin: Origin): unknown[] {
  if (Array.isArray(raw)) return raw.map((v) => convertValue(def, v, origin));
  if (origin === 'env' && typeof raw === 'string') {
    return raw
      .split(',')
      .map((s) => s.trim())
      .filter((s) => s !== '')
      .map((v) => convertValue(def, v, origin));
  }
  return [convertValue(def, raw, origin)];
}

export interface ParsedArgs {
  help: boolean;
  configFile?: string;
  /** key -> values in command-line order (lists accumulate, scalars keep the last). */
  flags: Map<string, unknown[]>;
  positionals: string[];
}

/** Parses `--key value`, `--key=value` and bare boolean flags; unknown flags are an error naming the flag. */
export function parseFlags(argv: readonly string[], known: ReadonlyMap<string, OptionDef> = OPTION_BY_KEY): ParsedArgs {
  const out: ParsedArgs = { help: false, flags: new Map(), positionals: [] };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === '--help' || arg === '-h') {
      out.help = true;
      continue;
    }
    if (!arg.startsWith('--') || arg === '--') {
      out.positionals.push(arg);
      continue;
    }
    const eq = arg.indexOf('=');
    const key = eq === -1 ? arg.slice(2) : arg.slice(2, eq);
    let value: string | undefined = eq === -1 ? undefined : arg.slice(eq + 1);
    if (key === 'config') {
      if (value === undefined) value = argv[++i];
      if (value === undefined) throw new ConfigError('config', '--config: expected a file path');
      out.configFile = value;
      continue;
    }
    const def = known.get(key);
    if (!def) throw new ConfigError(key, `unknown flag --${key} (see --help)`);
    if (value === undefined) {
      if (def.type === 'bool') value = 'true';
      else {
        value = argv[++i];
        if (value === undefined || (value.startsWith('--') && value.length > 2)) throw new ConfigError(key, `--${key}: expected a value`);
      }
    }
    const prev = out.flags.get(key) ?? [];
    out.flags.set(key, def.list ? [...prev, value] : [value]);
  }
  return out;
}

export interface LoadOptions {
  argv: readonly string[];
  env?: NodeJS.ProcessEnv;
  readFile?: (path: string) => string;
}

export interface LoadedConfig {
  config: ServeConfig;
  help: boolean;
  /** Where each key's value came from, for the start-up log. */
  origins: Record<string, 'default' | Origin>;
}

export function loadConfig({ argv, env = process.env, readFile = (p) => readFileSync(p, 'utf8') }: LoadOptions): LoadedConfig {
  const args = parseFlags(argv);
  if (args.positionals.length > 0) throw new ConfigError(args.positionals[0], `unexpected argument "${args.positionals[0]}"`);
  const values = new Map<string, unknown>();
  const origins: Record<string, 'default' | Origin> = {};
  for (const def of OPTIONS) {
    values.set(def.key, def.list ? def.default : convertValue(def, def.default, 'file'));
    origins[def.key] = 'default';
  }

  const configFile = args.configFile ?? env.NETWATCH_CONFIG;
  if (configFile) {
    let text: string;
    try {
      text = readFile(configFile);
    } catch (e) {
      throw new ConfigError('config', `cannot read config file ${configFile}: ${(e as Error).message}`);
    }
    let doc: unknown;
    try {
      doc = parseYaml(text);
    } catch (e) {
      throw new ConfigError('config', `config file ${configFile} is not valid YAML: ${(e as Error).message.split('\n')[0]}`);
    }
    if (doc !== null && doc !== undefined) {
      if (typeof doc !== 'object' || Array.isArray(doc)) throw new ConfigError('config', `config file ${configFile}: expected a mapping of keys to values`);
      for (const [key, raw] of Object.entries(doc as Record<string, unknown>)) {
        const def = OPTION_BY_KEY.get(key);
        if (!def) throw new ConfigError(key, `config file ${configFile}: unknown key "${key}"`);
        values.set(key, def.list ? convertList(def, raw, 'file') : convertValue(def, raw, 'file'));
        origins[key] = 'file';
      }
    }
  }

  for (const [name, raw] of Object.entries(env)) {
    if (!name.startsWith('NETWATCH_') || raw === undefined) continue;
    const key = name.slice('NETWATCH_'.length).toLowerCase().replace(/_/g, '-');
    const def = OPTION_BY_KEY.get(key);
    if (!def) {
      // Variables that configure tests and tools, not the service.
      if (['config', 'test-data', 'require-test-data', 'bench-data'].includes(key)) continue;
      throw new ConfigError(key, `unknown environment variable ${name}`);
    }
    values.set(key, def.list ? convertList(def, raw, 'env') : convertValue(def, raw, 'env'));
    origins[key] = 'env';
  }

  for (const [key, raws] of args.flags) {
    const def = OPTION_BY_KEY.get(key)!;
    values.set(key, def.list ? raws.map((r) => convertValue(def, r, 'flag')) : convertValue(def, raws[raws.length - 1], 'flag'));
    origins[key] = 'flag';
  }

  const config = {} as Record<string, unknown>;
  for (const [key, v] of values) config[camel(key)] = v;
  return { config: config as unknown as ServeConfig, help: args.help, origins };
}

/** The configuration as it can be logged: secrets masked. */
export function redactedConfig(config: ServeConfig): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const def of OPTIONS) {
    const v = (config as unknown as Record<string, unknown>)[camel(def.key)];
    out[def.key] = def.secret && v ? '***' : v;
  }
  return out;
}
