import { ConfigError, loadConfig, redactedConfig } from './load';
import { OPTIONS, envName } from './options';
import { configurationMarkdown } from './docs';
import { readFileSync } from 'node:fs';
import path from 'node:path';

const files: Record<string, string> = {};
const readFile = (p: string) => {
  if (!(p in files)) throw new Error(`ENOENT: no such file '${p}'`);
  return files[p];
};

function load(argv: string[], env: Record<string, string> = {}) {
  return loadConfig({ argv, env, readFile });
}

function errorOf(fn: () => unknown): ConfigError {
  try {
    fn();
  } catch (e) {
    if (e instanceof ConfigError) return e;
    throw e;
  }
  throw new Error('expected a ConfigError');
}

describe('loadConfig', () => {
  it('gives every documented default when nothing is set', () => {
    const { config } = load([]);
    expect(config.listen).toEqual({ host: '127.0.0.1', port: 7070 });
    expect(config.dataDir).toBe('./data');
    expect(config.token).toBe('');
    expect(config.logLevel).toBe('info');
    expect(config.maxFlows).toBe(1_000_000);
    expect(config.pingInterval).toBe(10);
    expect(config.replaySpeed).toBe('max');
    expect(config.interface).toEqual([]);
    expect(config.demo).toBe(false);
  });

  it('lets flags override env, and env override the file', () => {
    files['/etc/nw.yml'] = 'listen: 0.0.0.0:9000\ndata-dir: /from/file\ntoken: file-token\nlog-level: warn\n';
    const env = { NETWATCH_DATA_DIR: '/from/env', NETWATCH_TOKEN: 'env-token' };
    const { config, origins } = load(['--config', '/etc/nw.yml', '--token', 'flag-token'], env);
    expect(config.listen).toEqual({ host: '0.0.0.0', port: 9000 });
    expect(config.dataDir).toBe('/from/env');
    expect(config.token).toBe('flag-token');
    expect(config.logLevel).toBe('warn');
    expect(origins).toMatchObject({ listen: 'file', 'data-dir': 'env', token: 'flag', 'log-level': 'file', demo: 'default' });
  });

  it('reads the config file named by NETWATCH_CONFIG', () => {
    files['/env.yml'] = 'max-flows: 5000\n';
    expect(load([], { NETWATCH_CONFIG: '/env.yml' }).config.maxFlows).toBe(5000);
  });

  it('accumulates repeatable flags, YAML lists and comma-separated env lists', () => {
    files['/lists.yml'] = 'ping: [1.1.1.1, "tcp://localhost:22"]\n';
    expect(load(['--config', '/lists.yml']).config.ping).toEqual(['1.1.1.1', 'tcp://localhost:22']);
    expect(load([], { NETWATCH_PING: '1.1.1.1, ::1' }).config.ping).toEqual(['1.1.1.1', '::1']);
    expect(load(['--ping', 'a', '--ping=b']).config.ping).toEqual(['a', 'b']);
  });

  it('parses --key=value, bare booleans and IPv6 listen addresses', () => {
    const { config } = load(['--listen=[::1]:8080', '--demo', '--replay-speed', '2.5', '--replay-loop=false']);
    expect(config.listen).toEqual({ host: '::1', port: 8080 });
    expect(config.demo).toBe(true);
    expect(config.replaySpeed).toBe(2.5);
    expect(config.replayLoop).toBe(false);
  });

  it.each([
    [['--bogus'], 'bogus', /unknown flag --bogus/],
    [['--listen', 'nope'], 'listen', /--listen: expected HOST:PORT/],
    [['--listen', '127.0.0.1:70000'], 'listen', /--listen/],
    [['--max-flows', '12.5'], 'max-flows', /--max-flows: expected an integer/],
    [['--max-flows', '10'], 'max-flows', /must be at least 1000/],
    [['--log-level', 'loud'], 'log-level', /expected one of trace, debug/],
    [['--ping-interval', 'abc'], 'ping-interval', /expected a number/],
    [['--replay-speed', '-1'], 'replay-speed', /positive multiplier/],
    [['--demo=maybe'], 'demo', /expected true or false/],
    [['--token'], 'token', /--token: expected a value/],
    [['extra'], 'extra', /unexpected argument/],
  ])('refuses %j naming the key', (argv, key, message) => {
    const e = errorOf(() => load(argv as string[]));
    expect(e.key).toBe(key);
    expect(e.message).toMatch(message);
  });

  it('refuses unknown keys and bad values in the file and the environment, naming them', () => {
    files['/bad.yml'] = 'listen: 127.0.0.1:7070\nlisten_port: 1\n';
    expect(errorOf(() => load(['--config', '/bad.yml'])).message).toMatch(/unknown key "listen_port"/);
    files['/badval.yml'] = 'max-flows: lots\n';
    expect(errorOf(() => load(['--config', '/badval.yml'])).message).toMatch(/config key "max-flows": expected a number/);
    files['/notmap.yml'] = '- a\n- b\n';
    expect(errorOf(() => load(['--config', '/notmap.yml'])).message).toMatch(/expected a mapping/);
    files['/broken.yml'] = 'listen: [\n';
    expect(errorOf(() => load(['--config', '/broken.yml'])).message).toMatch(/not valid YAML/);
    expect(errorOf(() => load(['--config', '/missing.yml'])).message).toMatch(/cannot read config file/);
    expect(errorOf(() => load([], { NETWATCH_LISTEN_ADDR: 'x' })).message).toMatch(/unknown environment variable NETWATCH_LISTEN_ADDR/);
    expect(errorOf(() => load([], { NETWATCH_MAX_FLOWS: 'x' })).message).toMatch(/NETWATCH_MAX_FLOWS: expected a number/);
  });

  it('refuses a --log value that is not TYPE:PATH, naming the option', () => {
    expect(errorOf(() => load(['--log', 'foo'])).message).toBe(
      '--log: expected TYPE:PATH with TYPE one of auth, fail2ban, syslog, kern, auto (e.g. auth:/var/log/auth.log) (got "foo")',
    );
    expect(errorOf(() => load([], { NETWATCH_LOG: 'auth:/var/log/auth.log,bogus:/x' })).message).toMatch(/^NETWATCH_LOG: expected TYPE:PATH/);
    expect(load(['--log', 'auth:/var/log/auth.log']).config.log).toEqual(['auth:/var/log/auth.log']);
  });

  it('ignores the variables that configure tests, not the service', () => {
    expect(() => load([], { NETWATCH_TEST_DATA: '/x', NETWATCH_REQUIRE_TEST_DATA: '1' })).not.toThrow();
  });

  it('masks the token when the configuration is logged', () => {
    expect(redactedConfig(load(['--token', 's3cret']).config).token).toBe('***');
  });

  it('maps every option to NETWATCH_<KEY>', () => {
    expect(envName('data-dir')).toBe('NETWATCH_DATA_DIR');
    // Options whose values have a form of their own get a valid one; the rest take their default or 'x'.
    const sample: Record<string, string> = { log: 'auth:/var/log/auth.log' };
    for (const def of OPTIONS) {
      const value = sample[def.key] ?? (def.type === 'bool' ? 'true' : String(Array.isArray(def.default) ? 'x' : def.default || 'x'));
      expect(load([], { [envName(def.key)]: value }).origins[def.key]).toBe('env');
    }
  });
});

describe('docs/configuration.md', () => {
  it('is generated from the option table (run `npm run docs -w @netwatch/ingest` after changing options)', () => {
    const doc = readFileSync(path.resolve(__dirname, '../../../docs/configuration.md'), 'utf8');
    expect(doc).toBe(configurationMarkdown());
  });
});
