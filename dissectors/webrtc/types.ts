/** WebRTC (STUN, DTLS and RTP on one 5-tuple) records, limits and summary. */
import type { DissectorRecord } from '../../src/contract/api.js';
import type { DtlsRecord, DtlsSummary } from '../dtls/types.js';

export interface WebrtcLimits {
  /** STUN attributes read per message. */
  readonly maxAttributesCount: number;
  /** Datagrams dissected per flow (the rest are counted by the flow only). */
  readonly maxDatagramsCount: number;
  /** SOFTWARE attribute bytes kept. */
  readonly maxSoftwareBytes: number;
  /** Distinct RTP SSRCs and payload types kept. */
  readonly maxSsrcCount: number;
}

export const defaultWebrtcLimits: WebrtcLimits = {
  maxAttributesCount: 32,
  maxDatagramsCount: 4096,
  maxSoftwareBytes: 128,
  maxSsrcCount: 16,
};

/** Per-flow counts, emitted once when dissection ends. */
export interface WebrtcStatsRecord extends DissectorRecord {
  readonly kind: 'webrtc.stats';
  readonly stun: StunCounts;
  readonly rtp: number;
  readonly rtcp: number;
  readonly ssrcs: readonly number[];
  readonly payloadTypes: readonly number[];
  readonly dtlsDatagrams: number;
  readonly other: number;
}

export interface StunCounts {
  requests: number;
  successes: number;
  errors: number;
  indications: number;
  /** Binding method messages (RFC 8489 §18.2; ICE connectivity checks and consent, RFC 7675). */
  bindings: number;
  malformed: number;
  username: boolean;
  integrity: boolean;
  fingerprint: boolean;
  useCandidate: boolean;
  /** 'controlling' / 'controlled' as the client's requests said (RFC 8445 §7.1.3). */
  clientIceRole: string | null;
  software: string | null;
  errorCodes: number[];
}

export type WebrtcRecord = WebrtcStatsRecord | DtlsRecord;

/** What the flow record keeps of a WebRTC flow (its `webrtc` section, record.ts). */
export interface WebrtcInfo {
  stun: StunCounts;
  rtp: number;
  rtcp: number;
  ssrcs: readonly number[];
  payloadTypes: readonly number[];
  dtlsDatagrams: number;
  other: number;
}

export interface WebrtcSummary extends WebrtcInfo {
  /** What the DTLS dissector made of the handshake (null when no DTLS came). */
  dtls: DtlsSummary | null;
}

export function emptyStunCounts(): StunCounts {
  return {
    requests: 0, successes: 0, errors: 0, indications: 0, bindings: 0, malformed: 0, username: false, integrity: false,
    fingerprint: false, useCandidate: false, clientIceRole: null, software: null, errorCodes: [],
  };
}
