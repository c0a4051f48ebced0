/** Renders docs/configuration.md and the serve --help text from the option table, so neither can drift. */
import { OPTIONS, envName, type OptionDef } from './options';

function defaultText(def: OptionDef): string {
  if (Array.isArray(def.default)) return def.default.length ? def.default.join(', ') : '(none)';
  if (def.default === '') return '(empty)';
  return String(def.default);
}

function valueHint(def: OptionDef): string {
  switch (def.type) {
    case 'bool':
      return '';
    case 'hostport':
      return ' HOST:PORT';
    case 'enum':
      return ` ${def.values!.join('|')}`;
    case 'int':
    case 'number':
      return ' N';
    case 'speed':
      return ' max|realtime|N';
    default:
      return ' VALUE';
  }
}

export function configurationMarkdown(): string {
  const lines = [
    '# Configuration',
    '',
    '<!-- Generated from ingest/src/config/options.ts by `npm run docs -w @netwatch/ingest`; a test fails when it is stale. -->',
    '',
    'Every setting of `netwatch-ingest serve` can be given three ways. Flags override environment variables, which override the YAML file named by `--config FILE` (or `NETWATCH_CONFIG`).',
    '',
    '- a flag: `--key value` or `--key=value` (boolean flags take no value; list flags repeat);',
    '- an environment variable: `NETWATCH_KEY` with dashes as underscores (lists comma-separated);',
    '- a key of the YAML file (lists as YAML sequences).',
    '',
    'An unknown flag, variable or key, or a bad value, stops the service with exit code 2 and a message naming the key.',
    '',
    '| Key | Env | Default | Description |',
    '| --- | --- | --- | --- |',
  ];
  for (const def of OPTIONS) {
    // Pipes inside a Markdown table cell must be escaped, even inside code spans.
    const flag = `\`--${def.key}${valueHint(def).replace(/\|/g, '\\|')}\`${def.list ? ' (repeatable)' : ''}`;
    lines.push(`| ${flag} | \`${envName(def.key)}\` | \`${defaultText(def)}\` | ${def.doc} |`);
  }
  lines.push(
    '',
    '## Example file',
    '',
    '```yaml',
    'listen: 127.0.0.1:7070',
    'data-dir: /var/lib/netwatch',
    'token: change-me',
    'interface: [eth0]',
    'log:',
    '  - auth:/var/log/auth.log',
    '  - fail2ban:/var/log/fail2ban.log',
    'ping:',
    '  - 1.1.1.1',
    '  - tcp://example.org:443',
    '  - target: https://example.org/health   # per-target settings: see docs/pings.md',
    '    interval: 60',
    '    count: 3',
    '```',
    '',
  );
  return lines.join('\n');
}

export function serveHelp(): string {
  const rows = OPTIONS.map((def) => {
    const flag = `  --${def.key}${valueHint(def)}`;
    return `${flag.padEnd(34)} ${def.doc} [default: ${defaultText(def)}]${def.list ? ' (repeatable)' : ''}`;
  });
  return [
    'Usage: netwatch-ingest serve [flags]',
    '',
    'Runs the ingest service: flows, pings, logs and host metrics behind the HTTP query API.',
    '',
    'Flags (each also NETWATCH_<KEY> in the environment and a key of the --config YAML file):',
    '  --config FILE                      YAML configuration file',
    ...rows,
    '  -h, --help                         this help',
    '',
  ].join('\n');
}
