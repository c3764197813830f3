/**
 * Extension body walkers shared by the hello parsers. Each takes a cursor narrowed to exactly one
 * extension body and appends to a caller-owned list; none allocates beyond its outputs.
 * Results: 0 = ok, 1 = a limit truncated the list, -1 = malformed body.
 */
import type { Cursor } from '../../src/util/cursor.js';
import { copyBytes, latin1Bounded } from '../../src/util/bytes.js';
import { sharedLatin1 } from './shared.js';

export const EXT_OK = 0;
export const EXT_LIMIT = 1;
export const EXT_MALFORMED = -1;
export type ExtResult = typeof EXT_OK | typeof EXT_LIMIT | typeof EXT_MALFORMED;

/** GREASE (RFC 8701 §2): 0x?a?a with both bytes equal. */
export function isGrease(v: number): boolean {
  return (v & 0x0f0f) === 0x0a0a && (v >>> 8) === (v & 0xff);
}

/**
 * A vector of uint16 with a 1- or 2-byte length prefix that must fill the extension body
 * (signature_algorithms, supported_groups: RFC 8446 §4.2.3/§4.2.7; supported_versions §4.2.1).
 */
/** Where the vector readers put values: an array, or a reusable buffer (shared.ts ListScratch). */
export interface ValueSink {
  readonly length: number;
  push(v: number): void;
}

export function readU16Vector(c: Cursor, lengthBytes: 1 | 2, out: ValueSink, maxCount: number): ExtResult {
  const n = lengthBytes === 1 ? c.u8() : c.u16();
  if (c.err || (n & 1) !== 0 || n > c.remaining) return EXT_MALFORMED;
  const end = c.pos + n;
  let res: ExtResult = EXT_OK;
  while (c.pos < end) {
    const v = c.u16();
    if (out.length < maxCount) out.push(v);
    else res = EXT_LIMIT;
  }
  if (c.err || c.pos !== c.end) return EXT_MALFORMED;
  return res;
}

/** ec_point_formats (RFC 8422 §5.1.2): uint8 list with a 1-byte length. */
export function readU8Vector(c: Cursor, out: ValueSink, maxCount: number): ExtResult {
  const n = c.u8();
  if (c.err || n > c.remaining) return EXT_MALFORMED;
  let res: ExtResult = EXT_OK;
  for (let i = 0; i < n; i++) {
    const v = c.u8();
    if (out.length < maxCount) out.push(v);
    else res = EXT_LIMIT;
  }
  if (c.err || c.pos !== c.end) return EXT_MALFORMED;
  return res;
}

/** Out-parameter for readServerName (avoids a tuple allocation). */
export interface NameOut {
  name: string | null;
  truncated: boolean;
}

/** server_name (RFC 6066 §3): the first host_name entry, latin-1, bounded. */
export function readServerName(c: Cursor, maxNameBytes: number, out: NameOut): ExtResult {
  out.name = null;
  out.truncated = false;
  if (c.remaining === 0) return EXT_OK; // a server's empty acknowledgement
  const listLen = c.u16();
  if (c.err || listLen !== c.remaining) return EXT_MALFORMED;
  while (c.remaining > 0) {
    const type = c.u8();
    const len = c.u16();
    const v = c.view(len);
    if (c.err) return EXT_MALFORMED;
    if (type === 0 && out.name === null) {
      out.name = sharedLatin1(v, maxNameBytes);
      if (v.length > maxNameBytes) out.truncated = true;
    }
  }
  return out.truncated ? EXT_LIMIT : EXT_OK;
}

/**
 * ALPN protocol_name_list (RFC 7301 §3.1). Names are copied (owned) and bounded by maxNameBytes;
 * zero-length names are malformed per the RFC but kept as empty (JA4 then reads '00').
 */
export function readAlpn(c: Cursor, raw: Uint8Array[], names: string[], maxCount: number, maxNameBytes: number): ExtResult {
  const listLen = c.u16();
  if (c.err || listLen !== c.remaining) return EXT_MALFORMED;
  let res: ExtResult = EXT_OK;
  while (c.remaining > 0) {
    const len = c.u8();
    const v = c.view(len);
    if (c.err) return EXT_MALFORMED;
    if (raw.length >= maxCount) {
      res = EXT_LIMIT;
      continue;
    }
    const kept = v.length > maxNameBytes ? v.subarray(0, maxNameBytes) : v;
    if (kept !== v) res = EXT_LIMIT;
    raw.push(copyBytes(kept));
    names.push(latin1Bounded(kept, maxNameBytes));
  }
  return res;
}

/** Out-parameter for readKeyShareClient. */
export interface KeyShareOut {
  bytes: number;
}

/** ClientHello key_share (RFC 8446 §4.2.8): client_shares<0..2^16-1> of {group, key_exchange<1..2^16-1>}. */
export function readKeyShareClient(c: Cursor, groups: ValueSink, maxCount: number, out: KeyShareOut): ExtResult {
  out.bytes = 0;
  const listLen = c.u16();
  if (c.err || listLen !== c.remaining) return EXT_MALFORMED;
  let res: ExtResult = EXT_OK;
  while (c.remaining > 0) {
    const g = c.u16();
    const len = c.u16();
    c.skip(len);
    if (c.err) return EXT_MALFORMED;
    out.bytes += len;
    if (groups.length < maxCount) groups.push(g);
    else res = EXT_LIMIT;
  }
  return res;
}
