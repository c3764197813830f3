/**
 * TLS picked up mid-stream, after the handshake went by: a record boundary is where consecutive
 * record headers (RFC 8446 §5.1, RFC 5246 §6.2.1) carry a known content type, a 3.x version and a
 * length a record may have, chained to the end of the bytes. Nothing in an encrypted record names
 * its sender, so the port guess stands. Allocation-free.
 */
import { MidNo, MidUnsure, Role } from '../../src/contract/api.js';
import { findBoundary, FRAME_BAD, FRAME_CUT, FRAME_SHORT, SYNC_NONE, SYNC_UNSURE, syncOffset } from '../../src/util/resync.js';
import { HEADER_BYTES } from './framing.js';


/**
 * Bytes scanned for the first boundary: two headers a whole record apart fit unless the capture
 * started in the first bytes of a maximal one (2^14 + 2048 ciphertext); the reassembly depth
 * bounds it anyway.
 */
export const TLS_RESYNC_SCAN_BYTES = 32 * 1024;
/** The largest record (header and 2^14 + 2048 bytes of ciphertext): the first header may lie this far in. */
const MAX_RECORD_BYTES = HEADER_BYTES + 16384 + 2048;

/** One record header at b[p]: ChangeCipherSpec, Alert, Handshake, ApplicationData or Heartbeat. */
export function tlsFrameAt(b: Uint8Array, p: number, end: number): number {
  if (end - p < HEADER_BYTES) return FRAME_SHORT;
  const type = b[p] as number;
  if (type < 20 || type > 24 || b[p + 1] !== 3 || (b[p + 2] as number) > 4) return FRAME_BAD;
  const len = ((b[p + 3] as number) << 8) | (b[p + 4] as number);
  if (len === 0 || len > MAX_RECORD_BYTES - HEADER_BYTES || (type === 20 && len !== 1)) return FRAME_BAD;
  return p + HEADER_BYTES + len <= end ? HEADER_BYTES + len : FRAME_CUT;
}

/** Offset of the first record boundary (two chained headers), SYNC_UNSURE or SYNC_NONE. */
export function tlsBoundary(b: Uint8Array, maxScan: number): number {
  return findBoundary(b, tlsFrameAt, 2, 2, maxScan, MAX_RECORD_BYTES);
}

/** The dissector's boundary for a direction: two whole records (see syncOffset). */
export function tlsSync(b: Uint8Array, eof: boolean): number {
  return syncOffset(b, tlsFrameAt, 2, TLS_RESYNC_SCAN_BYTES, eof);
}

/** ProbeSpec.midstream for TLS: MidNo, MidUnsure, or Role.Unknown on a boundary. */
export function probeTlsMidstream(b: Uint8Array): number {
  const o = tlsBoundary(b, TLS_RESYNC_SCAN_BYTES);
  if (o === SYNC_NONE) return MidNo;
  if (o === SYNC_UNSURE) return MidUnsure;
  return Role.Unknown;
}
