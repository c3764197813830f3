/**
 * OpenTelemetry out: flows and alerts as OTLP log records, over gRPC (OTLP/gRPC, port 4317) or
 * HTTP (OTLP/HTTP JSON, /v1/logs on port 4318), so a stock OpenTelemetry Collector can take them
 * and forward them to any SIEM it has an exporter for.
 *
 * Each record is one log record: the ECS document is the body (a map, as OTLP's AnyValue
 * kvlist), the time is the document's @timestamp, alerts are WARN and flows INFO, and a few
 * attributes (ndr.record.type, event.dataset, event.kind) let a Collector route without parsing
 * the body. The resource names the sensor (service.name ndr-sensor, service.instance.id = sensor
 * id, host.name).
 *
 * Delivery uses the same disk spool as the SIEM feed (src/output/spool.ts): batches are spooled
 * (fsynced in groups) before they are exported and deleted once the receiver answered success.
 * The SDK's exporters do the encoding and transport (OTLPLogExporter from
 * @opentelemetry/exporter-logs-otlp-grpc / -http); the SDK's BatchLogRecordProcessor is not used
 * because it drops records when its queue is full and forgets a batch whose export failed: here a
 * failed export is retried from the spool, with backoff, until it succeeds. The receiver refusing
 * a batch as malformed (HTTP 400, gRPC INVALID_ARGUMENT: OTLP says not to retry those) is the one
 * case where a batch is given up: counted as rejected and reported.
 */
import { hostname } from 'node:os';
import * as grpc from '@grpc/grpc-js';
import type { HrTime } from '@opentelemetry/api';
import type { AnyValue, LogAttributes } from '@opentelemetry/api-logs';
import { resourceFromAttributes } from '@opentelemetry/resources';
import type { Resource } from '@opentelemetry/resources';
import type { ReadableLogRecord } from '@opentelemetry/sdk-logs';
import { OTLPLogExporter as GrpcLogExporter } from '@opentelemetry/exporter-logs-otlp-grpc';
import { OTLPLogExporter as HttpLogExporter } from '@opentelemetry/exporter-logs-otlp-http';
import { ndr } from '../grpc/services.js';
import { isLoopbackEndpoint, InsecureEndpointError } from '../grpc/tls.js';
import type { TlsFiles } from '../grpc/tls.js';
import { readFileSync } from 'node:fs';
import { stderrLine } from '../util/terminal.js';
import { SpooledFeed } from './spooled-feed.js';
import type { SpoolFrame, SpoolStats } from './spool.js';

export interface OtlpClientOptions {
  /** 'grpc' (OTLP/gRPC) or 'http' (OTLP/HTTP JSON). */
  protocol: 'grpc' | 'http';
  /** grpc: host:port or http(s)://host:port; http: the full URL, e.g. http://127.0.0.1:4318/v1/logs. */
  endpoint: string;
  sensorId: string;
  spoolDir: string;
  spoolMaxBytes?: number;
  /** Records per export. */
  batchSize?: number;
  /** How long a partial batch waits (ms). */
  lingerMs?: number;
  /** Deadline of one export (ms). */
  timeoutMs?: number;
  /** Retry backoff bounds (ms). */
  retryMinMs?: number;
  retryMaxMs?: number;
  /** gRPC only: mTLS files (serverName honoured). HTTP: use an https:// URL. */
  tls?: TlsFiles | null;
  allowPlaintextRemote?: boolean;
  /** Extra headers (HTTP) or metadata (gRPC), e.g. an API key for a hosted Collector. */
  headers?: Record<string, string>;
  log?: (line: string) => void;
}

export interface OtlpClientStats {
  published: number;
  exportedRecords: number;
  exportedBatches: number;
  failedExports: number;
  /** Records the receiver refused as malformed (not retried, per OTLP). */
  rejected: number;
  /** Records lost before export (spool limit, disk errors). */
  lost: number;
  ackedSeq: number;
  lastSeq: number;
  lastError: string;
  spool: SpoolStats;
}

/** OTLP says a malformed request is not to be retried: HTTP 400, gRPC INVALID_ARGUMENT. */
function isPermanent(e: unknown, protocol: 'grpc' | 'http'): boolean {
  const code = (e as { code?: unknown } | undefined)?.code;
  if (typeof code !== 'number') return false;
  return protocol === 'http' ? code === 400 : code === grpc.status.INVALID_ARGUMENT;
}

function hrTime(ms: number): HrTime {
  const s = Math.floor(ms / 1000);
  return [s, Math.round((ms - s * 1000) * 1e6)];
}

function pem(v: string | Buffer): Buffer {
  return Buffer.isBuffer(v) ? v : v.includes('-----BEGIN') ? Buffer.from(v) : readFileSync(v);
}

