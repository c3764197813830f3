/**
 * Sensor side of EDR enrichment (DESIGN.md §3, STYLE.md rule 12).
 *
 * `Enricher.submit(flow, cb)` never blocks: the flow is answered from a TTL+LRU cache, or queued,
 * batched and sent to the EDR (gRPC or embedded) under an in-flight cap, a per-batch deadline,
 * retries with backoff and a circuit breaker. Each flow waits at most `maxWaitMs` of wall time and
 * then goes on with attribution.status 'unattributed' and reason 'timeout' | 'edr_down'; a late
 * answer goes to `onLate(flow, attribution)`. Every submitted flow reaches `cb` exactly once.
 */
import * as grpc from '@grpc/grpc-js';
import type { Attribution, FlowRecord } from '../flow/record.js';
import { attributionFromPb, unattributed } from '../grpc/convert.js';
import { EDR_ENRICH_PATH, InvalidMessage, deserializeEnrichResultBatch, serializeEnrichBatch } from '../grpc/services.js';
import type { EnrichBatchMsg, EnrichRequestMsg, EnrichResultBatchMsg, EnrichResultMsg } from '../grpc/services.js';
import { clientCredentials, diagnoseTls, isTlsFailure, tlsChannelOptions } from '../grpc/tls.js';
import type { TlsFiles } from '../grpc/tls.js';
import { EdrCallError } from './embedded-edr.js';
import type { EnrichBackend } from './embedded-edr.js';
import { stderrLine } from '../util/terminal.js';
import { MapFront } from '../util/map-front.js';

export { EdrCallError, createEmbeddedEdr } from './embedded-edr.js';
export type { EnrichBackend } from './embedded-edr.js';

type Log = (line: string) => void;
const defaultLog: Log = stderrLine;

// ---------------------------------------------------------------- gRPC backend

interface PendingBatch {
  ids: Set<number>;
  results: EnrichResultMsg[];
  resolve: (r: EnrichResultMsg[]) => void;
  reject: (e: EdrCallError) => void;
  timer: NodeJS.Timeout;
}

/** One long-lived Enrich stream; batches are matched to results by request id. */
export class EdrGrpcClient implements EnrichBackend {
  private readonly client: grpc.Client;
  private readonly endpoint: string;
  private readonly log: Log;
  private stream: grpc.ClientDuplexStream<EnrichBatchMsg, EnrichResultBatchMsg | InvalidMessage> | null = null;
  private readonly byId = new Map<number, PendingBatch>();
  private tlsLogged = false;
  private tlsBroken = false;
  private diagnosing = false;
  private readonly tls: TlsFiles | null;
  private closed = false;

  constructor(endpoint: string, opts: { tls: TlsFiles | null; allowPlaintextRemote?: boolean; log?: Log }) {
    this.endpoint = endpoint;
    this.tls = opts.tls;
    this.log = opts.log ?? defaultLog;
    const creds = clientCredentials(endpoint, opts.tls, opts.allowPlaintextRemote ?? false, 'edr client');
    this.client = new grpc.Client(endpoint, creds, {
      ...tlsChannelOptions(opts.tls),
      'grpc.max_receive_message_length': 64 << 20,
      'grpc.initial_reconnect_backoff_ms': 200,
      'grpc.max_reconnect_backoff_ms': 2000,
    });
  }

