/**
 * Bounded IPv4/IPv6 fragment reassembly (DESIGN §2.2). The engine owns one FragmentTable per
 * pipeline and hands it to every decode() call. Fragments are the uncommon path: a datagram in
 * reassembly owns a small object and a growing buffer, all of it counted against `maxFragBytes`.
 *
 * Policy:
 * - A datagram is keyed by (src, dst, id) plus the protocol for IPv4 (RFC 791 §3.2) and
 *   (src, dst, id) for IPv6 (RFC 8200 §4.5).
 * - Exact duplicates of a fragment already held are ignored (counted). Other overlaps follow the
 *   named policy `overlap`: 'first' (the default) keeps the bytes already held and takes only
 *   what the new fragment adds, 'last' lets the new fragment's bytes replace them, 'drop' drops
 *   the whole datagram (RFC 5722's rule for IPv6, which Linux also applies to IPv4). Overlaps are
 *   real on a tap: a datagram sent again over a path of another MTU is fragmented at other
 *   boundaries, and dropping it lost a datagram every receiver rebuilds. Each overlap is an event,
 *   'decoder.frag.overlap' when the bytes agree and 'decoder.frag.overlap_conflict' when they
 *   differ (the signature of overlap evasion: a receiver with another policy sees other bytes).
 * - Time is packet time: a datagram older than `fragTimeoutMs` is dropped (counted) when later
 *   packets arrive or when the engine calls expire().
 * - When holding a new datagram would pass `maxFragBytes` or `maxFragDatagramsCount`, the oldest
 *   datagrams are evicted (counted, 'decoder.frag.limit' is reported on the packet that forced it).
 * - The packet that completes a datagram gets the whole datagram rebuilt into one of two reused
 *   output buffers (one per nesting level, an outer tunnel and an inner packet can both be
 *   fragmented). The bytes stay valid until the next completion on the same level.
 */
import type { DecoderEventId } from './events.js';

export interface FragmentLimits {
  /** Bytes of datagram buffers held across all datagrams in reassembly. */
  maxFragBytes: number;
  /** Datagrams in reassembly at once. */
  maxFragDatagramsCount: number;
  /** Distinct fragments kept per datagram. */
  maxFragsPerDatagramCount: number;
  /** Bytes of unfragmentable header (IPv4 header, IPv6 header + extension headers) kept. */
  maxFragHeaderBytes: number;
  /** A datagram not completed within this much packet time is dropped. */
  fragTimeoutMs: number;
  /** Which bytes an overlapping fragment leaves in the datagram (see the header). */
  overlap: FragOverlapPolicy;
}

export type FragOverlapPolicy = 'first' | 'last' | 'drop';

export const defaultFragmentLimits: Readonly<FragmentLimits> = Object.freeze({
  maxFragBytes: 16 * 1024 * 1024,
  maxFragDatagramsCount: 4096,
  maxFragsPerDatagramCount: 128,
  maxFragHeaderBytes: 512,
  fragTimeoutMs: 30_000,
  overlap: 'first',
});

export interface FragmentCounters {
  fragments: number;
  datagramsStarted: number;
  datagramsCompleted: number;
  duplicates: number;
  overlaps: number;
  /** Overlaps whose bytes differ from those already held (also counted in `overlaps`). */
  conflicts: number;
  timeouts: number;
  /** Datagrams dropped to stay within maxFragBytes / maxFragDatagramsCount. */
  evictions: number;
  /** Datagrams dropped for exceeding their own limits (too many fragments, too big, bad header). */
  dropped: number;
}

/** What add() did with a fragment. */
export const FragResult = {
  Held: 0, // kept (or an ignored duplicate); datagram not complete yet
  Complete: 1, // datagram rebuilt into out(slot), length outLen
  Error: 2, // see lastEvent; the fragment (and maybe its datagram) was dropped
} as const;
export type FragResult = (typeof FragResult)[keyof typeof FragResult];

const MAX_DATAGRAM_BYTES = 65535;
const MIN_BUFFER_BYTES = 2048;

class Datagram {
  version = 4;
  s0 = 0; s1 = 0; s2 = 0; s3 = 0;
  d0 = 0; d1 = 0; d2 = 0; d3 = 0;
  id = 0;
  proto = 0;
  hash = 0;

