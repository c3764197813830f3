/**
 * WebRTC dissector: RFC 7983 demultiplexing on one flow (STUN parsed and counted, DTLS handed to
 * the DTLS dissector, RTP/RTCP counted), STUN bounds and malformed messages, and the probe.
 */
import { describe, expect, it } from 'vitest';
import { harness } from '../../test/helpers/dissect-harness.js';
import { prng } from '../../test/helpers/fuzz-dissector.js';
import { Dir } from '../../src/contract/api.js';
import { probeWebrtc, summarizeWebrtc, webrtcDissector } from './index.js';
import { emptyStun, parseStun, STUN_BAD_ATTRIBUTE, STUN_BAD_LENGTH, STUN_OK, STUN_TOO_MANY_ATTRIBUTES, StunClass } from './stun.js';
import type { WebrtcRecord } from './types.js';

const be16 = (v: number) => [(v >> 8) & 255, v & 255];
function stun(type: number, attrs: number[][]): Uint8Array {
  const body = attrs.flatMap((a) => a);
  return Uint8Array.from([...be16(type), ...be16(body.length), 0x21, 0x12, 0xa4, 0x42, ...new Array(12).fill(7), ...body]);
}
const attr = (t: number, v: number[]) => [...be16(t), ...be16(v.length), ...v, ...new Array((4 - (v.length % 4)) % 4).fill(0)];
const rtp = (pt: number, ssrc: number) => Uint8Array.from([0x80, pt, 0, 1, 0, 0, 0, 1, (ssrc >>> 24) & 255, (ssrc >>> 16) & 255, (ssrc >>> 8) & 255, ssrc & 255, 1, 2, 3, 4]);

describe('STUN parsing (RFC 8489)', () => {
  it('class, method and the attributes ICE uses', () => {
    const m = emptyStun();
    const b = stun(0x0001, [attr(0x0006, [0x61, 0x3a, 0x62]), attr(0x0024, [0, 0, 0, 1]), attr(0x802a, new Array(8).fill(1)), attr(0x0025, []), attr(0x8022, [0x6c, 0x61, 0x62]), attr(0x0008, new Array(20).fill(9)), attr(0x8028, [1, 2, 3, 4])]);
    expect(parseStun(b, 32, m)).toBe(STUN_OK);
    expect([m.cls, m.method, m.attributes, m.username, m.useCandidate, m.iceRole, m.integrity, m.fingerprint, m.softwareLen]).toEqual([StunClass.Request, 1, 7, true, true, 1, true, true, 3]);
    expect(parseStun(stun(0x0111, [attr(0x0009, [0, 0, 4, 1])]), 32, m)).toBe(STUN_OK);
    expect([m.cls, m.method, m.errorCode]).toEqual([StunClass.Error, 1, 401]);
    expect(parseStun(stun(0x0101, []), 32, m)).toBe(STUN_OK);
    expect(m.cls).toBe(StunClass.Success);
  });

  it('lengths that do not add up, attributes past the message, too many attributes', () => {
    const m = emptyStun();
    const good = stun(0x0001, [attr(0x0006, [1, 2, 3, 4])]);
    expect(parseStun(good.subarray(0, good.length - 4), 32, m)).toBe(STUN_BAD_LENGTH);
    const over = Uint8Array.from(good);
    over[22] = 0x04; // the attribute claims 1024+ bytes
    expect(parseStun(over, 32, m)).toBe(STUN_BAD_ATTRIBUTE);
    expect(parseStun(stun(0x0001, new Array(40).fill(attr(0x8022, [1]))), 32, m)).toBe(STUN_TOO_MANY_ATTRIBUTES);
  });
});

