/**
 * The pipeline of one sensor process: capture batches → engine → finished flows → FlowRecord
 * (fingerprints, classifiers) → enrichment (async, bounded wait) → analytics → sinks.
 * Records travel one way; nothing here blocks the packet path on enrichment or output.
 */
import type { CaptureSource } from '../capture/source.js';
import { Registry, withoutDissectors } from '../dissect/registry.js';
import { CertCache } from '../dissect/cert-cache.js';
import { Engine, type FeatureLimits } from './engine.js';
import { finalizeFlow, refreshCounters, type FinalizeContext } from '../flow/finalize.js';
import type { FlowRecord, EndReason } from '../flow/record.js';
import type { Flow } from '../flow/flow.js';
import type { TableLimits } from '../flow/table.js';
import type { ReassemblyLimits } from '../flow/tcp-reassembly.js';
import type { FragmentLimits } from '../decode/fragments.js';
import type { Alert } from '../analytics/alert.js';
import { dissectorSpecs } from '../../dissectors/index.js';
import { buildServices, buildPostStages, parseCertForCache, type FeatureOptions } from './features.js';
import { DnsCache } from '../flow/dns-cache.js';
import type { AnyDissectorSpec, DissectorRecord, NameAnswers } from '../contract/api.js';
import { addrToString } from '../decode/packet-meta.js';
import { tuneJit } from './jit.js';
import { DEFAULT_STATE_LIMITS, type StateLimits, type StateReport } from '../util/state.js';
import { FloodShedder, type FloodOptions, type FloodSummary } from './flood.js';

/** An asynchronous stage (enrichment): every submitted record reaches `next` exactly once. */
export interface FlowStage {
  submit(rec: FlowRecord, next: (rec: FlowRecord) => void): void;
  flush(): Promise<void>;
  close?(): Promise<void>;
  /** Its per-key structures (the attribution cache). */
  state?(): StateReport[];
}

/** A synchronous stage (analytics): records in, alerts out. */
export interface AlertStage {
  process(rec: FlowRecord): Alert[];
  /** Apply reloaded lists and allowlists (SIGHUP) without dropping state. */
  reload?(analyticsConfig: unknown): void;
  /** Alerts still held for deduplication at the end. */
  drain?(): Alert[];
  /** Where alerts decided after process() returned go (a fleet's claims). */
  attach?(emit: (a: Alert) => void): void;
  /** Wait for what is still being decided or shared (before drain at the end). */
  settle?(): Promise<void>;
  /**
   * What this record's analysis must wait for (a shared store's answers), or null. Records still
   * reach process() in the order they came; the wait is the stage's to bound.
   */
  prepare?(rec: FlowRecord): Promise<unknown> | null;
  close?(): Promise<void>;
  /** Its per-key structures (beacon pairs, baseline facts, alert dedup). */
  state?(): StateReport[];
}

export interface PipelineLimits {
  table?: Partial<TableLimits>;
  reassembly?: Partial<ReassemblyLimits>;
  features?: Partial<FeatureLimits>;
  fragments?: Partial<FragmentLimits>;
  dissectors?: Record<string, Record<string, number>>;
}

export interface PipelineOptions extends FeatureOptions {
  limits?: PipelineLimits;
  /**
   * The protocols to dissect (default: dissectors/index.ts). Functions do not cross worker
   * threads: a list of one's own is honoured in this thread only (workers use the default).
   */
  dissectors?: readonly AnyDissectorSpec[];
  /** Dissectors turned off by name (e.g. ['mqtt']); an unknown name throws a RegistryError. */
  disabledDissectors?: readonly string[];
  enrich?: FlowStage | null;
  analytics?: AlertStage | null;
  /** Bounds of the DNS names cache and the certificate cache (the stages take theirs at build). */
  state?: Partial<StateLimits>;
  /** Flood shedding (src/runtime/flood.ts): defaults when absent; `{ enabled: false }` writes every flow. */
  flood?: Partial<FloodOptions>;
  onFlow?: (rec: FlowRecord) => void;
  onAlert?: (a: Alert) => void;
  /** A summary of flows shed in a flood (they do not reach onFlow). */
  onFlood?: (s: FloodSummary) => void;
}

export class Pipeline {
  readonly engine: Engine;
  readonly certs: CertCache;
  readonly registry: Registry;
  private readonly fin: FinalizeContext;
  private readonly opts: PipelineOptions;
  flowsOut = 0;
  alertsOut = 0;
  /** Flows without payload counted into flood summaries instead of being written. */
  readonly flood: FloodShedder;
  sourceWarnings: string[] = [];
  /** Answers each client host received, to name the servers of its later flows. */
  readonly dns: DnsCache;
  /** Name servers from DNS answers here (false in workers: the main thread names flows). */
  nameFlows = true;
  truncated = false;

  readonly limits: PipelineLimits;

  constructor(opts: PipelineOptions = {}) {
    tuneJit();
    this.opts = opts;
    this.limits = opts.limits ?? {};
    this.registry = new Registry(withoutDissectors(opts.dissectors ?? dissectorSpecs, opts.disabledDissectors ?? []), opts.limits?.dissectors ?? {});
    this.certs = new CertCache(parseCertForCache, opts.state?.certificates ?? DEFAULT_STATE_LIMITS.certificates);
    this.dns = new DnsCache({ maxEntriesCount: opts.state?.dnsNames ?? DEFAULT_STATE_LIMITS.dnsNames });
    this.flood = new FloodShedder(opts.flood ?? {}, (s) => opts.onFlood?.(s));
    this.fin = { services: buildServices(this.certs, opts), post: buildPostStages(opts) };
    this.engine = new Engine({
      registry: this.registry,
      certs: this.certs,
      ...(opts.limits?.table ? { table: opts.limits.table } : {}),
      ...(opts.limits?.reassembly ? { reassembly: opts.limits.reassembly } : {}),
      ...(opts.limits?.features ? { features: opts.limits.features } : {}),
      ...(opts.limits?.fragments ? { fragments: opts.limits.fragments } : {}),
      keepSynOptions: opts.ja4Plus === true,
      onFlow: (f, reason) => this.flowEnded(f, reason),
      onClosed: (f) => this.flowClosed(f),
      onRecord: (f, r) => this.record(f, r),
    });
    opts.analytics?.attach?.((a) => this.emitAlert(a));
  }

