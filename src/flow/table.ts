/**
 * The flow table: numeric-hash lookup with collision chains, three activity lists (TCP open,
 * TCP closing, UDP) each ordered by last activity so expiry is O(expired), and a hard cap on
 * tracked flows that evicts the least recently active flow. Times are packet time (ms).
 */
import { addrToString, type PacketMeta, TcpFlag, TUNNEL_NAMES } from '../decode/packet-meta.js';
import { Flow, FlowList, Tomb, type TableEntry } from './flow.js';

export interface TableLimits {
  maxFlowsCount: number;
  tcpIdleMs: number; // established / half-open TCP without activity
  tcpClosedMs: number; // after FIN both ways or RST
  udpIdleMs: number;
  /**
   * JS heap (MiB) the live state may fill before the table sheds flows (0: no memcap). Checked
   * after each full garbage collection, when the heap in use is close to what is alive; see
   * Engine and heapAfterGc.
   */
  heapMemcapMiB: number;
}

export const defaultTableLimits: TableLimits = {
  maxFlowsCount: 1_000_000,
  tcpIdleMs: 300_000,
  tcpClosedMs: 5_000,
  udpIdleMs: 60_000,
  heapMemcapMiB: 0,
};

/** The soft cap never goes below this many flows, whatever else fills the heap. */
const MIN_SOFT_CAP = 1024;
/** Most flows shed under memory pressure per new flow (spreads a large cut over many packets). */
const SHED_BATCH = 64;

/**
 * Reset flows kept for reuse, at least. An eviction at the cap frees one flow just before the next
 * is made, so a flood at the cap needs a pool of one; expiry frees a second of packet time's worth
 * at once (a scan's flows all time out together), which the next second's new flows can take: the
 * pool may hold as many as were made in the last second (see expire), and shrinks back to this
 * when fewer are made.
 */
const POOL_MIN = 4096;

/** Buckets of a new table (doubled as it grows; never shrunk). */
const INITIAL_BUCKETS = 4096;

/** Mix a 32-bit value into a hash (murmur3 finaliser style). */
function mix(h: number, v: number): number {
  h = Math.imul(h ^ v, 0x5bd1e995);
  return (h ^ (h >>> 15)) | 0;
}

export class FlowTable {
  /**
   * Hash buckets: chain heads indexed by the hash's low bits (a power-of-two array, doubled when
   * it holds more entries than buckets). A Map keyed by the hash boxed every hash outside the
   * small-integer range and hashed it again on each packet of a new flow.
   */
  private buckets: (TableEntry | null)[] = new Array<TableEntry | null>(INITIAL_BUCKETS).fill(null);
  private mask = INITIAL_BUCKETS - 1;
  private readonly heads: (TableEntry | null)[] = [null, null, null];
  private readonly tails: (TableEntry | null)[] = [null, null, null];
  private readonly timeouts: number[];
  size = 0;
  created = 0;
  evicted = 0;
  private nextId = 1;
  /**
   * Ended flows that never carried payload, reset for reuse. Under a flood or a scan every flow
   * lives until the cap or the idle timeout pushes it out, long enough for V8 to promote it to
   * the old generation, where it then dies: a million such flows grew the old generation with
   * garbage far past what the table holds alive. Reused, they are allocated once. TCP flows that
   * carried payload are not reused: dissectors, streams and the eBPF bypass may still hold them
   * (Flow.reusable says which may be).
   */
  private readonly pool: Flow[] = [];
  /** Most flows the pool holds now: flows made in the last second of expiry, at least POOL_MIN. */
  private poolMax = POOL_MIN;
  /** Flows made since the last expiry. */
  private madeSinceExpire = 0;
  /**
   * Tombs that expired, for the next connections to close: each lives the close delay, long enough
   * to be promoted and die in the old generation, and a busy sensor buries one per connection.
   * Bounded as the flow pool.
   */
  private readonly tombs: Tomb[] = [];
  /** Flows taken from the pool instead of allocated (metrics). */
  reused = 0;
  /** Reset flows waiting in the pool. */
  get pooled(): number {
    return this.pool.length;
  }
  /** Flows the table holds at most because of the memcap (Infinity: no limit; see heapAfterGc). */
  softCap = Infinity;
  /** Flows evicted because of the memcap (also counted in `evicted`). */
  memcapEvicted = 0;
  readonly lim: TableLimits;
  /** The entry the previous lookup returned (null once it leaves the table). */
  private last: TableEntry | null = null;
  /** Direction of the packet just looked up (0 = client → server). */
  dir: 0 | 1 = 0;
  /**
   * Set by a sharded worker to the packet's place in the whole capture: an entry going to the tail
   * of its list keeps it, so the main thread can merge the workers' expiries into one table's order.
   */
  seq = 0;
  /**
   * Number flows by `seq` (their first packet's place in the capture) instead of counting: a
   * sharded replay's main thread turns those places into the ids one table would have given.
   */
  idFromSeq = false;

