import { checkHandshakeEnv, handshakeLine } from './handshake';

describe('go-plugin handshake', () => {
  it.each<[string, NodeJS.ProcessEnv, boolean, RegExp | undefined]>([
    ['Grafana offering version 2', { grafana_plugin_type: 'datasource', PLUGIN_PROTOCOL_VERSIONS: '2' }, true, undefined],
    ['Grafana offering versions 1 and 2', { grafana_plugin_type: 'datasource', PLUGIN_PROTOCOL_VERSIONS: '1, 2' }, true, undefined],
    ['no magic cookie (run by hand)', { PLUGIN_PROTOCOL_VERSIONS: '2' }, false, /not meant to be run directly[\s\S]*grafana_plugin_type=datasource/],
    ['a wrong cookie value', { grafana_plugin_type: 'app', PLUGIN_PROTOCOL_VERSIONS: '2' }, false, /not meant to be run directly/],
    ['no protocol versions', { grafana_plugin_type: 'datasource' }, false, /offered no PLUGIN_PROTOCOL_VERSIONS, but this plugin speaks Grafana plugin protocol version 2 only/],
    ['only version 1', { grafana_plugin_type: 'datasource', PLUGIN_PROTOCOL_VERSIONS: '1' }, false, /PLUGIN_PROTOCOL_VERSIONS=1, but this plugin speaks .* version 2 only/],
  ])('with %s: ok=%s', (_name, env, ok, message) => {
    const got = checkHandshakeEnv(env);
    expect(got.ok).toBe(ok);
    if (!got.ok) expect(got.message).toMatch(message!);
  });

  it('prints core version 1, app version 2, tcp, the address and grpc on one line', () => {
    expect(handshakeLine('127.0.0.1', 43210)).toBe('1|2|tcp|127.0.0.1:43210|grpc\n');
  });
});
