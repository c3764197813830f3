import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { concatBytes } from '../../src/util/bytes.js';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { Dir } from '../../src/contract/api.js';
import { harness, type Harness } from '../../test/helpers/dissect-harness.js';
import { ja4 } from '../../src/fingerprint/ja4.js';
import { ja4s } from '../../src/fingerprint/ja4s.js';
import { CryptoAdd, CryptoStream } from './crypto-stream.js';
import { decodePacketNumber } from './header.js';
import { quicDissector } from './index.js';
import { deriveInitialKeys, headerProtectionMask, QuicVersion, type KnownQuicVersion } from './initial-keys.js';
import { sealPayload } from '../../test/helpers/quic-seal.js';
import type { QuicRecord, QuicServerHelloRecord, QuicSessionRecord } from './types.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const ja4Dir = path.resolve(here, '../../../shared/conformance/ja4');
const pcapsDir = path.join(ja4Dir, 'pcaps');
const hx = (b: Uint8Array) => Buffer.from(b).toString('hex');
const unhex = (s: string) => new Uint8Array(Buffer.from(s, 'hex'));

// ---- a tiny UDP extractor (tshark at test time; nothing copied from the capture into the repo) --
interface Dgram { stream: number; sport: number; dport: number; ts: number; payload: Uint8Array }
function udpDatagrams(file: string): Dgram[] {
  const out = execFileSync('tshark', ['-r', file, '-Y', 'udp', '-T', 'fields', '-e', 'udp.stream', '-e', 'udp.srcport', '-e', 'udp.dstport', '-e', 'frame.time_epoch', '-e', 'udp.payload'], { maxBuffer: 256 << 20, stdio: ['ignore', 'pipe', 'ignore'] }).toString();
  const res: Dgram[] = [];
  for (const line of out.split('\n')) {
    const [s, sp, dp, t, p] = line.split('\t');
    if (!p) continue;
    res.push({ stream: Number(s), sport: Number(sp), dport: Number(dp), ts: Math.round(Number(t) * 1000), payload: unhex(p.replace(/:/g, '')) });
  }
  return res;
}

/** Feed every UDP stream that starts with a QUIC client Initial through a fresh dissector. */
function runQuicStreams(file: string): Map<number, { h: Harness; sport: number }> {
  const byStream = new Map<number, { h: Harness; sport: number; dead: boolean }>();
  for (const d of udpDatagrams(file)) {
    let st = byStream.get(d.stream);
    if (!st) {
      const client = quicDissector.probe.probe(d.payload, Dir.ToServer) === 'yes';
      st = { h: harness(quicDissector, quicDissector.defaultLimits, { srcPort: d.sport, dstPort: d.dport, transport: 'udp', startTs: d.ts }), sport: d.sport, dead: !client };
      byStream.set(d.stream, st);
    }
    if (st.dead) continue;
    const dir = d.sport === st.sport ? Dir.ToServer : Dir.ToClient;
    const v = st.h.feed(dir, d.payload, d.ts);
    if (v === 'done' || v === 'abort') st.dead = true;
  }
  for (const st of byStream.values()) st.h.end();
  const res = new Map<number, { h: Harness; sport: number }>();
  for (const [k, st] of byStream) if (st.h.records.length > 0 || st.h.confirmed) res.set(k, st);
  return res;
}

const GREASE = (v: number) => (v & 0x0f0f) === 0x0a0a && (v >> 8) === (v & 0xff);

interface ExpectedFlow { proto: string; stream: number; sport: number; ja4?: string; ja4s?: string; ja4s_r?: string; sni?: string }
async function expectedQuic(capture: string): Promise<ExpectedFlow[]> {
  const { readFile } = await import('node:fs/promises');
  const j = JSON.parse(await readFile(path.join(ja4Dir, 'expected', capture + '.json'), 'utf8')) as { flows: ExpectedFlow[] | null };
  return (j.flows ?? []).filter((f) => f.proto === 'quic');
}

function recs<K extends QuicRecord['kind']>(h: Harness, kind: K): Extract<QuicRecord, { kind: K }>[] {
  return (h.records as QuicRecord[]).filter((r) => r.kind === kind) as Extract<QuicRecord, { kind: K }>[];
}

