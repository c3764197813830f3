// WebRTC on one UDP 5-tuple (pcaps/webrtc, lab/gen-webrtc.ts: a Python ICE peer, openssl DTLS 1.2,
// Opus RTP): the flow is labelled webrtc; STUN, DTLS and RTP counts equal tshark's reading of the
// same capture; the DTLS ClientHello gives a JA4 with 'd' and the server's certificate is read;
// the broken twin names its broken datagrams and keeps the rest.
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { CERT_CN, CHECKS, RTP_EACH_WAY, WEBRTC_PORTS } from '../lab/gen-webrtc.js';
import { webrtcSection } from '../dissectors/webrtc/record.js';
import { appOf } from '../src/contract/api.js';
import type { FlowRecord } from '../src/flow/record.js';
import { flowToEcs } from '../src/output/ecs.js';
import { replayFiles } from '../src/runtime/replay.js';

const dir = join(new URL('.', import.meta.url).pathname, '..', 'pcaps', 'webrtc');

function tsharkCount(file: string, filter: string): number {
  const out = execFileSync('tshark', ['-r', file, '-Y', filter, '-T', 'fields', '-e', 'frame.number'], { stdio: ['ignore', 'pipe', 'ignore'] }).toString();
  return out.split('\n').filter((l) => l.length > 0).length;
}

describe('webrtc', () => {
  it('webrtc-call.pcap: one flow, STUN, DTLS and RTP counted as tshark reads them; JA4 d and the certificate', async () => {
    const file = join(dir, 'webrtc-call.pcap');
    const { flows } = await replayFiles([file], { withAnalytics: false });
    expect(flows.length).toBe(1);
    const f = flows[0] as FlowRecord;
    expect([f.protocol, f.client.port, f.server.port]).toEqual(['webrtc', WEBRTC_PORTS.client, WEBRTC_PORTS.server]);
    const w = appOf(f, webrtcSection);
    expect(w).not.toBeNull();
    const s = w!.stun;
    expect(s.requests).toBe(tsharkCount(file, 'stun.type == 0x0001'));
    expect(s.successes).toBe(tsharkCount(file, 'stun.type == 0x0101'));
    expect(s.indications).toBe(tsharkCount(file, 'stun.type == 0x0011'));
    expect(s.requests).toBe(CHECKS + 1);
    expect([s.clientIceRole, s.integrity, s.fingerprint, s.useCandidate, s.malformed]).toEqual(['controlling', true, true, true, 0]);
    expect(w!.dtlsDatagrams).toBe(tsharkCount(file, 'dtls'));
    // RTP: first byte 0x80 and payload type 111 (with or without the marker bit)
    expect(w!.rtp).toBe(tsharkCount(file, 'udp.payload[0] == 80 && (udp.payload[1] == 6f || udp.payload[1] == ef)'));
    expect(w!.rtp).toBe(2 * RTP_EACH_WAY);
    expect(w!.rtcp).toBe(tsharkCount(file, 'udp.payload[0] == 80 && udp.payload[1] == c8'));
    expect(w!.ssrcs.length).toBe(2);
    const doc = flowToEcs(f) as { tls: { client: { ja4: string }; server: { x509: { subject: { common_name: string | string[] } } } } };
    expect(doc.tls.client.ja4).toMatch(/^dd2i/);
    expect([doc.tls.server.x509.subject.common_name].flat()).toEqual([CERT_CN]);
  });

  it('webrtc-malformed.pcap: the two broken STUN requests and the cut RTP packet are named, the rest counted', async () => {
    const good = (await replayFiles([join(dir, 'webrtc-call.pcap')], { withAnalytics: false })).flows[0] as FlowRecord;
    const { flows, stats } = await replayFiles([join(dir, 'webrtc-malformed.pcap')], { withAnalytics: false });
    const f = flows[0] as FlowRecord;
    expect(f.protocol).toBe('webrtc');
    expect(stats.events.get('webrtc.stun_bad_length')).toBe(1);
    expect(stats.events.get('webrtc.stun_bad_attribute')).toBe(1);
    const [w, g] = [appOf(f, webrtcSection)!, appOf(good, webrtcSection)!];
    expect(w.stun.malformed).toBe(2);
    expect(w.stun.requests).toBe(g.stun.requests - 1); // the one whose length is wrong is not a message
    expect([w.rtp, w.other]).toEqual([g.rtp - 1, g.other + 1]);
    // the handshake is whole in both (only the sizes of the first payload packets saw the cut one)
    const hs = (r: FlowRecord) => ({ ...(r.apps.tls as object), appRecordSizes: null });
    expect(hs(f)).toEqual(hs(good));
  });
});
