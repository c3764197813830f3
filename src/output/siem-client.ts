/**
 * SIEM feed client (DESIGN.md §6): batches flows/alerts/stats into ndr.v1.PublishRequest messages
 * with per-sensor sequence numbers, writes every batch to the on-disk spool first, streams the
 * spool in order over SiemFeedService.Publish, and deletes what the collector acknowledges. While the
 * collector is away the spool grows (bounded); on reconnect, and after a restart, everything above
 * the last acknowledged sequence is sent again: at-least-once, order kept per sensor.
 *
 * Batches carry the spool's epoch, so a collector keys its sequence by (sensor, epoch) and a new
 * spool is a new sequence rather than a duplicate. Only fsynced frames are sent (the spool's
 * group commit). Sequences the spool lost (size limit, corrupt frame) go out as one DeliveryLoss
 * batch each, so the collector records the loss instead of waiting at a gap. gRPC status codes
 * are split: transient ones (the collector is away, overloaded, its disk is full) reconnect with
 * backoff; permanent ones (the collector refuses what we send) are reported as such and make
 * flush() give up at once instead of waiting for an acknowledgement that will not come.
 */
import * as grpc from '@grpc/grpc-js';
import type { Alert } from '../analytics/alert.js';
import type { SectionContext } from '../contract/api.js';
import type { FloodSummary, FlowRecord } from '../flow/record.js';
import { alertToPb, floodToPb, flowToPb } from './siem-records.js';
import { InvalidMessage, SIEM_PUBLISH_PATH, deserializeAck, ndr } from '../grpc/services.js';
import type { AckMsg } from '../grpc/services.js';
import { clientCredentials, diagnoseTls, isTlsFailure, tlsChannelOptions } from '../grpc/tls.js';
import type { TlsFiles } from '../grpc/tls.js';
import { SpooledFeed } from './spooled-feed.js';
import type { SpoolStats } from './spool.js';
import { stderrLine } from '../util/terminal.js';

export interface SiemClientOptions {
  endpoint: string;
  sensorId: string;
  spoolDir: string;
  spoolMaxBytes?: number;
  segmentBytes?: number;
  /** Records per batch. */
  batchSize?: number;
  /** How long a partial batch waits (ms). */
  lingerMs?: number;
  /** Unacknowledged batches on the wire. */
  window?: number;
  tls?: TlsFiles | null;
  allowPlaintextRemote?: boolean;
  /** Reconnect backoff bounds (ms). */
  reconnectMinMs?: number;
  reconnectMaxMs?: number;
  /** Spool group-commit window (ms): see SpoolOptions.syncIntervalMs. */
  syncIntervalMs?: number;
  /** The settings the typed records follow (URL redaction): the same as the ECS documents'. */
  sectionContext?: SectionContext;
  log?: (line: string) => void;
}

export interface SensorStatsInput {
  packets?: number;
  drops?: number;
  flowsActive?: number;
  flowsTotal?: number;
  alerts?: number;
  counters?: Record<string, number>;
}

export interface SiemClientStats {
  /** Records accepted by publish*(). */
  published: number;
  /** Records in the batch being filled (not yet spooled). */
  queueDepth: number;
  /** Batches spooled and not acknowledged. */
  pendingBatches: number;
  spoolBytes: number;
  dropped: number;
  ackedSeq: number;
  lastSeq: number;
  sentBatches: number;
  resentBatches: number;
  connected: boolean;
  reconnects: number;
  /** Records the collector acknowledged but refused to write (named reasons in rejectReasons). */
  rejected: number;
  rejectReasons: Record<string, number>;
  /** Records lost before delivery: spool size limit, disk write failures, corrupt frames (counted where known). */
  lost: number;
  /** The last permanent gRPC error ('' when none): the collector refuses what this sensor sends. */
  permanentError: string;
  spool: SpoolStats;
}

/** Status codes worth retrying: the collector is away, overloaded or short of disk. */
export const TRANSIENT_CODES: ReadonlySet<number> = new Set([
  grpc.status.UNAVAILABLE,
  grpc.status.DEADLINE_EXCEEDED,
  grpc.status.RESOURCE_EXHAUSTED,
  grpc.status.ABORTED,
  grpc.status.CANCELLED,
  grpc.status.INTERNAL,
  grpc.status.UNKNOWN,
]);

const passthrough = (b: Buffer): Buffer => b;

export class SiemClient extends SpooledFeed {
  private readonly endpoint: string;
  private readonly spoolDir: string;
  private readonly window: number;
  private readonly sectionContext: SectionContext | undefined;
  private readonly tls: TlsFiles | null;
  private diagnosed = false;
  private readonly client: grpc.Client;
  private stream: grpc.ClientDuplexStream<Buffer, AckMsg | InvalidMessage> | null = null;
  private reconnectTimer: NodeJS.Timeout | null = null;
  private sentSeq: number;
  private maxSentSeq: number;
  private waitingDrain = false;
  private down = false;
  private tlsLogged = false;
  private readonly s = { sentBatches: 0, resentBatches: 0, reconnects: 0, rejected: 0 };
  private readonly rejectReasons: Record<string, number> = {};
  private rejectLogged = 0;
  private permanentError = '';