describe('quic initial keys', () => {
  it('derives the RFC 9001 §A.1 keys for v1', () => {
    const k = deriveInitialKeys(QuicVersion.V1, unhex('8394c8f03e515708'));
    expect(hx(k.client.key)).toBe('1f369613dd76d5467730efcbe3b1a22d');
    expect(hx(k.client.iv)).toBe('fa044b2f42a3fd3b46fb255c');
    expect(hx(k.client.hp)).toBe('9f50449e04a0e810283a1e9933adedd2');
    expect(hx(k.server.key)).toBe('cf3a5331653c364c88f0f379b6067e37');
    expect(hx(k.server.iv)).toBe('0ac1493ca1905853b0bba03e');
    expect(hx(k.server.hp)).toBe('c206b8d9b9f0f37644430b490eeaa314');
  });
  it('derives the RFC 9369 §A.1 client keys for v2', () => {
    const k = deriveInitialKeys(QuicVersion.V2, unhex('8394c8f03e515708'));
    expect(hx(k.client.key)).toBe('8b1a0bc121284290a29e0971b5cd045d');
    expect(hx(k.client.iv)).toBe('91f73e2351d8fa91660e909f');
    expect(hx(k.client.hp)).toBe('45b95e15235d6f45a6b19cbcb0294ba9');
  });
  it('reconstructs packet numbers (RFC 9000 §A.3 example)', () => {
    expect(decodePacketNumber(0xa82f30ea, 0x9b32, 16)).toBe(0xa82f9b32);
    expect(decodePacketNumber(-1, 0, 8)).toBe(0);
    expect(decodePacketNumber(255, 2, 8)).toBe(258);
  });
});

describe('quic crypto stream', () => {
  it('reassembles out-of-order, overlapping pieces and bounds them', () => {
    const s = new CryptoStream(32, 4);
    expect(s.add(10, new Uint8Array([10, 11, 12]))).toBe(CryptoAdd.Ok);
    expect(s.contiguous).toBe(0);
    expect(s.add(0, Uint8Array.from({ length: 11 }, (_, i) => i))).toBe(CryptoAdd.Ok);
    expect(s.contiguous).toBe(13);
    expect(s.add(12, new Uint8Array([99]))).toBe(CryptoAdd.Conflict);
    expect([...s.view(0, 13)]).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]);
    expect(s.add(30, new Uint8Array(5))).toBe(CryptoAdd.Limit);
    expect(s.add(40, new Uint8Array(1))).toBe(CryptoAdd.Limit);
    const t = new CryptoStream(1000, 2);
    expect(t.add(10, new Uint8Array(1))).toBe(CryptoAdd.Ok);
    expect(t.add(20, new Uint8Array(1))).toBe(CryptoAdd.Ok);
    expect(t.add(30, new Uint8Array(1))).toBe(CryptoAdd.TooManyRanges);
  });
});

