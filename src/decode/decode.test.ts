import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { decode } from './decode.js';
import { DecoderEvent } from './events.js';
import { FragmentTable } from './fragments.js';
import { DecodeStatus, PacketMeta, TcpFlag, TEREDO_PRESENT, TUNNEL_NAMES, TunnelType, addrToString, addrText } from './packet-meta.js';

// ---- packet builders (plain number arrays) ---------------------------------------------------

const be16 = (v: number): number[] => [(v >>> 8) & 255, v & 255];
const be32 = (v: number): number[] => [(v >>> 24) & 255, (v >>> 16) & 255, (v >>> 8) & 255, v & 255];
const bytes = (n: number, seed = 0): number[] => Array.from({ length: n }, (_, i) => (i * 7 + seed) & 255);

function eth(etype: number, payload: number[]): number[] {
  return [2, 0, 0, 0, 0, 1, 2, 0, 0, 0, 0, 2, ...be16(etype), ...payload];
}
function tag(tci: number, etype: number): number[] {
  return [...be16(tci), ...be16(etype)];
}
interface Ip4Opts { id?: number; mf?: boolean; fragOff?: number; ttl?: number; options?: number[]; totalLen?: number }
function ip4(src: number[], dst: number[], proto: number, payload: number[], o: Ip4Opts = {}): number[] {
  const opt = o.options ?? [];
  const hl = 20 + opt.length;
  const tot = o.totalLen ?? hl + payload.length;
  const fo = (o.mf === true ? 0x2000 : 0) | ((o.fragOff ?? 0) >> 3);
  return [0x40 | (hl >> 2), 0, ...be16(tot), ...be16(o.id ?? 1), ...be16(fo), o.ttl ?? 64, proto, 0, 0, ...src, ...dst, ...opt, ...payload];
}
function ip6(src: number[], dst: number[], nh: number, payload: number[], hop = 64): number[] {
  return [0x60, 0, 0, 0, ...be16(payload.length), nh, hop, ...src, ...dst, ...payload];
}
/** A generic IPv6 extension header ((len+1)*8 bytes). */
function ext6(nh: number, len8: number): number[] {
  return [nh, len8, ...bytes(6 + len8 * 8)];
}
function tcp(sport: number, dport: number, payload: number[], o: { seq?: number; ack?: number; flags?: number; win?: number; opts?: number[] } = {}): number[] {
  const opts = o.opts ?? [];
  const hl = 20 + opts.length;
  return [...be16(sport), ...be16(dport), ...be32(o.seq ?? 1000), ...be32(o.ack ?? 0), (hl >> 2) << 4, o.flags ?? TcpFlag.ACK, ...be16(o.win ?? 512), 0, 0, 0, 0, ...opts, ...payload];
}
function udp(sport: number, dport: number, payload: number[]): number[] {
  return [...be16(sport), ...be16(dport), ...be16(8 + payload.length), 0, 0, ...payload];
}

const A = [10, 0, 0, 1];
const B = [10, 0, 0, 2];
const C = [192, 168, 1, 1];
const D = [192, 168, 1, 2];
const A6 = [0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1];
const B6 = [0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2];

function run(frame: number[], link = 1, meta = new PacketMeta(), frags = new FragmentTable(), tsMs = 0): PacketMeta {
  // place the frame at a non-zero offset inside a larger buffer, as a batch does
  const buf = new Uint8Array(frame.length + 20);
  buf.set(frame, 7);
  meta.tsMs = tsMs;
  decode(buf, 7, frame.length, link, meta, frags);
  return meta;
}
function tuple(m: PacketMeta): string {
  const v = m.ipVersion as 4 | 6;
  return `${addrToString(v, m.src0, m.src1, m.src2, m.src3)}:${m.sport} > ${addrToString(v, m.dst0, m.dst1, m.dst2, m.dst3)}:${m.dport}/${m.proto}`;
}

// ---- tests ----------------------------------------------------------------------------------

describe('Ethernet / IPv4 / TCP', () => {
  it('fills every field; Ethernet padding is not payload', () => {
    const opts = [2, 4, 5, 0xb4, 1, 3, 3, 7]; // MSS 1460, NOP, WS 7
    const seg = tcp(51000, 443, [0xaa, 0xbb], { seq: 0xfffffff0, ack: 0x80000001, flags: TcpFlag.SYN | TcpFlag.ACK, win: 65535, opts });
    const frame = eth(0x0800, ip4(A, B, 6, seg, { ttl: 57, options: [1, 1, 1, 0] }));
    while (frame.length < 60) frame.push(0); // padding
    frame.push(0xde, 0xad, 0xbe, 0xef); // FCS-like trailer
    const m = run(frame);
    expect(m.status).toBe(DecodeStatus.Ok);
    expect(m.event).toBe('');
    expect(tuple(m)).toBe('10.0.0.1:51000 > 10.0.0.2:443/6');
    expect(m.ipVersion).toBe(4);
    expect(m.ipOff).toBe(7 + 14);
    expect(m.ipLen).toBe(24 + 28 + 2);
    expect(m.ttl).toBe(57);
    expect(m.l4Off).toBe(7 + 14 + 24);
    expect(m.seq).toBe(0xfffffff0);
    expect(m.ack).toBe(0x80000001);
    expect(m.tcpFlags).toBe(TcpFlag.SYN | TcpFlag.ACK);
    expect(m.window).toBe(65535);
    expect(m.tcpOptOff).toBe(m.l4Off + 20);
    expect(m.tcpOptLen).toBe(8);
    expect(Array.from(m.data.subarray(m.tcpOptOff, m.tcpOptOff + m.tcpOptLen))).toEqual(opts);
    expect(m.payloadOff).toBe(m.l4Off + 28);
    expect(m.payloadLen).toBe(2);
    expect(m.payloadWireLen).toBe(2);
    expect(Array.from(m.data.subarray(m.payloadOff, m.payloadOff + m.payloadLen))).toEqual([0xaa, 0xbb]);
    expect(m.vlan).toBe(0);
    expect(m.tunnelDepth).toBe(0);
    expect(m.reassembled).toBe(false);
  });

  it('a snap length inside the TCP options or the fixed header still gives the flow its packet', () => {
    const syn = eth(0x0800, ip4(A, B, 6, tcp(51000, 443, [], { seq: 7, flags: TcpFlag.SYN, opts: [2, 4, 5, 0xb4, 4, 2, 1, 3, 3, 7, 1, 1] })));
    let m = run(syn.slice(0, 14 + 20 + 24)); // 4 of the 12 bytes of options
    expect([m.status, tuple(m), m.tcpFlags, m.seq, m.tcpOptLen, m.payloadLen, m.payloadWireLen]).toEqual([DecodeStatus.Ok, '10.0.0.1:51000 > 10.0.0.2:443/6', TcpFlag.SYN, 7, 4, 0, 0]);
    const data = eth(0x86dd, ip6(A6, B6, 6, tcp(51000, 443, bytes(300), { seq: 9, flags: TcpFlag.ACK | TcpFlag.PSH })));
    m = run(data.slice(0, 68)); // tcpdump's old default: 14 bytes of the TCP header
    expect([m.status, m.sport, m.dport, m.tcpFlags, m.seq, m.ipLen, m.payloadLen, m.payloadWireLen]).toEqual([DecodeStatus.Ok, 51000, 443, 0, 0, 40 + 20 + 300, 0, 0]);
  });

  it('a snaplen-cut packet keeps the captured payload and the wire length', () => {
    const frame = eth(0x0800, ip4(A, B, 6, tcp(1, 2, bytes(1000))));
    const m = run(frame.slice(0, 14 + 20 + 20 + 100));
    expect(m.status).toBe(DecodeStatus.Ok);
    expect(m.payloadLen).toBe(100);
    expect(m.payloadWireLen).toBe(1000);
  });

  it('UDP payload is trimmed to the UDP length', () => {
    const frame = eth(0x0800, ip4(A, B, 17, udp(5353, 53, bytes(5))));
    while (frame.length < 60) frame.push(0);
    const m = run(frame);
    expect(tuple(m)).toBe('10.0.0.1:5353 > 10.0.0.2:53/17');
    expect(m.payloadLen).toBe(5);
    expect(m.tcpFlags).toBe(0);
  });

  it('stale fields from the previous packet are cleared', () => {
    const meta = new PacketMeta();
    run(eth(0x0800, ip4(A, B, 6, tcp(1, 2, bytes(10), { flags: TcpFlag.PSH | TcpFlag.ACK }))), 1, meta);
    expect(meta.status).toBe(DecodeStatus.Ok);
    run(eth(0x0806, bytes(28)), 1, meta); // ARP
    expect(meta.status).toBe(DecodeStatus.NotIp);
    expect([meta.ipVersion, meta.src0, meta.sport, meta.dport, meta.tcpFlags, meta.payloadLen, meta.proto]).toEqual([0, 0, 0, 0, 0, 0, 0]);
    run(eth(0x0800, ip4(A, B, 6, tcp(1, 2, bytes(10)))), 1, meta);
    run(eth(0x0800, ip4(C, D, 17, udp(7, 8, []))), 1, meta);
    expect([meta.seq, meta.tcpFlags, meta.tcpOptLen]).toEqual([0, 0, 0]);
  });
});

