/**
 * Bounded TCP reassembly of the first bytes of one direction (DESIGN §2.3).
 *
 * Bytes are delivered in order up to `depthBytes`: a segment that is next while nothing is
 * buffered is read by the dissector in place (canPassThrough / passedThrough), anything else goes
 * through one contiguous buffer, where what the dissector leaves unconsumed also waits. Out-of-order
 * segments wait in a short bounded list; overlaps keep the first copy (differing bytes raise
 * 'tcp.overlap_mismatch'); retransmitted bytes are counted; a hole that cannot be filled
 * (too much waiting data, or the stream ended) becomes a gap the dissector is told about.
 * Sequence numbers are handled relative to the initial sequence number, modulo 2^32.
 */

export const ReassemblyEvent = {
  overlapMismatch: 'tcp.overlap_mismatch',
  gap: 'tcp.gap',
  depth: 'flow.limit.reassembly_depth',
  oooLimit: 'tcp.limit.out_of_order',
} as const;

export interface ReassemblyLimits {
  depthBytes: number; // bytes delivered in order per direction (default 32 KiB)
  maxOooSegmentsCount: number; // out-of-order segments held
  maxOooBytes: number; // out-of-order bytes held
}

export const defaultReassemblyLimits: ReassemblyLimits = {
  depthBytes: 32 * 1024,
  maxOooSegmentsCount: 64,
  maxOooBytes: 64 * 1024,
};

/**
 * Free lists of reassembly buffers by power-of-two size (2 KiB … depth), so a busy sensor does
 * not allocate (and garbage-collect) two ArrayBuffers per flow. Bounded per size class.
 */
const POOL_MAX_PER_CLASS = 4096;
const pools = new Map<number, Uint8Array[]>();

function takeBuffer(size: number): Uint8Array {
  const list = pools.get(size);
  const b = list?.pop();
  return b ?? new Uint8Array(size);
}

function giveBuffer(b: Uint8Array): void {
  const size = b.length;
  if (size === 0 || (size & (size - 1)) !== 0) return; // only power-of-two classes
  let list = pools.get(size);
  if (list === undefined) { list = []; pools.set(size, list); }
  if (list.length < POOL_MAX_PER_CLASS) list.push(b);
}

interface Pending {
  rel: number; // relative sequence of the first byte
  data: Uint8Array; // owned copy
}

export class TcpStream {
  /** Initial sequence number (the first payload byte has relative offset 0); -1 until known. */
  isn = -1;
  /** Delivered bytes [0, end) in stream order; dissectors consume from `consumed`. */
  buf: Uint8Array;
  end = 0;
  consumed = 0;
  /** Stream offset of buf[0] (advances when consumed bytes are dropped). */
  base = 0;
  /** Relative sequence of the next expected byte (== base + end unless gaps were skipped). */
  next = 0;
  retransBytes = 0;
  /** Bytes lost to gaps (never seen). */
  gapBytes = 0;
  /** Pending gap size the driver must report before the next delivery. */
  pendingGap = 0;
  full = false; // depth reached: delivery stopped
  closed = false;
  mismatch = false;
  private ooo: Pending[] = [];
  private oooBytes = 0;
  private readonly lim: ReassemblyLimits;
  /** Named events raised, drained by the flow. */
  events: string[] = [];

  constructor(lim: ReassemblyLimits) {
    this.lim = lim;
    this.buf = takeBuffer(2048);
  }

  /** Tell the stream the SYN's sequence number (first payload byte is seq + 1). */
  setSyn(seq: number): void {
    if (this.isn === -1) this.isn = (seq + 1) >>> 0;
  }

  /** Delivered-but-unconsumed bytes as a view. */
  view(): Uint8Array {
    return this.buf.subarray(this.consumed, this.end);
  }

  /** Stream offset of the first unconsumed byte. */
  get offset(): number {
    return this.base + this.consumed;
  }

  consume(n: number): void {
    this.consumed = Math.min(this.end, this.consumed + n);
  }

  /** Drop consumed bytes (keeps memory small once a dissector is past them). */
  compact(): void {
    if (this.consumed === 0) return;
    this.buf.copyWithin(0, this.consumed, this.end);
    this.end -= this.consumed;
    this.base += this.consumed;
    this.consumed = 0;
  }

  /**
   * Drop what the dissector has consumed; with nothing left, hand the buffer back to the pool (a
   * fresh one is taken on the next delivery). Stream offsets and the depth are unchanged. Bytes
   * dropped here can no longer be compared with a later overlapping copy (as in any IDS, overlap
   * checks cover what reassembly still holds).
   */
  trim(): void {
    if (this.consumed === 0) return;
    if (this.consumed < this.end) {
      this.compact();
      return;
    }
    this.base += this.end;
    this.end = 0;
    this.consumed = 0;
    giveBuffer(this.buf);
    this.buf = EMPTY;
  }

  /** Release everything: the flow is counting only from now on. */
  release(): void {
    giveBuffer(this.buf);
    this.buf = EMPTY;
    this.end = 0;
    this.consumed = 0;
    this.ooo = [];
    this.oooBytes = 0;
    this.full = true;
  }

  /**
   * Add a segment. Returns the number of new in-order bytes delivered (0 if none).
   * `data` is a view valid only during this call; it is copied when kept.
   */
  add(seq: number, data: Uint8Array): number {
    if (this.full || data.length === 0) return 0;
    if (this.isn === -1) this.isn = seq >>> 0; // missing SYN: start at the first data seen
    let rel = (seq - this.isn) | 0; // signed distance; segments before the ISN are negative
    let bytes = data;
    if (rel < this.next) {
      // Starts before what we already have: retransmission or overlap.
      const overlap = Math.min(this.next - rel, bytes.length);
      this.checkOverlap(rel, bytes.subarray(0, overlap));
      this.retransBytes += overlap;
      if (overlap >= bytes.length) return 0;
      bytes = bytes.subarray(overlap);
      rel += overlap;
    }
    if (rel > this.next) {
      this.hold(rel, bytes);
      return 0;
    }
    let delivered = this.append(bytes);
    delivered += this.drain();
    return delivered;
  }

