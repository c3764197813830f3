/** X.509 object dissector types. X509Record is owned, plain data (the engine caches it by SHA-256). */
import type { X509EventId } from './events.js';

export interface X509Limits {
  readonly maxCertBytes: number;
  readonly maxDerDepth: number;
  readonly maxDerElementsCount: number;
  readonly maxExtensionsCount: number;
  /** Characters kept of an RFC 4514 issuer/subject string. */
  readonly maxNameBytes: number;
  readonly maxSanCount: number;
}

export const defaultX509Limits: X509Limits = {
  maxCertBytes: 65536,
  maxDerDepth: 16,
  maxDerElementsCount: 4096,
  maxExtensionsCount: 64,
  maxNameBytes: 1024,
  maxSanCount: 256,
};

export interface X509Record {
  readonly kind: 'x509.certificate';
  /** 1, 2 or 3. */
  readonly version: number;
  /** Lowercase hex of the serial INTEGER's magnitude. */
  readonly serial: string;
  readonly signatureAlgorithmOid: string;
  /** Name (sha256WithRSAEncryption, ecdsa-with-SHA256, …) or the dotted OID. */
  readonly signatureAlgorithm: string;
  readonly issuer: string; // RFC 4514
  readonly subject: string;
  readonly issuerCn: string | null;
  readonly subjectCn: string | null;
  /** issuer and subject Names are byte-identical. */
  readonly selfIssued: boolean;
  /** Epoch ms; null when the time did not decode (an event says why). */
  readonly notBefore: number | null;
  readonly notAfter: number | null;
  readonly keyType: string | null; // 'rsa' | 'rsa-pss' | 'ec' | 'ed25519' | 'ed448' | 'dsa' | OID
  readonly keyBits: number | null;
  readonly curve: string | null; // 'P-256' | … | 'explicit' | OID
  readonly sanDns: readonly string[];
  readonly sanIp: readonly string[];
  readonly isCa: boolean | null; // null without basicConstraints
  readonly pathLen: number | null;
  readonly keyUsage: readonly string[] | null;
  readonly extKeyUsage: readonly string[] | null;
  readonly subjectKeyId: string | null; // hex
  readonly authorityKeyId: string | null; // hex
  /** JA4X inputs: hex of the OID content octets, in encoded order (SPEC-NOTES.md §3). */
  readonly issuerOids: readonly string[];
  readonly subjectOids: readonly string[];
  readonly extensionOids: readonly string[];
  readonly events: readonly X509EventId[];
}
/** One certificate of a chain, from the X.509 cache (dissectors/x509). */
export interface CertInfo {
  sha256: string; // lowercase hex of the DER
  subject: string; // RFC 4514
  issuer: string;
  subjectCn: string | null;
  issuerCn: string | null;
  serial: string; // hex
  notBefore: number; // epoch ms
  notAfter: number;
  san: string[]; // DNS names and IPs
  isCa: boolean | null;
  keyType: string | null; // 'rsa' | 'ec' | 'ed25519' | …
  keyBits: number | null;
  curve: string | null;
  signatureAlgorithm: string | null; // name, or the OID when unknown
  selfSigned: boolean;
}

export interface ChainFeatures {
  length: number;
  leafSelfSigned: boolean;
  sniInSan: boolean | null; // null without SNI or without a leaf
  expired: boolean; // any cert past notAfter at flow time
  notYetValid: boolean;
  linked: boolean; // each cert issued by the next
  trustedRoot: boolean; // ends in (or is issued by) a root of the trust store
  /** Short reasons the chain is not standard: 'self_signed', 'unknown_root', 'broken_chain', 'expired', 'sni_mismatch'. */
  anomalies: string[];
}