describe('quic conformance captures', () => {
  const cases: [string, number][] = [
    ['quic-tls-handshake.pcapng', 1],
    ['quic-with-several-tls-frames.pcapng', 1],
    ['chrome-cloudflare-quic-with-secrets.pcapng', 1],
    ['tls-handshake.pcapng', 20],
    ['tls-sni.pcapng', 20],
    ['tls3.pcapng', 6],
    ['ssh2.pcapng', 2],
  ];
  for (const [capture, flows] of cases) {
    it(`${capture}: every QUIC flow yields the expected SNI, JA4 and JA4S`, async () => {
      const file = path.join(pcapsDir, capture);
      expect(existsSync(file)).toBe(true);
      const got = runQuicStreams(file);
      const want = await expectedQuic(capture);
      expect(want.length).toBe(flows);
      for (const w of want) {
        const st = got.get(w.stream);
        expect(st, `stream ${w.stream}`).toBeDefined();
        const ch = recs(st!.h, 'quic.client_hello');
        expect(ch.length).toBe(1);
        const hello = ch[0]!.hello;
        expect(hello.sni).toBe(w.sni);
        expect(ja4(hello, 'q')).toBe(w.ja4);
        expect(hello.extensions).toContain(0x39);
        expect(ch[0]!.version).toBe(QuicVersion.V1);
        if (w.ja4s !== undefined) {
          const sh = recs(st!.h, 'quic.server_hello');
          expect(sh.length).toBe(1);
          expect(ja4s(sh[0]!.hello, 'q').ja4s).toBe(w.ja4s);
          expect(sh[0]!.hello.selectedVersion).toBe(0x0304);
        }
        expect(st!.h.events.filter((e) => e.id === 'quic.decrypt_failed' && e.dir === Dir.ToServer)).toEqual([]);
      }
      // No flow beyond the expected ones produced a ClientHello.
      let withHello = 0;
      for (const st of got.values()) if (recs(st.h, 'quic.client_hello').length > 0) withHello++;
      expect(withHello).toBe(flows);
    });
  }

  it('quic-tls-handshake.pcapng: the shuffled CRYPTO frames rebuild the full ClientHello', () => {
    const got = runQuicStreams(path.join(pcapsDir, 'quic-tls-handshake.pcapng'));
    const h = got.get(0)!.h;
    const ch = recs(h, 'quic.client_hello')[0]!;
    expect(ch.dcid).toMatch(/^[0-9a-f]{16,40}$/);
    expect(ch.hello.alpn[0]).toBe('h3');
    expect(ch.hello.cipherSuites.filter((c) => !GREASE(c))).toEqual([0x1301, 0x1302, 0x1303]);
    const summary = quicDissector.summarize(h.records as QuicRecord[]);
    expect(summary.quicVersionName).toBe('1');
    expect(summary.version).toBe(null); // no server Initial in this capture
    expect(summary.established).toBe(false);
    expect(summary.sni).toBe('www.google.com');
    expect(summary.clientHellos.length).toBe(1);
  });

  it('chrome-cloudflare: server Initial ServerHello extensions are 0033,002b (JA4S c = 234ea6891581)', () => {
    const got = runQuicStreams(path.join(pcapsDir, 'chrome-cloudflare-quic-with-secrets.pcapng'));
    const h = got.get(0)!.h;
    const sh = recs(h, 'quic.server_hello')[0] as QuicServerHelloRecord;
    expect(sh.hello.extensions).toEqual([0x0033, 0x002b]);
    expect(sh.hello.alpn).toBeNull();
    const sess = recs(h, 'quic.session') as QuicSessionRecord[];
    expect(sess.length).toBe(1);
    expect(sess[0]!.decryptedPackets[0]).toBeGreaterThanOrEqual(1);
    expect(sess[0]!.decryptedPackets[1]).toBeGreaterThanOrEqual(1);
  });
});

// ---- synthetic Initial packets (our own encoder, RFC 9001 §5) --------------------------------

function varint2(n: number): number[] { return [0x40 | (n >> 8), n & 0xff]; }
function u16(n: number): number[] { return [(n >> 8) & 0xff, n & 0xff]; }
function u24(n: number): number[] { return [(n >> 16) & 0xff, (n >> 8) & 0xff, n & 0xff]; }
function ascii(s: string): number[] { return [...Buffer.from(s, 'latin1')]; }

/** A small TLS 1.3 ClientHello (handshake header included) for QUIC. */
function clientHello(sni: string): Uint8Array {
  const ext = (type: number, body: number[]) => [...u16(type), ...u16(body.length), ...body];
  const name = ascii(sni);
  const exts = [
    ...ext(0x0000, [...u16(name.length + 3), 0, ...u16(name.length), ...name]),
    ...ext(0x0010, [...u16(3), 2, ...ascii('h3')]),
    ...ext(0x002b, [2, 0x03, 0x04]),
    ...ext(0x000d, [...u16(4), 0x04, 0x03, 0x08, 0x04]),
    ...ext(0x0039, [0x01, 0x02, 0x40, 0x64]),
  ];
  const body = [0x03, 0x03, ...new Array(32).fill(7), 0, ...u16(6), 0x13, 0x01, 0x13, 0x02, 0x13, 0x03, 1, 0, ...u16(exts.length), ...exts];
  return Uint8Array.from([1, ...u24(body.length), ...body]);
}

function cryptoFrame(offset: number, data: Uint8Array): number[] {
  return [0x06, ...varint2(offset), ...varint2(data.length), ...data];
}