  /**
   * True when the next segment at relative sequence `rel`, `len` bytes long, can go to the
   * dissector without the buffer: nothing is buffered or held, no gap is pending, and it is the
   * next in order and within the depth.
   */
  canPassThrough(rel: number, len: number): boolean {
    return this.end === 0 && rel === this.next && this.ooo.length === 0 && this.pendingGap === 0 && !this.full && this.base + len <= this.lim.depthBytes;
  }

  /**
   * Account for a segment handed straight to the dissector (canPassThrough held): the `used`
   * bytes it consumed are past, the rest of `bytes[from, from + len)` is kept as add() would.
   */
  passedThrough(bytes: Uint8Array, from: number, len: number, used: number): void {
    this.base += used;
    this.next += used;
    if (used < len) this.append(bytes.subarray(from + used, from + len));
  }

  /**
   * Declare the current hole lost (stream ending, or the out-of-order store overflowed):
   * skip to the first held segment. Returns delivered bytes after the gap.
   */
  skipGap(): number {
    if (this.ooo.length === 0 || this.full) return 0;
    const first = this.ooo[0] as Pending;
    const lost = first.rel - this.next;
    if (lost <= 0) return this.drain();
    this.pendingGap += lost;
    this.gapBytes += lost;
    this.events.push(ReassemblyEvent.gap);
    // Bytes after a gap cannot join the contiguous buffer: start a fresh window.
    this.consumed = this.end;
    this.compact();
    this.base = first.rel;
    this.next = first.rel;
    return this.drain();
  }

  private append(bytes: Uint8Array): number {
    const room = this.lim.depthBytes - (this.base + this.end);
    let n = bytes.length;
    if (n > room) {
      n = Math.max(0, room);
      this.full = true;
      this.events.push(ReassemblyEvent.depth);
    }
    if (n > 0) {
      this.ensure(this.end + n);
      this.buf.set(n === bytes.length ? bytes : bytes.subarray(0, n), this.end);
      this.end += n;
    }
    this.next += bytes.length;
    return n;
  }

  private drain(): number {
    let delivered = 0;
    while (this.ooo.length > 0 && !this.full) {
      const p = this.ooo[0] as Pending;
      if (p.rel > this.next) break;
      this.ooo.shift();
      this.oooBytes -= p.data.length;
      let d = p.data;
      if (p.rel < this.next) {
        const overlap = Math.min(this.next - p.rel, d.length);
        this.checkOverlap(p.rel, d.subarray(0, overlap));
        this.retransBytes += overlap;
        d = d.subarray(overlap);
      }
      if (d.length > 0) delivered += this.append(d);
    }
    return delivered;
  }

  private hold(rel: number, bytes: Uint8Array): void {
    if (rel >= this.lim.depthBytes) return; // beyond depth: never needed
    // Insert sorted; identical start keeps the first copy.
    let i = 0;
    while (i < this.ooo.length && (this.ooo[i] as Pending).rel < rel) i++;
    const same = this.ooo[i];
    if (same !== undefined && same.rel === rel) {
      const n = Math.min(same.data.length, bytes.length);
      for (let k = 0; k < n; k++) {
        if (same.data[k] !== bytes[k]) { this.flagMismatch(); break; }
      }
      this.retransBytes += n;
      if (bytes.length <= same.data.length) return;
      // The new copy is longer: keep the old bytes, add the tail as its own segment.
      this.hold(rel + same.data.length, bytes.subarray(same.data.length));
      return;
    }
    if (this.ooo.length >= this.lim.maxOooSegmentsCount || this.oooBytes + bytes.length > this.lim.maxOooBytes) {
      this.events.push(ReassemblyEvent.oooLimit);
      // Make room by declaring the current hole lost, then retry once.
      this.skipGap();
      if (this.ooo.length >= this.lim.maxOooSegmentsCount || this.oooBytes + bytes.length > this.lim.maxOooBytes) return;
    }
    const copy = new Uint8Array(bytes.length);
    copy.set(bytes);
    this.ooo.splice(i, 0, { rel, data: copy });
    this.oooBytes += copy.length;
  }

  /** Compare re-sent bytes with the copy already delivered (first copy wins). */
  private checkOverlap(rel: number, bytes: Uint8Array): void {
    const start = rel - this.base;
    for (let k = 0; k < bytes.length; k++) {
      const at = start + k;
      if (at < 0 || at >= this.end) continue; // already dropped or beyond delivered data
      if (this.buf[at] !== bytes[k]) { this.flagMismatch(); return; }
    }
  }

  private flagMismatch(): void {
    if (!this.mismatch) {
      this.mismatch = true;
      this.events.push(ReassemblyEvent.overlapMismatch);
    }
  }

  private ensure(size: number): void {
    if (size <= this.buf.length) return;
    let cap = this.buf.length * 2 || 2048;
    while (cap < size) cap *= 2;
    const nb = takeBuffer(cap);
    if (this.end > 0) nb.set(this.buf.subarray(0, this.end)); // nothing to carry after a trim
    giveBuffer(this.buf);
    this.buf = nb;
  }

  get heldSegments(): number {
    return this.ooo.length;
  }
}

const EMPTY = new Uint8Array(0);
