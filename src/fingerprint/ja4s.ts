/**
 * JA4S server fingerprint (FoxIO License 1.1 — only computed when JA4+ is switched on).
 * a_b_c: a = P VV EE AA, b = selected cipher (4 hex), c = hash12(extension types in wire order).
 * SPEC-NOTES.md §2.
 */
import { hex4 } from '../util/bytes.js';
import type { TlsServerHello } from '../../dissectors/tls/types.js';
import { hash12 } from './hash.js';
import { alpnChars, count2, type Ja4Transport, tlsVersionCode } from './ja4.js';

export function ja4sRaw(h: TlsServerHello, transport: Ja4Transport): string {
  const v = h.selectedVersion ?? h.legacyVersion;
  const a = transport + tlsVersionCode(v) + count2(h.extensions.length) + alpnChars(h.alpnRaw, 'reference');
  let exts = '';
  for (let i = 0; i < h.extensions.length; i++) {
    if (i > 0) exts += ',';
    exts += hex4(h.extensions[i] as number);
  }
  return a + '_' + hex4(h.cipherSuite) + '_' + exts;
}

export function ja4s(h: TlsServerHello, transport: Ja4Transport): { ja4s: string; ja4s_r: string } {
  const raw = ja4sRaw(h, transport);
  const cut = raw.lastIndexOf('_');
  return { ja4s: raw.substring(0, cut + 1) + hash12(raw.substring(cut + 1)), ja4s_r: raw };
}
