/**
 * Handshake-message reassembly from DTLS fragments (RFC 6347 §4.2.3, RFC 9147 §5.5): each
 * fragment carries message_seq, the full length, fragment_offset and fragment_length. Fragments
 * may arrive out of order, overlap, or repeat. Bounded per message and in message count.
 */
import { mergeRange } from '../../src/util/ranges.js';

export class MessageAssembly {
  readonly seq: number;
  readonly type: number;
  readonly length: number;
  readonly body: Uint8Array;
  /** Sorted, merged [start, end) pairs, flattened. */
  private ranges: number[] = [];

  constructor(seq: number, type: number, length: number) {
    this.seq = seq;
    this.type = type;
    this.length = length;
    this.body = new Uint8Array(length);
  }

  get complete(): boolean {
    return this.length === 0 || (this.ranges.length === 2 && this.ranges[0] === 0 && this.ranges[1] === this.length);
  }

  /** Add a fragment; false when it would need more than maxPieces disjoint ranges. */
  add(offset: number, data: Uint8Array, maxPieces: number): boolean {
    const out = mergeRange(this.ranges, offset, offset + data.length);
    if (out.length / 2 > maxPieces) return false;
    this.body.set(data, offset);
    this.ranges = out;
    return true;
  }
}