  constructor(opts: SiemClientOptions) {
    // Refuse an insecure endpoint before creating the spool.
    const creds = clientCredentials(opts.endpoint, opts.tls ?? null, opts.allowPlaintextRemote ?? false, 'siem client');
    super({
      name: 'siem client',
      sensorId: opts.sensorId,
      spool: {
        dir: opts.spoolDir,
        maxBytes: opts.spoolMaxBytes ?? 256 << 20,
        segmentBytes: opts.segmentBytes ?? 8 << 20,
        ...(opts.syncIntervalMs !== undefined ? { syncIntervalMs: opts.syncIntervalMs } : {}),
      },
      batchSize: opts.batchSize ?? 500,
      lingerMs: opts.lingerMs ?? 50,
      retryMinMs: opts.reconnectMinMs ?? 100,
      retryMaxMs: opts.reconnectMaxMs ?? 5000,
      log: opts.log ?? stderrLine,
    });
    this.endpoint = opts.endpoint;
    this.spoolDir = opts.spoolDir;
    this.window = opts.window ?? 32;
    this.tls = opts.tls ?? null;
    this.sectionContext = opts.sectionContext;
    this.sentSeq = this.spool.ackedSeq;
    this.maxSentSeq = this.sentSeq;
    this.client = new grpc.Client(opts.endpoint, creds, {
      ...tlsChannelOptions(this.tls),
      'grpc.initial_reconnect_backoff_ms': 100,
      'grpc.max_reconnect_backoff_ms': 2000,
      'grpc.max_send_message_length': 256 << 20,
    });
    const pending = this.spool.lastSeq - this.spool.ackedSeq;
    if (pending > 0) this.log(`siem: ${pending} unacknowledged batch(es) in the spool from an earlier run; replaying`);
    this.pump();
  }

  /** A flow: its typed record, and `ecsJson` the document the JSON output writes for it. */
  publishFlow(flow: FlowRecord, ecsJson: string): void {
    this.publishRecord({ flow: flowToPb(flow, this.sectionContext ? { ctx: this.sectionContext } : {}), ecsJson });
  }

  /** An alert: its typed record, and `ecsJson` the document the JSON output writes for it. */
  publishAlert(alert: Alert, ecsJson: string): void {
    this.publishRecord({ alert: alertToPb(alert), ecsJson });
  }

  /** A flood summary: its typed record, and `ecsJson` the document the JSON output writes for it. */
  publishFlood(flood: FloodSummary, ecsJson: string): void {
    this.publishRecord({ flood: floodToPb(flood), ecsJson });
  }

  /**
   * A document that is a record of its own, without a typed message: the lean output's description
   * of an object flows refer to by key (a certificate, ndr.x509; a JA4 fingerprint, ndr.ja4), sent before them.
   */
  publishDocument(ecsJson: string): void {
    this.publishRecord({ ecsJson });
  }

  publishStats(st: SensorStatsInput): void {
    this.seal();
    const sp = this.spool.stats();
    this.spoolBatch(
      {
        stats: {
          tsMs: Date.now(),
          packets: st.packets ?? 0,
          drops: st.drops ?? 0,
          flowsActive: st.flowsActive ?? 0,
          flowsTotal: st.flowsTotal ?? 0,
          alerts: st.alerts ?? 0,
          queueDepth: sp.pendingRecords,
          spoolBytes: sp.bytes,
          spoolDropped: sp.droppedRecords,
          counters: st.counters ?? {},
        },
      },
      1,
    );
  }

