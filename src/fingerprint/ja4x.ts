/**
 * JA4X certificate fingerprint (FoxIO License 1.1 — only when JA4+ is switched on).
 * hash12(issuer RDN OIDs) _ hash12(subject RDN OIDs) _ hash12(extension OIDs); OIDs as hex of
 * their content octets, encoded order, comma-joined; empty list → '000000000000' (SPEC-NOTES §3).
 */
import type { X509Record } from '../../dissectors/x509/types.js';
import { hash12 } from './hash.js';

export function ja4xRaw(rec: Pick<X509Record, 'issuerOids' | 'subjectOids' | 'extensionOids'>): string {
  return rec.issuerOids.join(',') + '_' + rec.subjectOids.join(',') + '_' + rec.extensionOids.join(',');
}

export function ja4x(rec: Pick<X509Record, 'issuerOids' | 'subjectOids' | 'extensionOids'>): string {
  return hash12(rec.issuerOids.join(',')) + '_' + hash12(rec.subjectOids.join(',')) + '_' + hash12(rec.extensionOids.join(','));
}
