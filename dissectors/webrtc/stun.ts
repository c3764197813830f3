/**
 * STUN message parsing (RFC 8489 §5, §14): the 20-byte header (type, length, magic cookie,
 * transaction id) and the attribute TLVs, bounded. Allocation-free: fills a reused StunMessage.
 */

export const STUN_HEADER_BYTES = 20;
export const MAGIC_COOKIE = 0x2112a442;

/** Message classes (RFC 8489 §5: the C1 C0 bits of the type). */
export const StunClass = { Request: 0, Indication: 1, Success: 2, Error: 3 } as const;
export type StunClass = (typeof StunClass)[keyof typeof StunClass];

/** Attribute types counted by name (RFC 8489 §18.3, RFC 8445 §16.1). */
export const Attr = {
  Username: 0x0006, MessageIntegrity: 0x0008, ErrorCode: 0x0009, XorMappedAddress: 0x0020, Priority: 0x0024,
  UseCandidate: 0x0025, Software: 0x8022, Fingerprint: 0x8028, IceControlled: 0x8029, IceControlling: 0x802a,
} as const;

export interface StunMessage {
  cls: StunClass;
  method: number;
  /** Attributes read (up to the limit). */
  attributes: number;
  username: boolean;
  integrity: boolean;
  fingerprint: boolean;
  useCandidate: boolean;
  /** 1 ICE-CONTROLLING, 2 ICE-CONTROLLED, 0 neither. */
  iceRole: number;
  /** Offset and length of the SOFTWARE value in the datagram (length 0: none). */
  softwareAt: number;
  softwareLen: number;
  /** ERROR-CODE class * 100 + number (0: none). */
  errorCode: number;
}

export function emptyStun(): StunMessage {
  return { cls: StunClass.Request, method: 0, attributes: 0, username: false, integrity: false, fingerprint: false, useCandidate: false, iceRole: 0, softwareAt: 0, softwareLen: 0, errorCode: 0 };
}

/** A STUN message header at b[0]: the top two bits 0, the magic cookie, a length of 4-byte words. */
export function looksLikeStun(b: Uint8Array): boolean {
  return b.length >= STUN_HEADER_BYTES && ((b[0] as number) & 0xc0) === 0 && ((b[3] as number) & 3) === 0 &&
    b[4] === 0x21 && b[5] === 0x12 && b[6] === 0xa4 && b[7] === 0x42;
}

export const STUN_OK = 0;
export const STUN_BAD_LENGTH = 1;
export const STUN_BAD_ATTRIBUTE = 2;
export const STUN_TOO_MANY_ATTRIBUTES = 3;

/**
 * Parse the STUN message filling datagram `b` (looksLikeStun already true) into `m`. Returns
 * STUN_OK, or why it stopped; the header fields are set whenever the length checks out.
 */
export function parseStun(b: Uint8Array, maxAttributes: number, m: StunMessage): number {
  const type = ((b[0] as number) << 8) | (b[1] as number);
  const len = ((b[2] as number) << 8) | (b[3] as number);
  if (STUN_HEADER_BYTES + len !== b.length) return STUN_BAD_LENGTH;
  m.cls = (((type >> 7) & 2) | ((type >> 4) & 1)) as StunClass;
  m.method = (type & 0x000f) | ((type >> 1) & 0x0070) | ((type >> 2) & 0x0f80);
  m.attributes = 0;
  m.username = false; m.integrity = false; m.fingerprint = false; m.useCandidate = false;
  m.iceRole = 0; m.softwareAt = 0; m.softwareLen = 0; m.errorCode = 0;
  let p = STUN_HEADER_BYTES;
  while (p < b.length) {
    if (m.attributes === maxAttributes) return STUN_TOO_MANY_ATTRIBUTES;
    if (b.length - p < 4) return STUN_BAD_ATTRIBUTE;
    const at = ((b[p] as number) << 8) | (b[p + 1] as number);
    const al = ((b[p + 2] as number) << 8) | (b[p + 3] as number);
    const v = p + 4;
    if (v + al > b.length) return STUN_BAD_ATTRIBUTE;
    m.attributes++;
    switch (at) {
      case Attr.Username: m.username = true; break;
      case Attr.MessageIntegrity: m.integrity = true; break;
      case Attr.Fingerprint: m.fingerprint = true; break;
      case Attr.UseCandidate: m.useCandidate = true; break;
      case Attr.IceControlling: m.iceRole = 1; break;
      case Attr.IceControlled: m.iceRole = 2; break;
      case Attr.Software: m.softwareAt = v; m.softwareLen = al; break;
      case Attr.ErrorCode:
        if (al >= 4) m.errorCode = ((b[v + 2] as number) & 7) * 100 + (b[v + 3] as number);
        break;
      default: break;
    }
    p = v + ((al + 3) & ~3); // values are padded to 4 bytes (§14)
  }
  return STUN_OK;
}
