/**
 * Handshake-message reassembly across records, one instance per direction (RFC 8446 §5.1:
 * messages may be split across records and several may share one record). Second framing layer
 * (STYLE.md rule 3): it keeps its own buffer, bounded by maxHandshakeBytes; a larger message is
 * skipped by counter with 'tls.limit.handshake'. Whole messages inside one record are delivered
 * as views without copying.
 */
import type { TlsEventId } from './events.js';

export interface HandshakeSink {
  /** body is a view valid only during the call. */
  onHandshakeMessage(type: number, body: Uint8Array): void;
  onHandshakeEvent(id: TlsEventId): void;
}

const NO_BYTES = new Uint8Array(0);

export class HandshakeAssembler {
  private readonly maxBytes: number;
  /** The 4 header bytes of a message whose header a record boundary split (allocated then). */
  private hdr: Uint8Array | null = null;
  private hdrLen = 0;
  private buf: Uint8Array | null = null;
  private bufLen = 0;
  private skip = 0;

  constructor(maxHandshakeBytes: number) {
    this.maxBytes = maxHandshakeBytes;
  }

  /** True when a message is partially held (a record boundary fell inside it). */
  get pending(): boolean {
    return this.hdrLen > 0 || this.buf !== null || this.skip > 0;
  }

  /** Feed one record's fragment. */
  push(frag: Uint8Array, sink: HandshakeSink): void {
    let pos = 0;
    const n = frag.length;
    while (pos < n) {
      if (this.skip > 0) {
        const k = Math.min(this.skip, n - pos);
        this.skip -= k;
        pos += k;
        continue;
      }
      if (this.buf !== null) {
        const buf = this.buf;
        const k = Math.min(buf.length - this.bufLen, n - pos);
        buf.set(frag.subarray(pos, pos + k), this.bufLen);
        this.bufLen += k;
        pos += k;
        if (this.bufLen === buf.length) {
          this.buf = null;
          this.bufLen = 0;
          sink.onHandshakeMessage(buf[0] as number, buf.subarray(4));
        }
        continue;
      }
      if (this.hdrLen > 0 || n - pos < 4) {
        // header split across records: collect the 4 header bytes first
        const hdr = this.hdr ?? (this.hdr = new Uint8Array(4));
        while (this.hdrLen < 4 && pos < n) hdr[this.hdrLen++] = frag[pos++] as number;
        if (this.hdrLen < 4) return;
        this.hdrLen = 0;
        this.start(hdr, 0, sink);
        if (this.buf !== null) (this.buf as Uint8Array).set(hdr, 0);
        else if (this.skip === 0) sink.onHandshakeMessage(hdr[0] as number, NO_BYTES);
        continue;
      }
      const len = ((frag[pos + 1] as number) << 16) | ((frag[pos + 2] as number) << 8) | (frag[pos + 3] as number);
      const total = 4 + len;
      if (len > this.maxBytes) {
        sink.onHandshakeEvent('tls.limit.handshake');
        this.skip = len;
        pos += 4;
        continue;
      }
      if (n - pos >= total) {
        sink.onHandshakeMessage(frag[pos] as number, frag.subarray(pos + 4, pos + total));
        pos += total;
        continue;
      }
      this.start(frag, pos, sink);
      if (this.buf !== null) {
        const buf = this.buf as Uint8Array;
        buf.set(frag.subarray(pos, n), 0);
        this.bufLen = n - pos;
      } else {
        pos += 4;
        continue; // skip set: the body is skipped by counter
      }
      return;
    }
  }

  /** Drop any partial message (gap / direction became encrypted). */
  reset(): void {
    this.hdrLen = 0;
    this.buf = null;
    this.bufLen = 0;
    this.skip = 0;
  }

  private start(h: Uint8Array, at: number, sink: HandshakeSink): void {
    const len = ((h[at + 1] as number) << 16) | ((h[at + 2] as number) << 8) | (h[at + 3] as number);
    if (len > this.maxBytes) {
      sink.onHandshakeEvent('tls.limit.handshake');
      this.skip = len;
      return;
    }
    if (len === 0) return;
    this.buf = new Uint8Array(4 + len);
    this.bufLen = 4;
  }
}