describe('webrtc dissector', () => {
  it('probe: a whole STUN message only', () => {
    expect(probeWebrtc(stun(0x0001, [attr(0x0006, [1])]))).toBe('yes');
    expect(probeWebrtc(stun(0x0001, []).subarray(0, 19))).toBe('unsure');
    expect(probeWebrtc(Uint8Array.from([0x16, 0xfe, 0xfd]))).toBe('no');
    expect(probeWebrtc(rtp(111, 1))).toBe('no');
    const wrong = stun(0x0001, [attr(0x0006, [1])]);
    expect(probeWebrtc(Uint8Array.from([...wrong, 0, 0, 0, 0]))).toBe('no');
  });

  it('demultiplexes one flow: STUN counted, RTP and RTCP counted with SSRCs, other bytes named', () => {
    const h = harness(webrtcDissector, webrtcDissector.defaultLimits, { srcPort: 50000, dstPort: 5000, transport: 'udp', startTs: 0 });
    h.feed(Dir.ToServer, stun(0x0001, [attr(0x802a, new Array(8).fill(1))]));
    h.feed(Dir.ToClient, stun(0x0101, [attr(0x8022, [0x6c, 0x61, 0x62])]));
    for (let i = 0; i < 5; i++) h.feed(Dir.ToServer, rtp(111, 0xdeadbeef));
    h.feed(Dir.ToClient, rtp(96, 7));
    h.feed(Dir.ToClient, Uint8Array.from([0x80, 200, 0, 6, 0, 0, 0, 7]));
    h.feed(Dir.ToServer, Uint8Array.from([0x70, 1, 2, 3]));
    h.feed(Dir.ToServer, Uint8Array.from([0x00, 0x01, 0, 4, 0x21, 0x12, 0xa4, 0x42, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]));
    h.end();
    expect(h.confirmed).toBe(true);
    const s = summarizeWebrtc(h.records as WebrtcRecord[]);
    expect([s.stun.requests, s.stun.successes, s.stun.bindings, s.stun.malformed, s.stun.clientIceRole, s.stun.software]).toEqual([1, 1, 2, 1, 'controlling', 'lab']);
    expect([s.rtp, s.rtcp, s.ssrcs, s.payloadTypes, s.other, s.dtls]).toEqual([6, 1, [0xdeadbeef, 7], [111, 96], 1, null]);
    expect(h.events.map((e) => e.id).sort()).toEqual(['webrtc.stun_bad_length', 'webrtc.unknown_datagram']);
  });

  it('stops at maxDatagramsCount with the counts so far', () => {
    const h = harness(webrtcDissector, { ...webrtcDissector.defaultLimits, maxDatagramsCount: 3 }, { srcPort: 50000, dstPort: 5000, transport: 'udp', startTs: 0 });
    const v = [0, 1, 2, 3].map(() => h.feed(Dir.ToServer, rtp(111, 1)));
    expect(v).toEqual(['more', 'more', 'more', 'done']);
    const s = summarizeWebrtc(h.records as WebrtcRecord[]);
    expect(s.rtp).toBe(3);
    expect(h.events.map((e) => e.id)).toEqual(['webrtc.limit.max_datagrams_count']);
  });

  it('fuzz: random and mutated datagrams never throw (20,000 cases)', () => {
    const r = prng(7);
    const seeds = [stun(0x0001, [attr(0x0006, [1, 2]), attr(0x0008, new Array(20).fill(3))]), rtp(111, 5), Uint8Array.from([0x16, 0xfe, 0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 40, 1, 0, 0, 40, 0, 0, 0, 0, 0, 0, 0, 40])];
    for (let i = 0; i < 20_000; i++) {
      const b = Array.from(seeds[i % seeds.length] as Uint8Array);
      for (let k = 0, n = 1 + Math.floor(r() * 4); k < n; k++) {
        const at = Math.floor(r() * (b.length + 1));
        const op = r();
        if (op < 0.5) b[at] = Math.floor(r() * 256);
        else if (op < 0.8) b.splice(at, 0, Math.floor(r() * 256));
        else b.splice(at, 1);
      }
      const h = harness(webrtcDissector, webrtcDissector.defaultLimits, { srcPort: 1, dstPort: 2, transport: 'udp', startTs: 0 });
      h.feed(Dir.ToServer, Uint8Array.from(b));
      h.feed(Dir.ToClient, Uint8Array.from(b.reverse()));
      h.end();
    }
  });
});