  constructor(lim: TableLimits) {
    this.lim = lim;
    this.timeouts = [lim.tcpIdleMs, lim.tcpClosedMs, lim.udpIdleMs];
  }

  /**
   * Find the packet's entry (a flow, or the tomb of a closed connection) or create a flow. Sets
   * `this.dir`. `onEvict` is called for an entry pushed out by the cap before a new one is inserted.
   */
  lookup(m: PacketMeta, onEvict: (f: TableEntry) => void): TableEntry {
    // Bulk transfers send runs of packets of one flow: try the last flow found before hashing.
    const last = this.last;
    if (last !== null && this.match(last, m)) {
      this.touch(last, m.tsMs);
      return last;
    }
    const f = this.search(m, onEvict);
    this.last = f;
    return f;
  }

  /** True when `f` is the packet's flow; sets `this.dir`. */
  private match(f: TableEntry, m: PacketMeta): boolean {
    if (f.proto !== m.proto) return false;
    if (f.aPort === m.sport && f.bPort === m.dport && f.a0 === m.src0 && f.b0 === m.dst0 && f.a1 === m.src1 && f.a2 === m.src2 && f.a3 === m.src3 && f.b1 === m.dst1 && f.b2 === m.dst2 && f.b3 === m.dst3) {
      this.dir = 0;
      return true;
    }
    if (f.aPort === m.dport && f.bPort === m.sport && f.a0 === m.dst0 && f.b0 === m.src0 && f.a1 === m.dst1 && f.a2 === m.dst2 && f.a3 === m.dst3 && f.b1 === m.src1 && f.b2 === m.src2 && f.b3 === m.src3) {
      this.dir = 1;
      return true;
    }
    return false;
  }

  private search(m: PacketMeta, onEvict: (f: TableEntry) => void): TableEntry {
    // Canonical order of the endpoints so both directions hash alike.
    const h = this.hashOf(m);
    for (let f = this.buckets[h & this.mask] ?? null; f !== null; f = f.chain) {
      if (this.match(f, m)) {
        this.touch(f, m.tsMs);
        return f;
      }
    }
    // The memcap's soft cap first: at the flow cap too, a heap over the memcap must shrink.
    if (this.size >= this.softCap) {
      for (let i = 0; i < SHED_BATCH && this.size >= this.softCap && this.size > 0; i++) {
        this.evictOldest(onEvict);
        this.memcapEvicted++;
      }
    }
    if (this.size >= this.lim.maxFlowsCount) this.evictOldest(onEvict);
    let nf = this.pool.pop();
    if (nf === undefined) nf = new Flow();
    else this.reused++;
    nf.hash = h;
    nf.id = this.idFromSeq ? this.seq : this.nextId++;
    nf.ipVersion = m.ipVersion === 6 ? 6 : 4;
    nf.proto = m.proto;
    nf.vlan = m.vlan;
    nf.tunnelDepth = m.tunnelDepth;
    nf.startTs = m.tsMs;
    // Direction: the SYN sender is the client; a SYN-ACK sender is the server; otherwise the
    // side on the lower (well-known) port is the server; on a tie the first sender is the client.
    let srcIsClient: boolean;
    if (m.proto === 6 && (m.tcpFlags & TcpFlag.SYN) !== 0) {
      srcIsClient = (m.tcpFlags & TcpFlag.ACK) === 0;
      nf.directionFromSyn = true;
    } else if (m.sport !== m.dport) {
      srcIsClient = m.sport > m.dport;
    } else {
      srcIsClient = true;
    }
    if (m.tunnelDepth > 0) {
      const v = m.outerVersion;
      const src = v === 0 ? '' : addrToString(v, m.outerSrc0, m.outerSrc1, m.outerSrc2, m.outerSrc3);
      const dst = v === 0 ? '' : addrToString(v, m.outerDst0, m.outerDst1, m.outerDst2, m.outerDst3);
      nf.tunnel = { type: TUNNEL_NAMES[m.tunnelType] ?? '', id: m.tunnelId, outerClient: srcIsClient ? src : dst, outerServer: srcIsClient ? dst : src };
    }
    if (srcIsClient) {
      nf.a0 = m.src0; nf.a1 = m.src1; nf.a2 = m.src2; nf.a3 = m.src3; nf.aPort = m.sport;
      nf.b0 = m.dst0; nf.b1 = m.dst1; nf.b2 = m.dst2; nf.b3 = m.dst3; nf.bPort = m.dport;
      this.dir = 0;
    } else {
      nf.a0 = m.dst0; nf.a1 = m.dst1; nf.a2 = m.dst2; nf.a3 = m.dst3; nf.aPort = m.dport;
      nf.b0 = m.src0; nf.b1 = m.src1; nf.b2 = m.src2; nf.b3 = m.src3; nf.bPort = m.sport;
      this.dir = 1;
    }
    if (this.size >= this.buckets.length) this.grow();
    const bi = h & this.mask;
    nf.chain = this.buckets[bi] ?? null; // read here: an eviction may have changed this bucket
    this.buckets[bi] = nf;
    nf.list = m.proto === 6 ? FlowList.TcpOpen : FlowList.Udp;
    nf.lastSeen = m.tsMs;
    this.append(nf);
    this.size++;
    this.created++;
    this.madeSinceExpire++;
    return nf;
  }

