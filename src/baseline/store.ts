/**
 * Baselines the analytics compare against, persisted in LMDB (or kept in memory without a path):
 *
 *  - destinations per host and per user (first-seen time),
 *  - network-active images, fleet-wide (first-seen time),
 *  - TLS/HTTP library loads per image,
 *  - JA4 and destination prevalence across hosts (number of distinct hosts).
 *
 * A learning period runs in PACKET time from the first flow the store ever saw (that time is
 * persisted too, so a restart does not restart learning). While learning, the analytics must not
 * raise "first seen" signals from this store (`isWarm(ts)` says when they may); the store keeps
 * learning either way.
 *
 * Keys are strings `<kind>\u0001<part>\u0001<part>`; values are numbers (a first-seen time or a count).
 * Reads go through a bounded in-process cache; writes are buffered and written in one synchronous
 * LMDB transaction per batch (and on flushed()/close()), so a value written is read back at once.
 * A crash loses at most one unwritten batch of first-seen facts, which the next flows relearn.
 */
import { open, type Database, type RootDatabase } from 'lmdb';
import type { FlowRecord } from '../flow/record.js';

export interface BaselineOptions {
  /** LMDB directory; omitted = in-memory only (tests, replay without --baseline). */
  path?: string | null;
  /** Learning period in packet time from the first flow seen (default 24 h). */
  learningPeriodMs?: number;
  /** Cap on cached keys before the cache is dropped and refilled from LMDB. */
  cacheMaxKeysCount?: number;
  /** Writes buffered before one synchronous LMDB transaction writes them (also on flushed()/close()). */
  writeBatchKeysCount?: number;
}

/** What the analytics may ask; read-only. Destination keys come from `destinationKey()`. */
export interface BaselineView {
  /** True once the learning period is over at packet time `ts`. */
  isWarm(ts: number): boolean;
  learningEndsAt(): number | null;
  hostDestinationFirstSeen(host: string, dest: string): number | null;
  userDestinationFirstSeen(user: string, dest: string): number | null;
  imageNetworkFirstSeen(image: string): number | null;
  imageLibraryFirstSeen(image: string, library: string): number | null;
  /** Distinct hosts seen with this JA4. */
  ja4HostCount(ja4: string): number;
  /** Distinct hosts seen talking to this destination. */
  destinationHostCount(dest: string): number;
  /** Distinct hosts seen at all. */
  hostCount(): number;
}

export const DEFAULT_LEARNING_PERIOD_MS = 24 * 3600_000;

const SEP = '\u0001';
const K = {
  first: 'meta:first',
  hosts: 'meta:hosts',
  host: 'h',
  hostDest: 'hd',
  userDest: 'ud',
  image: 'in',
  imageLib: 'il',
  ja4Host: 'jh',
  ja4Count: 'jc',
  destCount: 'dc',
} as const;

const key = (...parts: string[]): string => parts.join(SEP);

/** Lowercase basename of a Windows or POSIX path. */
export function baseName(path: string): string {
  const i = Math.max(path.lastIndexOf('\\'), path.lastIndexOf('/'));
  return (i >= 0 ? path.slice(i + 1) : path).toLowerCase();
}

/** The destination a baseline remembers: SNI, else the DNS name, else the server IP (lowercase). */
export function destinationKey(flow: FlowRecord): string {
  return (flow.tls?.sni ?? flow.dnsName ?? flow.server.ip).toLowerCase();
}

/** The host a baseline remembers: the EDR host name, else the client IP (lowercase). */
export function hostKey(flow: FlowRecord): string {
  return (flow.attribution?.host?.name ?? flow.client.ip).toLowerCase();
}

/** The image a baseline remembers: the full executable path, lowercase. */
export function imageKey(flow: FlowRecord): string | null {
  const exe = flow.attribution?.process?.executable;
  return exe ? exe.toLowerCase() : null;
}

export function userKey(flow: FlowRecord): string | null {
  const u = flow.attribution?.process?.user;
  return u ? u.toLowerCase() : null;
}

