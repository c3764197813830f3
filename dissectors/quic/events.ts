/** quic.* event catalog (STYLE.md rule 5). Ids are stable: tests and outputs key on them. */
import type { EventCatalog } from '../../src/contract/api.js';

export const quicEvents = {
  'quic.bad_header': { severity: 'anomaly', summary: 'long header truncated or inconsistent (RFC 9000 §17.2)' },
  'quic.bad_fixed_bit': { severity: 'anomaly', summary: 'fixed bit (0x40) clear in a long header (RFC 9000 §17.2)' },
  'quic.cid_too_long': { severity: 'anomaly', summary: 'connection id longer than 20 bytes in a v1/v2 packet (RFC 9000 §17.2)' },
  'quic.bad_length': { severity: 'anomaly', summary: 'Length field runs past the datagram or is shorter than pn + sample (RFC 9000 §17.2, RFC 9001 §5.4.2)' },
  'quic.unknown_version': { severity: 'info', summary: 'long header with a version whose Initial keys are unknown' },
  'quic.version_negotiation': { severity: 'info', summary: 'Version Negotiation packet (RFC 9000 §17.2.1)' },
  'quic.retry': { severity: 'info', summary: 'Retry packet: the client restarts with a new connection id (RFC 9000 §17.2.5)' },
  'quic.decrypt_failed': { severity: 'anomaly', summary: 'Initial packet failed AEAD authentication with the derived keys (RFC 9001 §5.3)' },
  'quic.no_client_initial': { severity: 'anomaly', summary: 'server Initial before any client Initial: keys cannot be derived' },
  'quic.bad_frame': { severity: 'anomaly', summary: 'frame truncated or of a type not allowed in Initial packets (RFC 9000 §12.4)' },
  'quic.crypto_conflict': { severity: 'anomaly', summary: 'retransmitted CRYPTO data differs from what was received before' },
  'quic.not_client_hello': { severity: 'anomaly', summary: 'client CRYPTO stream does not start with a ClientHello' },
  'quic.not_server_hello': { severity: 'anomaly', summary: 'server Initial CRYPTO stream does not start with a ServerHello' },
  'quic.malformed_client_hello': { severity: 'anomaly', summary: 'ClientHello carried in CRYPTO frames did not parse' },
  'quic.malformed_server_hello': { severity: 'anomaly', summary: 'ServerHello carried in CRYPTO frames did not parse' },
  'quic.connection_close': { severity: 'info', summary: 'CONNECTION_CLOSE in an Initial packet' },
  'quic.trailing_bytes': { severity: 'info', summary: 'bytes after the last packet of a datagram that are not a QUIC packet' },
  'quic.limit.crypto': { severity: 'limit', summary: 'CRYPTO data beyond maxCryptoBytes in one direction; ignored' },
  'quic.limit.initial_packets': { severity: 'limit', summary: 'more than maxInitialPacketsCount Initial packets in one direction without a hello' },
  'quic.limit.frames': { severity: 'limit', summary: 'more than maxFramesCount frames in one packet' },
  'quic.limit.crypto_ranges': { severity: 'limit', summary: 'CRYPTO data in more than maxCryptoRangesCount disjoint pieces' },
} as const satisfies EventCatalog<string>;

export type QuicEventId = keyof typeof quicEvents;
