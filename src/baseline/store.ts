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
 * LMDB keys are strings `<kind>\u0001<part>\u0001<part>`; values are numbers (a first-seen time or a
 * count). In process the facts sit in one table per kind looked up by the parts (no joined key per
 * lookup); with LMDB those tables are a bounded read-through cache, and writes are buffered and written in one synchronous
 * LMDB transaction per batch (and on flushed()/close()), so a value written is read back at once.
 * A crash loses at most one unwritten batch of first-seen facts, which the next flows relearn.
 */
import type { Database, RootDatabase } from 'lmdb';
import { lazyRequire } from '../util/lazy-require.js';
import type { FlowRecord } from '../flow/record.js';
import { tlsOf } from '../../dissectors/tls/record.js';
import { baseName } from '../util/path.js';
import { MapFront } from '../util/map-front.js';
import { parseIpv4 } from '../util/ipv4.js';

/** lmdb (a native addon) loads when a store directory is opened: an in-memory baseline never needs it. */
const lmdb = lazyRequire<typeof import('lmdb')>('lmdb');

export interface BaselineOptions {
  /** LMDB directory; omitted = in-memory only (tests, replay without --baseline). */
  path?: string | null;
  /** Learning period in packet time from the first flow seen (default 24 h). */
  learningPeriodMs?: number;
  /** Cap on cached keys before the cache is dropped and refilled from LMDB. */
  cacheMaxKeysCount?: number;
  /** Writes buffered before one synchronous LMDB transaction writes them (also on flushed()/close()). */
  writeBatchKeysCount?: number;
  /** Where the facts persist instead of LMDB (the fleet's Redis, see src/analytics/fleet-store.ts). */
  backend?: FactBackend;
  /** Without a backend: most facts kept in memory; past it the oldest facts of a table are forgotten. */
  memoryMaxKeysCount?: number;
}

/**
 * The seam between the in-process tables and where facts persist: LMDB (one sensor) or the
 * fleet's Redis. Keys are `<kind>\u0001<part>[\u0001<part>]` strings, values numbers. `read` is
 * synchronous: a backend that cannot answer at once returns undefined and may answer later through
 * BaselineStore.remote().
 */
export interface FactBackend {
  readonly kind: 'lmdb' | 'redis';
  read(k: string): number | undefined;
  write(k: string, v: number): void;
  /** Hand buffered writes on (before the tables drop what they cache). */
  writeDirty(): void;
  flushed(): Promise<void>;
  close(): Promise<void>;
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
/** Facts an in-memory store keeps by default (sensor.yaml state.baselineKeys). */
export const DEFAULT_MEMORY_MAX_KEYS = 1_000_000;

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



/**
 * `toLowerCase()` with a one-entry memo keyed on the input string: the beacon tracker, the analytics
 * and learn() ask for the same flow's keys one after another. The memo compares the raw string
 * itself, so a field that changed (a late attribution) never gets a stale key.
 */
export class LowerMemo {
  private raw: string | null = null;
  private lower = '';
  /** textKey(lower), once asked for; undefined until then. */
  private key: number | string | undefined = undefined;
  of(s: string): string {
    if (s !== this.raw) {
      this.raw = s;
      // An IPv4 address (most hosts, and every destination without a name) is digits and dots,
      // already lowercase: its integer key says so, and no lowercase copy is made.
      const k = textKey(s);
      if (typeof k === 'number') {
        this.lower = s;
        this.key = k;
      } else {
        this.lower = s.toLowerCase();
        this.key = undefined;
      }
    }
    return this.lower;
  }