describe('link layers', () => {
  const ipPkt = ip4(A, B, 17, udp(1000, 2000, bytes(4)));
  const ip6Pkt = ip6(A6, B6, 6, tcp(3000, 80, bytes(3)));
  it.each([
    ['Linux SLL', 113, [0, 0, 0, 1, 0, 6, ...bytes(8), ...be16(0x0800), ...ipPkt], '10.0.0.1:1000 > 10.0.0.2:2000/17'],
    ['Linux SLL2', 276, [...be16(0x86dd), 0, 0, 0, 0, 0, 3, 0, 1, 0, 6, ...bytes(8), ...ip6Pkt], '2001:db8::1:3000 > 2001:db8::2:80/6'],
    ['raw (101) IPv4', 101, ipPkt, '10.0.0.1:1000 > 10.0.0.2:2000/17'],
    ['raw (101) IPv6', 101, ip6Pkt, '2001:db8::1:3000 > 2001:db8::2:80/6'],
    ['IPv4 (228)', 228, ipPkt, '10.0.0.1:1000 > 10.0.0.2:2000/17'],
    ['IPv6 (229)', 229, ip6Pkt, '2001:db8::1:3000 > 2001:db8::2:80/6'],
    ['BSD null, little-endian AF_INET', 0, [2, 0, 0, 0, ...ipPkt], '10.0.0.1:1000 > 10.0.0.2:2000/17'],
    ['BSD null, big-endian AF_INET6 (30)', 0, [0, 0, 0, 30, ...ip6Pkt], '2001:db8::1:3000 > 2001:db8::2:80/6'],
    ['BSD null, little-endian AF_INET6 (24)', 0, [24, 0, 0, 0, ...ip6Pkt], '2001:db8::1:3000 > 2001:db8::2:80/6'],
    ['OpenBSD loop', 108, [0, 0, 0, 2, ...ipPkt], '10.0.0.1:1000 > 10.0.0.2:2000/17'],
  ])('%s', (_n, link, frame, want) => {
    const m = run(frame as number[], link as number);
    expect(m.status).toBe(DecodeStatus.Ok);
    expect(tuple(m)).toBe(want);
  });

  it('SLL with a non-IP protocol and ARP are NotIp; unknown link types Unsupported', () => {
    expect(run([0, 0, 0, 1, 0, 6, ...bytes(8), ...be16(0x0004), ...bytes(20)], 113).status).toBe(DecodeStatus.NotIp);
    expect(run(eth(0x0806, bytes(28))).status).toBe(DecodeStatus.NotIp);
    const m = run(bytes(40), 6); // token ring
    expect(m.status).toBe(DecodeStatus.Unsupported);
    expect(m.event).toBe('decoder.link.unsupported');
    const p = run([0, 0, 8, 0, 119, 0, 0, 0, ...bytes(30)], 192); // PPI before a Prism header
    expect([p.status, p.event]).toEqual([DecodeStatus.Unsupported, 'decoder.ppi.unsupported']);
    const t = run(eth(0x0800, ip4(A, B, 17, udp(40000, 37008, [1, 0, 0, 119, 1, ...bytes(40)])))); // TZSP with a Prism header
    expect([t.status, t.event]).toEqual([DecodeStatus.Unsupported, 'decoder.tzsp.unsupported']);
  });
});