interface Kv {
  get(k: string): number | undefined;
  put(k: string, v: number): void;
  flushed(): Promise<void>;
  close(): Promise<void>;
}

class MemoryKv implements Kv {
  private readonly m = new Map<string, number>();
  get(k: string): number | undefined { return this.m.get(k); }
  put(k: string, v: number): void { this.m.set(k, v); }
  async flushed(): Promise<void> { /* nothing to flush */ }
  async close(): Promise<void> { this.m.clear(); }
}

const MISSING = -1; // cache marker for "not in LMDB" (stored values are ≥ 0)

class LmdbKv implements Kv {
  private readonly root: RootDatabase;
  private readonly db: Database<number, string>;
  private readonly cache = new Map<string, number>();
  /** Writes not yet handed to LMDB; flushed in one synchronous transaction per batch. */
  private readonly dirty = new Map<string, number>();
  private readonly cacheMax: number;
  private readonly batchMax: number;

  constructor(path: string, cacheMax: number, batchMax: number) {
    this.cacheMax = cacheMax;
    this.batchMax = batchMax;
    this.root = open({ path, compression: false });
    this.db = this.root.openDB<number, string>({ name: 'baseline', encoding: 'ordered-binary' });
  }

  get(k: string): number | undefined {
    const c = this.cache.get(k);
    if (c !== undefined) return c === MISSING ? undefined : c;
    const d = this.dirty.get(k);
    if (d !== undefined) return d;
    const v = this.db.get(k);
    this.remember(k, typeof v === 'number' ? v : MISSING);
    return typeof v === 'number' ? v : undefined;
  }

  put(k: string, v: number): void {
    this.remember(k, v);
    this.dirty.set(k, v);
    if (this.dirty.size >= this.batchMax) this.writeDirty();
  }

  private writeDirty(): void {
    if (this.dirty.size === 0) return;
    this.db.transactionSync(() => {
      for (const [k, v] of this.dirty) this.db.putSync(k, v);
    });
    this.dirty.clear();
  }

  private remember(k: string, v: number): void {
    if (this.cache.size >= this.cacheMax) this.cache.clear();
    this.cache.set(k, v);
  }

  async flushed(): Promise<void> {
    this.writeDirty();
    await this.db.flushed;
  }

  async close(): Promise<void> {
    await this.flushed();
    await this.root.close();
  }
}

export class BaselineStore implements BaselineView {
  readonly learningPeriodMs: number;
  readonly persistent: boolean;
  private readonly kv: Kv;
  private firstTs: number | null;
  private readonly recentTuples = new Set<string>();
  private readonly recentTuplesMax = 200_000;

  private constructor(kv: Kv, persistent: boolean, learningPeriodMs: number) {
    this.kv = kv;
    this.persistent = persistent;
    this.learningPeriodMs = learningPeriodMs;
    this.firstTs = kv.get(K.first) ?? null;
  }

  /** Open (or create) the store; in memory when `path` is empty. */
  static open(opts: BaselineOptions = {}): BaselineStore {
    const learning = opts.learningPeriodMs ?? DEFAULT_LEARNING_PERIOD_MS;
    if (!opts.path) return new BaselineStore(new MemoryKv(), false, learning);
    return new BaselineStore(new LmdbKv(opts.path, opts.cacheMaxKeysCount ?? 1_000_000, opts.writeBatchKeysCount ?? 4096), true, learning);
  }

