/**
 * A small classic-pcap rewriter for lab captures: map IPv4 addresses and TCP/UDP ports per packet,
 * shift/scale timestamps, drop packets, then write the packets back sorted by time with the IPv4
 * header checksum and the TCP/UDP checksums recomputed. Link types: Ethernet (with 802.1Q tags),
 * Linux cooked (SLL) and raw IPv4. Non-IPv4 packets are passed to the callback with `ipv4: false`
 * (return null to drop them). pcapng input is not handled (tcpdump -w writes classic pcap).
 */
import { pcapForm } from '../src/capture/pcap-file.js';

export interface PacketView {
  index: number;
  /** Epoch microseconds. */
  tsUs: number;
  ipv4: boolean;
  proto: number; // 6 tcp, 17 udp, else other
  src: string;
  dst: string;
  sport: number;
  dport: number;
  /** TCP flags (0 when not TCP). */
  tcpFlags: number;
  payloadLength: number;
}

export interface Rewrite {
  tsUs?: number;
  src?: string;
  dst?: string;
  sport?: number;
  dport?: number;
}

const LINK_ETHERNET = 1;
const LINK_RAW = 101;
const LINK_SLL = 113;

function ipText(b: Buffer, o: number): string {
  return `${b[o]}.${b[o + 1]}.${b[o + 2]}.${b[o + 3]}`;
}

function writeIp(b: Buffer, o: number, ip: string): void {
  const p = ip.split('.').map(Number);
  if (p.length !== 4 || p.some((x) => !(x >= 0 && x <= 255))) throw new Error(`pcap-rewrite: bad IPv4 ${ip}`);
  for (let i = 0; i < 4; i++) b[o + i] = p[i]!;
}

function sum16(b: Buffer, from: number, to: number, acc = 0): number {
  let s = acc;
  let i = from;
  for (; i + 1 < to; i += 2) s += (b[i]! << 8) | b[i + 1]!;
  if (i < to) s += b[i]! << 8;
  return s;
}

function fold(s: number): number {
  while (s > 0xffff) s = (s & 0xffff) + (s >>> 16);
  return ~s & 0xffff;
}

/** Recompute the IPv4 header checksum and the TCP/UDP checksum of the IPv4 packet at `ip`. */
export function fixChecksums(b: Buffer, ip: number, end: number): void {
  const ihl = (b[ip]! & 0x0f) * 4;
  b.writeUInt16BE(0, ip + 10);
  b.writeUInt16BE(fold(sum16(b, ip, ip + ihl)), ip + 10);
  const totalLen = Math.min(b.readUInt16BE(ip + 2), end - ip);
  const proto = b[ip + 9]!;
  const fragOff = b.readUInt16BE(ip + 6) & 0x1fff;
  if (fragOff !== 0 || (proto !== 6 && proto !== 17)) return;
  const l4 = ip + ihl;
  const l4Len = b.readUInt16BE(ip + 2) - ihl;
  if (ip + b.readUInt16BE(ip + 2) > end) return; // truncated (snaplen): leave the transport checksum
  const ck = proto === 6 ? l4 + 16 : l4 + 6;
  if (ck + 2 > ip + totalLen) return;
  if (proto === 17 && b.readUInt16BE(ck) === 0) return; // UDP without checksum stays so
  b.writeUInt16BE(0, ck);
  let s = sum16(b, ip + 12, ip + 20); // pseudo header: src + dst
  s += proto + l4Len;
  s = sum16(b, l4, l4 + l4Len, s);
  let c = fold(s);
  if (proto === 17 && c === 0) c = 0xffff;
  b.writeUInt16BE(c, ck);
}

interface Rec {
  tsUs: number;
  data: Buffer;
  origLen: number;
  index: number;
}