  /** textKey(of(s)), from the same memo: the tracker and learn() ask for the same flow's key. */
  keyOf(s: string): number | string {
    const lower = this.of(s);
    return (this.key ??= textKey(lower));
  }
}

/** Shared with the beacon tracker, whose destination is usually the same SNI string. */
export const destLower = new LowerMemo();
const hostLower = new LowerMemo();
const imageLower = new LowerMemo();
const userLower = new LowerMemo();

/** The destination a baseline remembers: SNI, else the DNS name, else the server IP (lowercase). */
export function destinationKey(flow: FlowRecord): string {
  return destLower.of(tlsOf(flow)?.sni ?? flow.dnsName ?? flow.server.ip);
}

/** The host a baseline remembers: the EDR host name, else the client IP (lowercase). */
export function hostKey(flow: FlowRecord): string {
  return hostLower.of(flow.attribution?.host?.name ?? flow.client.ip);
}

/** textKey(hostKey(flow)). */
export function hostTableKey(flow: FlowRecord): number | string {
  return hostLower.keyOf(flow.attribution?.host?.name ?? flow.client.ip);
}

/** The image a baseline remembers: the full executable path, lowercase. */
export function imageKey(flow: FlowRecord): string | null {
  const exe = flow.attribution?.process?.executable;
  return exe ? imageLower.of(exe) : null;
}

export function userKey(flow: FlowRecord): string | null {
  const u = flow.attribution?.process?.user;
  return u ? userLower.of(u) : null;
}

/**
 * A key standing for the string `s` in the analytics' per-host and per-destination tables: the
 * address as a signed 32-bit integer when `s` is an IPv4 address written the one way the decoder
 * writes it (four decimal octets, no leading zeros), else `s` itself. Two strings get equal keys
 * exactly when they are equal (no other text maps to that integer, and an integer never equals a
 * string), so a table keyed this way holds what a table keyed by the strings holds. An integer key
 * is hashed and compared without reading any string, and keeps none alive.
 */
export function textKey(s: string): number | string {
  const v = parseIpv4(s);
  return v < 0 ? s : v | 0;
}

/** The (host, destination, JA4, user, image) keys of a flow learned recently (see BaselineStore.learn). */
interface LearnedTuple {
  host: number | string; // textKey of the host and of the destination
  dest: number | string;
  ja4: string;
  user: string;
  exe: string;
}

/** FNV-1a over the string's UTF-16 units, continuing from `h`. */
function fnv(h: number, s: string): number {
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 16_777_619);
  return Math.imul(h ^ 0x1f, 16_777_619); // field separator
}

/** Slots of the learned-tuple memo (a power of two). */
const RECENT_SLOTS = 1 << 18;

const MISSING = -1; // cache marker for "not in LMDB" (stored values are ≥ 0)

/**
 * LMDB behind the in-memory tables: read on a table miss, written in batches. A full batch is handed
 * to LMDB's own write thread (asynchronous puts, committed together), so the analytics thread does
 * not wait for the commit; until LMDB reports it committed, the batch stays readable here.
 */
class LmdbBackend implements FactBackend {
  readonly kind = 'lmdb' as const;
  private readonly root: RootDatabase;
  private readonly db: Database<number, string>;
  /** Writes not yet handed to LMDB. */
  private dirty = new Map<string, number>();
  /** Writes handed to LMDB and not yet reported committed. */
  private readonly inflight = new Map<string, number>();
  private readonly batchMax: number;

  constructor(path: string, batchMax: number) {
    this.batchMax = batchMax;
    this.root = lmdb().open({ path, compression: false });
    this.db = this.root.openDB<number, string>({ name: 'baseline', encoding: 'ordered-binary' });
  }

  /**
   * The stored value. Buffered writes need no look-up here: every write also sits in the tables,
   * and the tables are only dropped right after the buffer is handed over (see Tables.added);
   * handed-over writes are read from `inflight` until committed.
   */
  read(k: string): number | undefined {
    if (this.inflight.size > 0) {
      const w = this.inflight.get(k);
      if (w !== undefined) return w;
    }
    const v = this.db.get(k);
    return typeof v === 'number' ? v : undefined;
  }

  write(k: string, v: number): void {
    this.dirty.set(k, v);
    if (this.dirty.size >= this.batchMax) this.writeDirty();
  }