  firstTsMs = 0;
  /** Data bytes (fragmentable part) at their fragment offsets. */
  data: Uint8Array = EMPTY;
  /** Received ranges [start, end) sorted by start. */
  ranges: Uint32Array;
  nRanges = 0;
  received = 0;
  /** Fragments taken into the datagram (duplicates aside). */
  frags = 0;
  /** Total data length once the last fragment (MF=0) arrived, else -1. */
  total = -1;

  /** Unfragmentable part copied from the offset-0 fragment (null until it arrives). */
  header: Uint8Array | null = null;
  /** IPv6: offset in header of the Next Header byte that named the fragment header (44). */
  nhFieldOff = 0;
  /** IPv6: the next header carried in the fragment header. */
  nextHeader = 0;

  bucketNext: Datagram | null = null;
  older: Datagram | null = null;
  newer: Datagram | null = null;

  constructor(maxFrags: number) {
    this.ranges = new Uint32Array(maxFrags * 2);
  }
}

const EMPTY = new Uint8Array(0);

export class FragmentTable {
  readonly limits: Readonly<FragmentLimits>;
  readonly counters: FragmentCounters = {
    fragments: 0,
    datagramsStarted: 0,
    datagramsCompleted: 0,
    duplicates: 0,
    overlaps: 0,
    conflicts: 0,
    timeouts: 0,
    evictions: 0,
    dropped: 0,
  };
  /** Bytes of datagram buffers currently held (≤ maxFragBytes). */
  heldBytes = 0;
  /** Datagrams currently in reassembly. */
  count = 0;
  /** Event for the last add() that returned Error, or a limit hit on a Held/Complete result. */
  lastEvent: DecoderEventId | '' = '';
  /** Length of the datagram rebuilt by the last Complete. */
  outLen = 0;

  private readonly buckets = new Map<number, Datagram>();
  private oldest: Datagram | null = null;
  private newest: Datagram | null = null;
  private readonly outBufs: Uint8Array[];

  readonly overlap: FragOverlapPolicy;
  /**
   * Told of each overlap the policy resolved ('first', 'last'): the fragment's packet decodes on
   * (held, or completing the datagram), so its decode status does not carry the event.
   */
  onEvent: ((ev: DecoderEventId) => void) | null = null;

  constructor(limits: Partial<FragmentLimits> = {}) {
    const overlap = limits.overlap ?? 'first';
    if (overlap !== 'first' && overlap !== 'last' && overlap !== 'drop') throw new Error(`fragment overlap policy must be first, last or drop, not ${String(overlap)}`);
    this.overlap = overlap;
    const l = { ...defaultFragmentLimits, ...limits };
    for (const [k, v] of Object.entries(l)) {
      if (k === 'overlap') continue;
      if (typeof v !== 'number' || !Number.isFinite(v) || v <= 0) throw new Error(`fragment limit ${k} must be a positive number`);
    }
    this.limits = Object.freeze(l);
    const outBytes = MAX_DATAGRAM_BYTES + l.maxFragHeaderBytes;
    this.outBufs = [new Uint8Array(outBytes), new Uint8Array(outBytes)];
  }

  /** Output buffer of nesting level `slot` (0 or 1). */
  out(slot: number): Uint8Array {
    return this.outBufs[slot] as Uint8Array;
  }

