/**
 * The gRPC server Grafana talks to: pluginv2 Data, Diagnostics and Resource; grpc.health.v1 for the service
 * named "plugin" (go-plugin's liveness check); and go-plugin's GRPCController (Shutdown), GRPCStdio (the
 * stdio mirror the host opens right after connecting) and GRPCBroker (kept open, unused: this plugin dials
 * nothing back). Calls are counted and timed by method; a handler that throws answers INTERNAL, never a crash.
 */
import { Server, ServerCredentials, status, type ServerDuplexStream, type ServerUnaryCall, type ServerWritableStream, type sendUnaryData, type UntypedServiceImplementation } from '@grpc/grpc-js';
import { checkHealth } from './check-health';
import { IngestClients } from './clients';
import type { Logger } from './hclog';
import type { CallResourceRequestMsg, CheckHealthRequestMsg, QueryDataRequestMsg } from './messages';
import type { PluginMetrics } from './metrics';
import { loadProtos } from './protos';
import { queryData } from './query-data';
import { callResource } from './resources';

export interface PluginServerDeps {
  logger: Logger;
  metrics: PluginMetrics;
  clients?: IngestClients;
  /** Called after Shutdown has been answered: the process should exit. */
  onShutdown: () => void;
}

export interface PluginServer {
  server: Server;
  clients: IngestClients;
  port: number;
  /** Forwards bytes to the host's stdio stream (go-plugin GRPCStdio); false when no stream is open. */
  mirrorStdout(data: Buffer): boolean;
  stop(): Promise<void>;
}

const GRPC_STATUS_NAMES = Object.fromEntries(Object.entries(status).filter(([, v]) => typeof v === 'number').map(([k, v]) => [v, k])) as Record<number, string>;

