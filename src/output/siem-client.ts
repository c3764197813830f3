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
import type { SectionContext } from '../dissect/api.js';
import type { FloodSummary, FlowRecord } from '../flow/record.js';
import { alertToPb, floodToPb, flowToPb } from './siem-records.js';
import { InvalidMessage, SIEM_PUBLISH_PATH, deserializeAck, ndr } from '../grpc/services.js';
import type { AckMsg } from '../grpc/services.js';
import { clientCredentials, diagnoseTls, isTlsFailure, tlsChannelOptions } from '../grpc/tls.js';
import type { TlsFiles } from '../grpc/tls.js';
import { Spool } from './spool.js';
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

export class SiemClient {
  private readonly o: Required<Omit<SiemClientOptions, 'tls' | 'log' | 'syncIntervalMs' | 'sectionContext'>>;
  private readonly sectionContext: SectionContext | undefined;
  private readonly log: (line: string) => void;
  private readonly tls: TlsFiles | null;
  private diagnosed = false;
  readonly spool: Spool;
  private readonly client: grpc.Client;
  private stream: grpc.ClientDuplexStream<Buffer, AckMsg | InvalidMessage> | null = null;
  private batch: ndr.v1.IFeedRecord[] = [];
  private lingerTimer: NodeJS.Timeout | null = null;
  private reconnectTimer: NodeJS.Timeout | null = null;
  private backoff: number;
  private sentSeq: number;
  private maxSentSeq: number;
  private waitingDrain = false;
  private down = false;
  private tlsLogged = false;
  private closed = false;
  private ackWaiters: { seq: number; resolve: (ok: boolean) => void }[] = [];
  private readonly s = { published: 0, sentBatches: 0, resentBatches: 0, reconnects: 0, rejected: 0 };
  private readonly rejectReasons: Record<string, number> = {};
  private rejectLogged = 0;
  private permanentError = '';