describe('VLAN, MPLS, PPPoE', () => {
  it('QinQ records the outermost VLAN id', () => {
    const m = run(eth(0x88a8, [...tag(0x2064, 0x8100), ...tag(0x00c8, 0x0800), ...ip4(A, B, 17, udp(1, 2, []))]));
    expect(m.status).toBe(DecodeStatus.Ok);
    expect(m.vlan).toBe(100);
  });

  it('too many VLAN tags', () => {
    const m = run(eth(0x8100, [...tag(1, 0x8100), ...tag(2, 0x8100), ...tag(3, 0x8100), ...tag(4, 0x8100), ...tag(5, 0x0800), ...ip4(A, B, 17, udp(1, 2, []))]));
    expect(m.status).toBe(DecodeStatus.Malformed);
    expect(m.event).toBe('decoder.vlan.too_many_tags');
  });

  it('MPLS label stack → IPv4 (first nibble)', () => {
    const m = run(eth(0x8847, [0, 0x10, 0x00, 64, 0, 0x20, 0x01, 64, ...ip4(C, D, 6, tcp(1, 2, []))]));
    expect(tuple(m)).toBe('192.168.1.1:1 > 192.168.1.2:2/6');
  });

  it('MPLS pseudowire with control word → Ethernet → IPv6', () => {
    const m = run(eth(0x8848, [0, 0x10, 0x01, 64, 0, 0, 0, 0, ...eth(0x86dd, ip6(A6, B6, 17, udp(53, 999, bytes(2))))]));
    expect(tuple(m)).toBe('2001:db8::1:53 > 2001:db8::2:999/17');
    expect(m.tunnelDepth).toBe(1);
  });

  it('PPPoE session → IPv4', () => {
    const m = run(eth(0x8864, [0x11, 0, 0, 1, 0, 30, 0, 0x21, ...ip4(A, B, 17, udp(67, 68, []))]));
    expect(tuple(m)).toBe('10.0.0.1:67 > 10.0.0.2:68/17');
  });
});

describe('IPv6 extension headers', () => {
  it('hop-by-hop, routing and destination options are walked', () => {
    const payload = [...ext6(43, 0), ...ext6(60, 1), ...ext6(6, 0), ...tcp(4000, 22, bytes(5))];
    const m = run(eth(0x86dd, ip6(A6, B6, 0, payload)));
    expect(m.status).toBe(DecodeStatus.Ok);
    expect(tuple(m)).toBe('2001:db8::1:4000 > 2001:db8::2:22/6');
    expect(m.payloadLen).toBe(5);
    expect(m.l4Off).toBe(7 + 14 + 40 + 8 + 16 + 8);
  });

  it('AH is skipped', () => {
    const ah = [17, 4, 0, 0, ...bytes(20)]; // (4 + 2) * 4 = 24 bytes
    const m = run(eth(0x86dd, ip6(A6, B6, 51, [...ah, ...udp(500, 500, bytes(3))])));
    expect(tuple(m)).toBe('2001:db8::1:500 > 2001:db8::2:500/17');
  });

  it('too many extension headers', () => {
    let payload = tcp(1, 2, []);
    for (let i = 0; i < 9; i++) payload = [...ext6(i === 0 ? 6 : 60, 0), ...payload];
    const m = run(eth(0x86dd, ip6(A6, B6, 60, payload)));
    expect(m.status).toBe(DecodeStatus.Malformed);
    expect(m.event).toBe('decoder.ipv6.too_many_ext_headers');
  });

  it('ESP and no-next-header end the walk', () => {
    const esp = run(eth(0x86dd, ip6(A6, B6, 50, bytes(40))));
    expect([esp.status, esp.proto]).toEqual([DecodeStatus.OtherL4, 50]);
    const none = run(eth(0x86dd, ip6(A6, B6, 60, [...ext6(59, 0)])));
    expect([none.status, none.proto]).toEqual([DecodeStatus.OtherL4, 59]);
  });
});