  private openStream(): grpc.ClientDuplexStream<EnrichBatchMsg, EnrichResultBatchMsg | InvalidMessage> {
    if (this.stream) return this.stream;
    const s = this.client.makeBidiStreamRequest<EnrichBatchMsg, EnrichResultBatchMsg | InvalidMessage>(
      EDR_ENRICH_PATH,
      serializeEnrichBatch,
      deserializeEnrichResultBatch,
    );
    s.on('data', (m: EnrichResultBatchMsg | InvalidMessage) => {
      if (m instanceof InvalidMessage) return;
      for (const r of m.results ?? []) {
        const id = r.requestId ?? 0;
        const b = this.byId.get(id);
        if (this.tlsBroken) {
          this.tlsBroken = false;
          this.tlsLogged = false;
        }
        if (!b) continue; // late answer after the deadline: dropped here, the Enricher has moved on
        this.byId.delete(id);
        b.ids.delete(id);
        b.results.push(r);
        if (b.ids.size === 0) {
          clearTimeout(b.timer);
          b.resolve(b.results);
        }
      }
    });
    const fail = (err: EdrCallError): void => {
      if (this.stream === s) this.stream = null;
      const batches = new Set(this.byId.values());
      this.byId.clear();
      for (const b of batches) {
        clearTimeout(b.timer);
        b.reject(err);
      }
    };
    s.on('error', (e: grpc.ServiceError) => {
      const details = e.details ?? e.message;
      let kind: EdrCallError['kind'] = e.code === grpc.status.UNAVAILABLE || e.code === grpc.status.CANCELLED ? 'edr_down' : 'error';
      if (e.code === grpc.status.UNAVAILABLE && (this.tlsBroken || isTlsFailure(details))) kind = 'tls';
      if (kind === 'tls') this.reportTls(details);
      else if (e.code === grpc.status.UNAVAILABLE && this.tls && !this.diagnosing && !this.tlsLogged) {
        // grpc-js hides handshake errors behind "Failed to connect": find out once.
        this.diagnosing = true;
        void diagnoseTls(this.endpoint, this.tls).then((why) => {
          this.diagnosing = false;
          if (why) {
            this.tlsBroken = true;
            this.reportTls(why);
          }
        });
      }
      fail(new EdrCallError(kind, `EDR stream ${grpc.status[e.code] ?? e.code}: ${details}`));
    });
    s.on('end', () => fail(new EdrCallError('edr_down', 'EDR stream ended')));
    this.stream = s;
    return s;
  }

  private reportTls(why: string): void {
    if (this.tlsLogged) return;
    this.tlsLogged = true;
    this.log(`edr: TLS with ${this.endpoint} failed: ${why}; check the EDR CA/certificate/key (enrichment is off until it succeeds)`);
  }

  enrich(requests: EnrichRequestMsg[], deadlineMs: number): Promise<EnrichResultMsg[]> {
    if (this.closed) return Promise.reject(new EdrCallError('edr_down', 'client closed'));
    if (requests.length === 0) return Promise.resolve([]);
    return new Promise((resolve, reject) => {
      const ids = new Set<number>();
      const b: PendingBatch = {
        ids,
        results: [],
        resolve,
        reject,
        timer: setTimeout(() => {
          for (const id of ids) this.byId.delete(id);
          reject(new EdrCallError('timeout', `EDR deadline of ${deadlineMs} ms exceeded`));
        }, deadlineMs),
      };
      for (const r of requests) {
        const id = r.requestId ?? 0;
        ids.add(id);
        this.byId.set(id, b);
      }
      try {
        this.openStream().write({ requests });
      } catch (e) {
        clearTimeout(b.timer);
        for (const id of ids) this.byId.delete(id);
        reject(new EdrCallError('edr_down', (e as Error).message));
      }
    });
  }

  close(): Promise<void> {
    this.closed = true;
    const s = this.stream;
    this.stream = null;
    if (s) s.cancel();
    this.client.close();
    return Promise.resolve();
  }
}

// ---------------------------------------------------------------- Enricher

