/**
 * Test-only helpers: a minimal Ethernet/VLAN/IPv4/IPv6/TCP/UDP frame parser and a classic pcap
 * file reader (tcpdump -w output), so the live tests can check what the capture sources deliver
 * without depending on the real decoder.
 */
import { readFileSync } from 'node:fs';
import type { PacketBatch } from '../../src/capture/source.js';

export interface Frame {
  ipVersion: 4 | 6;
  proto: number;
  src: string;
  dst: string;
  sport: number;
  dport: number;
  tcpFlags: number;
  payload: Uint8Array;
  tsMs: number;
}

function v6(b: Uint8Array, o: number): string {
  const g: string[] = [];
  for (let i = 0; i < 8; i++) g.push((((b[o + 2 * i] as number) << 8) | (b[o + 2 * i + 1] as number)).toString(16));
  return g.join(':');
}

export function parseFrame(b: Uint8Array, tsMs = 0): Frame | null {
  if (b.length < 14) return null;
  let off = 12;
  let et = ((b[off] as number) << 8) | (b[off + 1] as number);
  off += 2;
  while ((et === 0x8100 || et === 0x88a8) && b.length >= off + 4) {
    et = ((b[off + 2] as number) << 8) | (b[off + 3] as number);
    off += 4;
  }
  let proto: number;
  let src: string;
  let dst: string;
  let l4: number;
  let end: number;
  let ver: 4 | 6;
  if (et === 0x0800 && b.length >= off + 20) {
    ver = 4;
    const ihl = ((b[off] as number) & 15) * 4;
    proto = b[off + 9] as number;
    src = Array.from(b.subarray(off + 12, off + 16)).join('.');
    dst = Array.from(b.subarray(off + 16, off + 20)).join('.');
    end = Math.min(b.length, off + (((b[off + 2] as number) << 8) | (b[off + 3] as number)));
    l4 = off + ihl;
  } else if (et === 0x86dd && b.length >= off + 40) {
    ver = 6;
    proto = b[off + 6] as number;
    src = v6(b, off + 8);
    dst = v6(b, off + 24);
    end = Math.min(b.length, off + 40 + (((b[off + 4] as number) << 8) | (b[off + 5] as number)));
    l4 = off + 40;
  } else return null;
  if (proto === 6 && b.length >= l4 + 20) {
    const doff = ((b[l4 + 12] as number) >> 4) * 4;
    return {
      ipVersion: ver, proto, src, dst, tsMs,
      sport: ((b[l4] as number) << 8) | (b[l4 + 1] as number),
      dport: ((b[l4 + 2] as number) << 8) | (b[l4 + 3] as number),
      tcpFlags: b[l4 + 13] as number,
      payload: b.subarray(Math.min(l4 + doff, end), end),
    };
  }
  if (proto === 17 && b.length >= l4 + 8) {
    return {
      ipVersion: ver, proto, src, dst, tsMs, tcpFlags: 0,
      sport: ((b[l4] as number) << 8) | (b[l4 + 1] as number),
      dport: ((b[l4 + 2] as number) << 8) | (b[l4 + 3] as number),
      payload: b.subarray(l4 + 8, end),
    };
  }
  return null;
}

/** Copy the frames of a batch out (batches are reused by the source). */
export function framesOf(batch: PacketBatch): Frame[] {
  const out: Frame[] = [];
  for (let i = 0; i < batch.n; i++) {
    const o = batch.off[i] as number;
    const bytes = new Uint8Array(batch.buf.subarray(o, o + (batch.capLen[i] as number))); // a copy
    const f = parseFrame(bytes, batch.tsMs[i] as number);
    if (f) out.push(f);
  }
  return out;
}

/** Frames of a classic pcap file (either byte order, µs or ns). */
export function readPcap(path: string): Frame[] {
  const b = readFileSync(path);
  if (b.length < 24) return [];
  const magic = b.readUInt32LE(0);
  const le = magic === 0xa1b2c3d4 || magic === 0xa1b23c4d;
  const nano = magic === 0xa1b23c4d || magic === 0x4d3cb2a1;
  const r32 = (o: number): number => (le ? b.readUInt32LE(o) : b.readUInt32BE(o));
  const out: Frame[] = [];
  for (let o = 24; o + 16 <= b.length; ) {
    const ts = r32(o) * 1000 + r32(o + 4) / (nano ? 1e6 : 1e3);
    const cap = r32(o + 8);
    if (o + 16 + cap > b.length) break;
    const f = parseFrame(b.subarray(o + 16, o + 16 + cap), ts);
    if (f) out.push(f);
    o += 16 + cap;
  }
  return out;
}

/** TLS handshake message type of a TCP payload starting a handshake record (1 ClientHello, 2 ServerHello), else -1. */
export function tlsHandshakeType(p: Uint8Array): number {
  if (p.length >= 6 && p[0] === 0x16 && p[1] === 0x03) return p[5] as number;
  return -1;
}
