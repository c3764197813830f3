/**
 * QUIC long-header framing (RFC 9000 §17.2, §16 varints) and Initial header-protection removal
 * (RFC 9001 §5.4). Allocation-light; all reads through bounds checks on the datagram.
 */
import { Cursor } from '../../src/util/cursor.js';
import { QuicVersion } from './initial-keys.js';

/** Long packet types, version-independent (RFC 9000 §17.2 table 5; RFC 9369 §3.2 remaps the bits). */
export const LongType = { Initial: 0, ZeroRtt: 1, Handshake: 2, Retry: 3 } as const;
export type LongType = (typeof LongType)[keyof typeof LongType];

const V1_TYPES: readonly LongType[] = [LongType.Initial, LongType.ZeroRtt, LongType.Handshake, LongType.Retry];
// RFC 9369 §3.2: Initial 0b01, 0-RTT 0b10, Handshake 0b11, Retry 0b00.
const V2_TYPES: readonly LongType[] = [LongType.Retry, LongType.Initial, LongType.ZeroRtt, LongType.Handshake];

export function longTypeOf(version: number, firstByte: number): LongType {
  const bits = (firstByte >> 4) & 0x03;
  return ((version === QuicVersion.V2 ? V2_TYPES : V1_TYPES)[bits]) as LongType;
}

/** First-byte type bits of an Initial packet for a version (for probes). */
export function initialTypeBits(version: number): number {
  return version === QuicVersion.V2 ? 1 : 0;
}

/** RFC 9000 §16 variable-length integer; 0 and c.err on overrun. Values up to 2^62 as doubles. */
export function readVarint(c: Cursor): number {
  const first = c.u8();
  const len = 1 << (first >> 6);
  let v = first & 0x3f;
  for (let i = 1; i < len; i++) v = v * 256 + c.u8();
  return v;
}

export const MAX_CID_BYTES = 20; // RFC 9000 §17.2 (v1 and v2)

export interface LongHeader {
  /** Offset of the packet's first byte in the datagram. */
  start: number;
  firstByte: number;
  version: number;
  dcid: Uint8Array; // views into the datagram
  scid: Uint8Array;
  type: LongType;
  token: Uint8Array; // Initial only
  /** Offset (in the datagram) of the packet-number field; the Length field counts from here. */
  pnOffset: number;
  /** Offset one past this packet's last byte (pnOffset + Length). */
  end: number;
}

export const HeaderError = { Truncated: 1, FixedBit: 2, CidTooLong: 3, BadLength: 4 } as const;
export type HeaderError = (typeof HeaderError)[keyof typeof HeaderError];

/**
 * Parse the long header starting at `start`. Version Negotiation (version 0) and Retry stop after
 * the connection ids (end = datagram end); unknown versions too (their layout is unknown).
 */
export function parseLongHeader(dgram: Uint8Array, start: number, out: LongHeader, c: Cursor): HeaderError | 0 {
  c.reset(dgram, start);
  const first = c.u8();
  const version = c.u32();
  const dlen = c.u8();
  if (c.err) return HeaderError.Truncated;
  if (version !== 0 && dlen > MAX_CID_BYTES && (version === QuicVersion.V1 || version === QuicVersion.V2)) return HeaderError.CidTooLong;
  const dcid = c.view(dlen);
  const slen = c.u8();
  if (version !== 0 && slen > MAX_CID_BYTES && (version === QuicVersion.V1 || version === QuicVersion.V2)) return HeaderError.CidTooLong;
  const scid = c.view(slen);
  if (c.err) return HeaderError.Truncated;
  out.start = start;
  out.firstByte = first;
  out.version = version;
  out.dcid = dcid;
  out.scid = scid;
  out.token = dgram.subarray(0, 0);
  out.type = longTypeOf(version, first);
  out.pnOffset = c.pos;
  out.end = dgram.length;
  if (version === 0 || (version !== QuicVersion.V1 && version !== QuicVersion.V2)) return 0;
  if ((first & 0x40) === 0) return HeaderError.FixedBit;
  if (out.type === LongType.Retry) return 0;
  if (out.type === LongType.Initial) {
    const tlen = readVarint(c);
    out.token = c.view(tlen);
  }
  const length = readVarint(c);
  if (c.err) return HeaderError.Truncated;
  out.pnOffset = c.pos;
  if (length > dgram.length - c.pos) return HeaderError.BadLength;
  // RFC 9001 §5.4.2: the sample starts 4 bytes after the packet number and is 16 bytes long.
  if (length < 4 + 16) return HeaderError.BadLength;
  out.end = c.pos + length;
  return 0;
}

export function newLongHeader(): LongHeader {
  const e = new Uint8Array(0);
  return { start: 0, firstByte: 0, version: 0, dcid: e, scid: e, type: LongType.Initial, token: e, pnOffset: 0, end: 0 };
}

/** RFC 9000 §A.3: full packet number from a truncated one and the largest seen (-1 = none). */
export function decodePacketNumber(largest: number, truncated: number, pnBits: number): number {
  const expected = largest + 1;
  const win = 2 ** pnBits;
  const hwin = win / 2;
  const candidate = expected - (expected % win) + truncated; // (expected & ~mask) | truncated
  if (candidate <= expected - hwin && candidate < 2 ** 62 - win) return candidate + win;
  if (candidate > expected + hwin && candidate >= win) return candidate - win;
  return candidate;
}