export interface EnricherOptions {
  /** gRPC endpoint host:port of the EDR … */
  endpoint?: string;
  /** … or an in-process backend (createEmbeddedEdr). */
  embedded?: EnrichBackend;
  sensorId?: string;
  /** Requests per batch. */
  batchSize?: number;
  /** How long a partial batch waits for more flows (ms). */
  lingerMs?: number;
  /** Batches on the wire at once. */
  maxInFlight?: number;
  /** Per-batch deadline (ms). */
  deadlineMs?: number;
  /** Longest a flow waits for its attribution (ms, wall time). */
  maxWaitMs?: number;
  cacheTtlMs?: number;
  /** TTL for "no match" answers (ms): the EDR may learn the event a moment later. */
  negativeTtlMs?: number;
  cacheMax?: number;
  /** Retries per batch after the first attempt. */
  retries?: number;
  /** First retry delay (ms); doubles each retry. */
  backoffMs?: number;
  /** Consecutive failed batches that open the breaker. */
  breakerFailures?: number;
  /** How long the breaker stays open before a probe (ms). */
  breakerCooldownMs?: number;
  /** Flows queued for sending beyond which the oldest queued requests are shed. */
  maxQueued?: number;
  tls?: TlsFiles | null;
  allowPlaintextRemote?: boolean;
  /** Late answers (after the flow went on) for analytics state. */
  onLate?: (flow: FlowRecord, attribution: Attribution) => void;
  log?: Log;
}

export interface EnricherStats {
  submitted: number;
  completed: number;
  cacheHits: number;
  attributed: number;
  noMatch: number;
  timeouts: number;
  edrDown: number;
  errors: number;
  late: number;
  shed: number;
  batches: number;
  batchFailures: number;
  retries: number;
  waiting: number;
  queued: number;
  inFlight: number;
  cacheSize: number;
  breaker: 'closed' | 'open' | 'half_open';
  breakerOpens: number;
  /** Mean and max batch round trip (ms). */
  latencyMeanMs: number;
  latencyMaxMs: number;
}

interface Entry {
  flow: FlowRecord;
  cb: (flow: FlowRecord) => void;
  deadline: number;
  done: boolean;
}

interface CacheEntry {
  attr: Attribution;
  exp: number;
}

function cloneAttribution(a: Attribution): Attribution {
  return { ...a, imageLoads: a.imageLoads, fileEvents: a.fileEvents };
}

export function flowKey(f: FlowRecord): string {
  return `${f.transport}|${f.client.ip}|${f.client.port}|${f.server.ip}|${f.server.port}|${f.startTs}`;
}

export class Enricher {
  private readonly backend: EnrichBackend;
  private readonly o: Required<Omit<EnricherOptions, 'endpoint' | 'embedded' | 'onLate' | 'tls' | 'log'>>;
  private readonly onLate: ((flow: FlowRecord, a: Attribution) => void) | null;
  private readonly log: Log;
  private readonly cache = new Map<string, CacheEntry>();
  private readonly cacheFront = new MapFront(this.cache);
  private cacheEvictions = 0;
  private readonly waiting = new Map<string, Entry[]>();
  private sendQueue: string[] = [];
  private sendHead = 0;
  private timeoutQueue: Entry[] = [];
  private timeoutHead = 0;
  private timeoutTimer: NodeJS.Timeout | null = null;
  private lingerTimer: NodeJS.Timeout | null = null;
  private inFlight = 0;
  private reqSeq = 0;
  private undone = 0;
  private flushWaiters: (() => void)[] = [];
  private consecutiveFailures = 0;
  private breakerUntil = 0;
  private breakerState: 'closed' | 'open' | 'half_open' = 'closed';
  private probing = false;
  private lastFailure: EdrCallError['kind'] | null = null;
  private closed = false;
  private latSum = 0;
  private latMax = 0;
  private readonly s = {
    submitted: 0,
    completed: 0,
    cacheHits: 0,
    attributed: 0,
    noMatch: 0,
    timeouts: 0,
    edrDown: 0,
    errors: 0,
    late: 0,
    shed: 0,
    batches: 0,
    batchFailures: 0,
    retries: 0,
    breakerOpens: 0,
  };