describe('tunnels', () => {
  const inner = ip4(C, D, 6, tcp(33000, 8080, bytes(9)));
  it('GRE with checksum, key and sequence number', () => {
    const gre = [0xb0, 0x00, ...be16(0x0800), 0, 0, 0, 0, ...be32(42), ...be32(7)];
    const m = run(eth(0x0800, ip4(A, B, 47, [...gre, ...inner])));
    expect(tuple(m)).toBe('192.168.1.1:33000 > 192.168.1.2:8080/6');
    expect(m.tunnelDepth).toBe(1);
    expect(m.tunnelId).toBe(42);
    expect(m.payloadLen).toBe(9);
  });

  it('GRE transparent Ethernet bridging and ERSPAN I/II/III', () => {
    const innerEth = eth(0x8100, [...tag(5, 0x0800), ...inner]);
    const cases: number[][] = [
      [0x00, 0x00, ...be16(0x6558), ...innerEth],
      [0x00, 0x00, ...be16(0x88be), ...innerEth], // type I: no S bit, no header
      [0x10, 0x00, ...be16(0x88be), ...be32(1), 0x10, 0x01, 0x00, 0x05, 0, 0, 0, 0, ...innerEth],
      [0x10, 0x00, ...be16(0x22eb), ...be32(1), 0x20, 0x01, 0x00, 0x05, ...be32(123456), 0, 0, 0x00, 0x00, ...innerEth],
      [0x10, 0x00, ...be16(0x22eb), ...be32(1), 0x20, 0x01, 0x00, 0x05, ...be32(123456), 0, 0, 0x00, 0x01, ...bytes(8), ...innerEth], // O flag: platform subheader
    ];
    for (const gre of cases) {
      const m = run(eth(0x0800, ip4(A, B, 47, gre)));
      expect(m.status).toBe(DecodeStatus.Ok);
      expect(tuple(m)).toBe('192.168.1.1:33000 > 192.168.1.2:8080/6');
      expect(m.vlan).toBe(0); // the inner frame's VLAN is not the outermost
    }
    expect(run(eth(0x0800, ip4(A, B, 47, cases[4] as number[]))).tunnelId).toBe(5); // ERSPAN session id
  });

  it('VXLAN (either port 4789) and Geneve with options', () => {
    const vx = [0x08, 0, 0, 0, 0, 0, 1, 0, ...eth(0x0800, inner)];
    expect(tuple(run(eth(0x0800, ip4(A, B, 17, udp(40000, 4789, vx)))))).toBe('192.168.1.1:33000 > 192.168.1.2:8080/6');
    expect(tuple(run(eth(0x0800, ip4(A, B, 17, udp(4789, 4790, vx)))))).toBe('192.168.1.1:33000 > 192.168.1.2:8080/6');
    const gen = [0x02, 0, ...be16(0x6558), 0, 0, 1, 0, ...bytes(8), ...eth(0x0800, inner)];
    const m = run(eth(0x0800, ip4(A, B, 17, udp(40000, 6081, gen))));
    expect(tuple(m)).toBe('192.168.1.1:33000 > 192.168.1.2:8080/6');
    expect(m.tunnelDepth).toBe(1);
    expect(m.tunnelId).toBe(1);
    expect(run(eth(0x0800, ip4(A, B, 17, udp(40000, 4789, [0x08, 0, 0, 0, 0x12, 0x34, 0x56, 0, ...eth(0x0800, inner)])))).tunnelId).toBe(0x123456);
    // VXLAN port without the I flag is an ordinary UDP flow
    expect(tuple(run(eth(0x0800, ip4(A, B, 17, udp(40000, 4789, bytes(8))))))).toBe('10.0.0.1:40000 > 10.0.0.2:4789/17');
  });

  it('names the outermost tunnel and the addresses that carried it', () => {
    const outerOf = (m: PacketMeta): string => `${TUNNEL_NAMES[m.tunnelType]} ${addrToString(m.outerVersion as 4 | 6, m.outerSrc0, m.outerSrc1, m.outerSrc2, m.outerSrc3)} > ${addrToString(m.outerVersion as 4 | 6, m.outerDst0, m.outerDst1, m.outerDst2, m.outerDst3)}`;
    expect(outerOf(run(eth(0x0800, ip4(A, B, 4, inner))))).toBe('ipip 10.0.0.1 > 10.0.0.2');
    const in6 = ip6(A6, B6, 6, tcp(33000, 443, bytes(5)));
    const sit = run(eth(0x0800, ip4(A, B, 41, in6)));
    expect([tuple(sit), outerOf(sit)]).toEqual(['2001:db8::1:33000 > 2001:db8::2:443/6', '6in4 10.0.0.1 > 10.0.0.2']);
    expect(outerOf(run(eth(0x0800, ip4(A, B, 47, [0, 0, ...be16(0x0800), ...inner]))))).toBe('gre 10.0.0.1 > 10.0.0.2');
    expect(outerOf(run(eth(0x0800, ip4(A, B, 17, udp(40000, 4789, [0x08, 0, 0, 0, 0, 0, 1, 0, ...eth(0x0800, inner)])))))).toBe('vxlan 10.0.0.1 > 10.0.0.2');
    // nested: VXLAN carrying IP-in-IP names VXLAN and the outermost header
    const nested = run(eth(0x0800, ip4(A, B, 17, udp(40000, 4789, [0x08, 0, 0, 0, 0, 0, 1, 0, ...eth(0x0800, ip4(C, D, 4, inner))]))));
    expect([nested.tunnelDepth, outerOf(nested)]).toEqual([2, 'vxlan 10.0.0.1 > 10.0.0.2']);
    expect(run(eth(0x0800, inner)).tunnelType).toBe(TunnelType.None);
  });

  it('GTP-U G-PDUs (TS 29.281): plain, with sequence number, with extension headers; IPv4 and IPv6 inside', () => {
    const gtp = (flags: number, opt: number[], tpdu: number[], teid = 0x11223344): number[] =>
      [flags, 0xff, ...be16(opt.length + tpdu.length), ...be32(teid), ...opt, ...tpdu];
    const plain = run(eth(0x0800, ip4(A, B, 17, udp(2152, 2152, gtp(0x30, [], inner)))));
    expect([plain.status, tuple(plain), plain.tunnelDepth, plain.tunnelId, TUNNEL_NAMES[plain.tunnelType]]).toEqual([DecodeStatus.Ok, '192.168.1.1:33000 > 192.168.1.2:8080/6', 1, 0x11223344, 'gtpu']);
    expect(plain.payloadLen).toBe(9);
    // S flag: sequence number, N-PDU number, next extension type 0
    expect(tuple(run(eth(0x0800, ip4(A, B, 17, udp(40000, 2152, gtp(0x32, [0, 7, 0, 0], inner))))))).toBe('192.168.1.1:33000 > 192.168.1.2:8080/6');
    // E flag: a PDU session container (type 0x85, one 4-byte unit) then a second one-unit header
    const ext = [0, 0, 0, 0x85, 1, 0x10, 0x05, 0x40, 1, 0xaa, 0xbb, 0];
    const e = run(eth(0x0800, ip4(A, B, 17, udp(2152, 2152, gtp(0x34, ext, ip6(A6, B6, 17, udp(5000, 53, bytes(12))))))));
    expect([e.status, tuple(e)]).toEqual([DecodeStatus.Ok, '2001:db8::1:5000 > 2001:db8::2:53/17']);
    // echo request (type 1) is GTP-U itself: an ordinary UDP flow
    expect(tuple(run(eth(0x0800, ip4(A, B, 17, udp(40000, 2152, [0x32, 0x01, 0, 4, 0, 0, 0, 0, 0, 1, 0, 0])))))).toBe('10.0.0.1:40000 > 10.0.0.2:2152/17');
  });

  it('GTP-U malformed and cut short: named events, nothing decoded past them', () => {
    const ev = (payload: number[]): [number, string] => { const m = run(eth(0x0800, ip4(A, B, 17, udp(2152, 2152, payload)))); return [m.status, m.event]; };
    expect(ev([0x30, 0xff, ...be16(500), ...be32(1), ...inner])).toEqual([DecodeStatus.Malformed, 'decoder.gtpu.bad_length']);
    expect(ev([0x34, 0xff, ...be16(2), ...be32(1), 0, 0])).toEqual([DecodeStatus.Malformed, 'decoder.gtpu.truncated']);
    expect(ev([0x34, 0xff, ...be16(8 + inner.length), ...be32(1), 0, 0, 0, 0x85, 0, 0, 0, 0, ...inner])).toEqual([DecodeStatus.Malformed, 'decoder.gtpu.bad_ext_header']);
    const loop: number[] = [];
    for (let i = 0; i < 9; i++) loop.push(1, 0xaa, 0xbb, 0x85);
    expect(ev([0x34, 0xff, ...be16(4 + loop.length + inner.length), ...be32(1), 0, 0, 0, 0x85, ...loop, ...inner])).toEqual([DecodeStatus.Malformed, 'decoder.gtpu.too_many_ext_headers']);
    expect(ev([0x30, 0xff, ...be16(14), ...be32(1), ...eth(0x0800, [])])).toEqual([DecodeStatus.Unsupported, 'decoder.gtpu.not_ip']);
    // cut by the snap length inside the extension header chain
    const frame = eth(0x0800, ip4(A, B, 17, udp(2152, 2152, [0x34, 0xff, ...be16(8 + inner.length), ...be32(1), 0, 0, 0, 0x85, 2, 0, 0, 0, 0, 0, 0, 0, ...inner])));
    const cut = run(frame.slice(0, 14 + 20 + 8 + 8 + 6));
    expect([cut.status, cut.event]).toEqual([DecodeStatus.Malformed, 'decoder.gtpu.truncated']);
  });

  it('Teredo (RFC 4380): IPv6 in UDP 3544, after origin and authentication indicators', () => {
    const in6 = ip6(A6, B6, 6, tcp(33000, 443, bytes(5)));
    const origin = [0, 0, ...be16(0xffff ^ 40000), ...be32(0xffffffff ^ 0xc0000201)];
    const auth = [0, 1, 3, 2, 1, 2, 3, 9, 9, 0xde, 0xad, 0xbe, 0xef, 1, 2, 3, 4, 7];
    for (const pre of [[], origin, auth, [...auth, ...origin]]) {
      const m = run(eth(0x0800, ip4(A, B, 17, udp(3544, 50000, [...pre, ...in6]))));
      expect([m.status, tuple(m), TUNNEL_NAMES[m.tunnelType]]).toEqual([DecodeStatus.Ok, '2001:db8::1:33000 > 2001:db8::2:443/6', 'teredo']);
      // the indicators, the origin's port and address deobfuscated
      const hasOrigin = pre.length === 8 || pre.length === auth.length + 8;
      const hasAuth = pre.length >= auth.length;
      expect([m.teredoOrigin, m.teredoOriginAddr >>> 0]).toEqual(hasOrigin ? [TEREDO_PRESENT | 40000, 0xc0000201] : [0, 0]);
      expect(m.teredoAuth).toBe(hasAuth ? TEREDO_PRESENT | (3 << 16) | (2 << 8) | 7 : 0);
      if (hasAuth) expect([m.teredoNonceHi >>> 0, m.teredoNonceLo]).toEqual([0xdeadbeef, 0x01020304]);
    }
    // a bubble (IPv6, no next header) is a packet without a flow; other bytes on 3544 stay UDP
    expect(run(eth(0x0800, ip4(A, B, 17, udp(50000, 3544, ip6(A6, B6, 59, [])))))).toMatchObject({ status: DecodeStatus.OtherL4, tunnelType: TunnelType.Teredo });
    expect(tuple(run(eth(0x0800, ip4(A, B, 17, udp(50000, 3544, bytes(60))))))).toBe('10.0.0.1:50000 > 10.0.0.2:3544/17');
    // an indicator that runs past the datagram
    const cut = run(eth(0x0800, ip4(A, B, 17, udp(50000, 3544, [0, 1, 200, 200, ...bytes(40)]))));
    expect([cut.status, cut.event]).toEqual([DecodeStatus.Malformed, 'decoder.teredo.truncated']);
  });

  it('IP-in-IP nesting is bounded', () => {
    let pkt = ip4(C, D, 17, udp(1, 2, []));
    for (let i = 0; i < 4; i++) pkt = ip4(A, B, 4, pkt);
    const ok = run(eth(0x0800, pkt));
    expect([ok.status, ok.tunnelDepth]).toEqual([DecodeStatus.Ok, 4]);
    const deep = run(eth(0x0800, ip4(A, B, 4, pkt)));
    expect(deep.status).toBe(DecodeStatus.Malformed);
    expect(deep.event).toBe('decoder.tunnel.too_deep');
  });

  it('PPTP (GRE version 1) carrying PPP → IPv4, and ERSPAN III with an IP frame type', () => {
    const pptp = [0x30, 0x01, ...be16(0x880b), ...be16(inner.length + 4), ...be16(9), ...be32(1), 0xff, 0x03, 0x00, 0x21, ...inner];
    expect(tuple(run(eth(0x0800, ip4(A, B, 47, pptp))))).toBe('192.168.1.1:33000 > 192.168.1.2:8080/6');
    const e3ip = [0x10, 0x00, ...be16(0x22eb), ...be32(1), 0x20, 0x01, 0x00, 0x05, ...be32(1), 0, 0, 2 << 2, 0x00, ...inner];
    expect(tuple(run(eth(0x0800, ip4(A, B, 47, e3ip))))).toBe('192.168.1.1:33000 > 192.168.1.2:8080/6');
  });

  it('IPv6 in IPv4 (6in4)', () => {
    expect(tuple(run(eth(0x0800, ip4(A, B, 41, ip6(A6, B6, 17, udp(9, 10, []))))))).toBe('2001:db8::1:9 > 2001:db8::2:10/17');
  });
});

