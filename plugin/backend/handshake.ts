/**
 * hashicorp/go-plugin's handshake as Grafana runs it (grafana-plugin-sdk-go backend/grpcplugin/handshake.go):
 * Grafana starts the executable with the magic cookie `grafana_plugin_type=datasource` and the app protocol
 * versions it accepts in `PLUGIN_PROTOCOL_VERSIONS`; the plugin answers with one stdout line
 * `CORE|APP|NETWORK|ADDRESS|PROTOCOL` (go-plugin docs/internals.md) and then only speaks gRPC.
 */
export const MAGIC_COOKIE_KEY = 'grafana_plugin_type';
export const MAGIC_COOKIE_VALUE = 'datasource';
/** go-plugin's own protocol version; any other value makes the host refuse the plugin. */
export const CORE_PROTOCOL_VERSION = 1;
/** Grafana's plugin protocol (pluginv2). */
export const APP_PROTOCOL_VERSION = 2;

export type HandshakeCheck = { ok: true } | { ok: false; message: string };

/** Whether the environment is Grafana starting this plugin; the message says what is wrong otherwise. */
export function checkHandshakeEnv(env: NodeJS.ProcessEnv): HandshakeCheck {
  if (env[MAGIC_COOKIE_KEY] !== MAGIC_COOKIE_VALUE) {
    return {
      ok: false,
      message:
        'This is the backend of the Netwatch Grafana data source plugin; it is not meant to be run directly.\n' +
        `Grafana starts it (with ${MAGIC_COOKIE_KEY}=${MAGIC_COOKIE_VALUE} in its environment) when the plugin is installed in its plugins folder.\n`,
    };
  }
  const offered = (env.PLUGIN_PROTOCOL_VERSIONS ?? '').split(',').map((s) => s.trim()).filter((s) => s !== '');
  if (!offered.includes(String(APP_PROTOCOL_VERSION))) {
    const what = offered.length === 0 ? 'no PLUGIN_PROTOCOL_VERSIONS' : `PLUGIN_PROTOCOL_VERSIONS=${offered.join(',')}`;
    return {
      ok: false,
      message: `Netwatch plugin backend: the host offered ${what}, but this plugin speaks Grafana plugin protocol version ${APP_PROTOCOL_VERSION} only (Grafana 7 or later).\n`,
    };
  }
  return { ok: true };
}

/** The one line go-plugin's host reads from stdout before it connects. */
export function handshakeLine(host: string, port: number): string {
  return `${CORE_PROTOCOL_VERSION}|${APP_PROTOCOL_VERSION}|tcp|${host}:${port}|grpc\n`;
}
