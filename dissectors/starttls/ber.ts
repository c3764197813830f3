/** Just enough BER (X.690 §8.1) for LDAP's envelope: definite lengths of at most four octets. */

export interface Tlv {
  tag: number;
  /** Offset of the value. */
  at: number;
  len: number;
}

/** The TLV at `pos` within `end`: the header read, or 'short' (more bytes needed), or 'bad'. */
export function readTlv(b: Uint8Array, pos: number, end: number): Tlv | 'short' | 'bad' {
  if (end - pos < 2) return 'short';
  const tag = b[pos] as number;
  if ((tag & 0x1f) === 0x1f) return 'bad'; // multi-octet tags: none in LDAP
  const l0 = b[pos + 1] as number;
  if (l0 < 0x80) return { tag, at: pos + 2, len: l0 };
  const n = l0 & 0x7f;
  if (n === 0 || n > 4) return 'bad'; // indefinite lengths are forbidden in LDAP (RFC 4511 §5.1)
  if (end - pos < 2 + n) return 'short';
  let len = 0;
  for (let i = 0; i < n; i++) len = len * 256 + (b[pos + 2 + i] as number);
  return { tag, at: pos + 2 + n, len };
}

/** A TLV that must lie whole within `end`, or null. */
export function tlvIn(b: Uint8Array, pos: number, end: number): Tlv | null {
  const t = readTlv(b, pos, end);
  return typeof t === 'string' || t.at + t.len > end ? null : t;
}

/** A small non-negative INTEGER / ENUMERATED value (up to 4 octets), or -1. */
export function smallInt(b: Uint8Array, t: Tlv): number {
  if (t.len < 1 || t.len > 4) return -1;
  let v = 0;
  for (let i = 0; i < t.len; i++) v = v * 256 + (b[t.at + i] as number);
  return v;
}
