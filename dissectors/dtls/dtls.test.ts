import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { Dir } from '../../src/contract/api.js';
import { harness, splits, type Harness } from '../../test/helpers/dissect-harness.js';
import { ja4 } from '../../src/fingerprint/ja4.js';
import { dtlsDissector } from './index.js';
import type { DtlsRecord } from './types.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const conformance = path.resolve(here, '../../../shared/conformance/ja4/pcaps/dtls-udp.notest.cap');
const ownCapture = path.resolve(here, '../../pcaps/tls/dtls12-openssl.pcap');
const unhex = (s: string) => new Uint8Array(Buffer.from(s, 'hex'));

interface Dgram { sport: number; dport: number; ts: number; payload: Uint8Array }
/** UDP payloads of one capture, via tshark at test time. */
function udpDatagrams(file: string, filter: string): Dgram[] {
  const out = execFileSync('tshark', ['-r', file, '-Y', filter, '-T', 'fields', '-e', 'udp.srcport', '-e', 'udp.dstport', '-e', 'frame.time_epoch', '-e', 'udp.payload'], { stdio: ['ignore', 'pipe', 'ignore'] }).toString();
  return out.split('\n').filter((l) => l.includes('\t')).map((l) => {
    const [sp, dp, t, p] = l.split('\t');
    return { sport: Number(sp), dport: Number(dp), ts: Math.round(Number(t) * 1000), payload: unhex(p!.replace(/:/g, '')) };
  });
}

function run(dgrams: Dgram[], h: Harness = harness(dtlsDissector)): Harness {
  const client = dgrams[0]!.sport;
  for (const d of dgrams) {
    const v = h.feed(d.sport === client ? Dir.ToServer : Dir.ToClient, d.payload, d.ts);
    if (v === 'done' || v === 'abort') break;
  }
  h.end();
  return h;
}

function recs<K extends DtlsRecord['kind']>(h: Harness, kind: K): Extract<DtlsRecord, { kind: K }>[] {
  return (h.records as DtlsRecord[]).filter((r) => r.kind === kind) as Extract<DtlsRecord, { kind: K }>[];
}

