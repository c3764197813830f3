/** What WebRTC puts on the flow record: the `webrtc` section (STUN, RTP/RTCP and DTLS counts). */
import { defineSection } from '../../src/contract/api.js';
import type { WebrtcInfo } from './types.js';

export type { WebrtcInfo } from './types.js';

export const webrtcSection = defineSection<WebrtcInfo>({
  key: 'webrtc',
  ecs(w, { ndr }) {
    const s = w.stun;
    ndr.webrtc = {
      stun: {
        requests: s.requests, successes: s.successes, errors: s.errors, indications: s.indications, bindings: s.bindings,
        malformed: s.malformed, client_ice_role: s.clientIceRole, software: s.software, integrity: s.integrity,
        fingerprint: s.fingerprint, use_candidate: s.useCandidate, error_codes: s.errorCodes,
      },
      rtp: { packets: w.rtp, rtcp_packets: w.rtcp, ssrcs: w.ssrcs, payload_types: w.payloadTypes },
      dtls_datagrams: w.dtlsDatagrams,
      other_datagrams: w.other,
    };
  },
  proto: {
    type: 'ndr.v1.Webrtc',
    ecs: {
      stunRequests: 'ndr.{key}.stun.requests', stunSuccesses: 'ndr.{key}.stun.successes', stunErrors: 'ndr.{key}.stun.errors',
      stunIndications: 'ndr.{key}.stun.indications', stunBindings: 'ndr.{key}.stun.bindings', stunMalformed: 'ndr.{key}.stun.malformed',
      clientIceRole: 'ndr.{key}.stun.client_ice_role', stunSoftware: 'ndr.{key}.stun.software', stunIntegrity: 'ndr.{key}.stun.integrity',
      rtpPackets: 'ndr.{key}.rtp.packets', rtcpPackets: 'ndr.{key}.rtp.rtcp_packets', ssrcs: 'ndr.{key}.rtp.ssrcs',
      payloadTypes: 'ndr.{key}.rtp.payload_types', dtlsDatagrams: 'ndr.{key}.dtls_datagrams', otherDatagrams: 'ndr.{key}.other_datagrams',
    },
    toProto: (w) => ({
      stunRequests: w.stun.requests, stunSuccesses: w.stun.successes, stunErrors: w.stun.errors, stunIndications: w.stun.indications,
      stunBindings: w.stun.bindings, stunMalformed: w.stun.malformed, clientIceRole: w.stun.clientIceRole ?? '', stunSoftware: w.stun.software ?? '',
      stunIntegrity: w.stun.integrity, rtpPackets: w.rtp, rtcpPackets: w.rtcp, ssrcs: [...w.ssrcs], payloadTypes: [...w.payloadTypes],
      dtlsDatagrams: w.dtlsDatagrams, otherDatagrams: w.other,
    }),
  },
});
