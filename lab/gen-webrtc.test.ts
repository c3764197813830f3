/**
 * The WebRTC generator run afresh in network namespaces (root, as CI is): ICE checks, a real
 * openssl DTLS 1.2 handshake and RTP on one 5-tuple; tshark reads STUN and DTLS in it, and the
 * sensor labels the flow webrtc with a JA4 'd' and the generated certificate.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { webrtcSection } from '../dissectors/webrtc/record.js';
import { appOf } from '../src/contract/api.js';
import { flowToEcs } from '../src/output/ecs.js';
import { replayFiles } from '../src/runtime/replay.js';
import { CERT_CN, CHECKS, generateWebrtcCaptures, RTP_EACH_WAY } from './gen-webrtc.js';

const out = mkdtempSync(join(tmpdir(), 'ndr-webrtc-'));
afterAll(() => rmSync(out, { recursive: true, force: true }));

describe('webrtc capture generated afresh', () => {
  it('one flow: STUN, DTLS and RTP; labelled webrtc with JA4 d and the certificate', async () => {
    const r = await generateWebrtcCaptures(out);
    const file = r.files['webrtc-call.pcap'];
    const protos = execFileSync('tshark', ['-r', file, '-T', 'fields', '-e', 'frame.protocols'], { stdio: ['ignore', 'pipe', 'ignore'] }).toString();
    expect(protos).toContain('udp:stun');
    expect(protos).toContain('udp:dtls');
    const { flows } = await replayFiles([file], { withAnalytics: false });
    expect(flows.length).toBe(1);
    const f = flows[0]!;
    expect(f.protocol).toBe('webrtc');
    const w = appOf(f, webrtcSection)!;
    expect([w.stun.requests, w.stun.successes, w.rtp]).toEqual([CHECKS + 1, CHECKS + 1, 2 * RTP_EACH_WAY]);
    const doc = flowToEcs(f) as { tls: { client: { ja4: string }; server: { x509: { subject: { common_name: string | string[] } } } } };
    expect(doc.tls.client.ja4).toMatch(/^dd2/);
    expect([doc.tls.server.x509.subject.common_name].flat()).toEqual([CERT_CN]);
    const bad = await replayFiles([r.files['webrtc-malformed.pcap']], { withAnalytics: false });
    expect(bad.stats.events.get('webrtc.stun_bad_length')).toBe(1);
    expect(bad.stats.events.get('webrtc.stun_bad_attribute')).toBe(1);
  }, 60_000);
});
