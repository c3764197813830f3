/**
 * TLS message and record types. The hello types are plain owned data (no views): the parsers in
 * client-hello.ts / server-hello.ts build them once per message, and dissectors/quic and
 * dissectors/dtls reuse them. Lists keep wire order and GREASE values (STYLE.md §6.4): JA4/JA3
 * filter and sort in src/fingerprint.
 */
import type { Dir, DissectorRecord } from '../../src/contract/api.js';
import type { TlsEventId } from './events.js';

export interface TlsLimits {
  /** Largest record accepted (RFC 8446 §5.2: ciphertext ≤ 2^14 + 256; TLS 1.2 allows + 2048). */
  readonly maxRecordBytes: number;
  /** Largest handshake message reassembled across records (per direction, one at a time). */
  readonly maxHandshakeBytes: number;
  /** Handshake messages parsed per direction before the rest are skipped. */
  readonly maxHandshakeMessagesCount: number;
  /** Certificates handed off per Certificate message. */
  readonly maxCertsCount: number;
  /** Extensions kept per hello. */
  readonly maxExtensionsCount: number;
  /** Entries kept per cipher / group / signature-algorithm / version list. */
  readonly maxListCount: number;
  /** ALPN names kept per ClientHello. */
  readonly maxAlpnCount: number;
  /** Bytes kept of an SNI host name or an ALPN name. */
  readonly maxNameBytes: number;
  /** Application-data record sizes kept per direction (0 = stop right after the handshake). */
  readonly maxAppRecordsCount: number;
  /** Alerts kept per flow. */
  readonly maxAlertsCount: number;
  /** Bytes of a SOCKS / HTTP CONNECT preamble skipped before TLS, per direction. */
  readonly maxPreambleBytes: number;
}

export const defaultTlsLimits: TlsLimits = {
  maxRecordBytes: 16384 + 2048,
  maxHandshakeBytes: 65536,
  maxHandshakeMessagesCount: 32,
  maxCertsCount: 16,
  maxExtensionsCount: 64,
  maxListCount: 512,
  maxAlpnCount: 16,
  maxNameBytes: 255,
  maxAppRecordsCount: 8,
  maxAlertsCount: 8,
  maxPreambleBytes: 8192,
};

/** Handshake message types (RFC 8446 §4, RFC 5246 §7.4). */
export const HandshakeType = {
  HelloRequest: 0,
  ClientHello: 1,
  ServerHello: 2,
  NewSessionTicket: 4,
  EndOfEarlyData: 5,
  EncryptedExtensions: 8,
  Certificate: 11,
  ServerKeyExchange: 12,
  CertificateRequest: 13,
  ServerHelloDone: 14,
  CertificateVerify: 15,
  ClientKeyExchange: 16,
  Finished: 20,
  CertificateStatus: 22,
  KeyUpdate: 24,
} as const;

/** Record content types (RFC 8446 §5.1, RFC 6520). */
export const ContentType = {
  ChangeCipherSpec: 20,
  Alert: 21,
  Handshake: 22,
  ApplicationData: 23,
  Heartbeat: 24,
} as const;

/** Extension code points used by the parsers. */
export const ExtType = {
  ServerName: 0x0000,
  SupportedGroups: 0x000a,
  EcPointFormats: 0x000b,
  SignatureAlgorithms: 0x000d,
  Alpn: 0x0010,
  PreSharedKey: 0x0029,
  SupportedVersions: 0x002b,
  KeyShare: 0x0033,
  QuicTransportParameters: 0x0039,
  EncryptedClientHello: 0xfe0d,
} as const;

export interface TlsClientHello {
  /** 'tls' for a normal handshake body, 'sslv2' for an SSLv2-compatible hello (RFC 5246 E.2). */
  readonly form: 'tls' | 'sslv2';
  /** Handshake legacy_version (0x0303 for TLS 1.2/1.3, 0xfefd for DTLS 1.2). */
  readonly legacyVersion: number;
  readonly sessionIdLength: number;
  /** DTLS cookie length (RFC 6347 §4.2.1), null for TLS. */
  readonly cookieLength: number | null;
  /** Cipher suites in wire order, GREASE kept. SSLv2 specs with a non-zero first byte are dropped. */
  readonly cipherSuites: readonly number[];
  readonly compressionMethods: readonly number[];
  /** Extension types in wire order, GREASE and duplicates kept. */
  readonly extensions: readonly number[];
  /** First host_name of server_name, bounded by maxNameBytes; null when absent/unparseable. */
  readonly sni: string | null;
  /** ALPN protocol names in wire order, as owned bytes, bounded. */
  readonly alpnRaw: readonly Uint8Array[];
  /** The same names decoded as latin-1 (one char per byte, never fails). */
  readonly alpn: readonly string[];
  readonly supportedVersions: readonly number[];
  readonly signatureAlgorithms: readonly number[];
  readonly supportedGroups: readonly number[];
  readonly ecPointFormats: readonly number[];
  readonly keyShareGroups: readonly number[];
  /** Total bytes of key_exchange data offered in key_share (post-quantum shares are ~1.2 KB). */
  readonly keyShareBytes: number;
  /** encrypted_client_hello (0xfe0d) outer extension present. */
  readonly echOuter: boolean;
  /** Length of the handshake body parsed. */
  readonly bodyBytes: number;
  /** Non-fatal events met while parsing (limits, duplicate extensions, bad extension bodies). */
  readonly events: readonly TlsEventId[];
}