describe('ICMP never makes a flow from the quoted header', () => {
  it('ICMP unreachable quoting UDP', () => {
    const quoted = ip4(B, A, 17, udp(5000, 53, bytes(8)));
    const m = run(eth(0x0800, ip4(C, A, 1, [3, 3, 0, 0, 0, 0, 0, 0, ...quoted])));
    expect(m.status).toBe(DecodeStatus.OtherL4);
    expect(m.proto).toBe(1);
    expect([m.sport, m.dport]).toEqual([0, 0]);
    expect(addrToString(4, m.src0, 0, 0, 0)).toBe('192.168.1.1');
  });
  it('ICMPv6 packet too big quoting TCP', () => {
    const quoted = ip6(B6, A6, 6, tcp(443, 5000, []));
    const m = run(eth(0x86dd, ip6(A6, B6, 58, [2, 0, 0, 0, 0, 0, 5, 0, ...quoted])));
    expect([m.status, m.proto, m.sport]).toEqual([DecodeStatus.OtherL4, 58, 0]);
  });
});

describe('malformed input raises its event', () => {
  it.each([
    ['ethernet.truncated', bytes(10), 'decoder.ethernet.truncated'],
    ['ipv4.truncated', eth(0x0800, ip4(A, B, 6, tcp(1, 2, [])).slice(0, 15)), 'decoder.ipv4.truncated'],
    ['ipv4.bad_version', eth(0x0800, [0x55, ...ip4(A, B, 6, tcp(1, 2, [])).slice(1)]), 'decoder.ipv4.bad_version'],
    ['ipv4.bad_header_len', eth(0x0800, [0x44, ...ip4(A, B, 6, tcp(1, 2, [])).slice(1)]), 'decoder.ipv4.bad_header_len'],
    ['ipv4.bad_total_len', eth(0x0800, ip4(A, B, 6, tcp(1, 2, []), { totalLen: 10 })), 'decoder.ipv4.bad_total_len'],
    ['ipv6.truncated', eth(0x86dd, ip6(A6, B6, 6, tcp(1, 2, [])).slice(0, 30)), 'decoder.ipv6.truncated'],
    ['ipv6.ext_header_overrun', eth(0x86dd, ip6(A6, B6, 0, [6, 200, 0, 0, 0, 0, 0, 0])), 'decoder.ipv6.ext_header_overrun'],
    ['tcp.bad_header_len', eth(0x0800, ip4(A, B, 6, (() => { const t = tcp(1, 2, bytes(10)); t[12] = 0x40; return t; })())), 'decoder.tcp.bad_header_len'],
    ['tcp.bad_header_len past IP', eth(0x0800, ip4(A, B, 6, (() => { const t = tcp(1, 2, []); t[12] = 0xf0; return t; })())), 'decoder.tcp.bad_header_len'],
    ['tcp.truncated', eth(0x0800, ip4(A, B, 6, tcp(1, 2, bytes(100)))).slice(0, 14 + 20 + 3), 'decoder.tcp.truncated'],
    ['nflog.bad_header (version)', [2, 1, 0, 5, ...bytes(8)], 'decoder.nflog.bad_header', 239],
    ['nflog.bad_header (TLV past the frame)', [2, 0, 0, 5, 200, 0, 9, 0, ...bytes(8)], 'decoder.nflog.bad_header', 239],
    ['radiotap.bad_header', [0, 0, 64, 0, 0, 0, 0, 0, ...bytes(8)], 'decoder.radiotap.bad_header', 127],
    ['wlan.truncated', [0x88, 0x01, ...bytes(20)], 'decoder.wlan.truncated', 105],
    ['pktap.bad_header (length past the frame)', [200, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, ...bytes(20)], 'decoder.pktap.bad_header', 258],
    ['pktap.bad_header (PKTAP in PKTAP)', [12, 0, 0, 0, 1, 0, 0, 0, 2, 1, 0, 0, ...bytes(20)], 'decoder.pktap.bad_header', 258],
    ['erf.truncated (extension header)', [...bytes(8), 0x82, 0, 0, 30, 0, 0, 0, 20, 0x83, ...bytes(7), 0x01, 0, 0], 'decoder.erf.truncated', 197],
    ['l2tp.truncated', eth(0x0800, ip4(A, B, 17, udp(1701, 1701, [0x40, 0x02, 0, 20, 0, 7]))), 'decoder.l2tp.truncated'],
    ['tzsp.truncated (no end tag)', eth(0x0800, ip4(A, B, 17, udp(40000, 37008, [1, 0, 0, 1, 10, 5, 1]))), 'decoder.tzsp.truncated'],
    ['udp.truncated', eth(0x0800, ip4(A, B, 17, udp(1, 2, bytes(100)))).slice(0, 14 + 20 + 4), 'decoder.udp.truncated'],
    ['udp.bad_length', eth(0x0800, ip4(A, B, 17, (() => { const u = udp(1, 2, bytes(4)); u[5] = 4; return u; })())), 'decoder.udp.bad_length'],
    ['gre.truncated', eth(0x0800, ip4(A, B, 47, [0xb0, 0, 8, 0, 0, 0])), 'decoder.gre.truncated'],
    ['erspan.truncated', eth(0x0800, ip4(A, B, 47, [0x10, 0, 0x22, 0xeb, 0, 0, 0, 1, 0x20, 0, 0, 0])), 'decoder.erspan.truncated'],
    ['mpls.too_many_labels', eth(0x8847, [...Array.from({ length: 9 }, () => [0, 0x10, 0, 64]).flat(), 0, 0x10, 1, 64, ...ip4(A, B, 17, udp(1, 2, []))]), 'decoder.mpls.too_many_labels'],
    ['geneve.truncated', eth(0x0800, ip4(A, B, 17, udp(50_000, 6081, [0x3f, 0, 0x65, 0x58, 0, 0, 0, 0, 1, 2]))), 'decoder.geneve.truncated'],
  ] as [string, number[], string, number?][])('%s', (_n, frame, ev, link) => {
    const m = run(frame, link ?? 1);
    expect(m.status).toBe(DecodeStatus.Malformed);
    expect(m.event).toBe(ev);
  });

  it('every decoder.* id used in the decoder is in the catalogue', () => {
    const src = ['decode.ts', 'fragments.ts'].map((f) => readFileSync(new URL(f, import.meta.url), 'utf8')).join('\n');
    const used = new Set(src.match(/'decoder\.[a-z0-9_.]+'/g)?.map((s) => s.slice(1, -1)) ?? []);
    expect(used.size).toBeGreaterThan(20);
    for (const id of used) expect(Object.keys(DecoderEvent), id).toContain(id);
  });
});

