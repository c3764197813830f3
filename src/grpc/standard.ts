/**
 * The two services gRPC operators expect on every server, written over @grpc/grpc-js with
 * protobufjs (no extra npm package): the standard health service (grpc.health.v1.Health: Check
 * and Watch, as load balancers, Kubernetes' grpc probe and grpc_health_probe call it) and server
 * reflection (grpc.reflection.v1 and v1alpha ServerReflectionInfo, as grpcurl and grpcui use it).
 *
 * The messages are small enough to define here from the published protos' field numbers;
 * reflection answers with the FileDescriptorProtos `buf build` made of proto/ (src/gen).
 */
import * as grpc from '@grpc/grpc-js';
import protobuf from 'protobufjs';
import { protoFiles } from '../gen/descriptors.js';

const root = protobuf.Root.fromJSON({
  nested: {
    health: {
      nested: {
        HealthCheckRequest: { fields: { service: { type: 'string', id: 1 } } },
        HealthCheckResponse: { fields: { status: { type: 'ServingStatus', id: 1 } }, nested: { ServingStatus: { values: { UNKNOWN: 0, SERVING: 1, NOT_SERVING: 2, SERVICE_UNKNOWN: 3 } } } },
      },
    },
    reflection: {
      nested: {
        ServerReflectionRequest: {
          oneofs: { messageRequest: { oneof: ['fileByFilename', 'fileContainingSymbol', 'fileContainingExtension', 'allExtensionNumbersOfType', 'listServices'] } },
          fields: {
            host: { type: 'string', id: 1 },
            fileByFilename: { type: 'string', id: 3 },
            fileContainingSymbol: { type: 'string', id: 4 },
            fileContainingExtension: { type: 'ExtensionRequest', id: 5 },
            allExtensionNumbersOfType: { type: 'string', id: 6 },
            listServices: { type: 'string', id: 7 },
          },
        },
        ExtensionRequest: { fields: { containingType: { type: 'string', id: 1 }, extensionNumber: { type: 'int32', id: 2 } } },
        ServerReflectionResponse: {
          oneofs: { messageResponse: { oneof: ['fileDescriptorResponse', 'allExtensionNumbersResponse', 'listServicesResponse', 'errorResponse'] } },
          fields: {
            validHost: { type: 'string', id: 1 },
            originalRequest: { type: 'ServerReflectionRequest', id: 2 },
            fileDescriptorResponse: { type: 'FileDescriptorResponse', id: 4 },
            allExtensionNumbersResponse: { type: 'ExtensionNumberResponse', id: 5 },
            listServicesResponse: { type: 'ListServiceResponse', id: 6 },
            errorResponse: { type: 'ErrorResponse', id: 7 },
          },
        },
        FileDescriptorResponse: { fields: { fileDescriptorProto: { rule: 'repeated', type: 'bytes', id: 1 } } },
        ExtensionNumberResponse: { fields: { baseTypeName: { type: 'string', id: 1 }, extensionNumber: { rule: 'repeated', type: 'int32', id: 2 } } },
        ListServiceResponse: { fields: { service: { rule: 'repeated', type: 'ServiceResponse', id: 1 } } },
        ServiceResponse: { fields: { name: { type: 'string', id: 1 } } },
        ErrorResponse: { fields: { errorCode: { type: 'int32', id: 1 }, errorMessage: { type: 'string', id: 2 } } },
      },
    },
  },
});

const HealthCheckRequest = root.lookupType('health.HealthCheckRequest');
const HealthCheckResponse = root.lookupType('health.HealthCheckResponse');
const ReflectionRequest = root.lookupType('reflection.ServerReflectionRequest');
const ReflectionResponse = root.lookupType('reflection.ServerReflectionResponse');

export const ServingStatus = { UNKNOWN: 0, SERVING: 1, NOT_SERVING: 2, SERVICE_UNKNOWN: 3 } as const;
export type ServingStatusValue = (typeof ServingStatus)[keyof typeof ServingStatus];