  private connect(): grpc.ClientDuplexStream<Buffer, AckMsg | InvalidMessage> {
    const s = this.client.makeBidiStreamRequest<Buffer, AckMsg | InvalidMessage>(SIEM_PUBLISH_PATH, passthrough, deserializeAck);
    this.stream = s;
    // Resend everything not acknowledged.
    this.sentSeq = this.spool.ackedSeq;
    s.on('data', (m: AckMsg | InvalidMessage) => {
      if (m instanceof InvalidMessage) return;
      const acked = m.ackedSeq ?? 0;
      for (const r of m.rejected ?? []) this.rejectedRecord(r);
      this.tlsLogged = false;
      if (this.down) {
        this.down = false;
        this.log(`siem: collector ${this.endpoint} reachable again; delivering the spool`);
      }
      this.resetRetry();
      this.permanentError = '';
      this.acknowledged(acked);
      if (this.sentSeq < this.spool.ackedSeq) this.sentSeq = this.spool.ackedSeq;
      this.pump();
    });
    const lost = (why: string, tls: boolean): void => {
      if (this.stream !== s) return;
      this.stream = null;
      this.waitingDrain = false;
      if (tls) this.reportTls(why);
      else if (this.tls && !this.diagnosed && why.startsWith('UNAVAILABLE')) {
        // grpc-js hides handshake errors behind "Failed to connect": find out once.
        this.diagnosed = true;
        void diagnoseTls(this.endpoint, this.tls).then((reason) => {
          if (reason) this.reportTls(reason);
          else this.log(`siem: collector ${this.endpoint} unavailable (${why}); spooling to ${this.spoolDir}`);
        });
      } else if (!this.down) {
        this.log(`siem: collector ${this.endpoint} unavailable (${why}); spooling to ${this.spoolDir}`);
      }
      this.down = true;
      this.scheduleReconnect();
    };
    s.on('error', (e: grpc.ServiceError) => {
      const details = e.details ?? e.message;
      const why = `${grpc.status[e.code] ?? e.code}: ${details}`;
      if (!TRANSIENT_CODES.has(e.code)) {
        if (this.permanentError !== why) this.log(`siem: collector ${this.endpoint} refused the feed (${why}); this will not pass by retrying — records stay in the spool`);
        this.permanentError = why;
        this.slowRetry();
        this.giveUpWaiting();
      }
      lost(why, e.code === grpc.status.UNAVAILABLE && isTlsFailure(details));
    });
    s.on('end', () => lost('stream ended', false));
    s.on('drain', () => {
      this.waitingDrain = false;
      this.pump();
    });
    return s;
  }

  private reportTls(why: string): void {
    if (this.tlsLogged) return;
    this.tlsLogged = true;
    this.log(`siem: TLS with ${this.endpoint} failed: ${why}; check the SIEM CA/certificate/key (records are spooled meanwhile)`);
  }

  private scheduleReconnect(): void {
    if (this.reconnectTimer || this.closed) return;
    const wait = this.nextRetryMs();
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = null;
      this.s.reconnects++;
      this.pump();
    }, wait);
  }

  /** Sends spooled batches above sentSeq while the window allows. */
  protected pump(): void {
    if (this.closed || this.reconnectTimer) return;
    if (this.spool.lastSeq <= this.spool.ackedSeq) return;
    const s = this.stream ?? this.connect();
    while (!this.waitingDrain && this.sentSeq < this.spool.lastSeq && this.sentSeq - this.spool.ackedSeq < this.window) {
      const room = this.window - (this.sentSeq - this.spool.ackedSeq);
      const frames = this.spool.read(this.sentSeq + 1, Math.min(room, 64));
      if (frames.length === 0) break;
      for (const f of frames) {
        if (f.seq <= this.maxSentSeq) this.s.resentBatches++;
        else this.maxSentSeq = f.seq;
        this.s.sentBatches++;
        this.sentSeq = f.seq;
        const bytes = f.loss
          ? Buffer.from(
              ndr.v1.PublishRequest.encode({
                sensorId: this.sensorId,
                epoch: this.spool.epoch,
                seq: f.seq,
                loss: { firstSeq: f.loss.firstSeq, records: f.loss.records, reason: f.loss.reason },
              }).finish(),
            )
          : f.payload;
        if (!s.write(bytes)) {
          this.waitingDrain = true;
          break;
        }
      }
    }
  }

  private rejectedRecord(r: ndr.v1.IRecordRejection): void {
    this.s.rejected++;
    const reason = r.reason || 'unknown';
    this.rejectReasons[reason] = (this.rejectReasons[reason] ?? 0) + 1;
    if (this.rejectLogged < 10) {
      this.rejectLogged++;
      this.log(`siem: collector rejected record ${r.index ?? 0} of batch ${r.seq ?? 0}: ${reason}${r.detail ? ` (${r.detail})` : ''}`);
    }
  }

  /** A permanent refusal makes flush() give up at once instead of waiting for an acknowledgement. */
  protected override refused(): boolean {
    return this.permanentError !== '';
  }

  stats(): SiemClientStats {
    const sp = this.spool.stats();
    return {
      published: this.published,
      queueDepth: this.queueDepth,
      pendingBatches: sp.pendingBatches,
      spoolBytes: sp.bytes,
      dropped: sp.droppedRecords + sp.writeFailedRecords,
      ackedSeq: sp.ackedSeq,
      lastSeq: sp.lastSeq,
      sentBatches: this.s.sentBatches,
      resentBatches: this.s.resentBatches,
      connected: this.stream !== null && !this.down,
      reconnects: this.s.reconnects,
      rejected: this.s.rejected,
      rejectReasons: { ...this.rejectReasons },
      lost: sp.droppedRecords + sp.writeFailedRecords,
      permanentError: this.permanentError,
      spool: sp,
    };
  }

  protected closeTransport(): void {
    if (this.reconnectTimer) clearTimeout(this.reconnectTimer);
    const s = this.stream;
    this.stream = null;
    if (s) s.end();
    this.client.close();
  }
}