// ---- fragments --------------------------------------------------------------------------

/** Split an IPv4 UDP datagram into fragments of `size` data bytes. */
function frag4(src: number[], dst: number[], id: number, l4: number[], size: number, proto = 17): number[][] {
  const out: number[][] = [];
  for (let off = 0; off < l4.length; off += size) {
    const part = l4.slice(off, off + size);
    out.push(eth(0x0800, ip4(src, dst, proto, part, { id, fragOff: off, mf: off + size < l4.length })));
  }
  return out;
}

describe('IPv4 fragment reassembly', () => {
  const data = bytes(3000, 3);
  const dgram = udp(7000, 7001, data);

  it('out-of-order fragments: the completing packet yields the whole datagram', () => {
    const frags = new FragmentTable();
    const meta = new PacketMeta();
    const parts = frag4(A, B, 77, dgram, 1200);
    expect(parts.length).toBe(3);
    for (const i of [2, 0]) {
      run(parts[i] as number[], 1, meta, frags);
      expect(meta.status).toBe(DecodeStatus.Fragment);
      expect([meta.sport, meta.payloadLen]).toEqual([0, 0]);
    }
    run(parts[0] as number[], 1, meta, frags); // exact duplicate: ignored
    expect(meta.status).toBe(DecodeStatus.Fragment);
    expect(frags.counters.duplicates).toBe(1);
    run(parts[1] as number[], 1, meta, frags);
    expect(meta.status).toBe(DecodeStatus.Ok);
    expect(meta.reassembled).toBe(true);
    expect(tuple(meta)).toBe('10.0.0.1:7000 > 10.0.0.2:7001/17');
    expect(meta.ipLen).toBe(20 + 8 + 3000);
    expect(meta.payloadLen).toBe(3000);
    expect(Array.from(meta.data.subarray(meta.payloadOff, meta.payloadOff + meta.payloadLen))).toEqual(data);
    expect(frags.count).toBe(0);
    expect(frags.heldBytes).toBe(0);
    expect(frags.counters.datagramsCompleted).toBe(1);
  });

  it('a fragmented outer packet carrying GRE reassembles, then the tunnel is peeled', () => {
    const frags = new FragmentTable();
    const meta = new PacketMeta();
    const innerPkt = ip4(C, D, 6, tcp(1234, 80, bytes(2000)));
    const gre = [0, 0, ...be16(0x0800), ...innerPkt];
    const parts = frag4(A, B, 5, gre, 1480, 47);
    for (const p of parts) run(p, 1, meta, frags);
    expect(meta.status).toBe(DecodeStatus.Ok);
    expect(tuple(meta)).toBe('192.168.1.1:1234 > 192.168.1.2:80/6');
    expect(meta.payloadLen).toBe(2000);
    expect(meta.reassembled).toBe(true);
  });

  it('overlapping fragments drop the datagram with decoder.frag.overlap under the drop policy', () => {
    const frags = new FragmentTable({ overlap: 'drop' });
    const meta = new PacketMeta();
    run(eth(0x0800, ip4(A, B, 17, dgram.slice(0, 800), { id: 9, mf: true })), 1, meta, frags);
    run(eth(0x0800, ip4(A, B, 17, dgram.slice(400, 1200), { id: 9, fragOff: 400, mf: true })), 1, meta, frags);
    expect(meta.status).toBe(DecodeStatus.Malformed);
    expect(meta.event).toBe('decoder.frag.overlap');
    expect(frags.counters.overlaps).toBe(1);
    expect(frags.count).toBe(0);
  });

  for (const policy of ['first', 'last'] as const) {
    it(`overlapping fragments with other boundaries complete the datagram under '${policy}', the bytes it names kept`, () => {
      const frags = new FragmentTable({ overlap: policy });
      const seen: string[] = [];
      frags.onEvent = (ev) => seen.push(ev);
      const meta = new PacketMeta();
      const other = dgram.map((b, i) => ((i >= 350 && i < 450) || (i >= 850 && i < 870) ? b ^ 0xff : b));
      // 0-400 and 800-1200 held, then 296-904 (over both, other bytes at 350-450 and 850-870), a duplicate
      // inside it, then the rest: 1200-end
      run(eth(0x0800, ip4(A, B, 17, dgram.slice(0, 400), { id: 11, mf: true })), 1, meta, frags);
      run(eth(0x0800, ip4(A, B, 17, dgram.slice(800, 1200), { id: 11, fragOff: 800, mf: true })), 1, meta, frags);
      run(eth(0x0800, ip4(A, B, 17, other.slice(296, 904), { id: 11, fragOff: 296, mf: true })), 1, meta, frags);
      expect(meta.status).toBe(DecodeStatus.Fragment);
      run(eth(0x0800, ip4(A, B, 17, dgram.slice(0, 200), { id: 11, mf: true })), 1, meta, frags);
      expect(frags.counters.duplicates).toBe(1);
      run(eth(0x0800, ip4(A, B, 17, dgram.slice(1200), { id: 11, fragOff: 1200 })), 1, meta, frags);
      expect(meta.status).toBe(DecodeStatus.Ok);
      expect(meta.reassembled).toBe(true);
      const got = Array.from(meta.data.subarray(meta.ipOff + 20, meta.ipOff + meta.ipLen));
      // 'first': nothing held was replaced, and the gap 400-800 has the overlapping copy's bytes
      // (its 400-450 differ); 'last': the copy's bytes everywhere it reached (296-904)
      const want = policy === 'first' ? dgram.map((b, i) => (i >= 400 && i < 800 ? (other[i] as number) : b)) : dgram.map((b, i) => (i >= 296 && i < 904 ? (other[i] as number) : b));
      expect(got).toEqual(want);
      expect(seen).toEqual(['decoder.frag.overlap_conflict']);
      expect([frags.counters.overlaps, frags.counters.conflicts, frags.count, frags.heldBytes]).toEqual([1, 1, 0, 0]);
    });
  }

  it('an overlap with the same bytes is decoder.frag.overlap, and another datagram is not touched', () => {
    const frags = new FragmentTable();
    const seen: string[] = [];
    frags.onEvent = (ev) => seen.push(ev);
    const meta = new PacketMeta();
    const good = frag4(A, B, 12, dgram, 1200);
    run(good[0] as number[], 1, meta, frags);
    run(eth(0x0800, ip4(A, B, 17, dgram.slice(0, 800), { id: 13, mf: true })), 1, meta, frags);
    run(eth(0x0800, ip4(A, B, 17, dgram.slice(400, 1200), { id: 13, fragOff: 400, mf: true })), 1, meta, frags);
    expect(seen).toEqual(['decoder.frag.overlap']);
    run(eth(0x0800, ip4(A, B, 17, dgram.slice(1200), { id: 13, fragOff: 1200 })), 1, meta, frags);
    expect(meta.status).toBe(DecodeStatus.Ok);
    expect(Array.from(meta.data.subarray(meta.ipOff + 20, meta.ipOff + meta.ipLen))).toEqual(dgram);
    for (const p of good.slice(1)) run(p, 1, meta, frags);
    expect(meta.status).toBe(DecodeStatus.Ok);
    expect(Array.from(meta.data.subarray(meta.ipOff + 20, meta.ipOff + meta.ipLen))).toEqual(dgram);
    expect(frags.count).toBe(0);
  });

  it('a bad overlap policy is a named error', () => {
    expect(() => new FragmentTable({ overlap: 'middle' as 'first' })).toThrow(/first, last or drop/);
  });

  it('the datagram count limit evicts the oldest datagram', () => {
    const frags = new FragmentTable({ maxFragDatagramsCount: 2 });
    const meta = new PacketMeta();
    for (const id of [1, 2, 3]) run((frag4(A, B, id, dgram, 1200)[0] as number[]), 1, meta, frags);
    expect(meta.status).toBe(DecodeStatus.Fragment);
    expect(meta.event).toBe('decoder.frag.limit');
    expect(frags.counters.evictions).toBe(1);
    expect(frags.count).toBe(2);
    // datagram 1 was evicted: its remaining fragments cannot complete it
    for (const p of frag4(A, B, 1, dgram, 1200).slice(1)) run(p, 1, meta, frags);
    expect(meta.status).toBe(DecodeStatus.Fragment);
    // datagram 3 still completes
    for (const p of frag4(A, B, 3, dgram, 1200).slice(1)) run(p, 1, meta, frags);
    expect(meta.status).toBe(DecodeStatus.Ok);
  });

  it('the byte limit refuses a datagram that does not fit', () => {
    const frags = new FragmentTable({ maxFragBytes: 4096 });
    const meta = new PacketMeta();
    const big = udp(1, 2, bytes(6000));
    const parts = frag4(A, B, 4, big, 1480);
    run(parts[0] as number[], 1, meta, frags);
    expect(meta.status).toBe(DecodeStatus.Fragment);
    run(parts[parts.length - 1] as number[], 1, meta, frags);
    expect(meta.status).toBe(DecodeStatus.Malformed);
    expect(meta.event).toBe('decoder.frag.limit');
    expect(frags.heldBytes).toBeLessThanOrEqual(4096);
  });

  it('datagrams time out in packet time', () => {
    const frags = new FragmentTable({ fragTimeoutMs: 30_000 });
    const meta = new PacketMeta();
    const parts = frag4(A, B, 8, dgram, 1200);
    run(parts[0] as number[], 1, meta, frags, 1_000);
    run(parts[1] as number[], 1, meta, frags, 20_000);
    run(parts[2] as number[], 1, meta, frags, 40_000);
    expect(meta.status).toBe(DecodeStatus.Fragment); // the old datagram expired, a new one started
    expect(frags.counters.timeouts).toBe(1);
    frags.expire(100_000);
    expect(frags.count).toBe(0);
    expect(frags.heldBytes).toBe(0);
  });

  it('a fragment past 65535 bytes is refused', () => {
    const m = run(eth(0x0800, ip4(A, B, 17, bytes(100), { id: 1, fragOff: 65528, mf: false })));
    expect(m.status).toBe(DecodeStatus.Malformed);
    expect(m.event).toBe('decoder.frag.too_big');
  });
});