  constructor(opts: SiemClientOptions) {
    this.log = opts.log ?? stderrLine;
    this.tls = opts.tls ?? null;
    this.sectionContext = opts.sectionContext;
    this.o = {
      endpoint: opts.endpoint,
      sensorId: opts.sensorId,
      spoolDir: opts.spoolDir,
      spoolMaxBytes: opts.spoolMaxBytes ?? 256 << 20,
      segmentBytes: opts.segmentBytes ?? 8 << 20,
      batchSize: opts.batchSize ?? 500,
      lingerMs: opts.lingerMs ?? 50,
      window: opts.window ?? 32,
      allowPlaintextRemote: opts.allowPlaintextRemote ?? false,
      reconnectMinMs: opts.reconnectMinMs ?? 100,
      reconnectMaxMs: opts.reconnectMaxMs ?? 5000,
    };
    this.backoff = this.o.reconnectMinMs;
    // Refuse an insecure endpoint before creating the spool.
    const creds = clientCredentials(opts.endpoint, opts.tls ?? null, this.o.allowPlaintextRemote, 'siem client');
    this.spool = new Spool({
      dir: opts.spoolDir,
      maxBytes: this.o.spoolMaxBytes,
      segmentBytes: this.o.segmentBytes,
      ...(opts.syncIntervalMs !== undefined ? { syncIntervalMs: opts.syncIntervalMs } : {}),
      onSynced: () => this.pump(),
      log: this.log,
    });
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

  /** A record already in the feed's envelope (any kind; bench and tests build their own). */
  publishRecord(rec: ndr.v1.IFeedRecord): void {
    if (this.closed) throw new Error('siem client closed');
    this.s.published++;
    this.batch.push(rec);
    if (this.batch.length >= this.o.batchSize) this.seal();
    else if (!this.lingerTimer) {
      this.lingerTimer = setTimeout(() => {
        this.lingerTimer = null;
        this.seal();
      }, this.o.lingerMs);
    }
  }

  publishStats(st: SensorStatsInput): void {
    this.seal();
    const sp = this.spool.stats();
    this.sealWith(
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

  /** Closes the batch being filled: assigns its sequence number and spools it. */
  private seal(): void {
    if (this.lingerTimer) {
      clearTimeout(this.lingerTimer);
      this.lingerTimer = null;
    }
    if (this.batch.length === 0) return;
    const records = this.batch;
    this.batch = [];
    this.sealWith({ records: { records } }, records.length);
  }

  private sealWith(payload: Pick<ndr.v1.IPublishRequest, 'records' | 'stats'>, records: number): void {
    const seq = this.spool.lastSeq + 1;
    const bytes = ndr.v1.PublishRequest.encode({ sensorId: this.o.sensorId, seq, epoch: this.spool.epoch, ...payload }).finish();
    // A refused write (full or read-only disk) is counted by the spool; nothing else stops.
    if (this.spool.append(seq, records, bytes)) this.pump();
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
        this.log(`siem: collector ${this.o.endpoint} reachable again; delivering the spool`);
      }
      this.backoff = this.o.reconnectMinMs;
      this.permanentError = '';
      this.spool.ack(acked);
      if (this.sentSeq < this.spool.ackedSeq) this.sentSeq = this.spool.ackedSeq;
      this.resolveAckWaiters();
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
        void diagnoseTls(this.o.endpoint, this.tls).then((reason) => {
          if (reason) this.reportTls(reason);
          else this.log(`siem: collector ${this.o.endpoint} unavailable (${why}); spooling to ${this.o.spoolDir}`);
        });
      } else if (!this.down) {
        this.log(`siem: collector ${this.o.endpoint} unavailable (${why}); spooling to ${this.o.spoolDir}`);
      }
      this.down = true;
      this.scheduleReconnect();
    };
    s.on('error', (e: grpc.ServiceError) => {
      const details = e.details ?? e.message;
      const why = `${grpc.status[e.code] ?? e.code}: ${details}`;
      if (!TRANSIENT_CODES.has(e.code)) {
        if (this.permanentError !== why) this.log(`siem: collector ${this.o.endpoint} refused the feed (${why}); this will not pass by retrying — records stay in the spool`);
        this.permanentError = why;
        this.backoff = this.o.reconnectMaxMs;
        for (const w of this.ackWaiters.splice(0)) w.resolve(false);
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
    this.log(`siem: TLS with ${this.o.endpoint} failed: ${why}; check the SIEM CA/certificate/key (records are spooled meanwhile)`);
  }

  private scheduleReconnect(): void {
    if (this.reconnectTimer || this.closed) return;
    const wait = this.backoff;
    this.backoff = Math.min(this.backoff * 2, this.o.reconnectMaxMs);
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = null;
      this.s.reconnects++;
      this.pump();
    }, wait);
  }

  /** Sends spooled batches above sentSeq while the window allows. */
  private pump(): void {
    if (this.closed || this.reconnectTimer) return;
    if (this.spool.lastSeq <= this.spool.ackedSeq) return;
    const s = this.stream ?? this.connect();
    while (!this.waitingDrain && this.sentSeq < this.spool.lastSeq && this.sentSeq - this.spool.ackedSeq < this.o.window) {
      const room = this.o.window - (this.sentSeq - this.spool.ackedSeq);
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
                sensorId: this.o.sensorId,
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

  private resolveAckWaiters(): void {
    if (this.ackWaiters.length === 0) return;
    const acked = this.spool.ackedSeq;
    this.ackWaiters = this.ackWaiters.filter((w) => {
      if (w.seq <= acked) {
        w.resolve(true);
        return false;
      }
      return true;
    });
  }

  /** Spools the open batch and waits until everything spooled is acknowledged (false on timeout). */
  flush(timeoutMs = 10_000): Promise<boolean> {
    this.seal();
    this.spool.sync();
    this.pump();
    const target = this.spool.lastSeq;
    if (target <= this.spool.ackedSeq) return Promise.resolve(true);
    if (this.permanentError) return Promise.resolve(false);
    return new Promise((resolve) => {
      const w = {
        seq: target,
        resolve: (ok: boolean) => {
          clearTimeout(t);
          resolve(ok);
        },
      };
      const t = setTimeout(() => {
        this.ackWaiters = this.ackWaiters.filter((x) => x !== w);
        resolve(false);
      }, timeoutMs);
      this.ackWaiters.push(w);
    });
  }

  stats(): SiemClientStats {
    const sp = this.spool.stats();
    return {
      published: this.s.published,
      queueDepth: this.batch.length,
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

  /** Flushes (bounded), then closes; what is not acknowledged stays in the spool for the next run. */
  async close(timeoutMs = 5_000): Promise<void> {
    if (this.closed) return;
    await this.flush(timeoutMs);
    this.closed = true;
    if (this.reconnectTimer) clearTimeout(this.reconnectTimer);
    if (this.lingerTimer) clearTimeout(this.lingerTimer);
    const s = this.stream;
    this.stream = null;
    if (s) s.end();
    this.spool.close();
    this.client.close();
  }
}