  constructor(opts: EnricherOptions) {
    this.log = opts.log ?? defaultLog;
    if (opts.embedded) this.backend = opts.embedded;
    else if (opts.endpoint) this.backend = new EdrGrpcClient(opts.endpoint, { tls: opts.tls ?? null, allowPlaintextRemote: opts.allowPlaintextRemote ?? false, log: this.log });
    else throw new Error('Enricher: endpoint or embedded backend required');
    this.onLate = opts.onLate ?? null;
    this.o = {
      sensorId: opts.sensorId ?? 'sensor',
      batchSize: opts.batchSize ?? 256,
      lingerMs: opts.lingerMs ?? 5,
      maxInFlight: opts.maxInFlight ?? 8,
      deadlineMs: opts.deadlineMs ?? 1500,
      maxWaitMs: opts.maxWaitMs ?? 2000,
      cacheTtlMs: opts.cacheTtlMs ?? 300_000,
      negativeTtlMs: opts.negativeTtlMs ?? 5_000,
      cacheMax: opts.cacheMax ?? 100_000,
      retries: opts.retries ?? 2,
      backoffMs: opts.backoffMs ?? 100,
      breakerFailures: opts.breakerFailures ?? 3,
      breakerCooldownMs: opts.breakerCooldownMs ?? 5_000,
      maxQueued: opts.maxQueued ?? 200_000,
      allowPlaintextRemote: opts.allowPlaintextRemote ?? false,
    };
  }

  /** Queues a flow for attribution; `cb` gets it exactly once (maybe synchronously on a cache hit). */
  submit(flow: FlowRecord, cb: (flow: FlowRecord) => void): void {
    this.s.submitted++;
    const key = flowKey(flow);
    const now = Date.now();
    const hit = this.cache.get(key);
    if (hit) {
      if (hit.exp > now) {
        this.cache.delete(key);
        this.cache.set(key, hit);
        this.s.cacheHits++;
        this.finish(flow, cb, cloneAttribution(hit.attr));
        return;
      }
      this.cache.delete(key);
    }
    if (this.closed || this.breakerBlocks(now)) {
      this.finish(flow, cb, unattributed('edr_down'));
      return;
    }
    const e: Entry = { flow, cb, deadline: now + this.o.maxWaitMs, done: false };
    this.undone++;
    const list = this.waiting.get(key);
    if (list) list.push(e);
    else {
      this.waiting.set(key, [e]);
      this.sendQueue.push(key);
      if (this.sendQueue.length - this.sendHead > this.o.maxQueued) {
        // Shed the oldest queued request; its flows still time out normally.
        this.sendHead++;
        this.s.shed++;
      }
    }
    this.timeoutQueue.push(e);
    if (!this.timeoutTimer) this.armTimeout(now);
    if (this.sendQueue.length - this.sendHead >= this.o.batchSize) this.dispatch();
    else if (!this.lingerTimer) {
      this.lingerTimer = setTimeout(() => {
        this.lingerTimer = null;
        this.dispatch();
      }, this.o.lingerMs);
    }
  }

  private finish(flow: FlowRecord, cb: (f: FlowRecord) => void, a: Attribution): void {
    flow.attribution = a;
    this.s.completed++;
    if (a.status === 'attributed') this.s.attributed++;
    else if (a.reason === 'no_match') this.s.noMatch++;
    else if (a.reason === 'timeout') this.s.timeouts++;
    else if (a.reason === 'edr_down') this.s.edrDown++;
    else if (a.reason === 'error') this.s.errors++;
    cb(flow);
  }

  private breakerBlocks(now: number): boolean {
    if (this.breakerState === 'closed') return false;
    if (this.breakerState === 'open' && now >= this.breakerUntil) this.breakerState = 'half_open';
    if (this.breakerState === 'half_open') return false;
    return true;
  }

  private armTimeout(now: number): void {
    const head = this.timeoutQueue[this.timeoutHead];
    if (!head) return;
    this.timeoutTimer = setTimeout(() => this.expire(), Math.max(0, head.deadline - now));
  }

