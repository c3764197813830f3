/** x509.* event catalog. */
import type { EventCatalog } from '../../src/contract/api.js';

export const x509Events = {
  'x509.malformed': { severity: 'anomaly', summary: 'DER structure of the certificate is inconsistent (RFC 5280 §4.1)' },
  'x509.trailing_bytes': { severity: 'anomaly', summary: 'bytes after the Certificate SEQUENCE' },
  'x509.bad_version': { severity: 'anomaly', summary: 'version is not v1, v2 or v3' },
  'x509.bad_oid': { severity: 'anomaly', summary: 'an OBJECT IDENTIFIER is not valid base-128 (X.690 §8.19)' },
  'x509.bad_time': { severity: 'anomaly', summary: 'UTCTime/GeneralizedTime not in the RFC 5280 §4.1.2.5 form' },
  'x509.time_out_of_range': { severity: 'anomaly', summary: 'GeneralizedTime used for a date UTCTime can represent (RFC 5280 §4.1.2.5)' },
  'x509.bad_extension': { severity: 'anomaly', summary: 'an extension value does not decode' },
  'x509.duplicate_extension': { severity: 'anomaly', summary: 'an extension OID appears twice (RFC 5280 §4.2)' },
  'x509.explicit_ec_params': { severity: 'anomaly', summary: 'EC key with explicit curve parameters (CVE-2020-0601 "CurveBall" style)' },
  'x509.limit.size': { severity: 'limit', summary: 'certificate larger than maxCertBytes' },
  'x509.limit.depth': { severity: 'limit', summary: 'DER nesting deeper than maxDerDepth' },
  'x509.limit.elements': { severity: 'limit', summary: 'more than maxDerElementsCount DER elements' },
  'x509.limit.extensions': { severity: 'limit', summary: 'more than maxExtensionsCount extensions' },
  'x509.limit.name': { severity: 'limit', summary: 'a Name rendered longer than maxNameBytes; truncated' },
  'x509.limit.san': { severity: 'limit', summary: 'more than maxSanCount subjectAltName entries' },
} as const satisfies EventCatalog<string>;

export type X509EventId = keyof typeof x509Events;
