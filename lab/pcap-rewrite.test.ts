import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { fixChecksums, rewritePcap, scanPcap } from './pcap-rewrite.js';

/** Independent check: the one's-complement sum over a header including its checksum is 0xffff. */
function onesSum(words: number[]): number {
  let s = 0;
  for (const w of words) s += w;
  while (s > 0xffff) s = (s & 0xffff) + (s >>> 16);
  return s;
}
function words(b: Buffer, from: number, to: number): number[] {
  const out: number[] = [];
  for (let i = from; i < to; i += 2) out.push(i + 1 < to ? b.readUInt16BE(i) : b[i]! << 8);
  return out;
}
function checksOk(frame: Buffer): boolean {
  const ip = 14;
  const ihl = (frame[ip]! & 15) * 4;
  if (onesSum(words(frame, ip, ip + ihl)) !== 0xffff) return false;
  const total = frame.readUInt16BE(ip + 2);
  const l4 = ip + ihl;
  const len = total - ihl;
  const pseudo = [...words(frame, ip + 12, ip + 20), frame[ip + 9]!, len];
  return onesSum([...pseudo, ...words(frame, l4, l4 + len)]) === 0xffff;
}

function frame(src: number[], dst: number[], sport: number, dport: number, payload: Buffer, flags = 0x18): Buffer {
  const eth = Buffer.alloc(14);
  eth.writeUInt16BE(0x0800, 12);
  const ip = Buffer.alloc(20);
  ip[0] = 0x45;
  ip.writeUInt16BE(20 + 20 + payload.length, 2);
  ip[8] = 64;
  ip[9] = 6;
  Buffer.from(src).copy(ip, 12);
  Buffer.from(dst).copy(ip, 16);
  const tcp = Buffer.alloc(20);
  tcp.writeUInt16BE(sport, 0);
  tcp.writeUInt16BE(dport, 2);
  tcp.writeUInt32BE(1000, 4);
  tcp[12] = 0x50;
  tcp[13] = flags;
  tcp.writeUInt16BE(65_535, 14);
  const f = Buffer.concat([eth, ip, tcp, payload]);
  fixChecksums(f, 14, f.length);
  return f;
}

function pcap(frames: [number, Buffer][]): Buffer {
  const h = Buffer.alloc(24);
  h.writeUInt32LE(0xa1b2c3d4, 0); h.writeUInt16LE(2, 4); h.writeUInt16LE(4, 6); h.writeUInt32LE(65_535, 16); h.writeUInt32LE(1, 20);
  const parts: Buffer[] = [h];
  for (const [us, f] of frames) {
    const r = Buffer.alloc(16);
    r.writeUInt32LE(Math.floor(us / 1e6), 0); r.writeUInt32LE(us % 1e6, 4); r.writeUInt32LE(f.length, 8); r.writeUInt32LE(f.length, 12);
    parts.push(r, f);
  }
  return Buffer.concat(parts);
}

describe('pcap rewriter', () => {
  it('maps addresses and ports, fixes checksums, re-times and sorts, drops on null', () => {
    const a = frame([10, 0, 0, 1], [10, 0, 0, 2], 40_000, 443, Buffer.from('hello, odd length'), 0x02);
    const b = frame([10, 0, 0, 2], [10, 0, 0, 1], 443, 40_000, Buffer.from('hi'));
    const c = frame([10, 0, 0, 9], [10, 0, 0, 2], 1, 2, Buffer.alloc(0));
    expect(checksOk(a) && checksOk(b)).toBe(true);
    const input = pcap([[1_000_000, a], [1_000_500, b], [1_000_700, c]]);
    const out = rewritePcap(input, (p) => {
      if (p.src === '10.0.0.9') return null;
      const fromClient = p.sport === 40_000;
      // reverse the order in time: the second packet becomes the first
      const tsUs = 5_000_000 + (p.index === 0 ? 100 : 0);
      return fromClient ? { tsUs, src: '192.168.7.7', dst: '203.0.113.9', sport: 50_001 } : { tsUs, src: '203.0.113.9', dst: '192.168.7.7', dport: 50_001 };
    });
    const pk = scanPcap(out);
    expect(pk.map((p) => [p.tsUs, p.src, p.dst, p.sport, p.dport])).toEqual([
      [5_000_000, '203.0.113.9', '192.168.7.7', 443, 50_001],
      [5_000_100, '192.168.7.7', '203.0.113.9', 50_001, 443],
    ]);
    expect(pk[1]!.tcpFlags).toBe(0x02);
    expect(pk[1]!.payloadLength).toBe(17);
    // checksums of the rewritten frames verify independently
    let off = 24;
    for (let i = 0; i < 2; i++) {
      const len = out.readUInt32LE(off + 8);
      expect(checksOk(out.subarray(off + 16, off + 16 + len))).toBe(true);
      off += 16 + len;
    }
  });
  it('rejects pcapng and short input', () => {
    expect(() => rewritePcap(Buffer.alloc(10), () => ({}))).toThrow(/too short/);
    const ng = Buffer.alloc(32);
    ng.writeUInt32LE(0x0a0d0d0a, 0);
    expect(() => rewritePcap(ng, () => ({}))).toThrow(/pcapng/);
  });
  it('every TCP packet of the committed demo capture has valid IPv4 and TCP checksums', () => {
    const buf = readFileSync(new URL('../pcaps/demo/demo.pcap', import.meta.url));
    let off = 24;
    let n = 0;
    let bad = 0;
    while (off + 16 <= buf.length) {
      const len = buf.readUInt32LE(off + 8);
      const f = buf.subarray(off + 16, off + 16 + len);
      if (f.readUInt16BE(12) === 0x0800 && f[23] === 6) { n++; if (!checksOk(f)) bad++; }
      off += 16 + len;
    }
    expect(n).toBeGreaterThan(1000);
    expect(bad).toBe(0);
  });
});
