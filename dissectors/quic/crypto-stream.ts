/**
 * Bounded reassembly of one direction's CRYPTO stream (RFC 9000 §19.6, §2.2): frames arrive in any
 * order, may overlap (retransmissions) and may span several Initial packets. Bytes beyond
 * `maxBytes` are ignored; disjoint pieces are bounded by `maxRanges`.
 */
import { mergeRange } from '../../src/util/ranges.js';

export const CryptoAdd = { Ok: 0, Limit: 1, Conflict: 2, TooManyRanges: 3 } as const;
export type CryptoAdd = (typeof CryptoAdd)[keyof typeof CryptoAdd];

export class CryptoStream {
  private buf: Uint8Array = new Uint8Array(0);
  /** Sorted, merged, half-open [start, end) pairs, flattened. */
  private ranges: number[] = [];
  readonly maxBytes: number;
  readonly maxRanges: number;

  constructor(maxBytes: number, maxRanges: number) {
    this.maxBytes = maxBytes;
    this.maxRanges = maxRanges;
  }

  /** Length of the contiguous prefix starting at offset 0. */
  get contiguous(): number {
    return this.ranges.length > 0 && this.ranges[0] === 0 ? (this.ranges[1] as number) : 0;
  }

  /** A view of bytes [start, end) of the contiguous prefix (valid until the next add). */
  view(start: number, end: number): Uint8Array {
    return this.buf.subarray(start, end);
  }

  add(offset: number, data: Uint8Array): CryptoAdd {
    let result: CryptoAdd = CryptoAdd.Ok;
    let len = data.length;
    if (len === 0) return result;
    if (offset >= this.maxBytes) return CryptoAdd.Limit;
    if (offset + len > this.maxBytes) {
      len = this.maxBytes - offset;
      result = CryptoAdd.Limit;
    }
    const end = offset + len;
    if (end > this.buf.length) {
      let cap = Math.max(this.buf.length * 2, 4096);
      while (cap < end) cap *= 2;
      const next = new Uint8Array(Math.min(cap, this.maxBytes));
      next.set(this.buf);
      this.buf = next;
    }
    // Overlap with data already held must be identical (RFC 9000 §2.2: a receiver MAY check).
    const r = this.ranges;
    for (let i = 0; i < r.length; i += 2) {
      const s = Math.max(offset, r[i] as number);
      const e = Math.min(end, r[i + 1] as number);
      for (let p = s; p < e; p++) {
        if (this.buf[p] !== data[p - offset]) { result = CryptoAdd.Conflict; break; }
      }
    }
    // Keep first-received bytes where they overlap; fill only the holes.
    let pos = offset;
    for (let i = 0; i < r.length && pos < end; i += 2) {
      const s = r[i] as number;
      const e = r[i + 1] as number;
      if (e <= pos) continue;
      if (s >= end) break;
      if (s > pos) this.buf.set(data.subarray(pos - offset, s - offset), pos);
      pos = Math.max(pos, e);
    }
    if (pos < end) this.buf.set(data.subarray(pos - offset, end - offset), pos);
    if (!this.insertRange(offset, end)) return CryptoAdd.TooManyRanges;
    return result;
  }

  private insertRange(start: number, end: number): boolean {
    const out = mergeRange(this.ranges, start, end);
    if (out.length / 2 > this.maxRanges) return false;
    this.ranges = out;
    return true;
  }
}