describe('dtls dissector', () => {
  it('dtls-udp.notest.cap (DTLS 1.0): parses the ClientHello, ServerHello and the server certificate', () => {
    const dg = udpDatagrams(conformance, 'udp.port==6000');
    expect(dtlsDissector.probe.probe(dg[0]!.payload, Dir.ToServer)).toBe('yes');
    const h = run(dg);
    expect(h.confirmed).toBe(true);
    const ch = recs(h, 'dtls.client_hello');
    expect(ch.length).toBe(1);
    const hello = ch[0]!.hello;
    expect(ch[0]!.recordVersion).toBe(0xfeff);
    expect(hello.legacyVersion).toBe(0xfeff);
    expect(hello.cookieLength).toBe(0);
    expect(hello.cipherSuites.length).toBeGreaterThan(10);
    expect(hello.cipherSuites).toContain(0xc014);
    expect(hello.compressionMethods).toContain(0);
    expect(hello.bodyBytes).toBe(139); // fragment_length 139 (tshark), one fragment
    const sh = recs(h, 'dtls.server_hello');
    expect(sh.length).toBe(1);
    expect(hello.cipherSuites).toContain(sh[0]!.hello.cipherSuite);
    expect(h.certs.length).toBe(1);
    expect(h.certs[0]!.der[0]).toBe(0x30); // DER SEQUENCE
    const sess = recs(h, 'dtls.session')[0]!;
    expect(sess.version).toBe(0xfeff);
    expect(sess.ccsSeen).toEqual([true, true]);
    expect(sess.pastHandshake).toEqual([true, true]);
    expect(sess.messages[0]).toEqual([1, 16]);
    expect(sess.messages[1]).toEqual([2, 11, 14, 4]); // NewSessionTicket precedes the CCS, still epoch 0
    const sum = dtlsDissector.summarize(h.records as DtlsRecord[]);
    expect(sum.transport).toBe('d');
    expect(sum.serverCertCount).toBe(1);
    expect(sum.established).toBe(true);
    expect(h.events).toEqual([]);
    // No reference JA4 exists for DTLS (SPEC-NOTES §1.12): check the a-part from what tshark shows.
    const ext = hello.extensions.filter((e) => (e & 0x0f0f) !== 0x0a0a).length;
    expect(ja4(hello, 'd')).toMatch(new RegExp(`^dd1i${String(hello.cipherSuites.length).padStart(2, '0')}${String(ext).padStart(2, '0')}00_[0-9a-f]{12}_[0-9a-f]{12}$`));
  });

  it('own openssl DTLS 1.2 capture: cookie exchange, fragmented Certificate, SNI', () => {
    const dg = udpDatagrams(ownCapture, 'udp');
    const h = run(dg);
    const ch = recs(h, 'dtls.client_hello');
    expect(ch.length).toBe(2); // before and after HelloVerifyRequest
    expect(ch[0]!.hello.sni).toBe('dtls.example.test');
    expect(ch[0]!.hello.cookieLength).toBe(0);
    expect(ch[1]!.hello.cookieLength).toBeGreaterThan(0);
    expect(ch[1]!.messageSeq).toBe(1);
    expect(ja4(ch[0]!.hello, 'd')).toMatch(/^dd2d\d{4}00_[0-9a-f]{12}_[0-9a-f]{12}$/);
    expect(ja4(ch[1]!.hello, 'd')).toBe(ja4(ch[0]!.hello, 'd')); // the cookie does not enter JA4
    expect(ch[0]!.hello.supportedVersions.length === 0 || !ch[0]!.hello.supportedVersions.includes(0xfefc)).toBe(true);
    expect(h.events.map((e) => e.id)).toContain('dtls.hello_verify_request');
    const sh = recs(h, 'dtls.server_hello')[0]!;
    expect(sh.hello.legacyVersion).toBe(0xfefd);
    // The Certificate (leaf + intermediate) came in 4 fragments at MTU 400.
    expect(h.certs.map((c) => c.index)).toEqual([0, 1]);
    expect(recs(h, 'dtls.certificate')[0]!.count).toBe(2);
    expect(recs(h, 'dtls.session')[0]!.helloVerifyRequest).toBe(true);
  });

  // Synthetic: one ClientHello taken from the conformance capture, re-fragmented.
  const first = udpDatagrams(conformance, 'udp.port==6000')[0]!.payload;
  const body = first.subarray(13 + 12); // the single fragment is the whole body
  function fragRecord(seq: number, total: number, off: number, frag: Uint8Array, msgType = 1): Uint8Array {
    const len = 12 + frag.length;
    const r = new Uint8Array(13 + len);
    r.set([22, 0xfe, 0xff, 0, 0, 0, 0, 0, 0, 0, seq, len >> 8, len & 0xff]);
    r.set([msgType, total >> 16, (total >> 8) & 0xff, total & 0xff, 0, seq, off >> 16, (off >> 8) & 0xff, off & 0xff, frag.length >> 16, (frag.length >> 8) & 0xff, frag.length & 0xff], 13);
    r.set(frag, 25);
    return r;
  }

  it('reassembles a ClientHello from out-of-order, overlapping fragments in separate datagrams', () => {
    const h = harness(dtlsDissector);
    const n = body.length;
    h.feed(Dir.ToServer, fragRecord(0, n, 60, body.subarray(60)));
    expect(recs(h, 'dtls.client_hello')).toEqual([]);
    h.feed(Dir.ToServer, fragRecord(0, n, 30, body.subarray(30, 80)));
    h.feed(Dir.ToServer, fragRecord(0, n, 0, body.subarray(0, 31)));
    const ch = recs(h, 'dtls.client_hello');
    expect(ch.length).toBe(1);
    const whole = run([{ sport: 1, dport: 2, ts: 0, payload: first }]);
    expect(ch[0]!.hello).toEqual(recs(whole, 'dtls.client_hello')[0]!.hello);
    // A retransmission of the whole message is recognised, not parsed twice.
    h.feed(Dir.ToServer, first);
    expect(recs(h, 'dtls.client_hello').length).toBe(1);
    expect(h.events.map((e) => e.id)).toEqual(['dtls.retransmission']);
  });

  it('every split of the ClientHello into two fragments gives the same hello', () => {
    const ref = recs(run([{ sport: 1, dport: 2, ts: 0, payload: first }]), 'dtls.client_hello')[0]!.hello;
    let count = 0;
    for (const [a, b] of splits(body)) {
      const h = harness(dtlsDissector);
      // both fragments in one datagram (two records), second one first
      const r2 = fragRecord(0, body.length, a.length, b);
      const r1 = fragRecord(0, body.length, 0, a);
      const dg = new Uint8Array(r1.length + r2.length);
      dg.set(r2);
      dg.set(r1, r2.length);
      h.feed(Dir.ToServer, dg);
      expect(recs(h, 'dtls.client_hello')[0]?.hello).toEqual(ref);
      count++;
    }
    expect(count).toBe(body.length - 1);
  });

  it('every truncated datagram is an event (bad record) or an incomplete message, never a record', () => {
    for (let n = 1; n < first.length; n++) {
      const h = harness(dtlsDissector);
      const v = h.feed(Dir.ToServer, first.subarray(0, n));
      expect(recs(h, 'dtls.client_hello')).toEqual([]);
      if (n < 13 + 12) expect(v).toBe('abort');
    }
  });

  it('malformed: bad version, length past the datagram, fragment past the message', () => {
    const h1 = harness(dtlsDissector);
    const bad = Uint8Array.from(first);
    bad[1] = 0x03;
    expect(h1.feed(Dir.ToServer, bad)).toBe('abort');
    expect(h1.violations).toEqual(['dtls.bad_version']);
    expect(dtlsDissector.probe.probe(bad, Dir.ToServer)).toBe('no');
    const h2 = harness(dtlsDissector);
    const long = Uint8Array.from(first);
    long[12] = (long[12] as number) + 1;
    h2.feed(Dir.ToServer, long);
    expect(h2.violations).toEqual(['dtls.bad_record']);
    const h3 = harness(dtlsDissector);
    h3.feed(Dir.ToServer, fragRecord(0, 10, 5, new Uint8Array(8)));
    expect(h3.violations).toEqual(['dtls.malformed_handshake']);
  });

  it('limits: maxHandshakeBytes and maxFragmentsCount', () => {
    const h = harness(dtlsDissector, { ...dtlsDissector.defaultLimits, maxHandshakeBytes: 64 });
    h.feed(Dir.ToServer, first);
    expect(h.events.map((e) => e.id)).toEqual(['dtls.limit.handshake']);
    expect(recs(h, 'dtls.client_hello')).toEqual([]);
    const h2 = harness(dtlsDissector, { ...dtlsDissector.defaultLimits, maxFragmentsCount: 2 });
    for (let off = 0; off < 40; off += 10) h2.feed(Dir.ToServer, fragRecord(0, body.length, off, body.subarray(off, off + 5)));
    expect(h2.events.map((e) => e.id)).toContain('dtls.limit.fragments');
  });

  it('DTLS 1.3: plaintext ClientHello (supported_versions 0xfefc) then unified-header ciphertext', () => {
    const u16 = (n: number) => [(n >> 8) & 0xff, n & 0xff];
    const ext = (t: number, b: number[]) => [...u16(t), ...u16(b.length), ...b];
    const name = [...Buffer.from('dtls13.example.test')];
    const exts = [
      ...ext(0x0000, [...u16(name.length + 3), 0, ...u16(name.length), ...name]),
      ...ext(0x002b, [4, 0xfe, 0xfc, 0xfe, 0xfd]),
      ...ext(0x000d, [...u16(2), 0x04, 0x03]),
    ];
    const chBody = Uint8Array.from([0xfe, 0xfd, ...new Array(32).fill(1), 0, 0, ...u16(2), 0x13, 0x01, 1, 0, ...u16(exts.length), ...exts]);
    const rec = fragRecord(0, chBody.length, 0, chBody);
    rec[2] = 0xfd; // legacy_record_version 0xfefd (RFC 9147 §5.3)
    expect(dtlsDissector.probe.probe(rec, Dir.ToServer)).toBe('yes');
    const h = harness(dtlsDissector);
    h.feed(Dir.ToServer, rec);
    const ch = recs(h, 'dtls.client_hello')[0]!;
    expect(ch.hello.sni).toBe('dtls13.example.test');
    expect(ch.hello.supportedVersions).toEqual([0xfefc, 0xfefd]);
    expect(ja4(ch.hello, 'd').startsWith('dd3d0103')).toBe(true);
    // Unified header (0b001CSLEE): the client switched to ciphertext.
    h.feed(Dir.ToServer, Uint8Array.from([0x2c, 0x01, 0x00, 0x10, ...new Array(16).fill(0xee)]));
    h.feed(Dir.ToClient, Uint8Array.from([0x2c, 0x01, 0x00, 0x10, ...new Array(16).fill(0xee)]));
    expect(h.verdicts[h.verdicts.length - 1]).toBe('done');
    expect(h.payloadStarts).toEqual([rec.length, 0]);
    expect(recs(h, 'dtls.session')[0]!.pastHandshake).toEqual([true, true]);
  });

  it('seeded mutations of the captures never throw', () => {
    const sets = [udpDatagrams(conformance, 'udp.port==6000'), udpDatagrams(ownCapture, 'udp')];
    let seed = 11;
    const rnd = () => { seed = (seed * 1103515245 + 12345) >>> 0; return seed / 4294967296; };
    let hellos = 0;
    for (let round = 0; round < 300; round++) {
      const dg = sets[round % 2]!;
      const h = harness(dtlsDissector);
      const client = dg[0]!.sport;
      for (const d of dg) {
        const m = Uint8Array.from(d.payload);
        for (let i = 0; i < 1 + Math.floor(rnd() * 3); i++) m[Math.floor(rnd() * Math.min(m.length, 80))]! ^= 1 << Math.floor(rnd() * 8);
        h.feed(d.sport === client ? Dir.ToServer : Dir.ToClient, m.subarray(0, rnd() < 0.2 ? Math.floor(rnd() * m.length) : m.length));
      }
      h.end();
      hellos += recs(h, 'dtls.client_hello').length;
      expect(recs(h, 'dtls.session').length).toBe(1);
    }
    expect(hellos).toBeGreaterThan(0); // some mutations leave the hello intact
  });
});
