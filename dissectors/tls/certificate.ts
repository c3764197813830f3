/**
 * Certificate message (RFC 5246 §7.4.2; RFC 8446 §4.4.2 with request context and per-entry
 * extensions). Fills a caller-owned array with DER views (valid during the call only), at most
 * maxCertsCount, and returns the true number of entries, or an event id.
 */
import { Cursor } from '../../src/util/cursor.js';
import type { TlsEventId } from './events.js';

export interface CertListOut {
  /** DER views into the message body, ≤ maxCertsCount. */
  readonly ders: Uint8Array[];
  count: number;
  totalBytes: number;
}

/** Guess the form when the version is unknown: TLS 1.2 lists start with a u24 equal to the rest. */
export function looksLikeTls13Certificate(body: Uint8Array): boolean {
  if (body.length < 4) return false;
  const l12 = ((body[0] as number) << 16) | ((body[1] as number) << 8) | (body[2] as number);
  if (l12 === body.length - 3) return false;
  const ctxLen = body[0] as number;
  if (1 + ctxLen + 3 > body.length) return false;
  const at = 1 + ctxLen;
  const l13 = ((body[at] as number) << 16) | ((body[at + 1] as number) << 8) | (body[at + 2] as number);
  return l13 === body.length - at - 3;
}

export function parseCertificateList(body: Uint8Array, tls13: boolean, maxCertsCount: number, out: CertListOut): TlsEventId | null {
  out.ders.length = 0;
  out.count = 0;
  out.totalBytes = 0;
  const c = new Cursor(body);
  if (tls13) {
    const ctxLen = c.u8();
    c.skip(ctxLen);
  }
  const listLen = c.u24();
  if (c.err || listLen !== c.remaining) return 'tls.malformed_certificate';
  while (c.remaining > 0) {
    const len = c.u24();
    const der = c.view(len);
    if (tls13) {
      const extLen = c.u16(); // CertificateEntry.extensions (OCSP status, SCTs)
      c.skip(extLen);
    }
    if (c.err || len === 0) return 'tls.malformed_certificate';
    out.count++;
    out.totalBytes += len;
    if (out.ders.length < maxCertsCount) out.ders.push(der);
  }
  return out.count > maxCertsCount ? 'tls.limit.certs' : null;
}