export interface TlsServerHello {
  readonly legacyVersion: number;
  /** supported_versions selection (TLS 1.3), null when absent. */
  readonly selectedVersion: number | null;
  /** True when random is the HelloRetryRequest magic value (RFC 8446 §4.1.3). */
  readonly helloRetryRequest: boolean;
  readonly sessionIdLength: number;
  readonly cipherSuite: number;
  readonly compressionMethod: number;
  /** Extension types in wire order. */
  readonly extensions: readonly number[];
  /** ALPN protocol selected (RFC 7301 §3.1), owned bytes and latin-1. */
  readonly alpnRaw: Uint8Array | null;
  readonly alpn: string | null;
  /** key_share group (selected_group for HRR). */
  readonly keyShareGroup: number | null;
  readonly bodyBytes: number;
  readonly events: readonly TlsEventId[];
}

export interface TlsParseOptions {
  /** DTLS ClientHello: a cookie<0..2^8-1> follows the session id (RFC 6347 §4.2.1). */
  readonly dtls?: boolean;
}

// ---- records emitted by the TLS stream dissector ----------------------------------------
export interface TlsClientHelloRecord extends DissectorRecord {
  readonly kind: 'tls.client_hello';
  readonly dir: Dir;
  /** 0 for the first ClientHello of the flow, 1 for the one after HRR, … */
  readonly index: number;
  readonly recordVersion: number;
  readonly hello: TlsClientHello;
}

export interface TlsServerHelloRecord extends DissectorRecord {
  readonly kind: 'tls.server_hello';
  readonly dir: Dir;
  readonly index: number;
  readonly hello: TlsServerHello;
}

export interface TlsCertificateRecord extends DissectorRecord {
  readonly kind: 'tls.certificate';
  readonly dir: Dir;
  /** Certificates in the message (true count, even past maxCertsCount). */
  readonly count: number;
  /** Certificates handed off (≤ maxCertsCount). */
  readonly handedOff: number;
  readonly tls13: boolean;
  /** SHA-256-free identity is the engine's business: the DERs went out through ctx.handoff. */
  readonly totalBytes: number;
}

export interface TlsAlertRecord extends DissectorRecord {
  readonly kind: 'tls.alert';
  readonly dir: Dir;
  readonly level: number;
  readonly description: number;
}

/** One per flow, emitted when the dissector finishes (done or end of flow). */
export interface TlsSessionRecord extends DissectorRecord {
  readonly kind: 'tls.session';
  readonly dir: null;
  /** Negotiated version (ServerHello), or null when no ServerHello was seen. */
  readonly version: number | null;
  readonly ccsSeen: readonly [boolean, boolean];
  /** Each direction reached encrypted application data / past its handshake. */
  readonly pastHandshake: readonly [boolean, boolean];
  readonly resumed: boolean;
  readonly clientCertificate: boolean;
  /** Sizes (header included) of the first application-data records per direction. */
  readonly appRecordSizes: readonly [readonly number[], readonly number[]];
  /** Handshake messages seen per direction, by type, in order (bounded). */
  readonly messages: readonly [readonly number[], readonly number[]];
}

export type TlsRecord = TlsClientHelloRecord | TlsServerHelloRecord | TlsCertificateRecord | TlsAlertRecord | TlsSessionRecord;

/** Per-flow TLS summary (summarize(records)); src/fingerprint/tls-info.ts turns it into TlsInfo. */
export interface TlsSummary {
  readonly clientHellos: readonly TlsClientHello[];
  readonly serverHellos: readonly TlsServerHello[];
  /** Server chain length as announced (first server Certificate message), null when not seen. */
  readonly serverCertCount: number | null;
  readonly clientCertCount: number | null;
  readonly alerts: readonly { dir: Dir; level: number; description: number }[];
  readonly version: number | null;
  readonly established: boolean;
  readonly resumed: boolean;
  readonly clientCertificate: boolean;
  readonly appRecordSizes: readonly [readonly number[], readonly number[]];
}