describe('IPv6 fragment reassembly', () => {
  it('reassembles behind a destination options header and patches the next header', () => {
    const frags = new FragmentTable();
    const meta = new PacketMeta();
    const l4 = udp(5000, 6000, bytes(2500, 9));
    const dest = [44, 0, 1, 4, 0, 0, 0, 0]; // dest opts (next = fragment), PadN
    const mk = (off: number, part: number[], more: boolean): number[] =>
      eth(0x86dd, ip6(A6, B6, 60, [...dest, 17, 0, ...be16(off | (more ? 1 : 0)), ...be32(0xabcdef01), ...part]));
    const p1 = mk(0, l4.slice(0, 1232), true);
    const p2 = mk(1232, l4.slice(1232), false);
    run(p2, 1, meta, frags);
    expect(meta.status).toBe(DecodeStatus.Fragment);
    expect(meta.proto).toBe(44);
    run(p1, 1, meta, frags);
    expect(meta.status).toBe(DecodeStatus.Ok);
    expect(meta.reassembled).toBe(true);
    expect(tuple(meta)).toBe('2001:db8::1:5000 > 2001:db8::2:6000/17');
    expect(meta.payloadLen).toBe(2500);
    expect(meta.ipLen).toBe(40 + 8 + l4.length);
    expect(Array.from(meta.data.subarray(meta.payloadOff, meta.payloadOff + 2500))).toEqual(bytes(2500, 9));
  });

  it('an atomic fragment (offset 0, M clear) is decoded in place', () => {
    const m = run(eth(0x86dd, ip6(A6, B6, 44, [6, 0, 0, 0, ...be32(1), ...tcp(1, 2, bytes(4))])));
    expect(m.status).toBe(DecodeStatus.Ok);
    expect(m.reassembled).toBe(false);
    expect(tuple(m)).toBe('2001:db8::1:1 > 2001:db8::2:2/6');
  });
});

