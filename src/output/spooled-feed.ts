/**
 * What the SIEM feed (siem-client.ts) and OTLP (otlp.ts) share: records are gathered into
 * batches (closed at `batchSize` records or after `lingerMs`, whichever comes first), each batch
 * is spooled to disk as one ndr.v1.PublishRequest under the next sequence number before anything
 * is sent, and a batch leaves the spool only once the receiver has taken it. `flush()` waits for
 * that, `close()` flushes (bounded) and closes. Retries back off from `retryMinMs` doubling up to
 * `retryMaxMs`.
 *
 * The transports differ and stay in the subclasses: the SIEM feed keeps a window of batches in
 * flight on one gRPC stream, OTLP exports one batch at a time through the SDK's exporter. A
 * subclass implements `pump()` (send what the spool holds and the transport allows) and
 * `closeTransport()`, and calls `acknowledged(seq)` when the receiver has taken batches up to seq.
 */
import { ndr } from '../grpc/services.js';
import { Spool, type SpoolOptions } from './spool.js';

export interface SpooledFeedOptions {
  sensorId: string;
  spool: Omit<SpoolOptions, 'onSynced' | 'log'>;
  batchSize: number;
  lingerMs: number;
  retryMinMs: number;
  retryMaxMs: number;
  log: (line: string) => void;
  /** Names the feed in the error a publish after close() throws ('siem client', 'otlp client'). */
  name: string;
}

export abstract class SpooledFeed {
  readonly spool: Spool;
  protected readonly log: (line: string) => void;
  protected closed = false;
  /** Records accepted by publishRecord(). */
  protected published = 0;
  protected readonly sensorId: string;
  private readonly batchSize: number;
  private readonly lingerMs: number;
  private readonly retryMinMs: number;
  private readonly retryMaxMs: number;
  private readonly name: string;
  private retryMs: number;
  private batch: ndr.v1.IFeedRecord[] = [];
  private lingerTimer: NodeJS.Timeout | null = null;
  private waiters: { seq: number; resolve: (ok: boolean) => void }[] = [];

  constructor(o: SpooledFeedOptions) {
    this.log = o.log;
    this.sensorId = o.sensorId;
    this.batchSize = o.batchSize;
    this.lingerMs = o.lingerMs;
    this.retryMinMs = o.retryMinMs;
    this.retryMaxMs = o.retryMaxMs;
    this.retryMs = o.retryMinMs;
    this.name = o.name;
    this.spool = new Spool({ ...o.spool, onSynced: () => this.pump(), log: this.log });
  }

  /** Sends what the spool holds above what the receiver has taken, as far as the transport allows. */
  protected abstract pump(): void;

  /** Ends the transport; called once, after the last flush. */
  protected abstract closeTransport(): void | Promise<void>;

  /** True while the receiver refuses the feed for good: flush() then answers false at once. */
  protected refused(): boolean {
    return false;
  }

  /** A record in the feed's envelope; batched, spooled, then sent. */
  publishRecord(rec: ndr.v1.IFeedRecord): void {
    if (this.closed) throw new Error(`${this.name} closed`);
    this.published++;
    this.batch.push(rec);
    if (this.batch.length >= this.batchSize) this.seal();
    else if (!this.lingerTimer) {
      this.lingerTimer = setTimeout(() => {
        this.lingerTimer = null;
        this.seal();
      }, this.lingerMs);
    }
  }

  /** Records waiting in the batch being filled (not yet spooled). */
  protected get queueDepth(): number {
    return this.batch.length;
  }

  /** Closes the batch being filled: assigns its sequence number and spools it. */
  protected seal(): void {
    if (this.lingerTimer) {
      clearTimeout(this.lingerTimer);
      this.lingerTimer = null;
    }
    if (this.batch.length === 0) return;
    const records = this.batch;
    this.batch = [];
    this.spoolBatch({ records: { records } }, records.length);
  }

  /** Spools one batch with this payload under the next sequence number. */
  protected spoolBatch(payload: Pick<ndr.v1.IPublishRequest, 'records' | 'stats'>, records: number): void {
    const seq = this.spool.lastSeq + 1;
    const bytes = ndr.v1.PublishRequest.encode({ sensorId: this.sensorId, seq, epoch: this.spool.epoch, ...payload }).finish();
    // A refused write (full or read-only disk) is counted by the spool; nothing else stops.
    if (this.spool.append(seq, records, bytes)) this.pump();
  }

  /** The receiver has taken every batch up to seq: they leave the spool, and flush() waiters learn it. */
  protected acknowledged(seq: number): void {
    this.spool.ack(seq);
    if (this.waiters.length === 0) return;
    const acked = this.spool.ackedSeq;
    this.waiters = this.waiters.filter((w) => {
      if (w.seq > acked) return true;
      w.resolve(true);
      return false;
    });
  }

  /** Tells every flush() waiting that no acknowledgement will come (the receiver refuses the feed). */
  protected giveUpWaiting(): void {
    for (const w of this.waiters.splice(0)) w.resolve(false);
  }

  /** How long to wait before the next retry; each call doubles the next, up to retryMaxMs. */
  protected nextRetryMs(): number {
    const wait = this.retryMs;
    this.retryMs = Math.min(this.retryMs * 2, this.retryMaxMs);
    return wait;
  }

  /** The receiver answered: the next failure starts the backoff afresh. */
  protected resetRetry(): void {
    this.retryMs = this.retryMinMs;
  }

  /** Retry at the slowest pace (the receiver refuses for good: retrying soon will not help). */
  protected slowRetry(): void {
    this.retryMs = this.retryMaxMs;
  }

  /** Spools the open batch and waits until everything spooled is taken by the receiver (false on timeout). */
  flush(timeoutMs = 10_000): Promise<boolean> {
    this.seal();
    this.spool.sync();
    this.pump();
    const target = this.spool.lastSeq;
    if (target <= this.spool.ackedSeq) return Promise.resolve(true);
    if (this.refused()) return Promise.resolve(false);
    return new Promise((resolve) => {
      const w = {
        seq: target,
        resolve: (ok: boolean) => {
          clearTimeout(t);
          resolve(ok);
        },
      };
      const t = setTimeout(() => {
        this.waiters = this.waiters.filter((x) => x !== w);
        resolve(false);
      }, timeoutMs);
      this.waiters.push(w);
    });
  }

  /** Flushes (bounded), then closes; what the receiver has not taken stays in the spool for the next run. */
  async close(timeoutMs = 5_000): Promise<void> {
    if (this.closed) return;
    await this.flush(timeoutMs);
    this.closed = true;
    if (this.lingerTimer) clearTimeout(this.lingerTimer);
    await this.closeTransport();
    this.spool.close();
  }
}
