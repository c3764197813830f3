/**
 * A real OTLP logs receiver for the tests, built from the OTLP protos in fixtures/otlp: the gRPC
 * LogsService/Export on one port and OTLP/HTTP (POST /v1/logs, JSON or protobuf) on another, as a
 * Collector's otlp receiver offers them. It can be told to fail the next exports (UNAVAILABLE /
 * 503, or a malformed-request refusal) to test retries.
 */
import { createServer } from 'node:http';
import type { Server as HttpServer } from 'node:http';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import protobuf from 'protobufjs';
import { repoRoot } from './helpers.js';

const protoRoot = join(repoRoot, 'test/e2e/fixtures/otlp');
const root = new protobuf.Root();
root.resolvePath = (_origin, target) => join(protoRoot, target);
root.loadSync('opentelemetry/proto/collector/logs/v1/logs_service.proto');
const Req = root.lookupType('opentelemetry.proto.collector.logs.v1.ExportLogsServiceRequest');
const Res = root.lookupType('opentelemetry.proto.collector.logs.v1.ExportLogsServiceResponse');

export interface ReceivedLog {
  resource: Record<string, unknown>;
  scope: string;
  timeMs: number;
  severityNumber: number;
  eventName: string;
  body: unknown;
  attributes: Record<string, unknown>;
  via: 'grpc' | 'http';
}

interface AnyValueMsg {
  stringValue?: string;
  boolValue?: boolean;
  intValue?: number | string;
  doubleValue?: number;
  arrayValue?: { values?: AnyValueMsg[] };
  kvlistValue?: { values?: { key: string; value?: AnyValueMsg }[] };
  bytesValue?: Uint8Array;
}

/** AnyValue back to plain JSON. */
export function fromAny(v: AnyValueMsg | undefined): unknown {
  if (!v) return null;
  if (v.stringValue !== undefined) return v.stringValue;
  if (v.boolValue !== undefined) return v.boolValue;
  if (v.intValue !== undefined) return Number(v.intValue);
  if (v.doubleValue !== undefined) return v.doubleValue;
  if (v.arrayValue) return (v.arrayValue.values ?? []).map(fromAny);
  if (v.kvlistValue) return kv(v.kvlistValue.values);
  if (v.bytesValue) return Buffer.from(v.bytesValue).toString('base64');
  return null;
}
function kv(list: { key: string; value?: AnyValueMsg }[] | undefined): Record<string, unknown> {
  const o: Record<string, unknown> = {};
  for (const { key, value } of list ?? []) o[key] = fromAny(value);
  return o;
}

interface RequestMsg {
  resourceLogs?: {
    resource?: { attributes?: { key: string; value?: AnyValueMsg }[] };
    scopeLogs?: {
      scope?: { name?: string };
      logRecords?: { timeUnixNano?: number | string; severityNumber?: number; eventName?: string; body?: AnyValueMsg; attributes?: { key: string; value?: AnyValueMsg }[] }[];
    }[];
  }[];
}

export class OtlpReceiver {
  readonly logs: ReceivedLog[] = [];
  requests = 0;
  /** Exports still to fail, and how. */
  failNext = 0;
  failMode: 'unavailable' | 'malformed' = 'unavailable';
  private grpcServer: grpc.Server | null = null;
  private http: HttpServer | null = null;
  grpcPort = 0;
  httpPort = 0;

  private take(msg: RequestMsg, via: 'grpc' | 'http'): void {
    for (const rl of msg.resourceLogs ?? []) {
      const resource = kv(rl.resource?.attributes);
      for (const sl of rl.scopeLogs ?? []) {
        for (const r of sl.logRecords ?? []) {
          this.logs.push({
            resource,
            scope: sl.scope?.name ?? '',
            timeMs: Math.round(Number(r.timeUnixNano ?? 0) / 1e6),
            severityNumber: Number(r.severityNumber ?? 0),
            eventName: r.eventName ?? '',
            body: fromAny(r.body),
            attributes: kv(r.attributes),
            via,
          });
        }
      }
    }
  }

