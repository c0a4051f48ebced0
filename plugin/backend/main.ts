/**
 * The plugin backend process, as Grafana (hashicorp/go-plugin) runs it: check the handshake environment,
 * serve gRPC on a loopback port, print the handshake as the first and only stdout line, log hclog JSON to
 * stderr, and exit when the host says Shutdown, on SIGTERM/SIGINT, or when the host process is gone.
 */
import { checkHandshakeEnv, handshakeLine } from './handshake';
import { createLogger, parseLevel } from './hclog';
import { createPluginMetrics } from './metrics';
import { startPluginServer } from './server';
import { PLUGIN_VERSION } from './version';

export async function main(): Promise<void> {
  const check = checkHandshakeEnv(process.env);
  if (!check.ok) {
    process.stderr.write(check.message);
    process.exit(1);
  }
  const logger = createLogger(parseLevel(process.env.NETWATCH_PLUGIN_LOG_LEVEL, 'info'));
  const metrics = createPluginMetrics();
  let exiting = false;
  const exit = (code: number) => {
    if (exiting) return;
    exiting = true;
    // stderr is a pipe to the host: let the last log lines drain, but never hang on it.
    setTimeout(() => process.exit(code), 50).unref();
    process.stderr.write('', () => process.exit(code));
  };

  let plugin;
  try {
    plugin = await startPluginServer({ logger, metrics, onShutdown: () => exit(0) });
  } catch (e) {
    logger.error('cannot start the gRPC server', { error: (e as Error).message });
    process.exitCode = 1;
    return exit(1);
  }

  const server = plugin;
  const stopAndExit = (why: string) => {
    logger.info(`stopping: ${why}`);
    void server.stop().finally(() => exit(0));
  };
  // Before the handshake: the host may signal as soon as it has read it.
  process.once('SIGTERM', () => stopAndExit('SIGTERM'));
  process.once('SIGINT', () => stopAndExit('SIGINT'));

  process.stdout.write(handshakeLine('127.0.0.1', plugin.port));
  // From here on stdout belongs to go-plugin's stdio mirror: a stray write must not reach the host's
  // handshake reader as a second line.
  const mirror = plugin.mirrorStdout;
  process.stdout.write = ((chunk: string | Uint8Array, encoding?: BufferEncoding | ((e?: Error) => void), cb?: (e?: Error) => void) => {
    const data = typeof chunk === 'string' ? Buffer.from(chunk, typeof encoding === 'string' ? encoding : 'utf8') : Buffer.from(chunk);
    if (!mirror(data)) logger.debug('stdout', { output: data.toString('utf8').replace(/\n$/, '') });
    const done = typeof encoding === 'function' ? encoding : cb;
    if (done) process.nextTick(done);
    return true;
  }) as typeof process.stdout.write;

  logger.info('netwatch plugin backend serving', { version: PLUGIN_VERSION, address: `127.0.0.1:${plugin.port}`, pid: process.pid, node: process.version });

  // A plugin outliving Grafana would hold its port and connections: go when the parent has gone.
  const parent = process.ppid;
  setInterval(() => {
    if (process.ppid !== parent) stopAndExit(`parent process ${parent} exited`);
  }, 2000).unref();
  process.on('uncaughtException', (err) => logger.error('uncaught exception', { error: err.message, stack: err.stack }));
  process.on('unhandledRejection', (err) => logger.error('unhandled rejection', { error: err instanceof Error ? err.message : String(err) }));
}