  /**
   * Add one fragment. `buf[ipOff, ipOff + hdrLen)` is the unfragmentable part (IPv4 header, or
   * IPv6 header plus the extension headers before the fragment header); `buf[dataOff, dataOff +
   * dataLen)` is the fragment's data, to sit at byte `fragOff` of the datagram's fragmentable part.
   * Addresses are the four-word form from PacketMeta.
   */
  add(
    version: 4 | 6,
    s0: number, s1: number, s2: number, s3: number,
    d0: number, d1: number, d2: number, d3: number,
    id: number, proto: number,
    buf: Uint8Array, ipOff: number, hdrLen: number, nhFieldOff: number, nextHeader: number,
    fragOff: number, more: boolean, dataOff: number, dataLen: number,
    nowMs: number, slot: number,
  ): FragResult {
    this.lastEvent = '';
    this.counters.fragments++;
    this.expire(nowMs);

    const end = fragOff + dataLen;
    if (end > MAX_DATAGRAM_BYTES) return this.fail(null, 'decoder.frag.too_big');
    if (more && (dataLen & 7) !== 0) return this.fail(null, 'decoder.frag.bad_length');

    const key = version === 6 ? 0 : proto;
    let h = Math.imul(s0 ^ 0x9e3779b9, 0x85ebca6b) ^ Math.imul(s1 ^ s2 ^ s3, 0xc2b2ae35);
    h = Math.imul(h ^ d0, 0x27d4eb2f) ^ Math.imul(d1 ^ d2 ^ d3 ^ (key << 24), 0x165667b1);
    h = (Math.imul(h ^ id, 0x9e3779b1) ^ version) | 0;

    let d = this.buckets.get(h) ?? null;
    while (d !== null) {
      if (
        d.id === id && d.proto === key && d.version === version &&
        d.s0 === s0 && d.s1 === s1 && d.s2 === s2 && d.s3 === s3 &&
        d.d0 === d0 && d.d1 === d1 && d.d2 === d2 && d.d3 === d3
      ) break;
      d = d.bucketNext;
    }

    if (d === null) {
      if (this.count >= this.limits.maxFragDatagramsCount) {
        this.evictOldest();
        this.lastEvent = 'decoder.frag.limit';
      }
      d = new Datagram(this.limits.maxFragsPerDatagramCount);
      d.version = version;
      d.s0 = s0; d.s1 = s1; d.s2 = s2; d.s3 = s3;
      d.d0 = d0; d.d1 = d1; d.d2 = d2; d.d3 = d3;
      d.id = id; d.proto = key; d.hash = h;
      d.firstTsMs = nowMs;
      this.link(d);
      this.counters.datagramsStarted++;
    }

    // Consistency with the datagram end known so far.
    if (d.total >= 0 && (end > d.total || (!more && end !== d.total))) return this.fail(d, 'decoder.frag.inconsistent');

    // Overlap / duplicate check against the sorted ranges; find the insertion point.
    const r = d.ranges;
    const n = d.nRanges;
    let ins = n;
    let overlaps = false;
    for (let i = 0; i < n; i++) {
      const s = r[2 * i] as number;
      const e = r[2 * i + 1] as number;
      if (fragOff < e && end > s) {
        if (s <= fragOff && e >= end && this.sameBytes(d, buf, dataOff, fragOff, end)) {
          // A duplicate (or a copy of part of what is held): nothing new
          this.counters.duplicates++;
          return FragResult.Held;
        }
        overlaps = true;
      }
      if (dataLen === 0 && s === fragOff && e === end) {
        this.counters.duplicates++;
        return FragResult.Held;
      }
      if (s >= end && ins === n) ins = i;
    }
    if (overlaps) return this.addOverlapping(d, buf, ipOff, hdrLen, nhFieldOff, nextHeader, fragOff, end, more, dataOff, slot);
    if (d.frags >= this.limits.maxFragsPerDatagramCount) return this.fail(d, 'decoder.frag.limit');
    if (!more && d.received > 0 && end < (r[2 * n - 1] as number)) return this.fail(d, 'decoder.frag.inconsistent');

    // Header of the offset-0 fragment.
    if (fragOff === 0) {
      if (hdrLen > this.limits.maxFragHeaderBytes) return this.fail(d, 'decoder.frag.limit');
      const hb = new Uint8Array(hdrLen);
      hb.set(buf.subarray(ipOff, ipOff + hdrLen));
      d.header = hb;
      d.nhFieldOff = nhFieldOff;
      d.nextHeader = nextHeader;
    }

    // Room for the data.
    if (end > d.data.length) {
      let cap = d.data.length === 0 ? MIN_BUFFER_BYTES : d.data.length;
      while (cap < end) cap *= 2;
      if (cap > MAX_DATAGRAM_BYTES) cap = MAX_DATAGRAM_BYTES;
      const grow = cap - d.data.length;
      if (grow > this.limits.maxFragBytes) return this.fail(d, 'decoder.frag.limit');
      while (this.heldBytes + grow > this.limits.maxFragBytes && this.oldest !== null && this.oldest !== d) {
        this.evictOldest();
        this.lastEvent = 'decoder.frag.limit';
      }
      if (this.heldBytes + grow > this.limits.maxFragBytes) return this.fail(d, 'decoder.frag.limit');
      const nb = new Uint8Array(cap);
      if (d.data.length > 0) nb.set(d.data);
      d.data = nb;
      this.heldBytes += grow;
    }
    if (dataLen > 0) d.data.set(buf.subarray(dataOff, dataOff + dataLen), fragOff);

    r.copyWithin(2 * ins + 2, 2 * ins, 2 * n);
    r[2 * ins] = fragOff;
    r[2 * ins + 1] = end;
    d.nRanges = n + 1;
    d.frags++;
    d.received += dataLen;
    if (!more) d.total = end;
    return this.completeIfWhole(d, version, slot);
  }

