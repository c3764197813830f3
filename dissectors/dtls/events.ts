/** dtls.* event catalog (STYLE.md rule 5). Ids are stable: tests and outputs key on them. */
import type { EventCatalog } from '../../src/contract/api.js';

export const dtlsEvents = {
  'dtls.bad_record': { severity: 'anomaly', summary: 'record header truncated or length past the datagram (RFC 6347 §4.1)' },
  'dtls.bad_version': { severity: 'anomaly', summary: 'record version is not a DTLS version (0xfeff, 0xfefd, 0xfefc)' },
  'dtls.malformed_handshake': { severity: 'anomaly', summary: 'handshake fragment header inconsistent (RFC 6347 §4.2.2)' },
  'dtls.fragment_mismatch': { severity: 'anomaly', summary: 'fragments of one message disagree on type or length' },
  'dtls.malformed_client_hello': { severity: 'anomaly', summary: 'ClientHello did not parse (RFC 6347 §4.2.1)' },
  'dtls.malformed_server_hello': { severity: 'anomaly', summary: 'ServerHello did not parse' },
  'dtls.malformed_certificate': { severity: 'anomaly', summary: 'Certificate message list lengths inconsistent' },
  'dtls.hello_verify_request': { severity: 'info', summary: 'server asked for a cookie (HelloVerifyRequest, RFC 6347 §4.2.1)' },
  'dtls.retransmission': { severity: 'info', summary: 'a handshake message was received again' },
  'dtls.alert': { severity: 'info', summary: 'alert record in clear' },
  'dtls.limit.handshake': { severity: 'limit', summary: 'handshake message longer than maxHandshakeBytes; skipped' },
  'dtls.limit.pending': { severity: 'limit', summary: 'more than maxPendingMessagesCount messages being reassembled' },
  'dtls.limit.fragments': { severity: 'limit', summary: 'a message arrived in more than maxFragmentsCount disjoint pieces' },
  'dtls.limit.certs': { severity: 'limit', summary: 'more than maxCertsCount certificates in one Certificate message' },
  'dtls.limit.records': { severity: 'limit', summary: 'more than maxRecordsCount records in one direction before the handshake ended' },
} as const satisfies EventCatalog<string>;

export type DtlsEventId = keyof typeof dtlsEvents;
