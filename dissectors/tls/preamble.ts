/**
 * Proxy preambles in front of TLS on the same TCP stream: SOCKS4/4a (client CONNECT request +
 * 8-byte reply), SOCKS5 (RFC 1928 greeting, optional RFC 1929 username/password, CONNECT request
 * and reply) and an HTTP CONNECT request/2xx response (RFC 9110 §9.3.6). Framing only: each
 * function returns the number of preamble bytes at the start of `b`, NEED_MORE (0) or INVALID (-1).
 * Allocation-free.
 */
export const PRE_NEED_MORE = 0;
export const PRE_INVALID = -1;

export const Tunnel = { None: 0, Socks4: 1, Socks5: 2, HttpConnect: 3 } as const;
export type Tunnel = (typeof Tunnel)[keyof typeof Tunnel];

const CONNECT = [0x43, 0x4f, 0x4e, 0x4e, 0x45, 0x43, 0x54, 0x20]; // "CONNECT "
const HTTP1 = [0x48, 0x54, 0x54, 0x50, 0x2f, 0x31, 0x2e]; // "HTTP/1."

function startsWith(b: Uint8Array, p: readonly number[]): boolean {
  if (b.length < p.length) return false;
  for (let i = 0; i < p.length; i++) if (b[i] !== p[i]) return false;
  return true;
}

/** Which tunnel a client stream starts with (needs ≥ 8 bytes to say). */
export function clientTunnel(b: Uint8Array): Tunnel {
  if (b.length < 3) return Tunnel.None;
  if (startsWith(b, CONNECT)) return Tunnel.HttpConnect;
  if (b[0] === 5 && (b[1] as number) >= 1 && (b[1] as number) <= 16) return Tunnel.Socks5;
  if (b[0] === 4 && b[1] === 1) return Tunnel.Socks4;
  return Tunnel.None;
}

/** Bytes up to and including the blank line ending an HTTP head; NEED_MORE or INVALID past max. */
function headLength(b: Uint8Array, max: number): number {
  const n = Math.min(b.length, max);
  for (let i = 3; i < n; i++) {
    if (b[i] === 0x0a && b[i - 1] === 0x0d && b[i - 2] === 0x0a && b[i - 3] === 0x0d) return i + 1;
  }
  return b.length >= max ? PRE_INVALID : PRE_NEED_MORE;
}

function socksAddrLength(b: Uint8Array, at: number): number {
  if (b.length <= at) return PRE_NEED_MORE;
  const atyp = b[at] as number;
  if (atyp === 1) return 1 + 4 + 2;
  if (atyp === 4) return 1 + 16 + 2;
  if (atyp === 3) return b.length <= at + 1 ? PRE_NEED_MORE : 1 + 1 + (b[at + 1] as number) + 2;
  return PRE_INVALID;
}

export function clientPreambleLength(t: Tunnel, b: Uint8Array, max: number): number {
  switch (t) {
    case Tunnel.HttpConnect:
      return headLength(b, max);
    case Tunnel.Socks4: {
      // VN CD DSTPORT(2) DSTIP(4) USERID NUL [DOMAIN NUL when DSTIP is 0.0.0.x] (SOCKS4a)
      if (b.length < 9) return PRE_NEED_MORE;
      let i = 8;
      while (i < b.length && i < max && b[i] !== 0) i++;
      if (i >= max) return PRE_INVALID;
      if (i >= b.length) return PRE_NEED_MORE;
      i++;
      if (b[4] === 0 && b[5] === 0 && b[6] === 0 && b[7] !== 0) {
        while (i < b.length && i < max && b[i] !== 0) i++;
        if (i >= max) return PRE_INVALID;
        if (i >= b.length) return PRE_NEED_MORE;
        i++;
      }
      return i;
    }
    case Tunnel.Socks5: {
      let p = 2 + (b[1] as number); // VER NMETHODS METHODS
      if (b.length <= p) return PRE_NEED_MORE;
      if (b[p] === 1) {
        // RFC 1929: VER ULEN UNAME PLEN PASSWD
        if (b.length < p + 2) return PRE_NEED_MORE;
        const ulen = b[p + 1] as number;
        if (b.length < p + 2 + ulen + 1) return PRE_NEED_MORE;
        p += 2 + ulen + 1 + (b[p + 2 + ulen] as number);
        if (b.length <= p) return PRE_NEED_MORE;
      }
      // VER CMD RSV ATYP DST.ADDR DST.PORT
      if (b.length < p + 4) return PRE_NEED_MORE;
      if (b[p] !== 5 || b[p + 1] !== 1 || b[p + 2] !== 0) return PRE_INVALID;
      const a = socksAddrLength(b, p + 3);
      if (a <= 0) return a;
      if (p + 3 + a > max) return PRE_INVALID;
      return p + 3 + a <= b.length ? p + 3 + a : PRE_NEED_MORE;
    }
    default:
      return 0;
  }
}

export function serverPreambleLength(t: Tunnel, b: Uint8Array, max: number): number {
  switch (t) {
    case Tunnel.HttpConnect: {
      if (b.length < 12) return PRE_NEED_MORE;
      if (!startsWith(b, HTTP1) || b[9] !== 0x32) return PRE_INVALID; // status 2xx only
      return headLength(b, max);
    }
    case Tunnel.Socks4:
      if (b.length < 8) return PRE_NEED_MORE;
      return b[0] === 0 && b[1] === 0x5a ? 8 : PRE_INVALID;
    case Tunnel.Socks5: {
      if (b.length < 2) return PRE_NEED_MORE;
      if (b[0] !== 5 || b[1] === 0xff) return PRE_INVALID;
      let p = 2;
      if (b.length <= p) return PRE_NEED_MORE;
      if (b[p] === 1) p += 2; // RFC 1929 status
      if (b.length < p + 4) return PRE_NEED_MORE;
      if (b[p] !== 5 || b[p + 1] !== 0) return PRE_INVALID; // REP succeeded
      const a = socksAddrLength(b, p + 3);
      if (a <= 0) return a;
      return p + 3 + a <= b.length ? p + 3 + a : PRE_NEED_MORE;
    }
    default:
      return 0;
  }
}
