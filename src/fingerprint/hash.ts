/** Hash helpers for fingerprints (node:crypto is allowed here, not in dissectors). */
import * as crypto from 'node:crypto';

const ZERO12 = '000000000000';

type OneShot = (algorithm: string, data: string | Uint8Array, outputEncoding: 'hex') => string;
/** crypto.hash (Node ≥ 20.12) skips createHash's object set-up, most of the cost for inputs this short; fall back otherwise. */
const oneShot: OneShot | null = typeof (crypto as { hash?: unknown }).hash === 'function' ? ((crypto as unknown as { hash: OneShot }).hash) : null;

function digestHex(alg: 'sha256' | 'md5', data: string | Uint8Array): string {
  if (oneShot !== null) return oneShot(alg, data, 'hex');
  return crypto.createHash(alg).update(data).digest('hex');
}

/** Lowercase hex SHA-256 of a UTF-8 string, first 12 chars; '' → '000000000000' (JA4 rule). */
export function hash12(s: string): string {
  if (s.length === 0) return ZERO12;
  return digestHex('sha256', s).substring(0, 12);
}

/** hash12 over ASCII bytes already laid out in a buffer (no string building); empty → zeros. */
export function hash12Bytes(b: Uint8Array): string {
  if (b.length === 0) return ZERO12;
  return digestHex('sha256', b).substring(0, 12);
}

export function md5Hex(s: string): string {
  return digestHex('md5', s);
}

/** SHA-256 of a certificate's DER, lowercase hex: the X.509 cache key and CertInfo.sha256. */
export function x509Sha256(der: Uint8Array): string {
  return digestHex('sha256', der);
}
