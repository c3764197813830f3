/**
 * Frame walker for decrypted Initial payloads (RFC 9000 §12.4, §19). Only CRYPTO data is kept;
 * every other frame type of RFC 9000 (and DATAGRAM, RFC 9221) is skipped by its layout. Frames
 * that are not allowed in Initial packets are reported but still skipped when their layout is known.
 */
import { Cursor } from '../../src/util/cursor.js';
import { readVarint } from './header.js';

export interface FrameSink {
  crypto(offset: number, data: Uint8Array): void;
  connectionClose(): void;
}

export const FrameResult = { Ok: 0, Malformed: 1, NotAllowed: 2, TooMany: 3 } as const;
export type FrameResult = (typeof FrameResult)[keyof typeof FrameResult];

/** Walk the frames of one decrypted packet payload. Stops at the first malformed/unknown frame. */
export function walkFrames(payload: Uint8Array, sink: FrameSink, maxFramesCount: number): FrameResult {
  const c = new Cursor(payload);
  let result: FrameResult = FrameResult.Ok;
  let frames = 0;
  while (c.remaining > 0) {
    const type = readVarint(c);
    if (c.err) return FrameResult.Malformed;
    if (type === 0x00) {
      // PADDING runs are common (client Initials are padded to 1200 bytes): skip them in one go.
      while (c.remaining > 0 && payload[c.pos] === 0) c.pos++;
      continue;
    }
    if (++frames > maxFramesCount) return FrameResult.TooMany;
    switch (type) {
      case 0x01: // PING
      case 0x1e: // HANDSHAKE_DONE (not in Initial)
        if (type === 0x1e) result = FrameResult.NotAllowed;
        break;
      case 0x02:
      case 0x03: { // ACK (§19.3)
        readVarint(c); // largest acknowledged
        readVarint(c); // ack delay
        const ranges = readVarint(c);
        readVarint(c); // first ack range
        if (ranges > c.remaining) return FrameResult.Malformed; // each range needs ≥ 2 bytes
        for (let i = 0; i < ranges && !c.err; i++) { readVarint(c); readVarint(c); }
        if (type === 0x03) { readVarint(c); readVarint(c); readVarint(c); } // ECN counts
        break;
      }
      case 0x06: { // CRYPTO (§19.6)
        const offset = readVarint(c);
        const len = readVarint(c);
        const data = c.view(len);
        if (c.err) return FrameResult.Malformed;
        sink.crypto(offset, data);
        break;
      }
      case 0x1c:
      case 0x1d: { // CONNECTION_CLOSE (§19.19); 0x1d (application) is not allowed in Initial
        readVarint(c); // error code
        if (type === 0x1c) readVarint(c); // frame type
        c.skip(readVarint(c)); // reason phrase
        if (c.err) return FrameResult.Malformed;
        if (type === 0x1d) result = FrameResult.NotAllowed;
        sink.connectionClose();
        break;
      }
      default: {
        const r = skipOther(c, type);
        if (r !== FrameResult.Ok) return r;
        result = FrameResult.NotAllowed;
      }
    }
    if (c.err) return FrameResult.Malformed;
  }
  return result;
}

/** Skip a frame that is legal in some packet type but not in Initial (RFC 9000 §19). */
function skipOther(c: Cursor, type: number): FrameResult {
  if (type >= 0x08 && type <= 0x0f) { // STREAM (§19.8): OFF 0x04, LEN 0x02, FIN 0x01
    readVarint(c);
    if (type & 0x04) readVarint(c);
    if (type & 0x02) c.skip(readVarint(c));
    else c.skip(c.remaining);
    return c.err ? FrameResult.Malformed : FrameResult.Ok;
  }
  switch (type) {
    case 0x04: readVarint(c); readVarint(c); readVarint(c); break; // RESET_STREAM
    case 0x05: case 0x11: case 0x15: readVarint(c); readVarint(c); break; // STOP_SENDING, MAX_STREAM_DATA, STREAM_DATA_BLOCKED
    case 0x07: c.skip(readVarint(c)); break; // NEW_TOKEN
    case 0x10: case 0x12: case 0x13: case 0x14: case 0x16: case 0x17: case 0x19: readVarint(c); break;
    case 0x18: { // NEW_CONNECTION_ID
      readVarint(c); readVarint(c);
      const n = c.u8();
      if (n < 1 || n > 20) return FrameResult.Malformed;
      c.skip(n + 16);
      break;
    }
    case 0x1a: case 0x1b: c.skip(8); break; // PATH_CHALLENGE / PATH_RESPONSE
    case 0x30: c.skip(c.remaining); break; // DATAGRAM without length (RFC 9221 §4)
    case 0x31: c.skip(readVarint(c)); break;
    default: return FrameResult.Malformed; // unknown type: its length is unknowable
  }
  return c.err ? FrameResult.Malformed : FrameResult.Ok;
}