describe('the Ethernet/IPv4/TCP fast path', () => {
  // The same IPv4 packet as an Ethernet frame (fast path) and as LINKTYPE_IPV4 (228: the general
  // state machine): every field must agree, offsets shifted by the 14-byte Ethernet header.
  const fields = ['status', 'event', 'ipVersion', 'ipLen', 'ttl', 'proto', 'src0', 'src1', 'src2', 'src3', 'dst0', 'dst1', 'dst2', 'dst3',
    'sport', 'dport', 'tcpFlags', 'seq', 'ack', 'window', 'tcpOptLen', 'payloadLen', 'payloadWireLen', 'vlan', 'tunnelDepth', 'tunnelId', 'reassembled'] as const;
  const offsets = ['capLen', 'ipOff', 'l4Off', 'tcpOptOff', 'payloadOff'] as const;
  function same(ipPacket: number[], capCut = 0): void {
    const frame = eth(0x0800, ipPacket);
    const a = run(frame.slice(0, frame.length - capCut), 1);
    const b = run(ipPacket.slice(0, ipPacket.length - capCut), 228);
    for (const k of fields) expect([k, a[k]]).toEqual([k, b[k]]);
    // Offsets move by the Ethernet header; one a protocol leaves at 0 (UDP's TCP options) stays 0.
    if (a.status === DecodeStatus.Ok) for (const k of offsets) expect([k, a[k]]).toEqual([k, b[k] === 0 ? 0 : b[k] + 14]);
  }

  it('agrees with the general decoder on plain segments, options, flags and high sequence numbers', () => {
    same(ip4(A, B, 6, tcp(443, 50000, bytes(1448), { seq: 0xfffffff0, ack: 0x80000001 })));
    same(ip4(C, D, 6, tcp(1, 2, [], { flags: TcpFlag.SYN, opts: [2, 4, 5, 180, 1, 3, 3, 7] })));
    same(ip4([200, 1, 2, 3], [250, 4, 5, 6], 6, tcp(65535, 0, bytes(3), { flags: TcpFlag.FIN | TcpFlag.ACK, win: 65535 }), { ttl: 1 }));
  });

  it('agrees where it declines: IP options, fragments, TSO length 0, a bad TCP header, a cut capture, UDP', () => {
    same(ip4(A, B, 6, tcp(1, 2, bytes(10)), { options: [1, 1, 1, 0] }));
    same(ip4(A, B, 6, tcp(1, 2, bytes(16)), { mf: true, id: 9 }));
    same(ip4(A, B, 6, tcp(1, 2, bytes(10)), { totalLen: 0 }));
    const bad = tcp(1, 2, bytes(10));
    bad[12] = 0x30; // data offset 12 bytes
    same(ip4(A, B, 6, bad));
    same(ip4(A, B, 6, tcp(1, 2, bytes(100))), 40); // snap length cut inside the payload
    same(ip4(A, B, 17, udp(53, 5353, bytes(30))));
  });

  it('Ethernet padding after a short IPv4 packet is not payload', () => {
    const frame = [...eth(0x0800, ip4(A, B, 6, tcp(1, 2, []))), 0, 0, 0, 0, 0, 0];
    const m = run(frame, 1);
    expect(m.status).toBe(DecodeStatus.Ok);
    expect(m.payloadLen).toBe(0);
    expect(m.ipLen).toBe(40);
  });
});

describe('address text cache', () => {
  it('gives the same text as addrToString for every address, colliding slots and repeats included', () => {
    const words: [4 | 6, number, number, number, number][] = [];
    // 20,000 IPv4 addresses (five times the slots: collisions overwrite) and IPv6 ones that differ
    // only in one word, or only in the version with the same first word.
    for (let i = 0; i < 20_000; i++) words.push([4, (Math.imul(i, 2654435761) >>> 0) | 0, 0, 0, 0]);
    for (let i = 0; i < 3000; i++) words.push([6, 0x20010db8 | 0, 0, i & 7, Math.imul(i, 40503) | 0]);
    words.push([6, 0x0a000001, 0, 0, 0], [4, 0x0a000001, 0, 0, 0], [6, 0, 0, 0, 1], [4, 0, 0, 0, 0]);
    for (let round = 0; round < 2; round++) {
      for (const [v, a, b, c, d] of words) expect(addrText(v, a, b, c, d)).toBe(addrToString(v, a, b, c, d));
    }
    const first = addrText(4, 0xc0a86464 | 0, 0, 0, 0);
    expect(first).toBe('192.168.100.100');
    expect(addrText(6, 0xc0a86464 | 0, 0, 0, 0)).toBe('c0a8:6464::');
  });
});