interface HealthReq {
  service?: string;
}
interface ReflReq {
  host?: string;
  fileByFilename?: string;
  fileContainingSymbol?: string;
  fileContainingExtension?: { containingType?: string; extensionNumber?: number };
  allExtensionNumbersOfType?: string;
  listServices?: string;
}

function codec<T>(t: protobuf.Type) {
  return {
    serialize: (m: T): Buffer => Buffer.from(t.encode(t.fromObject(m as Record<string, unknown>)).finish()),
    // A request that does not decode is answered as if empty: health asks for the overall status,
    // reflection answers with an error response.
    deserialize: (b: Buffer): T => {
      try {
        return t.toObject(t.decode(b), { defaults: false }) as T;
      } catch {
        return {} as T;
      }
    },
  };
}

const healthReq = codec<HealthReq>(HealthCheckRequest);
const healthRes = codec<{ status: number }>(HealthCheckResponse);
const reflReq = codec<ReflReq>(ReflectionRequest);
const reflRes = codec<Record<string, unknown>>(ReflectionResponse);

/** Health status per service name ('' = the server as a whole), with Watch subscribers. */
export class HealthRegistry {
  private readonly status = new Map<string, ServingStatusValue>();
  private readonly watchers = new Map<string, Set<(s: ServingStatusValue) => void>>();

  set(service: string, s: ServingStatusValue): void {
    this.status.set(service, s);
    for (const w of this.watchers.get(service) ?? []) w(s);
  }

  /** Marks every service NOT_SERVING (shutting down): watchers hear it before the server goes. */
  shutdown(): void {
    for (const k of [...this.status.keys()]) this.set(k, ServingStatus.NOT_SERVING);
  }

  get(service: string): ServingStatusValue | undefined {
    return this.status.get(service);
  }

  watch(service: string, cb: (s: ServingStatusValue) => void): () => void {
    let set = this.watchers.get(service);
    if (!set) this.watchers.set(service, (set = new Set()));
    set.add(cb);
    return () => set.delete(cb);
  }
}

const HEALTH_SERVICE = 'grpc.health.v1.Health';
const REFLECTION_SERVICES = ['grpc.reflection.v1.ServerReflection', 'grpc.reflection.v1alpha.ServerReflection'];

const healthDefinition: grpc.ServiceDefinition = {
  Check: {
    path: `/${HEALTH_SERVICE}/Check`,
    requestStream: false,
    responseStream: false,
    requestSerialize: healthReq.serialize,
    requestDeserialize: healthReq.deserialize,
    responseSerialize: healthRes.serialize,
    responseDeserialize: healthRes.deserialize,
  },
  Watch: {
    path: `/${HEALTH_SERVICE}/Watch`,
    requestStream: false,
    responseStream: true,
    requestSerialize: healthReq.serialize,
    requestDeserialize: healthReq.deserialize,
    responseSerialize: healthRes.serialize,
    responseDeserialize: healthRes.deserialize,
  },
};

function reflectionDefinition(service: string): grpc.ServiceDefinition {
  return {
    ServerReflectionInfo: {
      path: `/${service}/ServerReflectionInfo`,
      requestStream: true,
      responseStream: true,
      requestSerialize: reflReq.serialize,
      requestDeserialize: reflReq.deserialize,
      responseSerialize: reflRes.serialize,
      responseDeserialize: reflRes.deserialize,
    },
  };
}

// Indexes over the generated descriptors, built once at load and never changed afterwards.
const filesByName = new Map(protoFiles.map((f) => [f.name, f]));
const fileBySymbol = new Map<string, (typeof protoFiles)[number]>();
for (const f of protoFiles) for (const s of f.symbols) fileBySymbol.set(s, f);

