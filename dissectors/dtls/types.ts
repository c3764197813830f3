/**
 * DTLS records and summary. Hellos are the TLS dissector's TlsClientHello/TlsServerHello (parsed
 * with the DTLS cookie rule), so src/fingerprint computes JA4 with transport letter 'd'.
 */
import type { Dir, DissectorRecord } from '../../src/contract/api.js';
import type { TlsClientHello, TlsServerHello, TlsSummary } from '../tls/types.js';
import type { DtlsEventId } from './events.js';

export interface DtlsLimits {
  /** Largest handshake message reassembled from fragments. */
  readonly maxHandshakeBytes: number;
  /** Messages (by message_seq) being reassembled at once per direction. */
  readonly maxPendingMessagesCount: number;
  /** Disjoint fragments held per message. */
  readonly maxFragmentsCount: number;
  /** Certificates handed off per Certificate message. */
  readonly maxCertsCount: number;
  /** Records examined per direction before the dissector gives up on the handshake. */
  readonly maxRecordsCount: number;
  /** Passed to the TLS hello parsers. */
  readonly maxExtensionsCount: number;
  readonly maxListCount: number;
  readonly maxAlpnCount: number;
  readonly maxNameBytes: number;
}

export const defaultDtlsLimits: DtlsLimits = {
  maxHandshakeBytes: 65536,
  maxPendingMessagesCount: 8,
  maxFragmentsCount: 64,
  maxCertsCount: 16,
  maxRecordsCount: 256,
  maxExtensionsCount: 64,
  maxListCount: 512,
  maxAlpnCount: 16,
  maxNameBytes: 255,
};

export interface DtlsClientHelloRecord extends DissectorRecord {
  readonly kind: 'dtls.client_hello';
  readonly dir: Dir;
  /** 0 for the first ClientHello; 1 for the one repeated with the cookie, … */
  readonly index: number;
  readonly messageSeq: number;
  readonly recordVersion: number;
  readonly hello: TlsClientHello;
}

export interface DtlsServerHelloRecord extends DissectorRecord {
  readonly kind: 'dtls.server_hello';
  readonly dir: Dir;
  readonly index: number;
  readonly recordVersion: number;
  readonly hello: TlsServerHello;
}

export interface DtlsCertificateRecord extends DissectorRecord {
  readonly kind: 'dtls.certificate';
  readonly dir: Dir;
  readonly count: number;
  readonly handedOff: number;
  readonly totalBytes: number;
}

export interface DtlsSessionRecord extends DissectorRecord {
  readonly kind: 'dtls.session';
  readonly dir: null;
  /** Negotiated version from the ServerHello (supported_versions, else legacy), null if none. */
  readonly version: number | null;
  readonly helloVerifyRequest: boolean;
  readonly ccsSeen: readonly [boolean, boolean];
  /** Each direction sent epoch > 0 records (encrypted) or DTLS 1.3 ciphertext. */
  readonly pastHandshake: readonly [boolean, boolean];
  readonly clientCertificate: boolean;
  /** Handshake message types seen per direction, in order (bounded). */
  readonly messages: readonly [readonly number[], readonly number[]];
  readonly events: readonly DtlsEventId[];
}

export type DtlsRecord = DtlsClientHelloRecord | DtlsServerHelloRecord | DtlsCertificateRecord | DtlsSessionRecord;

/**
 * Per-flow DTLS summary. It IS a TlsSummary (buildTlsInfo takes it with transport 'd'); `version`
 * is the DTLS version the ServerHello selected (0xfeff, 0xfefd, 0xfefc).
 */
export interface DtlsSummary extends TlsSummary {
  /** JA4 transport letter (SPEC-NOTES §1.12). */
  readonly transport: 'd';
  readonly sni: string | null;
  readonly helloVerifyRequest: boolean;
}