/** Rewrite a classic pcap. `fn` returns the changes for a packet, `{}` to keep it as is, or null to drop it. */
export function rewritePcap(input: Buffer, fn: (p: PacketView) => Rewrite | null): Buffer {
  if (input.length < 24) throw new Error('pcap-rewrite: file too short');
  const form = pcapForm(input.readUInt32BE(0));
  if (form === null || form.recHdr !== 16) throw new Error('pcap-rewrite: not a classic pcap (pcapng and Kuznetsov records are not supported)');
  const { le, ns: nano } = form;
  const u32 = (o: number): number => (le ? input.readUInt32LE(o) : input.readUInt32BE(o));
  const linkType = u32(20) & 0x0fffffff;
  const out: Rec[] = [];
  let off = 24;
  let index = 0;
  while (off + 16 <= input.length) {
    const sec = u32(off);
    const frac = u32(off + 4);
    const incl = u32(off + 8);
    const orig = u32(off + 12);
    off += 16;
    if (off + incl > input.length) break;
    const data = Buffer.from(input.subarray(off, off + incl));
    off += incl;
    const tsUs = sec * 1_000_000 + (nano ? Math.floor(frac / 1000) : frac);
    let ip = -1;
    if (linkType === LINK_ETHERNET) {
      let o = 12;
      let et = data.length >= 14 ? data.readUInt16BE(12) : 0;
      while ((et === 0x8100 || et === 0x88a8) && o + 6 <= data.length) { o += 4; et = data.readUInt16BE(o); }
      if (et === 0x0800) ip = o + 2;
    } else if (linkType === LINK_SLL) {
      if (data.length >= 16 && data.readUInt16BE(14) === 0x0800) ip = 16;
    } else if (linkType === LINK_RAW) {
      if (data.length >= 1 && data[0]! >> 4 === 4) ip = 0;
    }
    const view: PacketView = { index, tsUs, ipv4: false, proto: 0, src: '', dst: '', sport: 0, dport: 0, tcpFlags: 0, payloadLength: 0 };
    let l4 = -1;
    if (ip >= 0 && ip + 20 <= data.length && data[ip]! >> 4 === 4) {
      const ihl = (data[ip]! & 0x0f) * 4;
      view.ipv4 = true;
      view.proto = data[ip + 9]!;
      view.src = ipText(data, ip + 12);
      view.dst = ipText(data, ip + 16);
      l4 = ip + ihl;
      const totalLen = data.readUInt16BE(ip + 2);
      if ((view.proto === 6 || view.proto === 17) && l4 + 4 <= data.length) {
        view.sport = data.readUInt16BE(l4);
        view.dport = data.readUInt16BE(l4 + 2);
        if (view.proto === 6 && l4 + 14 <= data.length) {
          view.tcpFlags = data[l4 + 13]!;
          view.payloadLength = Math.max(0, totalLen - ihl - (data[l4 + 12]! >> 4) * 4);
        } else if (view.proto === 17) view.payloadLength = Math.max(0, totalLen - ihl - 8);
      }
    }
    const rw = fn(view);
    index++;
    if (rw === null) continue;
    if (view.ipv4) {
      if (rw.src !== undefined) writeIp(data, ip + 12, rw.src);
      if (rw.dst !== undefined) writeIp(data, ip + 16, rw.dst);
      if ((view.proto === 6 || view.proto === 17) && l4 + 4 <= data.length) {
        if (rw.sport !== undefined) data.writeUInt16BE(rw.sport, l4);
        if (rw.dport !== undefined) data.writeUInt16BE(rw.dport, l4 + 2);
      }
      fixChecksums(data, ip, data.length);
    }
    out.push({ tsUs: Math.round(rw.tsUs ?? tsUs), data, origLen: orig, index: view.index });
  }
  out.sort((a, b) => a.tsUs - b.tsUs || a.index - b.index);
  const hdr = Buffer.alloc(24);
  hdr.writeUInt32LE(0xa1b2c3d4, 0);
  hdr.writeUInt16LE(2, 4);
  hdr.writeUInt16LE(4, 6);
  hdr.writeUInt32LE(262_144, 16);
  hdr.writeUInt32LE(linkType, 20);
  const parts: Buffer[] = [hdr];
  for (const r of out) {
    const h = Buffer.alloc(16);
    h.writeUInt32LE(Math.floor(r.tsUs / 1_000_000), 0);
    h.writeUInt32LE(r.tsUs % 1_000_000, 4);
    h.writeUInt32LE(r.data.length, 8);
    h.writeUInt32LE(Math.max(r.origLen, r.data.length), 12);
    parts.push(h, r.data);
  }
  return Buffer.concat(parts);
}

/** Iterate packets (for tests and the generator's connection discovery) without changing anything. */
export function scanPcap(input: Buffer): PacketView[] {
  const seen: PacketView[] = [];
  rewritePcap(input, (p) => { seen.push({ ...p }); return null; });
  return seen;
}