  /**
   * A full GC just ran and `usedBytes` of the heap are in use (about what is alive). Once that is
   * over half the memcap, flows are taken to be most of it and the soft cap is set to the flows
   * that fit 90 % of the memcap at the current cost per flow: it stops the table's growth before
   * the memcap is reached (V8 lets the heap grow to about twice what is alive before the next full
   * GC, so a table that grew until a GC found it over would already have doubled the process) and
   * shrinks it when it is over. Below half, the soft cap rises by a quarter per full GC.
   */
  heapAfterGc(usedBytes: number): void {
    const cap = this.lim.heapMemcapMiB * 1048576;
    if (cap <= 0) return;
    if (usedBytes > cap * 0.5 && this.size >= MIN_SOFT_CAP) {
      const target = Math.max(MIN_SOFT_CAP, Math.floor((this.size * cap * 0.9) / usedBytes));
      this.softCap = target >= this.lim.maxFlowsCount ? Infinity : target;
    } else if (this.softCap !== Infinity) {
      this.softCap = Math.floor(this.softCap * 1.25);
      if (this.softCap >= this.lim.maxFlowsCount) this.softCap = Infinity;
    }
  }

  /**
   * Hand back a flow that has left the table and whose record is built, for reuse when nothing
   * else can still hold it (Flow.reusable). The caller must hold no reference to it afterwards.
   */
  recycle(f: Flow): void {
    if (this.pool.length >= this.poolMax || !f.reusable) return;
    f.reset();
    this.pool.push(f);
  }

  /** Find the packet's entry without creating one (null when not tracked). Sets `this.dir`. */
  find(m: PacketMeta): TableEntry | null {
    const h = this.hashOf(m);
    for (let f = this.buckets[h & this.mask] ?? null; f !== null; f = f.chain) if (this.match(f, m)) return f;
    return null;
  }

  /** The canonical (direction-independent) hash of the packet's 5-tuple. */
  hashOf(m: PacketMeta): number {
    let srcLow: boolean;
    if (m.src0 !== m.dst0) srcLow = m.src0 >>> 0 < m.dst0 >>> 0;
    else if (m.src1 !== m.dst1) srcLow = m.src1 >>> 0 < m.dst1 >>> 0;
    else if (m.src2 !== m.dst2) srcLow = m.src2 >>> 0 < m.dst2 >>> 0;
    else if (m.src3 !== m.dst3) srcLow = m.src3 >>> 0 < m.dst3 >>> 0;
    else srcLow = m.sport <= m.dport;
    let h = m.proto;
    if (srcLow) {
      h = mix(h, m.src0); h = mix(h, m.src1); h = mix(h, m.src2); h = mix(h, m.src3);
      h = mix(h, m.dst0); h = mix(h, m.dst1); h = mix(h, m.dst2); h = mix(h, m.dst3);
      h = mix(h, (m.sport << 16) | m.dport);
    } else {
      h = mix(h, m.dst0); h = mix(h, m.dst1); h = mix(h, m.dst2); h = mix(h, m.dst3);
      h = mix(h, m.src0); h = mix(h, m.src1); h = mix(h, m.src2); h = mix(h, m.src3);
      h = mix(h, (m.dport << 16) | m.sport);
    }
    return h;
  }

  /** Move a flow to another activity list (e.g. TCP closing after FIN/RST). */
  setList(f: Flow, list: FlowList): void {
    if (f.list === list) return;
    this.unlink(f);
    f.list = list;
    this.append(f);
  }

  /**
   * Put a tomb in the place of a flow whose record is out (same bucket chain; the tail of its
   * activity list, where the packet that completed the close has just put the flow, so its close
   * delay runs on). The flow itself leaves the table.
   */
  bury(f: Flow): Tomb {
    const t = this.tombs.pop()?.init(f) ?? new Tomb(f);
    this.rechain(f, t);
    this.unlink(f);
    this.append(t);
    if (this.last === f) this.last = t;
    return t;
  }

