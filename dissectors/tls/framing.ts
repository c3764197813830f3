/**
 * Record-layer framing (RFC 8446 §5.1, RFC 5246 §6.2.1): allocation-free, decides completeness
 * only. Returns the total record length (5-byte header + fragment), NEED_MORE, or a negative
 * reason code.
 */
import type { TlsEventId } from './events.js';

export const NEED_MORE = 0;
export const BAD_TYPE = -1;
export const BAD_VERSION = -2;
export const TOO_LONG = -3;
export const HEADER_BYTES = 5;

/** Total length of the record starting at b[at], or NEED_MORE / BAD_TYPE / BAD_VERSION / TOO_LONG. */
export function tlsRecordLength(b: Uint8Array, at: number, maxRecordBytes: number): number {
  if (b.length - at < HEADER_BYTES) return NEED_MORE;
  const type = b[at] as number;
  if (type < 20 || type > 24) return BAD_TYPE;
  // ProtocolVersion major is 3 for SSL 3.0 … TLS 1.3 (legacy_record_version, RFC 8446 §5.1).
  if (b[at + 1] !== 3 || (b[at + 2] as number) > 4) return BAD_VERSION;
  const len = ((b[at + 3] as number) << 8) | (b[at + 4] as number);
  if (len > maxRecordBytes) return TOO_LONG;
  return HEADER_BYTES + len;
}

export function framingEvent(code: number): TlsEventId {
  if (code === BAD_TYPE) return 'tls.bad_record_type';
  if (code === BAD_VERSION) return 'tls.bad_record_version';
  return 'tls.record_too_long';
}

/**
 * SSLv2-compatible hello header (RFC 5246 E.2): msb set, 15-bit length, msg_type 1 (CLIENT-HELLO),
 * version major 2 or 3. Returns total length (2 + length), NEED_MORE, or BAD_TYPE.
 */
export function sslv2HelloLength(b: Uint8Array): number {
  if (b.length < 5) return NEED_MORE;
  const b0 = b[0] as number;
  if ((b0 & 0x80) === 0 || b[2] !== 1) return BAD_TYPE;
  const major = b[3] as number;
  if (major !== 2 && major !== 3) return BAD_TYPE;
  const len = ((b0 & 0x7f) << 8) | (b[1] as number);
  if (len < 9) return BAD_TYPE;
  return 2 + len;
}

export function recordVersion(b: Uint8Array, at: number): number {
  return ((b[at + 1] as number) << 8) | (b[at + 2] as number);
}
