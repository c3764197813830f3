/** webrtc.* event catalog (STYLE.md rule 5). */
import type { EventCatalog } from '../../src/contract/api.js';

export const webrtcEvents = {
  'webrtc.stun_bad_length': { severity: 'anomaly', summary: 'STUN message length not a multiple of 4 or not the datagram length (RFC 8489 §5)' },
  'webrtc.stun_bad_attribute': { severity: 'anomaly', summary: 'STUN attribute running past the message (RFC 8489 §14)' },
  'webrtc.unknown_datagram': { severity: 'info', summary: 'datagram whose first byte is none of STUN, DTLS, RTP/RTCP (RFC 7983 §7)' },
  'webrtc.limit.max_attributes_count': { severity: 'limit', summary: 'STUN attributes beyond maxAttributesCount in one message: the rest not read' },
  'webrtc.limit.max_datagrams_count': { severity: 'limit', summary: 'datagrams on this flow over maxDatagramsCount: dissection stopped, counts cover the first ones' },
} as const satisfies EventCatalog<string>;

export type WebrtcEventId = keyof typeof webrtcEvents;