  private expire(): void {
    this.timeoutTimer = null;
    const now = Date.now();
    const q = this.timeoutQueue;
    while (this.timeoutHead < q.length && q[this.timeoutHead]!.deadline <= now) {
      const e = q[this.timeoutHead++]!;
      if (e.done) continue;
      e.done = true;
      this.undone--;
      const reason = this.breakerState !== 'closed' || this.lastFailure === 'edr_down' || this.lastFailure === 'tls' ? 'edr_down' : 'timeout';
      this.finish(e.flow, e.cb, unattributed(reason));
    }
    if (this.timeoutHead > 4096 && this.timeoutHead * 2 > q.length) {
      this.timeoutQueue = q.slice(this.timeoutHead);
      this.timeoutHead = 0;
    }
    this.checkFlushed();
    this.armTimeout(now);
  }

  private dispatch(): void {
    if (this.lingerTimer) {
      clearTimeout(this.lingerTimer);
      this.lingerTimer = null;
    }
    const now = Date.now();
    while (this.sendHead < this.sendQueue.length && this.inFlight < this.o.maxInFlight) {
      if (this.breakerBlocks(now)) {
        this.failQueued('edr_down');
        break;
      }
      if (this.breakerState === 'half_open') {
        if (this.probing) break;
        this.probing = true;
      }
      const n = Math.min(this.o.batchSize, this.sendQueue.length - this.sendHead);
      const keys = this.sendQueue.slice(this.sendHead, this.sendHead + n);
      this.sendHead += n;
      const reqs: EnrichRequestMsg[] = [];
      const idToKey = new Map<number, string>();
      for (const key of keys) {
        const list = this.waiting.get(key);
        if (!list) continue;
        const f = list[0]!.flow;
        const id = ++this.reqSeq;
        idToKey.set(id, key);
        reqs.push({
          requestId: id,
          transport: f.transport,
          client: { ip: f.client.ip, port: f.client.port },
          server: { ip: f.server.ip, port: f.server.port },
          startTsMs: f.startTs,
          communityId: f.communityId,
          sensorId: this.o.sensorId,
        });
      }
      if (reqs.length > 0) this.send(reqs, idToKey, 0);
    }
    if (this.sendHead > 4096 && this.sendHead * 2 > this.sendQueue.length) {
      this.sendQueue = this.sendQueue.slice(this.sendHead);
      this.sendHead = 0;
    }
  }

  /** Fails every flow whose request has not been sent yet (breaker open). */
  private failQueued(reason: 'edr_down'): void {
    for (; this.sendHead < this.sendQueue.length; this.sendHead++) {
      const key = this.sendQueue[this.sendHead]!;
      this.settle(key, null, reason);
    }
    this.checkFlushed();
  }

  private send(reqs: EnrichRequestMsg[], idToKey: Map<number, string>, attempt: number): void {
    this.inFlight++;
    this.s.batches++;
    const t0 = Date.now();
    this.backend.enrich(reqs, this.o.deadlineMs).then(
      (results) => {
        this.inFlight--;
        const dt = Date.now() - t0;
        this.latSum += dt;
        if (dt > this.latMax) this.latMax = dt;
        this.onSuccess();
        const now = Date.now();
        for (const r of results) {
          const key = idToKey.get(r.requestId ?? 0);
          if (key === undefined) continue;
          idToKey.delete(r.requestId ?? 0);
          if (r.error) {
            // The EDR refused this query alone (the others of the batch stand): not cached.
            this.settle(key, null, 'error');
            continue;
          }
          const a = attributionFromPb(r);
          this.cacheSet(key, a, now);
          this.settle(key, a, null);
        }
        // Requests the EDR did not answer.
        for (const key of idToKey.values()) this.settle(key, null, 'error');
        this.checkFlushed();
        this.dispatch();
      },
      (err: unknown) => {
        this.inFlight--;
        const kind: EdrCallError['kind'] = err instanceof EdrCallError ? err.kind : 'error';
        this.s.batchFailures++;
        this.onFailure(kind);
        if (attempt < this.o.retries && kind !== 'tls' && this.breakerState === 'closed' && !this.closed) {
          this.s.retries++;
          this.inFlight++; // the retry keeps its slot
          setTimeout(() => {
            this.inFlight--;
            this.send(reqs, idToKey, attempt + 1);
          }, this.o.backoffMs * 2 ** attempt);
          return;
        }
        const reason = kind === 'timeout' ? 'timeout' : kind === 'error' ? 'error' : 'edr_down';
        for (const key of idToKey.values()) this.settle(key, null, reason);
        this.checkFlushed();
        this.dispatch();
      },
    );
  }

