import { loadConfig } from '../config/load';
import { parsePingTargetSpec, parseTargetForm, resolvePingTargets, type PingTarget } from './targets';

const DEFAULTS = { intervalSec: 10, count: 5, spacingMs: 200, timeoutMs: 1000 };

describe('parseTargetForm', () => {
  it.each([
    ['1.1.1.1', { kind: 'icmp', host: '1.1.1.1', literal: 4 }],
    ['::1', { kind: 'icmp', host: '::1', literal: 6 }],
    ['2001:DB8:0:0::1', { kind: 'icmp', host: '2001:db8::1', literal: 6 }],
    ['Host.Example', { kind: 'icmp', host: 'host.example' }],
    ['icmp://127.0.0.1', { kind: 'icmp', host: '127.0.0.1', literal: 4 }],
    ['icmp://[::1]', { kind: 'icmp', host: '::1', literal: 6 }],
    ['icmp://localhost', { kind: 'icmp', host: 'localhost' }],
    ['tcp://127.0.0.1:22', { kind: 'tcp', host: '127.0.0.1', literal: 4, port: 22 }],
    ['tcp://[::1]:8080', { kind: 'tcp', host: '::1', literal: 6, port: 8080 }],
    ['tcp://db.internal:5432', { kind: 'tcp', host: 'db.internal', port: 5432 }],
    ['http://127.0.0.1:8080/health?x=1', { kind: 'http', host: '127.0.0.1', literal: 4, port: 8080, url: 'http://127.0.0.1:8080/health?x=1' }],
    ['https://example.org', { kind: 'https', host: 'example.org', port: 443, url: 'https://example.org/' }],
    ['https://[::1]:8443/', { kind: 'https', host: '::1', literal: 6, port: 8443, url: 'https://[::1]:8443/' }],
  ])('reads %s', (target, want) => {
    expect(parseTargetForm(target)).toEqual(want);
  });

  it.each([
    ['', /must not be empty/],
    ['tcp://127.0.0.1', /expected tcp:\/\/HOST:PORT/],
    ['tcp://127.0.0.1:0', /port from 1 to 65535/],
    ['tcp://127.0.0.1:70000', /port from 1 to 65535/],
    ['udp://1.2.3.4:53', /unknown scheme udp/],
    ['icmp://[1.2.3.4]', /not an IPv6 address/],
    ['bad_host!', /neither an IP address nor a host name/],
    ['https://user:secret@example.org/', /credentials/],
    ['http://', /not a valid URL/],
  ])('refuses %j', (target, message) => {
    expect(() => parseTargetForm(target)).toThrow(message);
  });
});

describe('parsePingTargetSpec', () => {
  it('takes a mapping with per-target settings from the file', () => {
    const spec = parsePingTargetSpec({ target: 'https://example.org', name: 'example', interval: 30, count: 3, spacing: 500, timeout: 2000, family: 6, insecure: true }, true);
    expect(spec).toEqual({ target: 'https://example.org', name: 'example', interval: 30, count: 3, spacing: 500, timeout: 2000, family: 6, insecure: true });
  });

  it.each([
    [{ target: '1.1.1.1', colour: 'red' }, /unknown per-target key "colour"/],
    [{ name: 'x' }, /needs a "target" string/],
    [{ target: '1.1.1.1', count: 0 }, /"count" must be between 1 and 100/],
    [{ target: '1.1.1.1', count: 2.5 }, /"count" must be an integer/],
    [{ target: '1.1.1.1', interval: 'often' }, /"interval" must be a number/],
    [{ target: '1.1.1.1', family: 5 }, /"family" must be 4 or 6/],
    [{ target: '1.1.1.1', insecure: 'yes' }, /"insecure" must be true or false/],
    [{ target: '1.1.1.1', name: '' }, /"name" must be a non-empty string/],
    [['1.1.1.1'], /expected a target string or a mapping/],
  ])('refuses %j', (raw, message) => {
    expect(() => parsePingTargetSpec(raw, true)).toThrow(message);
  });

  it('accepts mappings only from the file', () => {
    expect(() => parsePingTargetSpec({ target: '1.1.1.1' }, false)).toThrow(/expected a target string/);
  });
});

describe('the ping option in the configuration', () => {
  const load = (argv: string[], files: Record<string, string> = {}, env: Record<string, string> = {}) => loadConfig({ argv, env, readFile: (p) => files[p] });

  it('mixes strings and mappings in the YAML list, and flags replace the list', () => {
    const yml = 'ping:\n  - 1.1.1.1\n  - target: tcp://127.0.0.1:22\n    name: ssh\n    count: 3\n';
    expect(load(['--config', '/c.yml'], { '/c.yml': yml }).config.ping).toEqual(['1.1.1.1', { target: 'tcp://127.0.0.1:22', name: 'ssh', count: 3 }]);
    expect(load(['--config', '/c.yml', '--ping', '::1'], { '/c.yml': yml }).config.ping).toEqual(['::1']);
  });

  it.each([
    [['--ping', 'tcp://x'], /--ping: "tcp:\/\/x": expected tcp:\/\/HOST:PORT/],
    [['--config', '/bad.yml'], /config key "ping": target "1.1.1.1": "count" must be between 1 and 100/],
  ])('stops at load with the key named for %j', (argv, message) => {
    expect(() => load(argv, { '/bad.yml': 'ping:\n  - target: 1.1.1.1\n    count: 1000\n' })).toThrow(message);
  });

  it('reads the new ping settings from flags and the environment', () => {
    const { config } = load(['--ping-count', '3', '--ping-icmp', 'fping'], {}, { NETWATCH_PING_SPACING: '100', NETWATCH_PING_TIMEOUT: '500' });
    expect([config.pingCount, config.pingSpacing, config.pingTimeout, config.pingIcmp]).toEqual([3, 100, 500, 'fping']);
  });
});

describe('resolvePingTargets', () => {
  it('fills settings from the defaults and the name from the target', () => {
    const got = resolvePingTargets([{ target: '127.0.0.1' }, { target: 'https://localhost:8443/x', name: 'web', count: 2, interval: 2.5, insecure: true }], DEFAULTS);
    const want: PingTarget[] = [
      { name: '127.0.0.1', kind: 'icmp', host: '127.0.0.1', literal: 4, intervalMs: 10_000, count: 5, spacingMs: 200, timeoutMs: 1000, insecure: false },
      { name: 'web', kind: 'https', host: 'localhost', port: 8443, url: 'https://localhost:8443/x', intervalMs: 2500, count: 2, spacingMs: 200, timeoutMs: 1000, insecure: true },
    ];
    expect(got).toEqual(want);
  });

  it.each([
    [[{ target: '1.1.1.1' }, { target: '1.1.1.1' }], /listed twice/],
    [[{ target: 'a.example', name: 'x' }, { target: 'b.example', name: 'x' }], /"x" is listed twice/],
    [[{ target: '1.1.1.1', interval: 1 }], /a round takes up to 1800 ms .* not less than its interval of 1000 ms/],
    [[{ target: '::1', family: 4 }], /family 4 conflicts with the IPv6 address/],
  ])('refuses %j', (specs, message) => {
    expect(() => resolvePingTargets(specs as never, DEFAULTS)).toThrow(message);
  });

  it('bounds the number of targets', () => {
    const many = Array.from({ length: 1001 }, (_, i) => ({ target: `10.0.${i >> 8}.${i & 255}` }));
    expect(() => resolvePingTargets(many, DEFAULTS)).toThrow(/at most 1000 ping targets/);
  });
});