/** The SDK's exporter for the configured protocol; an insecure remote endpoint is refused here. */
function makeExporter(opts: OtlpClientOptions, timeoutMs: number): Exporter {
  const plainRemote = (host: string) => !isLoopbackEndpoint(host) && !(opts.allowPlaintextRemote ?? false);
  if (opts.protocol === 'grpc') {
    const target = opts.endpoint.replace(/^[a-z]+:\/\//, '');
    if (!opts.tls && plainRemote(target)) throw new InsecureEndpointError(`otlp: refusing plaintext gRPC to non-loopback ${target}; configure mTLS or allow plaintext explicitly`);
    const metadata = new grpc.Metadata();
    for (const [k, v] of Object.entries(opts.headers ?? {})) metadata.set(k, v);
    const credentials = opts.tls ? grpc.credentials.createSsl(pem(opts.tls.ca), pem(opts.tls.key), pem(opts.tls.cert)) : grpc.credentials.createInsecure();
    return new GrpcLogExporter({ url: `${opts.tls ? 'https' : 'http'}://${target}`, credentials, metadata, timeoutMillis: timeoutMs }) as unknown as Exporter;
  }
  const url = new URL(opts.endpoint);
  if (url.protocol === 'http:' && plainRemote(`${url.hostname}:${url.port || 80}`)) {
    throw new InsecureEndpointError(`otlp: refusing plain HTTP to non-loopback ${url.host}; use https:// or allow plaintext explicitly`);
  }
  return new HttpLogExporter({ url: opts.endpoint, headers: opts.headers ?? {}, timeoutMillis: timeoutMs }) as unknown as Exporter;
}

interface Exporter {
  export(items: ReadableLogRecord[], cb: (r: { code: number; error?: Error }) => void): void;
  shutdown(): Promise<void>;
}

export class OtlpClient extends SpooledFeed {
  private readonly protocol: 'grpc' | 'http';
  private readonly endpoint: string;
  private readonly spoolDir: string;
  private readonly exporter: Exporter;
  private readonly resource: Resource;
  private retryTimer: NodeJS.Timeout | null = null;
  private inFlight = false;
  private down = false;
  private readonly s = { exportedRecords: 0, exportedBatches: 0, failedExports: 0, rejected: 0, lastError: '' };

  constructor(opts: OtlpClientOptions) {
    // Refuse an insecure endpoint before creating the spool.
    const exporter = makeExporter(opts, opts.timeoutMs ?? 10_000);
    super({
      name: 'otlp client',
      sensorId: opts.sensorId,
      spool: { dir: opts.spoolDir, maxBytes: opts.spoolMaxBytes ?? 256 << 20 },
      batchSize: opts.batchSize ?? 512,
      lingerMs: opts.lingerMs ?? 200,
      retryMinMs: opts.retryMinMs ?? 200,
      retryMaxMs: opts.retryMaxMs ?? 10_000,
      log: opts.log ?? stderrLine,
    });
    this.protocol = opts.protocol;
    this.endpoint = opts.endpoint;
    this.spoolDir = opts.spoolDir;
    this.exporter = exporter;
    this.resource = resourceFromAttributes({ 'service.name': 'ndr-sensor', 'service.instance.id': opts.sensorId, 'host.name': hostname() });
    const pending = this.spool.lastSeq - this.spool.ackedSeq;
    if (pending > 0) this.log(`otlp: ${pending} unexported batch(es) in the spool from an earlier run; exporting them first`);
    this.pump();
  }

  // OTLP carries only the ECS document: the spooled record keeps its kind as an empty typed
  // message (the oneof case), not the typed fields, which nothing here would read.

  /** One flow's ECS JSON. */
  publishFlow(ecsJson: string): void {
    this.publishRecord({ flow: {}, ecsJson });
  }

  /** One alert's ECS JSON. */
  publishAlert(ecsJson: string): void {
    this.publishRecord({ alert: {}, ecsJson });
  }

  /** One flood summary's ECS JSON. */
  publishFlood(ecsJson: string): void {
    this.publishRecord({ flood: {}, ecsJson });
  }

  /** A document that is a record of its own (the lean output's description of a certificate or a JA4 fingerprint). */
  publishDocument(ecsJson: string): void {
    this.publishRecord({ ecsJson });
  }

  /** `kind` is the record's oneof case: flow, alert, or a kind this build does not name. */
  private record(doc: string, kind: string, now: HrTime): ReadableLogRecord {
    let body: AnyValue;
    let tsMs = Date.now();
    const attributes: LogAttributes = { 'ndr.record.type': kind, 'ndr.sensor.id': this.sensorId };
    try {
      const o = JSON.parse(doc) as Record<string, unknown>;
      body = o as AnyValue;
      const t = Date.parse(String(o['@timestamp'] ?? ''));
      if (Number.isFinite(t)) tsMs = t;
      const ev = o['event'] as Record<string, unknown> | undefined;
      if (typeof ev?.['dataset'] === 'string') attributes['event.dataset'] = ev['dataset'];
      if (typeof ev?.['kind'] === 'string') attributes['event.kind'] = ev['kind'];
    } catch {
      body = doc;
    }
    return {
      hrTime: hrTime(tsMs),
      hrTimeObserved: now,
      severityNumber: kind === 'alert' ? 13 : 9,
      severityText: kind === 'alert' ? 'WARN' : 'INFO',
      body,
      eventName: `ndr.${kind}`,
      resource: this.resource,
      instrumentationScope: { name: 'ndr-sensor', version: '0.1.0' },
      attributes,
      droppedAttributesCount: 0,
    };
  }

  /** The log records of one spooled batch (a lost range becomes one WARN record naming it). */
  private records(f: SpoolFrame): { items: ReadableLogRecord[]; count: number } {
    const now = hrTime(Date.now());
    if (f.loss) {
      const l = f.loss;
      return {
        count: 0,
        items: [
          {
            hrTime: now,
            hrTimeObserved: now,
            severityNumber: 13,
            severityText: 'WARN',
            body: `sensor ${this.sensorId} lost batches ${l.firstSeq}..${l.lastSeq} before export (${l.reason}, ${l.records} records)`,
            eventName: 'ndr.delivery.loss',
            resource: this.resource,
            instrumentationScope: { name: 'ndr-sensor', version: '0.1.0' },
            attributes: { 'ndr.record.type': 'delivery_loss', 'ndr.delivery.first_seq': l.firstSeq, 'ndr.delivery.last_seq': l.lastSeq, 'ndr.delivery.records': l.records, 'ndr.delivery.reason': l.reason },
            droppedAttributesCount: 0,
          },
        ],
      };
    }
    const b = ndr.v1.PublishRequest.decode(f.payload);
    if (!b.records) return { count: 0, items: [] };
    const recs = b.records?.records ?? [];
    return { count: recs.length, items: recs.map((r) => this.record(r.ecsJson ?? '', (r as ndr.v1.FeedRecord).record ?? 'record', now)) };
  }

  /** Exports the oldest unexported batch (one at a time: order kept, nothing overtakes a retry). */
  protected pump(): void {
    if (this.closed || this.inFlight || this.retryTimer) return;
    const [f] = this.spool.read(this.spool.ackedSeq + 1, 1);
    if (!f) return;
    const { items, count } = this.records(f);
    if (items.length === 0) {
      // A frame another version spooled in a layout this one does not read: nothing to export.
      this.log(`otlp: batch ${f.seq} in ${this.spoolDir} holds no records this version reads; skipped`);
      this.done(f.seq);
      return;
    }
    this.inFlight = true;
    this.exporter.export(items, (r) => {
      this.inFlight = false;
      if (r.code === 0) {
        this.s.exportedBatches++;
        this.s.exportedRecords += count;
        this.resetRetry();
        if (this.down) {
          this.down = false;
          this.log(`otlp: ${this.endpoint} takes records again; exporting the spool`);
        }
        this.done(f.seq);
        return;
      }
      this.s.failedExports++;
      this.s.lastError = r.error?.message ?? 'export failed';
      if (isPermanent(r.error, this.protocol)) {
        this.s.rejected += count;
        this.log(`otlp: ${this.endpoint} refused batch ${f.seq} (${count} records) as malformed: ${this.s.lastError}; not retried`);
        this.done(f.seq);
        return;
      }
      if (!this.down) this.log(`otlp: export to ${this.endpoint} failed (${this.s.lastError}); records wait in ${this.spoolDir} and are retried`);
      this.down = true;
      this.retryTimer = setTimeout(() => {
        this.retryTimer = null;
        this.pump();
      }, this.nextRetryMs());
    });
  }

  private done(seq: number): void {
    this.acknowledged(seq);
    this.pump();
  }

  stats(): OtlpClientStats {
    const sp = this.spool.stats();
    return {
      published: this.published,
      exportedRecords: this.s.exportedRecords,
      exportedBatches: this.s.exportedBatches,
      failedExports: this.s.failedExports,
      rejected: this.s.rejected,
      lost: sp.droppedRecords + sp.writeFailedRecords,
      ackedSeq: sp.ackedSeq,
      lastSeq: sp.lastSeq,
      lastError: this.s.lastError,
      spool: sp,
    };
  }

  protected async closeTransport(): Promise<void> {
    if (this.retryTimer) clearTimeout(this.retryTimer);
    await this.exporter.shutdown().catch(() => undefined);
  }
}
