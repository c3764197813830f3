/**
 * WebRTC dissector registration (transport 'udp'): a flow that opens with a STUN message (ICE
 * connectivity checks, RFC 8445) and then carries DTLS and SRTP on the same 5-tuple (RFC 7983).
 * Labelled 'webrtc' once DTLS or RTP follows the STUN, 'stun' when only STUN came.
 */
import { defineDissector, type ProbeResult } from '../../src/contract/api.js';
import { dtlsDissector } from '../dtls/index.js';
import { TLS_INFO, tlsSection } from '../tls/record.js';
import type { DtlsRecord } from '../dtls/types.js';
import { webrtcEvents, type WebrtcEventId } from './events.js';
import { webrtcSection } from './record.js';
import { looksLikeStun, STUN_HEADER_BYTES } from './stun.js';
import { WebrtcDissector } from './state.js';
import { defaultWebrtcLimits, emptyStunCounts, type WebrtcLimits, type WebrtcRecord, type WebrtcSummary } from './types.js';

/** A whole STUN message: magic cookie, and a length that is the rest of the datagram. */
export function probeWebrtc(b: Uint8Array): ProbeResult {
  if (b.length > 0 && (b[0] as number) > 3) return 'no'; // RFC 7983 §7: STUN's first byte is 0-3
  if (b.length < STUN_HEADER_BYTES) return 'unsure';
  if (!looksLikeStun(b)) return 'no';
  return STUN_HEADER_BYTES + (((b[2] as number) << 8) | (b[3] as number)) === b.length ? 'yes' : 'no';
}

export function summarizeWebrtc(records: readonly WebrtcRecord[]): WebrtcSummary {
  const dtls: DtlsRecord[] = [];
  let out: WebrtcSummary = { stun: emptyStunCounts(), rtp: 0, rtcp: 0, ssrcs: [], payloadTypes: [], dtlsDatagrams: 0, other: 0, dtls: null };
  for (const r of records) {
    if (r.kind === 'webrtc.stats') {
      out = { stun: r.stun, rtp: r.rtp, rtcp: r.rtcp, ssrcs: r.ssrcs, payloadTypes: r.payloadTypes, dtlsDatagrams: r.dtlsDatagrams, other: r.other, dtls: null };
    } else dtls.push(r);
  }
  out.dtls = dtls.length > 0 ? dtlsDissector.summarize(dtls) : null;
  return out;
}

export const webrtcDissector = defineDissector<WebrtcLimits, WebrtcRecord, WebrtcEventId, WebrtcSummary>({
  name: 'webrtc',
  apiVersion: 1,
  transport: 'udp',
  probe: {
    ports: [3478, 19302], // STUN/TURN and a public STUN service's port; media ports are ephemeral
    prefixes: [[0x00, 0x01], [0x01, 0x01], [0x00, 0x11]],
    minBytes: 1,
    maxBytes: 1500,
    probe: probeWebrtc,
    leads: [[0, 1, 2, 3], [0, 1, 2, 3]], // STUN's first byte (RFC 7983 §7), either end
  },
  defaultLimits: defaultWebrtcLimits,
  events: webrtcEvents,
  create: (ctx, limits) => new WebrtcDissector(ctx, limits),
  summarize: summarizeWebrtc,
  sections: [webrtcSection, tlsSection],
  toRecord(s, out, ctx) {
    out.set(webrtcSection, { stun: s.stun, rtp: s.rtp, rtcp: s.rtcp, ssrcs: s.ssrcs, payloadTypes: s.payloadTypes, dtlsDatagrams: s.dtlsDatagrams, other: s.other });
    if (s.dtls !== null) out.set(tlsSection, ctx.service(TLS_INFO)(s.dtls, 'd', ctx));
    out.protocol(s.dtls !== null || s.rtp + s.rtcp > 0 ? 'webrtc' : 'stun');
  },
});

export type { WebrtcLimits, WebrtcRecord, WebrtcSummary } from './types.js';
