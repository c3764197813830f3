/**
 * AMQP picked up mid-stream, without the protocol header that names the version: a frame boundary
 * is where consecutive frames of one version stay well-formed. 0-9-1 (§4.2.3): type 1/2/3/8, a
 * size, and the 0xCE frame end where the size puts it; a method frame's class is a known one, and
 * the method names its sender (Basic.Publish comes from a client, Basic.Deliver from the broker).
 * 1.0 (§2.3.1): size, data offset and frame type consistent, and a performative descriptor where
 * the data offset points. Allocation-free.
 */
import { MidNo, MidUnsure, Role } from '../../src/contract/api.js';
import { findBoundary, FRAME_BAD, FRAME_CUT, FRAME_SHORT, SYNC_NONE, SYNC_UNSURE, syncOffset } from '../../src/util/resync.js';
import { FRAME_END } from './framing.js';

/** Bytes scanned for the first boundary (a large message cut by the capture start is skipped). */
export const AMQP_RESYNC_SCAN_BYTES = 4096;
/** Frames larger than this are not taken for a boundary (negotiated frame_max is far below). */
const MAX_SANE_FRAME_BYTES = 16 << 20;

/** 0-9-1 classes (connection, channel, exchange, queue, basic, confirm, tx). */
function knownClass(c: number): boolean {
  return c === 10 || c === 20 || c === 40 || c === 50 || c === 60 || c === 85 || c === 90;
}

/** One 0-9-1 frame at b[p]. */
export function amqp091FrameAt(b: Uint8Array, p: number, end: number): number {
  if (end - p < 7) return FRAME_SHORT;
  const type = b[p] as number;
  if (type !== 1 && type !== 2 && type !== 3 && type !== 8) return FRAME_BAD;
  if (b[p + 3] !== 0) return FRAME_BAD; // a size of 16 MiB or more
  const size = ((b[p + 4] as number) << 16) | ((b[p + 5] as number) << 8) | (b[p + 6] as number);
  if (type === 8 && (size !== 0 || b[p + 1] !== 0 || b[p + 2] !== 0)) return FRAME_BAD; // heartbeat: channel 0, empty
  if (type === 1 && size < 4) return FRAME_BAD;
  if (type === 2 && size < 14) return FRAME_BAD; // class, weight, body size, property flags
  if (type === 1 && end - p >= 9 && !knownClass(((b[p + 7] as number) << 8) | (b[p + 8] as number))) return FRAME_BAD;
  if (type === 2 && end - p >= 9 && !knownClass(((b[p + 7] as number) << 8) | (b[p + 8] as number))) return FRAME_BAD;
  const total = 7 + size + 1;
  if (p + total > end) return FRAME_CUT;
  return b[p + total - 1] === FRAME_END ? total : FRAME_BAD;
}

/** One 1.0 frame at b[p]. */
export function amqp10FrameAt(b: Uint8Array, p: number, end: number): number {
  if (end - p < 8) return FRAME_SHORT;
  // The protocol header that follows SASL (§5.3.2) or TLS (§5.2.1) inside the stream.
  if (b[p] === 0x41 && b[p + 1] === 0x4d && b[p + 2] === 0x51 && b[p + 3] === 0x50) {
    return (b[p + 4] as number) <= 3 && b[p + 5] === 1 && b[p + 6] === 0 && b[p + 7] === 0 ? 8 : FRAME_BAD;
  }
  const size = (((b[p] as number) << 24) | ((b[p + 1] as number) << 16) | ((b[p + 2] as number) << 8) | (b[p + 3] as number)) >>> 0;
  const doff = b[p + 4] as number;
  const type = b[p + 5] as number;
  if (size < 8 || size > MAX_SANE_FRAME_BYTES || doff < 2 || doff * 4 > size || (type !== 0 && type !== 1)) return FRAME_BAD;
  const body = p + doff * 4;
  if (size > doff * 4) {
    // A described list: 0x00, then the descriptor as smallulong (0x53) or ulong (0x80).
    if (end - body < 3) return p + size <= end ? FRAME_BAD : FRAME_CUT;
    if (b[body] !== 0) return FRAME_BAD;
    let code: number;
    if (b[body + 1] === 0x53) code = b[body + 2] as number;
    else if (b[body + 1] === 0x80) {
      if (end - body < 10) return FRAME_CUT;
      for (let i = 2; i < 9; i++) if (b[body + i] !== 0) return FRAME_BAD;
      code = b[body + 9] as number;
    } else return FRAME_BAD;
    // performatives 0x10-0x18 on AMQP frames, SASL frames 0x40-0x44
    if (type === 0 ? code < 0x10 || code > 0x18 : code < 0x40 || code > 0x44) return FRAME_BAD;
  }
  return p + size <= end ? size : FRAME_CUT;
}