interface InitialOpts { version: KnownQuicVersion; dcid: Uint8Array; scid: Uint8Array; keyCid?: Uint8Array; pn: number; frames: number[]; server?: boolean; corruptTag?: boolean; padTo?: number }
function initialPacket(o: InitialOpts): Uint8Array {
  const keys = deriveInitialKeys(o.version, o.keyCid ?? o.dcid);
  const pk = o.server === true ? keys.server : keys.client;
  const typeBits = o.version === QuicVersion.V2 ? 1 : 0;
  const pnLen = 2;
  const payload = [...o.frames];
  while (payload.length < (o.padTo ?? 40)) payload.push(0); // PADDING
  const length = pnLen + payload.length + 16;
  const header = Uint8Array.from([0xc0 | (typeBits << 4) | (pnLen - 1), ...[(o.version >>> 24) & 0xff, (o.version >>> 16) & 0xff, (o.version >>> 8) & 0xff, o.version & 0xff], o.dcid.length, ...o.dcid, o.scid.length, ...o.scid, 0, ...varint2(length), ...u16(o.pn)]);
  const sealed = sealPayload(pk, o.pn, header, Uint8Array.from(payload));
  if (o.corruptTag === true) sealed[sealed.length - 1]! ^= 1;
  const pkt = new Uint8Array(header.length + sealed.length);
  pkt.set(header);
  pkt.set(sealed, header.length);
  const pnOffset = header.length - pnLen;
  const mask = headerProtectionMask(pk.hp, pkt.subarray(pnOffset + 4, pnOffset + 20));
  pkt[0]! ^= mask[0]! & 0x0f;
  for (let i = 0; i < pnLen; i++) pkt[pnOffset + i]! ^= mask[1 + i]!;
  return pkt;
}

function serverHello(): Uint8Array {
  const exts = [...u16(0x002b), ...u16(2), 0x03, 0x04, ...u16(0x0033), ...u16(4), 0x00, 0x1d, 0x00, 0x00];
  const body = [0x03, 0x03, ...new Array(32).fill(9), 0, 0x13, 0x01, 0, ...u16(exts.length), ...exts];
  return Uint8Array.from([2, ...u24(body.length), ...body]);
}

const DCID = unhex('0011223344556677');
const SCID = unhex('a1a2a3a4');
const SSCID = unhex('b1b2b3b4b5');
const concat = (...parts: Uint8Array[]) => concatBytes(parts);

