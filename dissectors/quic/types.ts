/**
 * QUIC records and summary. The hellos are the TLS dissector's own TlsClientHello/TlsServerHello
 * (parsed by dissectors/tls), so src/fingerprint computes JA4/JA4S with the same code as for TCP,
 * only with transport letter 'q' (SPEC-NOTES §1.1, §1.11).
 */
import type { Dir, DissectorRecord } from '../../src/contract/api.js';
import type { TlsClientHello, TlsServerHello, TlsSummary } from '../tls/types.js';
import type { QuicEventId } from './events.js';

export interface QuicLimits {
  /** CRYPTO stream bytes reassembled per direction (the ClientHello must fit; RFC 9000 §7.5 suggests ≥ 4096). */
  readonly maxCryptoBytes: number;
  /** Disjoint CRYPTO pieces held per direction (Chrome shuffles a ClientHello into ~11). */
  readonly maxCryptoRangesCount: number;
  /** Initial packets processed per direction before the hello must have been seen. */
  readonly maxInitialPacketsCount: number;
  /** Frames walked per decrypted packet (PADDING runs count once). */
  readonly maxFramesCount: number;
  /** Key sets derived per flow (original DCID, after Retry, after compatible version negotiation). */
  readonly maxKeySetsCount: number;
  /** Passed to the TLS hello parsers. */
  readonly maxExtensionsCount: number;
  readonly maxListCount: number;
  readonly maxAlpnCount: number;
  readonly maxNameBytes: number;
}

export const defaultQuicLimits: QuicLimits = {
  maxCryptoBytes: 65536,
  maxCryptoRangesCount: 64,
  maxInitialPacketsCount: 32,
  maxFramesCount: 256,
  maxKeySetsCount: 4,
  maxExtensionsCount: 64,
  maxListCount: 512,
  maxAlpnCount: 16,
  maxNameBytes: 255,
};

export interface QuicClientHelloRecord extends DissectorRecord {
  readonly kind: 'quic.client_hello';
  readonly dir: Dir;
  /** 0 for the first ClientHello of the flow (a Retry or a new connection may bring another). */
  readonly index: number;
  /** QUIC version of the Initial packets that carried it (0x00000001, 0x6b3343cf). */
  readonly version: number;
  /** Client's original Destination Connection ID, hex (the key-derivation input). */
  readonly dcid: string;
  readonly scid: string;
  readonly hello: TlsClientHello;
}

export interface QuicServerHelloRecord extends DissectorRecord {
  readonly kind: 'quic.server_hello';
  readonly dir: Dir;
  readonly index: number;
  readonly version: number;
  readonly scid: string;
  readonly hello: TlsServerHello;
}

/** One per flow, emitted when the dissector finishes (done or end of flow). */
export interface QuicSessionRecord extends DissectorRecord {
  readonly kind: 'quic.session';
  readonly dir: null;
  /** Version of the first long-header packet, null when none was seen. */
  readonly version: number | null;
  /** Version the server answered with (differs after compatible version negotiation, RFC 9368). */
  readonly serverVersion: number | null;
  readonly retry: boolean;
  readonly versionNegotiation: boolean;
  /** Initial packets seen / decrypted, per direction. */
  readonly initialPackets: readonly [number, number];
  readonly decryptedPackets: readonly [number, number];
  /** Short-header (1-RTT) packets seen per direction before the dissector stopped. */
  readonly shortPackets: readonly [number, number];
  readonly events: readonly QuicEventId[];
}

export type QuicRecord = QuicClientHelloRecord | QuicServerHelloRecord | QuicSessionRecord;

/**
 * Per-flow QUIC summary. It IS a TlsSummary (src/fingerprint/tls-info.ts buildTlsInfo takes it
 * as is, with transport 'q'), plus the QUIC facts. Only Initial packets are readable, so the
 * certificate fields are null, `version` is the TLS version the ServerHello selected, and
 * `established` means a ServerHello was seen.
 */
export interface QuicSummary extends TlsSummary {
  /** JA4 transport letter for hellos of this summary (SPEC-NOTES §1.1). */
  readonly transport: 'q';
  /** QUIC version of the first long-header packet (0x00000001, 0x6b3343cf, …). */
  readonly quicVersion: number | null;
  /** '1', '2', or the 8-digit hex of another version; null when none. FlowRecord.quic.version. */
  readonly quicVersionName: string | null;
  readonly sni: string | null;
  readonly retry: boolean;
}

export function quicVersionName(v: number | null): string | null {
  if (v === null) return null;
  if (v === 0x00000001) return '1';
  if (v === 0x6b3343cf) return '2';
  return v.toString(16).padStart(8, '0');
}