  /** The held bytes [from, to) of `d` equal buf's from dataOff. */
  private sameBytes(d: Datagram, buf: Uint8Array, dataOff: number, from: number, to: number): boolean {
    const data = d.data;
    for (let i = from, j = dataOff; i < to; i++, j++) if (data[i] !== buf[j]) return false;
    return true;
  }

  /**
   * A fragment overlapping what is held, by the overlap policy: its bytes compared with the held
   * ones where they overlap, then taken where nothing is held ('first') or everywhere ('last'),
   * and its range merged into the held ranges.
   */
  private addOverlapping(
    d: Datagram, buf: Uint8Array, ipOff: number, hdrLen: number, nhFieldOff: number, nextHeader: number,
    fragOff: number, end: number, more: boolean, dataOff: number, slot: number,
  ): FragResult {
    this.counters.overlaps++;
    if (this.overlap === 'drop') return this.fail(d, 'decoder.frag.overlap');
    if (d.frags >= this.limits.maxFragsPerDatagramCount) return this.fail(d, 'decoder.frag.limit');
    const r = d.ranges;
    const n = d.nRanges;
    if (!more && end < (r[2 * n - 1] as number)) return this.fail(d, 'decoder.frag.inconsistent');
    if (end > d.data.length && !this.room(d, end)) return this.fail(d, 'decoder.frag.limit');
    let conflict = false;
    for (let i = 0; i < n && !conflict; i++) {
      const s = Math.max(r[2 * i] as number, fragOff);
      const e = Math.min(r[2 * i + 1] as number, end);
      if (s < e && !this.sameBytes(d, buf, dataOff + (s - fragOff), s, e)) conflict = true;
    }
    if (this.overlap === 'last') {
      d.data.set(buf.subarray(dataOff, dataOff + (end - fragOff)), fragOff);
      if (fragOff === 0 && !this.keepHeader(d, buf, ipOff, hdrLen, nhFieldOff, nextHeader)) return this.fail(d, 'decoder.frag.limit');
    } else {
      // 'first': only the gaps between the held ranges
      let at = fragOff;
      for (let i = 0; i <= n && at < end; i++) {
        const s = i < n ? Math.min(r[2 * i] as number, end) : end;
        if (s > at) d.data.set(buf.subarray(dataOff + (at - fragOff), dataOff + (s - fragOff)), at);
        if (i < n) at = Math.max(at, r[2 * i + 1] as number);
      }
      if (fragOff === 0 && d.header === null && !this.keepHeader(d, buf, ipOff, hdrLen, nhFieldOff, nextHeader)) return this.fail(d, 'decoder.frag.limit');
    }
    // Merge [fragOff, end) into the sorted ranges; what is held is their total length.
    let w = 0;
    let ns = fragOff;
    let ne = end;
    let placed = false;
    const tmp: number[] = [];
    for (let i = 0; i < n; i++) {
      const s = r[2 * i] as number;
      const e = r[2 * i + 1] as number;
      if (e < ns || placed) { tmp.push(s, e); continue; }
      if (s > ne) { tmp.push(ns, ne, s, e); placed = true; continue; }
      ns = Math.min(ns, s);
      ne = Math.max(ne, e);
    }
    if (!placed) tmp.push(ns, ne);
    let received = 0;
    for (; w < tmp.length; w += 2) {
      r[w] = tmp[w] as number;
      r[w + 1] = tmp[w + 1] as number;
      received += (tmp[w + 1] as number) - (tmp[w] as number);
    }
    d.nRanges = tmp.length / 2;
    d.frags++;
    d.received = received;
    if (!more) d.total = end;
    const ev: DecoderEventId = conflict ? 'decoder.frag.overlap_conflict' : 'decoder.frag.overlap';
    if (conflict) this.counters.conflicts++;
    this.onEvent?.(ev);
    return this.completeIfWhole(d, d.version as 4 | 6, slot);
  }

  /** Copy the unfragmentable header of an offset-0 fragment; false when it is over the limit. */
  private keepHeader(d: Datagram, buf: Uint8Array, ipOff: number, hdrLen: number, nhFieldOff: number, nextHeader: number): boolean {
    if (hdrLen > this.limits.maxFragHeaderBytes) return false;
    const hb = new Uint8Array(hdrLen);
    hb.set(buf.subarray(ipOff, ipOff + hdrLen));
    d.header = hb;
    d.nhFieldOff = nhFieldOff;
    d.nextHeader = nextHeader;
    return true;
  }

