/**
 * JA3 / JA3S (Salesforce): decimal fields joined by ',' with '-' inside lists, GREASE removed
 * (RFC 8701 values), MD5 of the string.
 * JA3  = SSLVersion,Ciphers,Extensions,EllipticCurves,EllipticCurvePointFormats (ClientHello)
 * JA3S = SSLVersion,Cipher,Extensions (ServerHello)
 */
import { isGrease } from '../../dissectors/tls/extensions.js';
import type { TlsClientHello, TlsServerHello } from '../../dissectors/tls/types.js';
import { md5Hex } from './hash.js';

/** Allocation cache: one decimal-value list reused by every call (cleared on entry, never escapes it). */
const decScratch: number[] = [];

/** "4865-4866-…" as one flat string (join, not repeated concatenation). */
function decList(vals: readonly number[], dropGrease: boolean): string {
  decScratch.length = 0;
  for (let i = 0; i < vals.length; i++) {
    const v = vals[i] as number;
    if (dropGrease && isGrease(v)) continue;
    decScratch.push(v);
  }
  return decScratch.join('-');
}

export function ja3String(h: TlsClientHello): string {
  return h.legacyVersion + ',' + decList(h.cipherSuites, true) + ',' + decList(h.extensions, true) + ',' + decList(h.supportedGroups, true) + ',' + decList(h.ecPointFormats, false);
}

export function ja3(h: TlsClientHello): { ja3: string; ja3_full: string } {
  const s = ja3String(h);
  return { ja3: md5Hex(s), ja3_full: s };
}

export function ja3sString(h: TlsServerHello): string {
  return h.legacyVersion + ',' + h.cipherSuite + ',' + decList(h.extensions, true);
}

export function ja3s(h: TlsServerHello): string {
  return md5Hex(ja3sString(h));
}
