/**
 * Per-flow WebRTC state: one UDP 5-tuple carrying STUN, DTLS and SRTP/SRTCP, told apart by the
 * first byte of each datagram (RFC 7983 §7: 0-3 STUN, 20-63 DTLS, 128-191 RTP/RTCP). STUN is
 * parsed and counted here; DTLS datagrams go to the DTLS dissector, whose records (ClientHello for
 * JA4 'd', certificates) join this flow's; RTP and RTCP headers (RFC 3550 §5.1, §6.4; RFC 5761 §4
 * tells them apart by payload type) are counted with their SSRCs and payload types.
 */
import type { Dir, DissectorContext, FlowDissector, StreamView, Verdict } from '../../src/contract/api.js';
import { latin1Bounded } from '../../src/util/bytes.js';
import { dtlsDissector } from '../dtls/index.js';
import type { DtlsEventId } from '../dtls/events.js';
import type { WebrtcEventId } from './events.js';
import { emptyStun, looksLikeStun, parseStun, STUN_BAD_ATTRIBUTE, STUN_BAD_LENGTH, STUN_TOO_MANY_ATTRIBUTES, StunClass } from './stun.js';
import { emptyStunCounts, type StunCounts, type WebrtcLimits, type WebrtcRecord } from './types.js';

const BINDING = 1;

export class WebrtcDissector implements FlowDissector {
  private readonly ctx: DissectorContext<WebrtcRecord, WebrtcEventId>;
  private readonly lim: WebrtcLimits;
  private readonly msg = emptyStun();
  private readonly stun: StunCounts = emptyStunCounts();
  private readonly dtls: FlowDissector;
  private dtlsDone = false;
  private dtlsDatagrams = 0;
  private rtp = 0;
  private rtcp = 0;
  private other = 0;
  private datagrams = 0;
  private readonly ssrcs: number[] = [];
  private readonly payloadTypes: number[] = [];
  private confirmed = false;
  private flushed = false;

  constructor(ctx: DissectorContext<WebrtcRecord, WebrtcEventId>, lim: WebrtcLimits) {
    this.ctx = ctx;
    this.lim = lim;
    // The DTLS dissector shares this flow's context: its records and events are this flow's.
    this.dtls = dtlsDissector.create(ctx as unknown as DissectorContext<never, DtlsEventId>, dtlsDissector.defaultLimits);
  }

  feed(dir: Dir, view: StreamView): Verdict {
    const b = view.bytes;
    view.consume(b.length);
    if (b.length === 0) return 'more';
    if (++this.datagrams > this.lim.maxDatagramsCount) {
      this.ctx.event('webrtc.limit.max_datagrams_count', dir);
      this.flush(view.ts);
      return 'done';
    }
    const first = b[0] as number;
    if (first <= 3) this.onStun(dir, b);
    else if (first >= 20 && first <= 63) this.onDtls(dir, view);
    else if (first >= 128 && first <= 191) this.onRtp(b);
    else {
      this.other++;
      this.ctx.event('webrtc.unknown_datagram', dir);
    }
    return 'more';
  }

  gap(_dir: Dir, _lostBytes: number): Verdict {
    return 'more'; // datagrams: nothing spans a loss
  }

  end(dir: Dir): void {
    if (!this.dtlsDone && this.dtlsDatagrams > 0) this.dtls.end(dir);
    if (dir === 1) this.flush(this.ctx.now());
  }

  private onStun(dir: Dir, b: Uint8Array): void {
    const s = this.stun;
    if (!looksLikeStun(b)) {
      s.malformed++;
      this.ctx.event('webrtc.stun_bad_length', dir);
      return;
    }
    const m = this.msg;
    const r = parseStun(b, this.lim.maxAttributesCount, m);
    if (r === STUN_BAD_LENGTH) {
      s.malformed++;
      this.ctx.event('webrtc.stun_bad_length', dir);
      return;
    }
    if (r === STUN_BAD_ATTRIBUTE) { s.malformed++; this.ctx.event('webrtc.stun_bad_attribute', dir); }
    else if (r === STUN_TOO_MANY_ATTRIBUTES) this.ctx.event('webrtc.limit.max_attributes_count', dir);
    if (!this.confirmed && r !== STUN_BAD_ATTRIBUTE) { this.confirmed = true; this.ctx.confirm(); }
    switch (m.cls) {
      case StunClass.Request: s.requests++; break;
      case StunClass.Indication: s.indications++; break;
      case StunClass.Success: s.successes++; break;
      default: s.errors++; break;
    }
    if (m.method === BINDING) s.bindings++;
    if (m.username) s.username = true;
    if (m.integrity) s.integrity = true;
    if (m.fingerprint) s.fingerprint = true;
    if (m.useCandidate) s.useCandidate = true;
    if (dir === 0 && m.cls === StunClass.Request && m.iceRole !== 0 && s.clientIceRole === null) s.clientIceRole = m.iceRole === 1 ? 'controlling' : 'controlled';
    if (m.softwareLen > 0 && s.software === null) s.software = latin1Bounded(b.subarray(m.softwareAt, m.softwareAt + m.softwareLen), this.lim.maxSoftwareBytes);
    if (m.errorCode !== 0 && s.errorCodes.length < 8 && !s.errorCodes.includes(m.errorCode)) s.errorCodes.push(m.errorCode);
  }

  private onDtls(dir: Dir, view: StreamView): void {
    this.dtlsDatagrams++;
    if (this.dtlsDone) return;
    const v = this.dtls.feed(dir, view);
    // The handshake is over (or the DTLS dissector gave up): the rest of the DTLS is counted only.
    if (v === 'done' || v === 'abort') this.dtlsDone = true;
  }

  private onRtp(b: Uint8Array): void {
    if (b.length < 8) { this.other++; return; }
    const pt = (b[1] as number) & 0x7f;
    const marker = b[1] as number;
    // RFC 5761 §4: RTCP packet types 192-223 read as marker bit + payload type 64-95.
    if (marker >= 192 && marker <= 223) { this.rtcp++; return; }
    if (b.length < 12) { this.other++; return; }
    this.rtp++;
    const ssrc = (((b[8] as number) << 24) | ((b[9] as number) << 16) | ((b[10] as number) << 8) | (b[11] as number)) >>> 0;
    if (this.ssrcs.length < this.lim.maxSsrcCount && !this.ssrcs.includes(ssrc)) this.ssrcs.push(ssrc);
    if (this.payloadTypes.length < this.lim.maxSsrcCount && !this.payloadTypes.includes(pt)) this.payloadTypes.push(pt);
  }

  private flush(ts: number): void {
    if (this.flushed) return;
    this.flushed = true;
    this.ctx.emit({
      kind: 'webrtc.stats', ts, dir: null, stun: { ...this.stun, errorCodes: [...this.stun.errorCodes] }, rtp: this.rtp, rtcp: this.rtcp,
      ssrcs: [...this.ssrcs], payloadTypes: [...this.payloadTypes], dtlsDatagrams: this.dtlsDatagrams, other: this.other,
    });
  }
}