/** Which version a boundary was found for. */
export const Sync = { V091: 1, V10: 2 } as const;

/**
 * The first boundary in `b` as `offset * 4 + Sync`, SYNC_UNSURE or SYNC_NONE: two chained frames
 * from offset 0 (or whole frames filling the bytes, as a lone heartbeat does), three past a
 * skipped head.
 */
export function amqpBoundary(b: Uint8Array): number {
  const a = findBoundary(b, amqp091FrameAt, 2, 3, AMQP_RESYNC_SCAN_BYTES);
  if (a >= 0) return a * 4 + Sync.V091;
  const c = findBoundary(b, amqp10FrameAt, 2, 3, AMQP_RESYNC_SCAN_BYTES);
  if (c >= 0) return c * 4 + Sync.V10;
  return a === SYNC_UNSURE || c === SYNC_UNSURE ? SYNC_UNSURE : SYNC_NONE;
}

/**
 * The dissector's boundary for a direction (two whole frames of one version, see syncOffset) as
 * `offset * 4 + Sync`, SYNC_UNSURE or SYNC_NONE. 0-9-1 is tried first; an unsure 0-9-1 answer
 * waits rather than letting 1.0 decide on fewer bytes.
 */
export function amqpSync(b: Uint8Array, eof: boolean): number {
  const a = syncOffset(b, amqp091FrameAt, 2, AMQP_RESYNC_SCAN_BYTES, eof);
  if (a >= 0) return a * 4 + Sync.V091;
  const c = syncOffset(b, amqp10FrameAt, 2, AMQP_RESYNC_SCAN_BYTES, eof);
  if (c >= 0) return c * 4 + Sync.V10;
  return a === SYNC_UNSURE || c === SYNC_UNSURE ? SYNC_UNSURE : SYNC_NONE;
}

/**
 * Sender of a 0-9-1 method (class * 1000 + method) where the spec gives it one side: requests the
 * client makes and the broker's answers and deliveries (Connection's class runs the other way
 * round: the broker starts, tunes and the client answers).
 */
function methodRole(cm: number): Role {
  switch (cm) {
    case 60040: case 60020: case 60070: case 60010: case 60030: case 50010: case 50020: case 50030: case 40010: case 20010: case 10011: case 10031: case 10040:
      return Role.Client; // Basic.Publish/Consume/Get/Qos/Cancel, Queue.Declare/Bind/Purge, Exchange.Declare, Channel.Open, Connection.StartOk/TuneOk/Open
    case 60060: case 60050: case 60021: case 60071: case 60072: case 60011: case 50011: case 50021: case 40011: case 20011: case 10010: case 10030: case 10041:
      return Role.Server; // Basic.Deliver/Return/ConsumeOk/GetOk/GetEmpty/QosOk, Queue.DeclareOk/BindOk, Exchange.DeclareOk, Channel.OpenOk, Connection.Start/Tune/OpenOk
    default:
      return Role.Unknown;
  }
}

/** The role the first side-naming 0-9-1 method from b[o] on gives its sender. */
export function amqp091SenderRole(b: Uint8Array, o: number): Role {
  let p = o;
  for (let i = 0; i < 64 && p < b.length; i++) {
    const n = amqp091FrameAt(b, p, b.length);
    if (n < FRAME_CUT) break;
    if (b[p] === 1 && b.length - p >= 11) {
      const cm = (((b[p + 7] as number) << 8) | (b[p + 8] as number)) * 1000 + (((b[p + 9] as number) << 8) | (b[p + 10] as number));
      const r = methodRole(cm);
      if (r !== Role.Unknown) return r;
    }
    if (n === FRAME_CUT) break;
    p += n;
  }
  return Role.Unknown;
}

/** ProbeSpec.midstream for AMQP: MidNo, MidUnsure, or the sender's Role. */
export function probeAmqpMidstream(b: Uint8Array): number {
  const s = amqpBoundary(b);
  if (s === SYNC_NONE) return MidNo;
  if (s === SYNC_UNSURE) return MidUnsure;
  return (s & 3) === Sync.V091 ? amqp091SenderRole(b, s >> 2) : Role.Unknown;
}