export async function startPluginServer(deps: PluginServerDeps, host = '127.0.0.1', port = 0): Promise<PluginServer> {
  const { logger, metrics } = deps;
  const protos = loadProtos();
  const clients = deps.clients ?? new IngestClients(metrics);
  // go-plugin's host lifts gRPC's 4 MiB receive limit (MaxCallRecvMsgSize = MaxInt32); frames can be large.
  const server = new Server({ 'grpc.max_receive_message_length': 64 * 1024 * 1024, 'grpc.max_send_message_length': -1 });

  const timed = <Req, Res>(method: string, fn: (req: Req) => Promise<Res>) =>
    (call: ServerUnaryCall<Req, Res>, callback: sendUnaryData<Res>) => {
      const t0 = process.hrtime.bigint();
      const finish = (code: number) => {
        metrics.grpcRequests.inc({ method, code: GRPC_STATUS_NAMES[code] ?? String(code) });
        metrics.grpcDuration.observe({ method }, Number(process.hrtime.bigint() - t0) / 1e9);
      };
      fn(call.request).then(
        (res) => {
          finish(status.OK);
          callback(null, res);
        },
        (err: Error) => {
          logger.error(`${method} failed`, { error: err.message, stack: err.stack });
          finish(status.INTERNAL);
          callback({ code: status.INTERNAL, details: `${method}: ${err.message}` });
        },
      );
    };

  const queryDeps = { clients, metrics, logger };
  server.addService(protos.pluginv2.Data.service, {
    QueryData: timed('QueryData', (req: QueryDataRequestMsg) => queryData(req, queryDeps)),
    // As a Go SDK plugin without a chunked handler answers (backend/data_adapter.go): one message, status 501;
    // Grafana then uses QueryData.
    QueryChunkedData: (call: ServerWritableStream<unknown, unknown>) => {
      metrics.grpcRequests.inc({ method: 'QueryChunkedData', code: 'OK' });
      call.write({ status: 501 });
      call.end();
    },
  } as UntypedServiceImplementation);
  server.addService(protos.pluginv2.Diagnostics.service, {
    CheckHealth: timed('CheckHealth', (req: CheckHealthRequestMsg) => checkHealth(req, queryDeps)),
    CollectMetrics: timed('CollectMetrics', async () => ({ metrics: { prometheus: Buffer.from(metrics.registry.render(), 'utf8') } })),
  } as UntypedServiceImplementation);
  server.addService(protos.pluginv2.Resource.service, {
    CallResource: (call: ServerWritableStream<CallResourceRequestMsg, unknown>) => {
      const t0 = process.hrtime.bigint();
      callResource(call.request, queryDeps).then(
        (res) => {
          metrics.grpcRequests.inc({ method: 'CallResource', code: 'OK' });
          metrics.grpcDuration.observe({ method: 'CallResource' }, Number(process.hrtime.bigint() - t0) / 1e9);
          call.write(res);
          call.end();
        },
        (err: Error) => {
          logger.error('CallResource failed', { error: err.message });
          metrics.grpcRequests.inc({ method: 'CallResource', code: 'INTERNAL' });
          call.destroy(Object.assign(new Error(err.message), { code: status.INTERNAL }));
        },
      );
    },
  } as UntypedServiceImplementation);

  // grpc.health.v1: go-plugin asks about "plugin"; "" is the whole server (the health-checking spec).
  const served = new Set(['plugin', '']);
  const watchers = new Set<ServerWritableStream<unknown, unknown>>();
  server.addService(protos.health.Health.service, {
    Check: (call: ServerUnaryCall<{ service: string }, unknown>, callback: sendUnaryData<unknown>) => {
      if (served.has(call.request.service)) callback(null, { status: 'SERVING' });
      else callback({ code: status.NOT_FOUND, details: `unknown service ${JSON.stringify(call.request.service)}` });
    },
    Watch: (call: ServerWritableStream<{ service: string }, unknown>) => {
      call.write({ status: served.has(call.request.service) ? 'SERVING' : 'SERVICE_UNKNOWN' });
      watchers.add(call);
      call.on('cancelled', () => watchers.delete(call));
    },
  } as UntypedServiceImplementation);

  const stdio = new Set<ServerWritableStream<unknown, unknown>>();
  const brokers = new Set<ServerDuplexStream<unknown, unknown>>();
  let stopping: Promise<void> | undefined;
  const stop = () =>
    (stopping ??= new Promise<void>((resolve) => {
      for (const s of [...stdio, ...watchers]) s.end();
      for (const b of brokers) b.end();
      clients.close();
      // Open streams would hold tryShutdown; anything still running after a moment is cut.
      const force = setTimeout(() => server.forceShutdown(), 200);
      server.tryShutdown(() => {
        clearTimeout(force);
        resolve();
      });
    }));

  server.addService(protos.goPlugin.GRPCController.service, {
    Shutdown: (_call: ServerUnaryCall<unknown, unknown>, callback: sendUnaryData<unknown>) => {
      logger.info('shutdown requested by the host');
      callback(null, {});
      // Answer first (go-plugin waits for it), then stop and let the process exit.
      setImmediate(() => void stop().then(deps.onShutdown, deps.onShutdown));
    },
  } as UntypedServiceImplementation);
  server.addService(protos.goPlugin.GRPCStdio.service, {
    StreamStdio: (call: ServerWritableStream<unknown, unknown>) => {
      stdio.add(call);
      call.on('cancelled', () => stdio.delete(call));
    },
  } as UntypedServiceImplementation);
  server.addService(protos.goPlugin.GRPCBroker.service, {
    StartStream: (call: ServerDuplexStream<unknown, unknown>) => {
      brokers.add(call);
      call.on('data', () => logger.debug('ignoring a go-plugin broker message: this plugin serves no brokered connections'));
      call.on('end', () => {
        brokers.delete(call);
        call.end();
      });
      call.on('cancelled', () => brokers.delete(call));
    },
  } as UntypedServiceImplementation);

  const bound = await new Promise<number>((resolve, reject) =>
    server.bindAsync(`${host}:${port}`, ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p))),
  );
  return {
    server,
    clients,
    port: bound,
    mirrorStdout(data: Buffer) {
      if (stdio.size === 0) return false;
      for (const s of stdio) s.write({ channel: 'STDOUT', data });
      return true;
    },
    stop,
  };
}