  // ---- read side (BaselineView) ----
  isWarm(ts: number): boolean {
    return this.firstTs !== null && ts - this.firstTs >= this.learningPeriodMs;
  }
  learningEndsAt(): number | null {
    return this.firstTs === null ? null : this.firstTs + this.learningPeriodMs;
  }
  hostDestinationFirstSeen(host: string, dest: string): number | null {
    return this.kv.get(key(K.hostDest, host.toLowerCase(), dest.toLowerCase())) ?? null;
  }
  userDestinationFirstSeen(user: string, dest: string): number | null {
    return this.kv.get(key(K.userDest, user.toLowerCase(), dest.toLowerCase())) ?? null;
  }
  imageNetworkFirstSeen(image: string): number | null {
    return this.kv.get(key(K.image, image.toLowerCase())) ?? null;
  }
  imageLibraryFirstSeen(image: string, library: string): number | null {
    return this.kv.get(key(K.imageLib, image.toLowerCase(), library.toLowerCase())) ?? null;
  }
  ja4HostCount(ja4: string): number {
    return this.kv.get(key(K.ja4Count, ja4)) ?? 0;
  }
  destinationHostCount(dest: string): number {
    return this.kv.get(key(K.destCount, dest.toLowerCase())) ?? 0;
  }
  hostCount(): number {
    return this.kv.get(K.hosts) ?? 0;
  }

  // ---- write side ----
  private once(k: string, ts: number): boolean {
    if (this.kv.get(k) !== undefined) return false;
    this.kv.put(k, ts);
    return true;
  }

  private bump(k: string): void {
    this.kv.put(k, (this.kv.get(k) ?? 0) + 1);
  }

  /** Learn one (enriched) flow. Call AFTER the analytics evaluated it. */
  learn(flow: FlowRecord): void {
    const ts = flow.startTs;
    if (this.firstTs === null || ts < this.firstTs) {
      // The first flow starts learning; an earlier flow arriving later (flows end out of order) moves it back.
      this.firstTs = ts;
      this.kv.put(K.first, ts);
    }
    // Fast path: a flow whose whole (host, dest, ja4, user, image) tuple was learned recently adds
    // nothing (first-seen times only ever keep the first), unless it brings library loads. The memo
    // key uses the raw strings (no case folding) so a hit costs one string and one lookup.
    const a = flow.attribution;
    if (!a || a.imageLoads.length === 0) {
      const tuple = `${a?.host?.name ?? flow.client.ip}${SEP}${flow.tls?.sni ?? flow.dnsName ?? flow.server.ip}${SEP}${flow.tls?.ja4 ?? ''}${SEP}${a?.process?.user ?? ''}${SEP}${a?.process?.executable ?? ''}`;
      if (this.recentTuples.has(tuple)) return;
      if (this.recentTuples.size >= this.recentTuplesMax) this.recentTuples.clear();
      this.recentTuples.add(tuple);
    }
    const host = hostKey(flow);
    const dest = destinationKey(flow);
    if (this.once(key(K.host, host), ts)) this.bump(K.hosts);
    // A new (host, destination) pair is also one more host for that destination's prevalence.
    if (this.once(key(K.hostDest, host, dest), ts)) this.bump(key(K.destCount, dest));
    const ja4 = flow.tls?.ja4;
    if (ja4 && this.once(key(K.ja4Host, ja4, host), ts)) this.bump(key(K.ja4Count, ja4));
    const user = userKey(flow);
    if (user) this.once(key(K.userDest, user, dest), ts);
    const image = imageKey(flow);
    if (image) {
      this.once(key(K.image, image), ts);
      for (const l of flow.attribution?.imageLoads ?? []) this.once(key(K.imageLib, image, baseName(l.path)), l.ts);
    }
  }

  /** Resolves when everything written so far is on disk. */
  flushed(): Promise<void> {
    return this.kv.flushed();
  }

  close(): Promise<void> {
    return this.kv.close();
  }
}

/**
 * Learn a batch of enriched flows (`ndr-sensor baseline learn FILE --sysmon …`): into `target`, an
 * open store, or a store opened from these options (flushed and closed at the end). Returns the
 * number of flows learned (in the order given).
 */
export async function learnFromFlows(flows: Iterable<FlowRecord> | AsyncIterable<FlowRecord>, target: BaselineStore | BaselineOptions = {}): Promise<number> {
  const store = target instanceof BaselineStore ? target : BaselineStore.open(target);
  let n = 0;
  try {
    for await (const f of flows as AsyncIterable<FlowRecord>) {
      store.learn(f);
      n++;
    }
    await store.flushed();
  } finally {
    if (store !== target) await store.close();
  }
  return n;
}