  writeDirty(): void {
    if (this.dirty.size === 0) return;
    const batch = this.dirty;
    this.dirty = new Map();
    let last: Promise<boolean> | null = null;
    for (const [k, v] of batch) {
      this.inflight.set(k, v);
      last = this.db.put(k, v);
    }
    // LMDB commits in order, so the last put settling means the whole batch is in. A failed
    // commit keeps the batch readable here and is reported (flushed() rejects as well).
    last?.then(
      () => { for (const [k, v] of batch) if (this.inflight.get(k) === v) this.inflight.delete(k); },
      (e: unknown) => { process.emitWarning(`baseline: LMDB write failed: ${(e as Error).message}`); },
    );
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

/**
 * The facts in process memory, one table per kind, looked up by the key parts themselves (no
 * joined key string per lookup; a joined key is built only to reach LMDB). Without LMDB the
 * tables are the store; with it they are a read-through cache (absent keys cached as MISSING)
 * that is dropped whole once it holds `cacheMax` entries, and every write also goes to LMDB.
 */
class Tables {
  readonly backend: FactBackend | null;
  private readonly cacheMax: number;
  private readonly memoryMax: number;
  private cached = 0;
  /** Facts forgotten to stay within memoryMax (in-memory store only). */
  evictions = 0;
  private readonly all: Evictable[] = [];
  /** Called once, before the first fact is forgotten (in memory): see BaselineStore.holdHosts. */
  beforeForgetting: (() => void) | null = null;

  constructor(backend: FactBackend | null, cacheMax: number, memoryMax: number) {
    this.backend = backend;
    this.cacheMax = cacheMax;
    this.memoryMax = memoryMax;
  }

  register<T extends Evictable>(t: T): T {
    this.all.push(t);
    return t;
  }

  get size(): number {
    return this.cached;
  }

  get capacity(): number {
    return this.backend === null ? this.memoryMax : this.cacheMax;
  }

  /** True when `n` more facts fit in memory without forgetting any. */
  roomFor(n: number): boolean {
    return this.cached + n <= this.memoryMax;
  }

  /**
   * One more entry in `into`. With a backend, drops every table first when the cache is full. In
   * memory, forgets the oldest facts of `into` itself (its map's insertion order), or of another
   * table when `into` holds none: O(1) amortised, as each fact is forgotten at most once. True
   * when anything was forgotten or dropped (what the caller looked up may be gone).
   */
  added(into: Evictable): boolean {
    if (this.backend === null) {
      let freed = 0;
      if (this.cached >= this.memoryMax) {
        const before = this.beforeForgetting;
        if (before !== null) {
          this.beforeForgetting = null;
          before();
        }
        freed = into.evictOldest();
        for (let i = 0; freed === 0 && i < this.all.length; i++) freed = this.all[i]!.evictOldest();
        this.cached -= freed;
        this.evictions += freed;
      }
      this.cached++;
      return freed > 0;
    }
    let dropped = false;
    if (this.cached >= this.cacheMax) {
      this.backend.writeDirty(); // what the tables drop must be readable from the backend
      for (const t of this.all) t.clear();
      this.cached = 0;
      dropped = true;
    }
    this.cached++;
    return dropped;
  }

  clearAll(): void {
    for (const t of this.all) t.clear();
    this.cached = 0;
  }
}

interface Evictable {
  clear(): void;
  /** Forget the oldest entry (a Table2: the oldest first part with all it holds); entries freed. */
  evictOldest(): number;
}

/**
 * Facts keyed by one part: LMDB key `<prefix><a>` (prefix `<kind>\u0001`, or '' for the meta keys).
 * In process the part is held as its textKey (an address as an integer).
 */
class Table1 implements Evictable {
  private m = new Map<number | string, number>();
  private readonly front = new MapFront({ keys: () => this.m.keys() });
  private readonly tables: Tables;
  private readonly prefix: string;
  /** Never counted against the in-memory bound nor forgotten (the store's own meta facts). */
  private readonly pinned: boolean;

  constructor(tables: Tables, prefix: string, pinned = false) {
    this.tables = tables;
    this.prefix = prefix;
    this.pinned = pinned;
  }

  evictOldest(): number {
    if (this.pinned) return 0;
    const k = this.front.take();
    if (k === undefined) return 0;
    this.m.delete(k);
    return 1;
  }

  /** `k` is textKey(a), when the caller has it. */
  get(a: string, k: number | string = textKey(a)): number | undefined {
    let v = this.m.get(k);
    if (v === undefined) {
      const be = this.tables.backend;
      if (be === null) return undefined;
      v = be.read(this.prefix + a) ?? MISSING;
      this.tables.added(this);
      this.m.set(k, v);
    }
    return v === MISSING ? undefined : v;
  }

  put(a: string, v: number, k: number | string = textKey(a)): void {
    if (!this.m.has(k) && !this.pinned) this.tables.added(this);
    this.m.set(k, v);
    this.tables.backend?.write(this.prefix + a, v);
  }

  /** Set `a` to `ts` unless it is already known; true when it was new. */
  once(a: string, ts: number, k: number | string = textKey(a)): boolean {
    if (this.tables.backend === null) {
      // In memory nothing is cached as absent: a miss here is a new fact.
      if (this.m.get(k) !== undefined) return false;
      if (!this.pinned) this.tables.added(this);
      this.m.set(k, ts);
      return true;
    }
    if (this.get(a, k) !== undefined) return false;
    this.put(a, ts, k);
    return true;
  }

  /** Hold this entry, after those held, as a fact already counted (see BaselineStore.holdHosts). */
  hold(k: number | string, v: number): void {
    this.m.set(k, v);
  }

  /** A value the backend reported: cached, not written back. */
  mirror(a: string, v: number): void {
    const k = textKey(a);
    if (!this.m.has(k) && !this.pinned) this.tables.added(this);
    this.m.set(k, v);
  }

  bump(a: string, k: number | string = textKey(a)): void {
    if (this.tables.backend === null) {
      // In memory: one look-up and one set (a new destination's count, once per new host).
      const v = this.m.get(k);
      if (v === undefined && !this.pinned) this.tables.added(this);
      this.m.set(k, (v ?? 0) + 1);
      return;
    }
    this.put(a, (this.get(a, k) ?? 0) + 1, k);
  }

  clear(): void {
    this.m = new Map();
    this.front.reset();
  }
}

/**
 * Host facts written out a flow once an in-memory store is half full (see BaselineStore.hostsHeld):
 * a flow adds at most seven facts besides its library loads, and a host stands for at least two,
 * so the writing is done before the store is full unless flows bring many library loads.
 */
const HOLD_STEP = 8;

const NEW_FIRST = 2;
const NEW_FACT = 1;

/** A first part's one fact: the second part and its value (see Table2). */
interface OneFact { b: number | string; v: number }

/**
 * Facts keyed by two parts: LMDB key `<prefix><a>\u0001<b>` (prefix `<kind>\u0001`). A first part
 * holds its one fact inline until it has a second: most hosts (and users) in a crowd or a flood
 * have one destination, and a Map per host cost several times the fact it held.
 */
class Table2 implements Evictable {
  private m = new Map<number | string, OneFact | Map<number | string, number>>();
  private readonly front = new MapFront({ keys: () => this.m.keys() });
  private readonly tables: Tables;
  private readonly prefix: string;

  constructor(tables: Tables, prefix: string) {
    this.tables = tables;
    this.prefix = prefix;
  }

  evictOldest(): number {
    const k = this.front.take();
    if (k === undefined) return 0;
    const inner = this.m.get(k)!;
    this.m.delete(k);
    return inner instanceof Map ? inner.size : 1;
  }

  /** The value held for keys (a, b) here (MISSING when cached as absent), undefined when not held. */
  private held(a: number | string, b: number | string): number | undefined {
    const inner = this.m.get(a);
    if (inner === undefined) return undefined;
    if (inner instanceof Map) return inner.get(b);
    return inner.b === b ? inner.v : undefined;
  }

  /** Hold keys (a, b) = v, `a` keeping its place in the eviction order when it is already here. */
  private hold(a: number | string, b: number | string, v: number): void {
    const inner = this.m.get(a);
    if (inner === undefined) this.m.set(a, { b, v });
    else if (inner instanceof Map) inner.set(b, v);
    else if (inner.b === b) inner.v = v;
    else this.m.set(a, new Map([[inner.b, inner.v], [b, v]]));
  }

  /** `ka` and `kb` are textKey(a) and textKey(b), when the caller has them. */
  get(a: string, b: string, ka: number | string = textKey(a), kb: number | string = textKey(b)): number | undefined {
    let v = this.held(ka, kb);
    if (v === undefined) {
      const be = this.tables.backend;
      if (be === null) return undefined;
      v = be.read(this.prefix + a + SEP + b) ?? MISSING;
      this.tables.added(this); // may drop the tables: hold() looks `a` up again
      this.hold(ka, kb, v);
    }
    return v === MISSING ? undefined : v;
  }

  put(a: string, b: string, v: number, ka: number | string = textKey(a), kb: number | string = textKey(b)): void {
    if (this.held(ka, kb) === undefined) this.tables.added(this);
    this.hold(ka, kb, v);
    this.tables.backend?.write(this.prefix + a + SEP + b, v);
  }

  once(a: string, b: string, ts: number, ka: number | string = textKey(a), kb: number | string = textKey(b)): boolean {
    if (this.tables.backend === null) {
      // In memory nothing is cached as absent: a miss here is a new fact. `a` is looked up once,
      // and again only when making room forgot something (`a` itself may have gone).
      let inner = this.m.get(ka);
      if (inner !== undefined && (inner instanceof Map ? inner.has(kb) : inner.b === kb)) return false;
      if (this.tables.added(this)) inner = this.m.get(ka);
      if (inner === undefined) this.m.set(ka, { b: kb, v: ts });
      else if (inner instanceof Map) inner.set(kb, ts);
      else this.m.set(ka, new Map([[inner.b, inner.v], [kb, ts]]));
      return true;
    }
    if (this.get(a, b, ka, kb) !== undefined) return false;
    this.put(a, b, ts, ka, kb);
    return true;
  }

  /**
   * once() in memory with no fact to forget on the way (the caller made sure of it), saying what
   * was new: NEW_FIRST when `ka` had no fact here at all, NEW_FACT for a new second part, else 0.
   */
  learnIn(ka: number | string, kb: number | string, ts: number): number {
    const inner = this.m.get(ka);
    if (inner === undefined) {
      this.tables.added(this);
      this.m.set(ka, { b: kb, v: ts });
      return NEW_FIRST;
    }
    if (inner instanceof Map ? inner.has(kb) : inner.b === kb) return 0;
    this.tables.added(this);
    if (inner instanceof Map) inner.set(kb, ts);
    else this.m.set(ka, new Map([[inner.b, inner.v], [kb, ts]]));
    return NEW_FACT;
  }

  /** Each first part with the value of its first fact, in the order the first parts came. */
  *firsts(): Generator<[number | string, number]> {
    for (const [k, inner] of this.m) yield [k, inner instanceof Map ? inner.values().next().value! : inner.v];
  }

  mirror(a: string, b: string, v: number): void {
    const ka = textKey(a);
    const kb = textKey(b);
    if (this.held(ka, kb) === undefined) this.tables.added(this);
    this.hold(ka, kb, v);
  }

  clear(): void {
    this.m = new Map();
    this.front.reset();
  }
}

export class BaselineStore implements BaselineView {
  readonly learningPeriodMs: number;
  readonly persistent: boolean;
  private readonly tables: Tables;
  private readonly meta: Table1;
  private readonly host: Table1;
  private readonly hostDest: Table2;
  private readonly userDest: Table2;
  private readonly image: Table1;
  private readonly imageLib: Table2;
  private readonly ja4Host: Table2;
  private readonly ja4Count: Table1;
  private readonly destCount: Table1;
  private firstTs: number | null;
  /** Distinct hosts learned, in memory (with a backend the count is the meta fact, which the fleet shares). */
  private hostsSeen = 0;
  /**
   * In memory, whether the host table holds its facts. Until the store first has to forget a fact
   * it need not: a host is learned only in learnKeys, together with its first destination, and
   * nothing leaves either table, so the host table would hold exactly the first parts of the
   * host-destination table, in the same order, each with its first destination's time. The
   * host facts are counted all along, and written out before anything is forgotten, so from then
   * on the two tables forget in their own orders as they always did. Until then a new host costs
   * one look-up in one 100k-key table instead of two in two. They are written out a few a flow
   * once the store is half full (see HOLD_STEP), through a live iterator over the
   * host-destination table, which also meets the hosts learned meanwhile; whatever is left when a
   * fact must be forgotten is written out at once.
   */
  private hostsHeld: boolean;
  /** The host-destination table's first facts still to write out, once started. */
  private holding: Iterator<[number | string, number]> | null = null;
  /**
   * Flows learned recently, by their tuple of keys: a two-way set-associative table (each tuple may sit in
   * one of two neighbouring slots, the newer first), so it is bounded by construction.
   */
  private readonly recent: (LearnedTuple | undefined)[] = new Array<LearnedTuple | undefined>(RECENT_SLOTS).fill(undefined);
  /**
   * The tuples' hashes, slot by slot beside `recent`: a new tuple (most flows of a crowd of hosts)
   * is told apart by the two hashes, which share a cache line, without reading the two tuples
   * it is not, each somewhere else in the heap.
   */
  private readonly recentHash = new Int32Array(RECENT_SLOTS);

  private constructor(backend: FactBackend | null, cacheMax: number, learningPeriodMs: number, memoryMax: number) {
    const t = new Tables(backend, cacheMax, memoryMax);
    this.tables = t;
    this.persistent = backend !== null;
    this.learningPeriodMs = learningPeriodMs;
    // The meta keys are whole LMDB keys ('meta:first'): no prefix.
    this.meta = t.register(new Table1(t, '', true));
    this.host = t.register(new Table1(t, K.host + SEP));
    this.hostDest = t.register(new Table2(t, K.hostDest + SEP));
    this.userDest = t.register(new Table2(t, K.userDest + SEP));
    this.image = t.register(new Table1(t, K.image + SEP));
    this.imageLib = t.register(new Table2(t, K.imageLib + SEP));
    this.ja4Host = t.register(new Table2(t, K.ja4Host + SEP));
    this.ja4Count = t.register(new Table1(t, K.ja4Count + SEP));
    this.destCount = t.register(new Table1(t, K.destCount + SEP));
    this.firstTs = this.meta.get(K.first) ?? null;
    this.hostsHeld = backend !== null;
    if (!this.hostsHeld) t.beforeForgetting = () => this.holdHosts();
  }

  /** Write up to `n` more host facts out of the host-destination table (see hostsHeld). */
  private holdHosts(n = Infinity): void {
    if (this.hostsHeld) return;
    const it = (this.holding ??= this.hostDest.firsts());
    for (let k = 0; k < n; k++) {
      const r = it.next();
      if (r.done === true) {
        this.hostsHeld = true;
        this.holding = null;
        this.tables.beforeForgetting = null;
        return;
      }
      this.host.hold(r.value[0], r.value[1]);
    }
  }

  /** Open (or create) the store; in memory when `path` is empty. */
  static open(opts: BaselineOptions = {}): BaselineStore {
    const learning = opts.learningPeriodMs ?? DEFAULT_LEARNING_PERIOD_MS;
    const memoryMax = opts.memoryMaxKeysCount ?? DEFAULT_MEMORY_MAX_KEYS;
    if (opts.backend) return new BaselineStore(opts.backend, opts.cacheMaxKeysCount ?? 1_000_000, learning, memoryMax);
    if (!opts.path) return new BaselineStore(null, Infinity, learning, memoryMax);
    return new BaselineStore(new LmdbBackend(opts.path, opts.writeBatchKeysCount ?? 4096), opts.cacheMaxKeysCount ?? 1_000_000, learning, memoryMax);
  }

  /** Facts held in memory, their bound and the facts forgotten (in memory) to stay within it. */
  state(): { structure: string; size: number; capacity: number; evictions: number }[] {
    return [{ structure: 'baseline_facts', size: this.tables.size, capacity: this.tables.capacity, evictions: this.tables.evictions }];
  }

  // ---- read side (BaselineView) ----
  isWarm(ts: number): boolean {
    return this.firstTs !== null && ts - this.firstTs >= this.learningPeriodMs;
  }
  learningEndsAt(): number | null {
    return this.firstTs === null ? null : this.firstTs + this.learningPeriodMs;
  }
  hostDestinationFirstSeen(host: string, dest: string): number | null {
    return this.hostDest.get(host.toLowerCase(), dest.toLowerCase()) ?? null;
  }
  userDestinationFirstSeen(user: string, dest: string): number | null {
    return this.userDest.get(user.toLowerCase(), dest.toLowerCase()) ?? null;
  }
  imageNetworkFirstSeen(image: string): number | null {
    return this.image.get(image.toLowerCase()) ?? null;
  }
  imageLibraryFirstSeen(image: string, library: string): number | null {
    return this.imageLib.get(image.toLowerCase(), library.toLowerCase()) ?? null;
  }
  ja4HostCount(ja4: string): number {
    return this.ja4Count.get(ja4) ?? 0;
  }
  destinationHostCount(dest: string): number {
    return this.destCount.get(dest.toLowerCase()) ?? 0;
  }
  hostCount(): number {
    if (this.tables.backend === null) return this.hostsSeen;
    return this.meta.get(K.hosts) ?? 0;
  }

  /** Which backend holds the facts: 'memory', 'lmdb' or 'redis'. */
  get backendKind(): 'memory' | 'lmdb' | 'redis' {
    return this.tables.backend?.kind ?? 'memory';
  }

  /**
   * A fact the backend reports after the fact (another sensor learned it, or the fleet holds an
   * earlier time): it replaces what the tables cache, and the fleet's first flow can move the
   * learning period back. Counters take the fleet's value as it is.
   */
  remote(key: string, v: number): void {
    if (!Number.isFinite(v)) return;
    if (key === K.first) {
      if (this.firstTs === null || v < this.firstTs) this.firstTs = v;
      this.meta.mirror(K.first, this.firstTs);
      return;
    }
    if (key === K.hosts) { this.meta.mirror(K.hosts, v); return; }
    const i = key.indexOf(SEP);
    if (i < 0) return;
    const kind = key.slice(0, i);
    const rest = key.slice(i + 1);
    const j = rest.indexOf(SEP);
    const a = j < 0 ? rest : rest.slice(0, j);
    const b = j < 0 ? '' : rest.slice(j + 1);
    const t1: Record<string, Table1> = { [K.host]: this.host, [K.image]: this.image, [K.ja4Count]: this.ja4Count, [K.destCount]: this.destCount };
    const t2: Record<string, Table2> = { [K.hostDest]: this.hostDest, [K.userDest]: this.userDest, [K.imageLib]: this.imageLib, [K.ja4Host]: this.ja4Host };
    if (j < 0) t1[kind]?.mirror(a, v);
    else t2[kind]?.mirror(a, b, v);
  }

  /**
   * Look up now what the analytics will ask about this flow, so a backend that answers later (the
   * fleet's Redis) is already asked when the flow reaches them (see the analytics stage's prepare).
   */
  touch(flow: FlowRecord): void {
    const host = hostKey(flow);
    const dest = destinationKey(flow);
    this.hostDest.get(host, dest);
    this.destCount.get(dest);
    const user = userKey(flow);
    if (user) this.userDest.get(user, dest);
    const ja4 = tlsOf(flow)?.ja4;
    if (ja4) this.ja4Count.get(ja4);
    const image = imageKey(flow);
    if (image) {
      this.image.get(image);
      const loads = flow.attribution?.imageLoads;
      if (loads) for (const l of loads) this.imageLib.get(image, baseName(l.path));
    }
  }

  // ---- write side ----
  /** Learn one (enriched) flow. Call AFTER the analytics evaluated it. */
  learn(flow: FlowRecord): void {
    const ts = flow.startTs;
    if (this.firstTs === null || ts < this.firstTs) {
      // The first flow starts learning; an earlier flow arriving later (flows end out of order) moves it back.
      this.firstTs = ts;
      this.meta.put(K.first, ts);
    }
    // Fast path: a flow whose whole (host, dest, ja4, user, image) tuple was learned recently adds
    // nothing (first-seen times only ever keep the first), unless it brings library loads. The memo
    // holds the keys the tables hold: the host and destination as textKeys (an address is an
    // integer), the other parts the very strings the analytics have just folded for this flow (the
    // one-entry memos hand them back), which a new tuple's facts keep anyway. So the memo keeps no
    // string of its own alive into the old generation.
    const a = flow.attribution;
    const hostText = hostKey(flow);
    const destText = destinationKey(flow);
    const host = hostTableKey(flow);
    const dest = destLower.keyOf(tlsOf(flow)?.sni ?? flow.dnsName ?? flow.server.ip);
    if (!a || a.imageLoads.length === 0) {
      const ja4 = tlsOf(flow)?.ja4 ?? '';
      const user = userKey(flow) ?? '';
      const exe = imageKey(flow) ?? '';
      // Hashed over the texts, not the keys: the same slots as ever, so the memo remembers and
      // forgets the very tuples it did (which decides what an in-memory store past its bound
      // learns again).
      let h = fnv(fnv(fnv(fnv(fnv(0x811c9dc5, hostText), destText), ja4), user), exe);
      h ^= h >>> 15;
      const i = h & (RECENT_SLOTS - 2);
      const hs = this.recentHash;
      const first = this.recent[i];
      if (hs[i] === h && first !== undefined && first.host === host && first.dest === dest && first.ja4 === ja4 && first.user === user && first.exe === exe) return;
      const second = this.recent[i + 1];
      if (hs[i + 1] === h && second !== undefined && second.host === host && second.dest === dest && second.ja4 === ja4 && second.user === user && second.exe === exe) return;
      // Newest in the first slot; the older of the two goes (its object is reused).
      let t = second;
      if (t === undefined) t = { host, dest, ja4, user, exe };
      else { t.host = host; t.dest = dest; t.ja4 = ja4; t.user = user; t.exe = exe; }
      this.recent[i + 1] = first;
      this.recent[i] = t;
      hs[i + 1] = hs[i]!;
      hs[i] = h;
    }
    this.learnKeys(flow, ts, host, dest);
  }

  /** `hk` and `dk`: textKey of the flow's host and destination keys. */
  private learnKeys(flow: FlowRecord, ts: number, hk: number | string, dk: number | string): void {
    const host = hostKey(flow);
    const dest = destinationKey(flow);
    // A new (host, destination) pair is also one more host for that destination's prevalence.
    // In memory, the host, its destination and the destination's count are at most three facts:
    // the host table is written out first unless they fit without forgetting (see hostsHeld).
    if (!this.hostsHeld) {
      if (!this.tables.roomFor(3)) this.holdHosts();
      else if (this.tables.size * 2 >= this.tables.capacity) this.holdHosts(HOLD_STEP);
    }
    if (!this.hostsHeld) {
      const got = this.hostDest.learnIn(hk, dk, ts);
      if (got === NEW_FIRST) {
        this.tables.added(this.host); // the host's fact, counted
        this.hostsSeen++;
      }
      if (got !== 0) this.destCount.bump(dest, dk);
    } else {
      if (this.host.once(host, ts, hk)) {
        if (this.tables.backend === null) this.hostsSeen++;
        else this.meta.bump(K.hosts);
      }
      if (this.hostDest.once(host, dest, ts, hk, dk)) this.destCount.bump(dest, dk);
    }
    const ja4 = tlsOf(flow)?.ja4;
    if (ja4) {
      const jk = textKey(ja4);
      if (this.ja4Host.once(ja4, host, ts, jk, hk)) this.ja4Count.bump(ja4, jk);
    }
    const user = userKey(flow);
    if (user) this.userDest.once(user, dest, ts, textKey(user), dk);
    const image = imageKey(flow);
    if (image) {
      this.image.once(image, ts);
      const loads = flow.attribution?.imageLoads;
      if (loads) for (const l of loads) this.imageLib.once(image, baseName(l.path).toLowerCase(), l.ts);
    }
  }

  /** Resolves when everything written so far is on disk. */
  async flushed(): Promise<void> {
    await this.tables.backend?.flushed();
  }

  async close(): Promise<void> {
    await this.tables.backend?.close();
    this.tables.clearAll();
    this.hostsSeen = 0;
    this.hostsHeld = true; // closed: nothing is learned any more
    this.holding = null;
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
