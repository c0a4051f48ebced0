/**
 * The gRPC service definitions of the plugin: Grafana's pluginv2, grpc.health.v1 and go-plugin's own services.
 * The .proto texts are embedded in the bundle (no file lookups at run time) and parsed with protobufjs into one
 * root, so `google/protobuf/empty.proto` comes from protobufjs's bundled well-known types.
 */
import { loadPackageDefinition, type GrpcObject, type ServiceClientConstructor } from '@grpc/grpc-js';
import { fromJSON, type Options } from '@grpc/proto-loader';
import * as protobuf from 'protobufjs';
import backendProto from './proto/backend.proto';
import goPluginProto from './proto/go-plugin.proto';
import healthProto from './proto/health.proto';

/** Field names as written in the contract (refId, lastUpdatedMS), int64 as JS numbers, enums as their names. */
export const LOADER_OPTIONS: Options = { keepCase: true, longs: Number, enums: String, defaults: true, oneofs: true };

export const PROTO_TEXTS: Readonly<Record<string, string>> = {
  'backend.proto': backendProto,
  'health.proto': healthProto,
  'go-plugin.proto': goPluginProto,
};

export interface PluginProtos {
  pluginv2: { Data: ServiceClientConstructor; Diagnostics: ServiceClientConstructor; Resource: ServiceClientConstructor };
  health: { Health: ServiceClientConstructor };
  goPlugin: { GRPCController: ServiceClientConstructor; GRPCStdio: ServiceClientConstructor; GRPCBroker: ServiceClientConstructor };
}

let cached: PluginProtos | undefined;

export function loadProtos(): PluginProtos {
  if (cached) return cached;
  const root = new protobuf.Root();
  const empty = protobuf.common.get('google/protobuf/empty.proto');
  if (!empty?.nested) throw new Error('protobufjs lacks google/protobuf/empty.proto');
  root.addJSON(empty.nested);
  for (const text of Object.values(PROTO_TEXTS)) protobuf.parse(text, root, { keepCase: true });
  root.resolveAll();
  const pkg = loadPackageDefinition(fromJSON(root.toJSON(), LOADER_OPTIONS)) as GrpcObject;
  const ns = (path: string) => path.split('.').reduce<GrpcObject>((o, k) => o[k] as GrpcObject, pkg) as unknown as Record<string, ServiceClientConstructor>;
  const v2 = ns('pluginv2');
  const h = ns('grpc.health.v1');
  const gp = ns('plugin');
  cached = {
    pluginv2: { Data: v2.Data, Diagnostics: v2.Diagnostics, Resource: v2.Resource },
    health: { Health: h.Health },
    goPlugin: { GRPCController: gp.GRPCController, GRPCStdio: gp.GRPCStdio, GRPCBroker: gp.GRPCBroker },
  };
  return cached;
}

