/** tls.* event catalog (STYLE.md rule 5). Ids are stable: tests and outputs key on them. */
import type { EventCatalog } from '../../src/contract/api.js';

export const tlsEvents = {
  'tls.bad_record_type': { severity: 'anomaly', summary: 'record content type is not 20..24 (RFC 8446 §5.1)' },
  'tls.bad_record_version': { severity: 'anomaly', summary: 'record-layer version major byte is not 3' },
  'tls.record_too_long': { severity: 'anomaly', summary: 'record length exceeds maxRecordBytes (RFC 8446 §5.2: 2^14 + 2048)' },
  'tls.empty_record': { severity: 'anomaly', summary: 'zero-length handshake/alert record (RFC 8446 §5.1)' },
  'tls.malformed_client_hello': { severity: 'anomaly', summary: 'ClientHello body overruns or has trailing bytes (RFC 8446 §4.1.2)' },
  'tls.malformed_server_hello': { severity: 'anomaly', summary: 'ServerHello body overruns or has trailing bytes (RFC 8446 §4.1.3)' },
  'tls.malformed_extension': { severity: 'anomaly', summary: 'an extension body is inconsistent with its declared length' },
  'tls.malformed_certificate': { severity: 'anomaly', summary: 'Certificate message list lengths inconsistent (RFC 8446 §4.4.2)' },
  'tls.malformed_alert': { severity: 'anomaly', summary: 'alert record is not 2 bytes' },
  'tls.malformed_ccs': { severity: 'anomaly', summary: 'ChangeCipherSpec is not the single byte 0x01' },
  'tls.malformed_sslv2': { severity: 'anomaly', summary: 'SSLv2-compatible ClientHello lengths inconsistent' },
  'tls.duplicate_extension': { severity: 'anomaly', summary: 'the same extension type appears twice in one hello (RFC 8446 §4.2)' },
  'tls.unexpected_message': { severity: 'anomaly', summary: 'handshake message from the wrong side or out of order' },
  'tls.hello_retry_request': { severity: 'info', summary: 'server sent a HelloRetryRequest (RFC 8446 §4.1.4)' },
  'tls.second_client_hello': { severity: 'info', summary: 'a further ClientHello on the same flow (after HRR or renegotiation)' },
  'tls.sslv2_client_hello': { severity: 'info', summary: 'SSLv2-compatible ClientHello (RFC 5246 appendix E.2)' },
  'tls.alert_fatal': { severity: 'info', summary: 'a fatal alert was sent in clear' },
  'tls.tunnel_preamble': { severity: 'info', summary: 'TLS behind a SOCKS or HTTP CONNECT preamble on the same stream' },
  'tls.bad_preamble': { severity: 'anomaly', summary: 'proxy preamble failed or exceeded maxPreambleBytes' },
  'tls.midstream_unsynced': { severity: 'anomaly', summary: 'flow picked up mid-stream: no record boundary found in this direction' },
  'tls.gap': { severity: 'anomaly', summary: 'bytes lost in the handshake; dissection stopped' },
  'tls.heartbeat': { severity: 'info', summary: 'heartbeat record seen (RFC 6520)' },
  'tls.limit.handshake': { severity: 'limit', summary: 'handshake message longer than maxHandshakeBytes; skipped' },
  'tls.limit.handshake_messages': { severity: 'limit', summary: 'more than maxHandshakeMessagesCount messages in one direction' },
  'tls.limit.certs': { severity: 'limit', summary: 'more than maxCertsCount certificates in one Certificate message' },
  'tls.limit.extensions': { severity: 'limit', summary: 'more than maxExtensionsCount extensions in a hello' },
  'tls.limit.list': { severity: 'limit', summary: 'a cipher/group/sig-alg list longer than maxListCount entries' },
  'tls.limit.alpn': { severity: 'limit', summary: 'more than maxAlpnCount ALPN names' },
  'tls.limit.name': { severity: 'limit', summary: 'SNI or ALPN name longer than maxNameBytes; truncated' },
} as const satisfies EventCatalog<string>;

export type TlsEventId = keyof typeof tlsEvents;