  /**
   * Put a tomb for `f`, already taken out of the table, back in its place: a connection that
   * ended (FIN both ways or RST) and whose record goes out at the end of its close delay. The
   * tomb is dated `now`, so it stands one more close delay at the tail of the closing list.
   */
  entomb(f: Flow, now: number): Tomb {
    const t = this.tombs.pop()?.init(f) ?? new Tomb(f);
    t.list = FlowList.TcpClosing;
    t.lastSeen = now;
    if (this.size >= this.buckets.length) this.grow();
    const bi = t.hash & this.mask;
    t.chain = this.buckets[bi] ?? null;
    this.buckets[bi] = t;
    this.append(t);
    this.size++;
    return t;
  }

  /** Remove an entry from the table (the caller finalises a flow). */
  remove(f: TableEntry): void {
    if (this.last === f) this.last = null;
    this.unlink(f);
    this.rechain(f, null);
    this.size--;
  }

  /** Take `f` out of its hash bucket's chain, `by` (when given) standing in its place. */
  private rechain(f: TableEntry, by: TableEntry | null): void {
    const bi = f.hash & this.mask;
    const head = this.buckets[bi] ?? null;
    if (by !== null) by.chain = f.chain;
    const repl = by ?? f.chain;
    if (head === f) {
      this.buckets[bi] = repl;
    } else {
      let p = head;
      while (p !== null && p.chain !== f) p = p.chain;
      if (p !== null) p.chain = repl;
    }
    f.chain = null;
  }

  /** Twice the buckets: every chain is split by the next bit of its entries' hashes. */
  private grow(): void {
    const old = this.buckets;
    const n = old.length * 2;
    const nb = new Array<TableEntry | null>(n).fill(null);
    const mask = n - 1;
    for (let i = 0; i < old.length; i++) {
      let f = old[i] ?? null;
      while (f !== null) {
        const nx = f.chain;
        const bi = f.hash & mask;
        f.chain = nb[bi] ?? null;
        nb[bi] = f;
        f = nx;
      }
    }
    this.buckets = nb;
    this.mask = mask;
  }

  /**
   * Expire flows idle past their list's timeout at packet time `now` (the engine calls this once
   * per second of packet time). The flows it ends go to the pool for the flows the next second
   * makes: a scan whose flows each live a few seconds would otherwise allocate every one of them
   * and have each survive young-generation collections (copied twice) to die in the old one.
   */
  expire(now: number, onExpire: (f: TableEntry) => void): void {
    const max = (this.poolMax = Math.max(POOL_MIN, this.madeSinceExpire));
    this.madeSinceExpire = 0;
    if (this.pool.length > max) this.pool.length = max;
    if (this.tombs.length > max) this.tombs.length = max;
    for (let l = 0; l < 3; l++) {
      const limit = now - (this.timeouts[l] as number);
      let f = this.heads[l] ?? null;
      while (f !== null && f.lastSeen < limit) {
        const nx = f.next;
        this.remove(f);
        onExpire(f);
        // Nothing holds a tomb once it has left the table.
        if (f.tomb && this.tombs.length < this.poolMax) this.tombs.push(f);
        f = nx;
      }
    }
  }

  /** Every flow, oldest activity first per list (for the final flush). */
  drain(onFlow: (f: TableEntry) => void): void {
    for (;;) {
      let best: TableEntry | null = null;
      for (let l = 0; l < 3; l++) {
        const h = this.heads[l] ?? null;
        if (h !== null && (best === null || h.startTs < best.startTs)) best = h;
      }
      if (best === null) return;
      this.remove(best);
      onFlow(best);
    }
  }

  private evictOldest(onEvict: (f: TableEntry) => void): void {
    let best: TableEntry | null = null;
    for (let l = 0; l < 3; l++) {
      const h = this.heads[l] ?? null;
      if (h !== null && (best === null || h.lastSeen < best.lastSeen)) best = h;
    }
    if (best === null) return;
    this.remove(best);
    this.evicted++;
    onEvict(best);
  }

  private touch(f: TableEntry, ts: number): void {
    if (ts > f.lastSeen) f.lastSeen = ts;
    const l = f.list;
    // Already last here, but a sharded worker's list holds only its flows: in the whole table
    // others may have come after it, so its place (seq) moves on as the move would have.
    if (this.tails[l] === f) { f.seq = this.seq; return; }
    this.unlink(f);
    this.append(f);
  }

  private append(f: TableEntry): void {
    const l = f.list;
    f.seq = this.seq;
    const t = this.tails[l] ?? null;
    f.prev = t;
    f.next = null;
    if (t !== null) t.next = f;
    else this.heads[l] = f;
    this.tails[l] = f;
  }

  private unlink(f: TableEntry): void {
    const l = f.list;
    if (f.prev !== null) f.prev.next = f.next;
    else if (this.heads[l] === f) this.heads[l] = f.next;
    if (f.next !== null) f.next.prev = f.prev;
    else if (this.tails[l] === f) this.tails[l] = f.prev;
    f.prev = null;
    f.next = null;
  }
}