  /** Grow d's buffer to hold `end` bytes within maxFragBytes (evicting older datagrams); false if it cannot. */
  private room(d: Datagram, end: number): boolean {
    let cap = d.data.length === 0 ? MIN_BUFFER_BYTES : d.data.length;
    while (cap < end) cap *= 2;
    if (cap > MAX_DATAGRAM_BYTES) cap = MAX_DATAGRAM_BYTES;
    const grow = cap - d.data.length;
    if (grow > this.limits.maxFragBytes) return false;
    while (this.heldBytes + grow > this.limits.maxFragBytes && this.oldest !== null && this.oldest !== d) {
      this.evictOldest();
      this.lastEvent = 'decoder.frag.limit';
    }
    if (this.heldBytes + grow > this.limits.maxFragBytes) return false;
    const nb = new Uint8Array(cap);
    if (d.data.length > 0) nb.set(d.data);
    d.data = nb;
    this.heldBytes += grow;
    return true;
  }

  /** The datagram is whole: rebuild header + data into the output buffer of this nesting level. */
  private completeIfWhole(d: Datagram, version: 4 | 6, slot: number): FragResult {
    if (d.total < 0 || d.header === null || d.received !== d.total) return FragResult.Held;
    const hdr = d.header;
    const out = this.outBufs[slot] as Uint8Array;
    const len = hdr.length + d.total;
    out.set(hdr, 0);
    out.set(d.data.subarray(0, d.total), hdr.length);
    if (version === 4) {
      out[2] = (len >>> 8) & 0xff;
      out[3] = len & 0xff;
      out[6] = (out[6] as number) & 0x40; // keep DF, clear MF and the offset
      out[7] = 0;
    } else {
      const pl = len - 40;
      out[4] = (pl >>> 8) & 0xff;
      out[5] = pl & 0xff;
      out[d.nhFieldOff] = d.nextHeader;
    }
    this.outLen = len;
    this.counters.datagramsCompleted++;
    this.remove(d);
    return FragResult.Complete;
  }

  /** Drop datagrams older than fragTimeoutMs (packet time). The decoder calls this on every fragment. */
  expire(nowMs: number): void {
    const limit = nowMs - this.limits.fragTimeoutMs;
    while (this.oldest !== null && this.oldest.firstTsMs < limit) {
      this.counters.timeouts++;
      this.remove(this.oldest);
    }
  }

  /** Drop everything (end of capture). Returns how many datagrams were still incomplete. */
  clear(): number {
    const n = this.count;
    while (this.oldest !== null) this.remove(this.oldest);
    return n;
  }

  private fail(d: Datagram | null, ev: DecoderEventId): FragResult {
    if (d !== null) {
      this.counters.dropped++;
      this.remove(d);
    } else {
      this.counters.dropped++;
    }
    this.lastEvent = ev;
    return FragResult.Error;
  }

  private evictOldest(): void {
    if (this.oldest === null) return;
    this.counters.evictions++;
    this.remove(this.oldest);
  }

  private link(d: Datagram): void {
    const head = this.buckets.get(d.hash);
    d.bucketNext = head ?? null;
    this.buckets.set(d.hash, d);
    d.older = this.newest;
    d.newer = null;
    if (this.newest !== null) this.newest.newer = d;
    else this.oldest = d;
    this.newest = d;
    this.count++;
  }

  private remove(d: Datagram): void {
    // bucket chain
    let p = this.buckets.get(d.hash) ?? null;
    if (p === d) {
      if (d.bucketNext === null) this.buckets.delete(d.hash);
      else this.buckets.set(d.hash, d.bucketNext);
    } else {
      while (p !== null && p.bucketNext !== d) p = p.bucketNext;
      if (p !== null) p.bucketNext = d.bucketNext;
    }
    // age list
    if (d.older !== null) d.older.newer = d.newer;
    else this.oldest = d.newer;
    if (d.newer !== null) d.newer.older = d.older;
    else this.newest = d.older;
    d.older = null;
    d.newer = null;
    d.bucketNext = null;
    this.heldBytes -= d.data.length;
    d.data = EMPTY;
    this.count--;
  }
}