  private onSuccess(): void {
    this.consecutiveFailures = 0;
    this.lastFailure = null;
    if (this.breakerState !== 'closed') {
      this.breakerState = 'closed';
      this.log('edr: enrichment recovered, circuit breaker closed');
    }
    this.probing = false;
  }

  private onFailure(kind: EdrCallError['kind']): void {
    this.lastFailure = kind;
    this.consecutiveFailures++;
    this.probing = false;
    if (this.breakerState === 'half_open' || (this.breakerState === 'closed' && (this.consecutiveFailures >= this.o.breakerFailures || kind === 'tls'))) {
      if (this.breakerState === 'closed') {
        this.s.breakerOpens++;
        this.log(`edr: circuit breaker open after ${this.consecutiveFailures} failed batch(es) (${kind}); flows go on unattributed`);
      }
      this.breakerState = 'open';
      this.breakerUntil = Date.now() + this.o.breakerCooldownMs;
    }
  }

  /** Completes a key's flows with an answer (a) or a failure reason. Late answers go to onLate. */
  private settle(key: string, a: Attribution | null, reason: 'timeout' | 'edr_down' | 'error' | null): void {
    const list = this.waiting.get(key);
    if (!list) return;
    this.waiting.delete(key);
    for (const e of list) {
      if (!e.done) {
        e.done = true;
        this.undone--;
        this.finish(e.flow, e.cb, a ? cloneAttribution(a) : unattributed(reason ?? 'error'));
      } else if (a && this.onLate) {
        this.s.late++;
        this.onLate(e.flow, cloneAttribution(a));
      }
    }
  }

  private cacheSet(key: string, a: Attribution, now: number): void {
    const ttl = a.status === 'attributed' ? this.o.cacheTtlMs : this.o.negativeTtlMs;
    if (ttl <= 0 || this.o.cacheMax <= 0) return;
    this.cache.delete(key);
    this.cache.set(key, { attr: a, exp: now + ttl });
    while (this.cache.size > this.o.cacheMax) {
      const first = this.cacheFront.take();
      if (first === undefined) break;
      this.cache.delete(first);
      this.cacheEvictions++;
    }
  }

  /** The attribution cache's size, bound and evictions (the pipeline's state metrics). */
  state(): { structure: string; size: number; capacity: number; evictions: number }[] {
    return [{ structure: 'edr_cache', size: this.cache.size, capacity: this.o.cacheMax, evictions: this.cacheEvictions }];
  }

  private checkFlushed(): void {
    if (this.undone === 0 && this.flushWaiters.length > 0) {
      for (const w of this.flushWaiters.splice(0)) w();
    }
  }

  /** Sends what is queued now and resolves when every submitted flow has been passed on. */
  flush(): Promise<void> {
    this.dispatch();
    if (this.undone === 0) return Promise.resolve();
    return new Promise((resolve) => this.flushWaiters.push(resolve));
  }

  stats(): EnricherStats {
    return {
      ...this.s,
      waiting: this.undone,
      queued: this.sendQueue.length - this.sendHead,
      inFlight: this.inFlight,
      cacheSize: this.cache.size,
      breaker: this.breakerState,
      latencyMeanMs: this.s.batches > 0 ? this.latSum / this.s.batches : 0,
      latencyMaxMs: this.latMax,
    };
  }

  /** Flushes (bounded by maxWaitMs per flow), then closes the backend. */
  async close(): Promise<void> {
    await this.flush();
    this.closed = true;
    if (this.timeoutTimer) clearTimeout(this.timeoutTimer);
    if (this.lingerTimer) clearTimeout(this.lingerTimer);
    this.timeoutTimer = null;
    this.lingerTimer = null;
    await this.backend.close();
  }
}
