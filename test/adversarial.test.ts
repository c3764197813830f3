// Adversarial traffic (issue 8): the sensor keeps running, memory stays flat, and each case
// produces its named event. Packets are built here so each case is exact.
import { describe, expect, it } from 'vitest';
import { Pipeline } from '../src/runtime/pipeline.js';
import { LinkType } from '../src/capture/source.js';
import type { FlowRecord } from '../src/flow/record.js';
import { F, conversation, frame, type Seg } from './helpers/packets.js';

const T0 = Date.UTC(2026, 2, 1);

function run(segs: Iterable<Seg>, limits = {}): { flows: FlowRecord[]; p: Pipeline; heapGrowthMiB: number } {
  const flows: FlowRecord[] = [];
  const p = new Pipeline({ limits, onFlow: (r) => flows.push(r) });
  const gc = (globalThis as { gc?: () => void }).gc;
  gc?.();
  const heap0 = process.memoryUsage().heapUsed;
  for (const s of segs) {
    const b = frame(s);
    p.engine.meta.tsMs = s.ts;
    p.engine.packet(b, 0, b.length, LinkType.Ethernet);
  }
  p.engine.flush('eof');
  gc?.();
  return { flows, p, heapGrowthMiB: (process.memoryUsage().heapUsed - heap0) / 1048576 };
}

const bytes = (...parts: (number[] | Uint8Array)[]) => {
  const n = parts.reduce((a, p) => a + p.length, 0);
  const out = new Uint8Array(n);
  let o = 0;
  for (const p of parts) { out.set(p, o); o += p.length; }
  return out;
};

