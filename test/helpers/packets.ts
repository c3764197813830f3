/**
 * Builds Ethernet/IPv4/IPv6 TCP and UDP frames and pcap files for engine tests (synthetic
 * packets where a behaviour needs exact control: out-of-order segments, port reuse, floods).
 */
import { writeFileSync } from 'node:fs';

export interface Seg {
  src: string; // 'a.b.c.d' or IPv6
  dst: string;
  sport: number;
  dport: number;
  proto?: 6 | 17;
  flags?: number; // TCP flags
  seq?: number;
  ack?: number;
  payload?: Uint8Array | string;
  ts: number; // epoch ms
}

export const F = { FIN: 1, SYN: 2, RST: 4, PSH: 8, ACK: 16 } as const;

function v4(ip: string): number[] {
  return ip.split('.').map(Number);
}

function v6(ip: string): number[] {
  const [h, t] = ip.split('::') as [string, string | undefined];
  const hs = h ? h.split(':') : [];
  const ts = t ? t.split(':') : [];
  const g = t === undefined ? hs : [...hs, ...Array(8 - hs.length - ts.length).fill('0'), ...ts];
  return g.flatMap((x) => { const n = parseInt(x, 16) || 0; return [n >> 8, n & 255]; });
}

export function frame(s: Seg): Uint8Array {
  const payload = typeof s.payload === 'string' ? new TextEncoder().encode(s.payload) : (s.payload ?? new Uint8Array(0));
  const proto = s.proto ?? 6;
  const l4len = proto === 6 ? 20 : 8;
  const six = s.src.includes(':');
  const iplen = six ? 40 : 20;
  const out = new Uint8Array(14 + iplen + l4len + payload.length);
  const dv = new DataView(out.buffer);
  out.set([2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1], 0);
  dv.setUint16(12, six ? 0x86dd : 0x0800);
  let o = 14;
  if (six) {
    dv.setUint32(o, 0x60000000);
    dv.setUint16(o + 4, l4len + payload.length);
    out[o + 6] = proto;
    out[o + 7] = 64;
    out.set(v6(s.src), o + 8);
    out.set(v6(s.dst), o + 24);
  } else {
    out[o] = 0x45;
    dv.setUint16(o + 2, iplen + l4len + payload.length);
    out[o + 8] = 64;
    out[o + 9] = proto;
    out.set(v4(s.src), o + 12);
    out.set(v4(s.dst), o + 16);
  }
  o += iplen;
  dv.setUint16(o, s.sport);
  dv.setUint16(o + 2, s.dport);
  if (proto === 6) {
    dv.setUint32(o + 4, (s.seq ?? 0) >>> 0);
    dv.setUint32(o + 8, (s.ack ?? 0) >>> 0);
    out[o + 12] = 5 << 4;
    out[o + 13] = s.flags ?? F.ACK;
    dv.setUint16(o + 14, 65535);
  } else {
    dv.setUint16(o + 4, 8 + payload.length);
  }
  out.set(payload, o + l4len);
  return out;
}

/** A classic little-endian µs pcap (Ethernet). */
export function writePcap(path: string, segs: Seg[]): void {
  const frames = segs.map(frame);
  const size = 24 + frames.reduce((n, f) => n + 16 + f.length, 0);
  const out = Buffer.alloc(size);
  out.writeUInt32LE(0xa1b2c3d4, 0);
  out.writeUInt16LE(2, 4);
  out.writeUInt16LE(4, 6);
  out.writeUInt32LE(262144, 16);
  out.writeUInt32LE(1, 20);
  let o = 24;
  segs.forEach((s, i) => {
    const f = frames[i] as Uint8Array;
    out.writeUInt32LE(Math.floor(s.ts / 1000), o);
    out.writeUInt32LE(Math.round((s.ts % 1000) * 1000), o + 4);
    out.writeUInt32LE(f.length, o + 8);
    out.writeUInt32LE(f.length, o + 12);
    out.set(f, o + 16);
    o += 16 + f.length;
  });
  writeFileSync(path, out);
}

/** A TCP conversation: handshake, client payloads, server payloads, FIN both ways. */
export function conversation(c: string, cp: number, s: string, sp: number, t0: number, toServer: (Uint8Array | string)[], toClient: (Uint8Array | string)[] = []): Seg[] {
  const segs: Seg[] = [];
  let cseq = 1000;
  let sseq = 5000;
  let t = t0;
  segs.push({ src: c, dst: s, sport: cp, dport: sp, flags: F.SYN, seq: cseq - 1, ts: t++ });
  segs.push({ src: s, dst: c, sport: sp, dport: cp, flags: F.SYN | F.ACK, seq: sseq - 1, ack: cseq, ts: t++ });
  segs.push({ src: c, dst: s, sport: cp, dport: sp, flags: F.ACK, seq: cseq, ack: sseq, ts: t++ });
  const n = Math.max(toServer.length, toClient.length);
  for (let i = 0; i < n; i++) {
    const a = toServer[i];
    if (a !== undefined) {
      const len = typeof a === 'string' ? a.length : a.length;
      segs.push({ src: c, dst: s, sport: cp, dport: sp, flags: F.ACK | F.PSH, seq: cseq, ack: sseq, payload: a, ts: t++ });
      cseq += len;
    }
    const b = toClient[i];
    if (b !== undefined) {
      const len = typeof b === 'string' ? b.length : b.length;
      segs.push({ src: s, dst: c, sport: sp, dport: cp, flags: F.ACK | F.PSH, seq: sseq, ack: cseq, payload: b, ts: t++ });
      sseq += len;
    }
  }
  segs.push({ src: c, dst: s, sport: cp, dport: sp, flags: F.FIN | F.ACK, seq: cseq, ack: sseq, ts: t++ });
  segs.push({ src: s, dst: c, sport: sp, dport: cp, flags: F.FIN | F.ACK, seq: sseq, ack: cseq + 1, ts: t++ });
  return segs;
}