/** A file and everything it imports, dependencies first (what reflection clients need to build it). */
function withDependencies(name: string): Buffer[] {
  const out: Buffer[] = [];
  const seen = new Set<string>();
  const visit = (n: string): void => {
    if (seen.has(n)) return;
    seen.add(n);
    const f = filesByName.get(n);
    if (!f) return;
    for (const d of f.dependencies) visit(d);
    out.push(Buffer.from(f.b64, 'base64'));
  };
  visit(name);
  return out;
}

/** One reflection answer. */
export function reflect(req: ReflReq, services: string[]): Record<string, unknown> {
  const base = { validHost: req.host ?? '', originalRequest: req };
  const notFound = (what: string) => ({ ...base, errorResponse: { errorCode: grpc.status.NOT_FOUND, errorMessage: `${what} not found` } });
  if (req.listServices !== undefined) return { ...base, listServicesResponse: { service: services.map((name) => ({ name })) } };
  if (req.fileByFilename !== undefined) {
    return filesByName.has(req.fileByFilename) ? { ...base, fileDescriptorResponse: { fileDescriptorProto: withDependencies(req.fileByFilename) } } : notFound(`file ${req.fileByFilename}`);
  }
  if (req.fileContainingSymbol !== undefined) {
    // A method may be asked for as "pkg.Service.Method" or by its service.
    const f = fileBySymbol.get(req.fileContainingSymbol);
    return f ? { ...base, fileDescriptorResponse: { fileDescriptorProto: withDependencies(f.name) } } : notFound(`symbol ${req.fileContainingSymbol}`);
  }
  if (req.allExtensionNumbersOfType !== undefined) {
    return fileBySymbol.has(req.allExtensionNumbersOfType) ? { ...base, allExtensionNumbersResponse: { baseTypeName: req.allExtensionNumbersOfType, extensionNumber: [] } } : notFound(`type ${req.allExtensionNumbersOfType}`);
  }
  if (req.fileContainingExtension !== undefined) return notFound('extension');
  return { ...base, errorResponse: { errorCode: grpc.status.INVALID_ARGUMENT, errorMessage: 'empty or undecodable reflection request' } };
}

/**
 * Adds health and reflection to a server. `services` are the application's full service names
 * (e.g. "ndr.v1.SiemFeedService"); each starts SERVING, as does the server as a whole ('').
 */
export function addStandardServices(server: grpc.Server, services: string[]): HealthRegistry {
  const health = new HealthRegistry();
  health.set('', ServingStatus.SERVING);
  for (const s of services) health.set(s, ServingStatus.SERVING);
  server.addService(healthDefinition, {
    Check: (call: grpc.ServerUnaryCall<HealthReq, unknown>, cb: grpc.sendUnaryData<{ status: number }>) => {
      const s = health.get(call.request.service ?? '');
      if (s === undefined) cb({ code: grpc.status.NOT_FOUND, details: `unknown service ${JSON.stringify(call.request.service ?? '')}` });
      else cb(null, { status: s });
    },
    Watch: (call: grpc.ServerWritableStream<HealthReq, { status: number }>) => {
      const name = call.request.service ?? '';
      // Per the health protocol an unknown service is not an error for Watch: it is reported as
      // SERVICE_UNKNOWN and the stream stays open for a later registration.
      const send = (s: ServingStatusValue): void => {
        if (!call.cancelled && call.writable) call.write({ status: s });
      };
      send(health.get(name) ?? ServingStatus.SERVICE_UNKNOWN);
      const stop = health.watch(name, send);
      call.on('cancelled', stop);
      call.on('close', stop);
    },
  });
  const all = [...services, HEALTH_SERVICE, ...REFLECTION_SERVICES];
  for (const r of REFLECTION_SERVICES) {
    server.addService(reflectionDefinition(r), {
      ServerReflectionInfo: (call: grpc.ServerDuplexStream<ReflReq, Record<string, unknown>>) => {
        call.on('data', (req: ReflReq) => {
          if (!call.cancelled && call.writable) call.write(reflect(req, all));
        });
        call.on('end', () => call.end());
        call.on('error', () => undefined);
      },
    });
  }
  return health;
}