  private record(f: Flow, r: DissectorRecord): void {
    const names = f.spec?.names?.(r) ?? null;
    if (names === null || names.answers.length === 0) return;
    // An IPv4 client goes as its word: the cache keys IPv4 pairs by words, so no text is needed.
    this.learnDns(f.ipVersion === 4 ? f.a0 >>> 0 : addrToString(f.ipVersion, f.a0, f.a1, f.a2, f.a3), names, r.ts);
  }

  /**
   * Learn the answers a client received (also fed by workers in a sharded run); the client as
   * text, or an IPv4 address as its 32-bit word.
   */
  learnDns(client: string | number, names: NameAnswers, ts: number): void {
    this.dns.learn(client, names, ts);
  }

  private flowEnded(f: Flow, reason: EndReason): void {
    const early = f.record;
    if (early !== null) {
      f.record = null;
      this.accept(refreshCounters(early, f, reason));
    } else if (!this.flood.offerFlow(f)) this.accept(finalizeFlow(f, reason, this.fin));
  }

  /** Closed by FIN both ways: build the record now and drop the dissector's state. */
  private flowClosed(f: Flow): void {
    f.record = finalizeFlow(f, 'fin', this.fin);
    f.records = null;
    f.earlier = null;
    f.dissector = null;
  }

  /** A finished flow record (from this engine, or from a worker) enters the later stages. */
  accept(rec: FlowRecord): void {
    if (this.flood.offer(rec)) return;
    if (this.nameFlows && rec.dnsName === null && rec.features.nameLookup !== true) rec.dnsName = this.dns.lookup(rec.client.ip, rec.server.ip, rec.startTs);
    const enrich = this.opts.enrich;
    if (enrich) enrich.submit(rec, (r) => this.analyse(r));
    else this.analyse(rec);
  }

  /** Records waiting for their stage's prepare(), and the promise the last of them resolves. */
  private preparing = 0;
  private prepared: Promise<unknown> = Promise.resolve();

  private analyse(rec: FlowRecord): void {
    const wait = this.opts.analytics?.prepare?.(rec) ?? null;
    if (wait === null && this.preparing === 0) { this.analyseNow(rec); return; }
    // In order behind those already waiting: a record never overtakes an earlier one.
    this.preparing++;
    this.prepared = Promise.all([this.prepared, wait]).then(() => { this.preparing--; this.analyseNow(rec); });
  }

  private analyseNow(rec: FlowRecord): void {
    const an = this.opts.analytics;
    let alerts: Alert[] = [];
    if (an) {
      try {
        alerts = an.process(rec);
      } catch (e) {
        rec.events.push('analytics.fault');
        process.emitWarning(`analytics fault on flow ${rec.id}: ${(e as Error).message}`);
      }
    }
    this.flowsOut++;
    this.opts.onFlow?.(rec);
    for (const a of alerts) this.emitAlert(a);
  }

  private emitAlert(a: Alert): void {
    this.alertsOut++;
    this.opts.onAlert?.(a);
  }

  /** Run a capture source to its end (flows still open stay open: call finish()). */
  async run(src: CaptureSource, onBatch?: (packets: number) => void): Promise<void> {
    const eng = this.engine;
    try {
      for await (const batch of src.batches()) {
        eng.processBatch(batch);
        onBatch?.(eng.stats.packets);
      }
    } finally {
      const st = src.stats();
      if (st.truncated) this.truncated = true;
      for (const w of st.warnings) this.sourceWarnings.push(`${src.name}: ${w}`);
    }
  }

  /** End every open flow and wait for enrichment; then drain held alerts. */
  async finish(reason: EndReason = 'eof'): Promise<void> {
    this.engine.flush(reason);
    this.flood.close();
    if (this.opts.enrich) await this.opts.enrich.flush();
    await this.prepared;
    await this.opts.analytics?.settle?.();
    const held = this.opts.analytics?.drain?.() ?? [];
    for (const a of held) this.emitAlert(a);
  }

  /** Size, bound and evictions of every per-key structure after the flow table (state metrics). */
  state(): StateReport[] {
    return [
      { structure: 'dns_names', size: this.dns.size, capacity: this.dns.capacity, evictions: this.dns.evictions },
      { structure: 'certificates', size: this.certs.size, capacity: this.certs.capacity, evictions: this.certs.evictions },
      { structure: 'flood_groups', size: this.flood.size, capacity: this.flood.opts.maxGroups * 2 + 2, evictions: 0 },
      ...(this.opts.enrich?.state?.() ?? []),
      ...(this.opts.analytics?.state?.() ?? []),
    ];
  }

  /** SIGHUP: new lists and allowlists for the analytics. */
  reload(analyticsConfig: unknown): void {
    this.opts.analytics?.reload?.(analyticsConfig);
  }

  async close(): Promise<void> {
    await this.opts.enrich?.close?.();
    await this.opts.analytics?.close?.();
  }
}