describe('quic synthetic Initials', () => {
  for (const version of [QuicVersion.V1, QuicVersion.V2] as const) {
    it(`v${version === 1 ? 1 : 2}: ClientHello split over two Initial packets, fed in reverse order, then the server Initial`, () => {
      const ch = clientHello('split.example.test');
      const cut = 50;
      const p0 = initialPacket({ version, dcid: DCID, scid: SCID, pn: 0, frames: cryptoFrame(0, ch.subarray(0, cut)), padTo: 1200 });
      const p1 = initialPacket({ version, dcid: DCID, scid: SCID, pn: 1, frames: cryptoFrame(cut, ch.subarray(cut)), padTo: 1200 });
      expect(quicDissector.probe.probe(p1, Dir.ToServer)).toBe('yes');
      expect(quicDissector.probe.probe(p1, Dir.ToClient)).toBe('no');
      const h = harness(quicDissector);
      expect(h.feed(Dir.ToServer, p1, 1)).toBe('more');
      expect(recs(h, 'quic.client_hello').length).toBe(0);
      expect(h.feed(Dir.ToServer, p0, 2)).toBe('more');
      const chr = recs(h, 'quic.client_hello');
      expect(chr.length).toBe(1);
      expect(chr[0]!.hello.sni).toBe('split.example.test');
      expect(chr[0]!.version).toBe(version);
      expect(chr[0]!.dcid).toBe(hx(DCID));
      expect(chr[0]!.ts).toBe(2);
      expect(h.confirmed).toBe(true);
      // Server Initial (keys from the client's original DCID) coalesced with a Handshake packet.
      const sp = initialPacket({ version, dcid: SCID, scid: SSCID, keyCid: DCID, pn: 0, frames: [0x02, 0, 0, 0, 0, ...cryptoFrame(0, serverHello())], server: true });
      const hsType = version === QuicVersion.V2 ? 3 : 2;
      const fakeHandshake = Uint8Array.from([0xc0 | (hsType << 4), (version >>> 24) & 0xff, (version >>> 16) & 0xff, (version >>> 8) & 0xff, version & 0xff, SCID.length, ...SCID, SSCID.length, ...SSCID, ...varint2(30), ...new Array(30).fill(0x55)]);
      expect(h.feed(Dir.ToClient, concat(sp, fakeHandshake), 3)).toBe('done');
      const shr = recs(h, 'quic.server_hello');
      expect(shr.length).toBe(1);
      expect(shr[0]!.hello.cipherSuite).toBe(0x1301);
      expect(shr[0]!.scid).toBe(hx(SSCID));
      const sess = recs(h, 'quic.session')[0]!;
      expect(sess.version).toBe(version);
      expect(sess.decryptedPackets).toEqual([2, 1]);
      expect(h.events).toEqual([]);
    });
  }

  it('ClientHello split over coalesced Initials in one datagram', () => {
    const ch = clientHello('coalesced.example.test');
    const a = initialPacket({ version: QuicVersion.V1, dcid: DCID, scid: SCID, pn: 0, frames: cryptoFrame(30, ch.subarray(30)) });
    const b = initialPacket({ version: QuicVersion.V1, dcid: DCID, scid: SCID, pn: 1, frames: cryptoFrame(0, ch.subarray(0, 30)) });
    const h = harness(quicDissector);
    h.feed(Dir.ToServer, concat(a, b, new Uint8Array(20)));
    expect(recs(h, 'quic.client_hello')[0]!.hello.sni).toBe('coalesced.example.test');
    expect(h.events.map((e) => e.id)).toEqual(['quic.trailing_bytes']);
  });

  it('after a Retry the client Initial keys come from the new DCID', () => {
    const h = harness(quicDissector);
    const first = initialPacket({ version: QuicVersion.V1, dcid: DCID, scid: SCID, pn: 0, frames: [0x01], padTo: 1200 });
    h.feed(Dir.ToServer, first);
    const newCid = unhex('cafebabecafebabe');
    const retry = Uint8Array.from([0xf0, 0, 0, 0, 1, SCID.length, ...SCID, newCid.length, ...newCid, ...new Array(24).fill(0x33)]);
    h.feed(Dir.ToClient, retry);
    const again = initialPacket({ version: QuicVersion.V1, dcid: newCid, scid: SCID, pn: 1, frames: cryptoFrame(0, clientHello('retry.example.test')), padTo: 1200 });
    h.feed(Dir.ToServer, again);
    expect(recs(h, 'quic.client_hello')[0]!.hello.sni).toBe('retry.example.test');
    expect(recs(h, 'quic.client_hello')[0]!.dcid).toBe(hx(newCid));
    expect(h.events.map((e) => e.id)).toEqual(['quic.retry']);
    h.end();
    expect(recs(h, 'quic.session')[0]!.retry).toBe(true);
  });

  it('compatible version negotiation (RFC 9368): v1 client Initial, v2 server Initial', () => {
    const h = harness(quicDissector);
    h.feed(Dir.ToServer, initialPacket({ version: QuicVersion.V1, dcid: DCID, scid: SCID, pn: 0, frames: cryptoFrame(0, clientHello('vn.example.test')), padTo: 1200 }));
    expect(h.feed(Dir.ToClient, initialPacket({ version: QuicVersion.V2, dcid: SCID, scid: SSCID, keyCid: DCID, pn: 0, frames: cryptoFrame(0, serverHello()), server: true }))).toBe('done');
    expect(recs(h, 'quic.server_hello')[0]!.version).toBe(QuicVersion.V2);
    const sess = recs(h, 'quic.session')[0]!;
    expect(sess.version).toBe(QuicVersion.V1);
    expect(sess.serverVersion).toBe(QuicVersion.V2);
    expect(h.events).toEqual([]);
  });

  it('raises quic.decrypt_failed for a bad tag and never emits a hello', () => {
    const h = harness(quicDissector);
    h.feed(Dir.ToServer, initialPacket({ version: QuicVersion.V1, dcid: DCID, scid: SCID, pn: 0, frames: cryptoFrame(0, clientHello('x.test')), corruptTag: true, padTo: 1200 }));
    expect(h.events.map((e) => e.id)).toContain('quic.decrypt_failed');
    expect(recs(h, 'quic.client_hello')).toEqual([]);
  });

  it('every truncation of a real Initial gives an event, never a throw or a record', () => {
    const pkt = initialPacket({ version: QuicVersion.V1, dcid: DCID, scid: SCID, pn: 0, frames: cryptoFrame(0, clientHello('prefix.test')), padTo: 300 });
    for (let n = 1; n < pkt.length; n++) {
      const h = harness(quicDissector);
      const v = h.feed(Dir.ToServer, pkt.subarray(0, n));
      expect(recs(h, 'quic.client_hello').length).toBe(0);
      expect(h.events.length, `prefix ${n}`).toBeGreaterThan(0);
      expect(['more', 'abort']).toContain(v);
    }
  });

  it('rejects unknown versions and short headers before confirmation (violation)', () => {
    const h = harness(quicDissector);
    expect(h.feed(Dir.ToServer, Uint8Array.from([0xc0, 0xfa, 0xce, 0xb0, 0x0c, 8, ...DCID, 0, 0, 0x41, 0]))).toBe('abort');
    expect(h.violations).toEqual(['quic.unknown_version']);
    const h2 = harness(quicDissector);
    expect(h2.feed(Dir.ToServer, Uint8Array.from([0x40, 1, 2, 3]))).toBe('abort');
    expect(h2.violations).toEqual(['quic.bad_header']);
    expect(quicDissector.probe.probe(Uint8Array.from([0xc0, 0, 0, 0, 1, 4, 1, 2, 3, 4]), Dir.ToServer)).toBe('no'); // DCID < 8
    expect(quicDissector.probe.probe(Uint8Array.from([0xc0, 0, 0]), Dir.ToServer)).toBe('unsure');
  });

  it('limits: CRYPTO beyond maxCryptoBytes and too many Initials', () => {
    const ch = clientHello('limit.test');
    const h = harness(quicDissector, { ...quicDissector.defaultLimits, maxCryptoBytes: 64 });
    h.feed(Dir.ToServer, initialPacket({ version: QuicVersion.V1, dcid: DCID, scid: SCID, pn: 0, frames: cryptoFrame(0, ch), padTo: 1200 }));
    expect(h.events.map((e) => e.id)).toContain('quic.limit.crypto');
    expect(recs(h, 'quic.client_hello')).toEqual([]);
    const h2 = harness(quicDissector, { ...quicDissector.defaultLimits, maxInitialPacketsCount: 2 });
    for (let pn = 0; pn < 4; pn++) h2.feed(Dir.ToServer, initialPacket({ version: QuicVersion.V1, dcid: DCID, scid: SCID, pn, frames: [0x01], padTo: 1200 }));
    expect(h2.events.map((e) => e.id)).toEqual(['quic.limit.initial_packets']);
  });

  it('server Initial without a client Initial raises quic.no_client_initial', () => {
    const h = harness(quicDissector);
    h.feed(Dir.ToClient, initialPacket({ version: QuicVersion.V1, dcid: SCID, scid: SSCID, keyCid: DCID, pn: 0, frames: cryptoFrame(0, serverHello()), server: true }));
    expect(h.events.map((e) => e.id)).toEqual(['quic.no_client_initial']);
  });

  it('seeded mutations of real datagrams never throw and never emit a hello with a different SNI', () => {
    const dg = udpDatagrams(path.join(pcapsDir, 'chrome-cloudflare-quic-with-secrets.pcapng')).filter((d) => d.stream === 0);
    let seed = 7;
    const rnd = () => { seed = (seed * 1103515245 + 12345) >>> 0; return seed / 4294967296; };
    for (let round = 0; round < 150; round++) {
      const h = harness(quicDissector);
      const client = dg[0]!.sport;
      for (const d of dg.slice(0, 8)) {
        const m = Uint8Array.from(d.payload);
        const flips = 1 + Math.floor(rnd() * 4);
        // Mostly the header (where parsing decisions are made), sometimes anywhere.
        for (let i = 0; i < flips; i++) m[Math.floor(rnd() * (rnd() < 0.7 ? Math.min(60, m.length) : m.length))]! ^= 1 << Math.floor(rnd() * 8);
        const cut = rnd() < 0.2 ? Math.floor(rnd() * m.length) : m.length;
        h.feed(d.sport === client ? Dir.ToServer : Dir.ToClient, m.subarray(0, cut));
      }
      h.end();
      for (const r of recs(h, 'quic.client_hello')) expect(r.hello.sni).toBe('cloudflare-quic.com');
    }
  });
});