describe('adversarial traffic', () => {
  it('a TLS record claiming 65,535 bytes and a handshake claiming 16 MiB raise their events', () => {
    const hugeRecord = bytes([0x16, 0x03, 0x01, 0xff, 0xff], new Uint8Array(1200));
    const a = run(conversation('10.9.0.1', 50001, '10.9.0.2', 443, T0, [clientHello(), hugeRecord]));
    expect(a.flows[0]!.protocol).toBe('tls');
    expect(a.flows[0]!.events).toContain('tls.record_too_long');
    // A normal-sized record whose ClientHello header claims 0xFFFFFF bytes.
    const body = bytes([0x01, 0xff, 0xff, 0xff], new Uint8Array(1000).fill(0x41));
    const claim = bytes([0x16, 0x03, 0x01, (body.length >> 8) & 255, body.length & 255], body);
    const parts: Uint8Array[] = [claim];
    for (let i = 0; i < 70; i++) parts.push(bytes([0x16, 0x03, 0x01, 0x03, 0xe8], new Uint8Array(1000).fill(0x42)));
    const b = run(conversation('10.9.0.1', 50002, '10.9.0.2', 443, T0, parts));
    expect(b.flows[0]!.events.some((e) => e === 'tls.limit.handshake' || e === 'tls.malformed_handshake')).toBe(true);
    expect(b.heapGrowthMiB).toBeLessThan(32);
  });

  it('10,000 certificates in one chain: the certificate limit event, at most the limit handed off', () => {
    const certs: number[] = [];
    for (let i = 0; i < 10_000; i++) certs.push(0, 0, 2, 0x30, i & 0x7f);
    const listLen = certs.length;
    const certMsgBody = bytes([(listLen >> 16) & 255, (listLen >> 8) & 255, listLen & 255], certs);
    const hs = bytes([0x0b, (certMsgBody.length >> 16) & 255, (certMsgBody.length >> 8) & 255, certMsgBody.length & 255], certMsgBody);
    // ServerHello (TLS 1.2, no extensions) first, then the Certificate message in 16 KiB records.
    const sh = bytes([0x02, 0, 0, 38, 0x03, 0x03], new Uint8Array(32).fill(7), [0x00, 0xc0, 0x2f, 0x00]);
    const recs: Uint8Array[] = [bytes([0x16, 0x03, 0x03, 0, sh.length], sh)];
    for (let o = 0; o < hs.length; o += 16_000) {
      const part = hs.subarray(o, Math.min(hs.length, o + 16_000));
      recs.push(bytes([0x16, 0x03, 0x03, (part.length >> 8) & 255, part.length & 255], part));
    }
    const hello = clientHello();
    const r = run(conversation('10.9.0.1', 50003, '10.9.0.2', 443, T0, [hello], recs), { reassembly: { depthBytes: 128 * 1024 } });
    const f = r.flows[0]!;
    expect(f.protocol).toBe('tls');
    expect(f.events.some((e) => e === 'tls.limit.certs' || e === 'tls.limit.handshake')).toBe(true);
    expect(r.p.certs.size).toBeLessThanOrEqual(16);
  });

  it('an MQTT PUBLISH claiming the maximum remaining length is skipped by a counter, not buffered', () => {
    const connect = bytes([0x10, 16, 0, 4], [0x4d, 0x51, 0x54, 0x54], [4, 2, 0, 60, 0, 4], [0x74, 0x65, 0x73, 0x74]);
    const publish = bytes([0x30, 0xff, 0xff, 0xff, 0x7f, 0, 3, 0x61, 0x2f, 0x62], new Uint8Array(1200).fill(0x55));
    const more: Uint8Array[] = [connect, publish];
    for (let i = 0; i < 20; i++) more.push(new Uint8Array(1400).fill(0x55));
    const r = run(conversation('10.9.0.1', 50004, '10.9.0.2', 1883, T0, more, [bytes([0x20, 2, 0, 0])]));
    const f = r.flows[0]!;
    expect(f.protocol).toBe('mqtt');
    expect(f.events).toContain('mqtt.limit.max_msg_bytes');
    expect(r.heapGrowthMiB).toBeLessThan(32);
  });

  it('an IP fragment flood stays within the fragment limits and raises the limit event', () => {
    function* flood(): Generator<Seg> {
      for (let i = 0; i < 20_000; i++) yield { src: '10.9.1.1', dst: '10.9.1.2', sport: 1, dport: 2, proto: 17, payload: new Uint8Array(600), ts: T0 + i };
    }
    const flows: FlowRecord[] = [];
    const p = new Pipeline({ limits: { fragments: { maxFragDatagramsCount: 512 } }, onFlow: (r) => flows.push(r) });
    let i = 0;
    for (const s of flood()) {
      const b = frame(s);
      // IPv4 header: id = i, flags MF, offset 0 (a first fragment whose rest never comes)
      b[14 + 4] = (i >> 8) & 255;
      b[14 + 5] = i & 255;
      b[14 + 6] = 0x20;
      p.engine.meta.tsMs = s.ts;
      p.engine.packet(b, 0, b.length, LinkType.Ethernet);
      i++;
    }
    p.engine.flush('eof');
    expect(p.engine.stats.fragmentsHeld).toBe(20_000);
    expect(p.engine.frags.counters.evictions + p.engine.frags.counters.timeouts).toBeGreaterThan(19_000);
    expect(flows).toHaveLength(0);
  });

  it('a flow that never ends keeps counting with flat memory and stops reassembly at depth', () => {
    function* endless(): Generator<Seg> {
      yield { src: '10.9.2.1', dst: '10.9.2.2', sport: 50005, dport: 9999, flags: F.SYN, seq: 0, ts: T0 };
      let seq = 1;
      for (let i = 0; i < 100_000; i++) {
        yield { src: '10.9.2.1', dst: '10.9.2.2', sport: 50005, dport: 9999, flags: F.ACK, seq, payload: new Uint8Array(100).fill(i & 255), ts: T0 + i * 50 };
        seq += 100;
      }
    }
    const r = run(endless());
    expect(r.flows).toHaveLength(1);
    expect(r.flows[0]!.dirs[0].packets).toBe(100_001);
    expect(r.flows[0]!.dirs[0].bytes).toBe(10_000_000);
    expect(r.heapGrowthMiB).toBeLessThan(16);
  });
});

/** A minimal TLS 1.2 ClientHello record (one suite, SNI). */
function clientHello(): Uint8Array {
  const sni = [0x00, 0x00, 0x00, 0x0e, 0x00, 0x0c, 0x00, 0x00, 0x09, ...'evil.test'.split('').map((c) => c.charCodeAt(0))];
  const body = bytes([0x03, 0x03], new Uint8Array(32).fill(1), [0x00], [0x00, 0x02, 0xc0, 0x2f], [0x01, 0x00], [0x00, sni.length], sni);
  const hs = bytes([0x01, 0, (body.length >> 8) & 255, body.length & 255], body);
  return bytes([0x16, 0x03, 0x01, (hs.length >> 8) & 255, hs.length & 255], hs);
}