  /** Decides the fate of one export: null = accept. */
  private fault(): 'unavailable' | 'malformed' | null {
    this.requests++;
    if (this.failNext <= 0) return null;
    this.failNext--;
    return this.failMode;
  }

  async startGrpc(port = 0): Promise<number> {
    const server = new grpc.Server();
    server.addService(
      {
        Export: {
          path: '/opentelemetry.proto.collector.logs.v1.LogsService/Export',
          requestStream: false,
          responseStream: false,
          requestSerialize: (m: unknown) => Buffer.from(Req.encode(m as protobuf.Message).finish()),
          requestDeserialize: (b: Buffer) => Req.toObject(Req.decode(b), { longs: String, bytes: Buffer }),
          responseSerialize: (m: unknown) => Buffer.from(Res.encode(Res.fromObject(m as Record<string, unknown>)).finish()),
          responseDeserialize: (b: Buffer) => Res.decode(b),
        },
      },
      {
        Export: (call: grpc.ServerUnaryCall<RequestMsg, unknown>, cb: grpc.sendUnaryData<unknown>) => {
          const f = this.fault();
          if (f === 'unavailable') return cb({ code: grpc.status.UNAVAILABLE, details: 'receiver told to fail' });
          if (f === 'malformed') return cb({ code: grpc.status.INVALID_ARGUMENT, details: 'receiver told to refuse' });
          this.take(call.request, 'grpc');
          cb(null, {});
        },
      },
    );
    this.grpcPort = await new Promise<number>((res, rej) => server.bindAsync(`127.0.0.1:${port}`, grpc.ServerCredentials.createInsecure(), (e, p) => (e ? rej(e) : res(p))));
    this.grpcServer = server;
    return this.grpcPort;
  }

  async stopGrpc(): Promise<void> {
    const s = this.grpcServer;
    this.grpcServer = null;
    if (s) s.forceShutdown();
  }

  async startHttp(port = 0): Promise<number> {
    const server = createServer((req, res) => {
      if (req.method !== 'POST' || req.url !== '/v1/logs') {
        res.writeHead(404).end();
        return;
      }
      const parts: Buffer[] = [];
      req.on('data', (d: Buffer) => parts.push(d));
      req.on('end', () => {
        const f = this.fault();
        if (f === 'unavailable') return void res.writeHead(503, { 'content-type': 'application/json' }).end('{}');
        if (f === 'malformed') return void res.writeHead(400, { 'content-type': 'application/json' }).end('{"code":3,"message":"receiver told to refuse"}');
        const body = Buffer.concat(parts);
        const type = req.headers['content-type'] ?? '';
        let msg: RequestMsg;
        try {
          const m = type.includes('json') ? Req.fromObject(JSON.parse(body.toString('utf8')) as Record<string, unknown>) : Req.decode(body);
          msg = Req.toObject(m, { longs: String, bytes: Buffer }) as RequestMsg;
        } catch (e) {
          res.writeHead(400).end(String(e));
          return;
        }
        this.take(msg, 'http');
        if (type.includes('json')) res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
        else res.writeHead(200, { 'content-type': 'application/x-protobuf' }).end(Buffer.from(Res.encode({}).finish()));
      });
    });
    await new Promise<void>((r) => server.listen(port, '127.0.0.1', () => r()));
    this.httpPort = (server.address() as { port: number }).port;
    this.http = server;
    return this.httpPort;
  }

  async stopHttp(): Promise<void> {
    const s = this.http;
    this.http = null;
    if (s) {
      s.closeAllConnections();
      await new Promise<void>((r) => s.close(() => r()));
    }
  }

  async close(): Promise<void> {
    await this.stopGrpc();
    await this.stopHttp();
  }
}
