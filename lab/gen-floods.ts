/**
 * Synthetic captures of the shapes that make per-key state grow (issue 25): a SYN flood, a
 * horizontal and a vertical scan, a crowd of hosts each talking to its own destination with one
 * real beacon among them, and a million distinct DNS names. Packets are built byte by byte into a
 * large buffer and written out in chunks, so a capture of millions of packets needs no list of
 * frames in memory. Every shape is deterministic (a fixed seed), so two runs give the same file.
 *
 * Addresses come from the documentation and private ranges; the files are made on demand into a
 * temporary or cache directory (`ndr-sensor gen floods`), never committed.
 */
import { closeSync, openSync, writeSync } from 'node:fs';
// Seeded: the shapes must be the same on every run.
import { prng as rng } from '../test/helpers/fuzz-dissector.js';

export const FLOOD_SHAPES = ['syn-flood', 'horizontal-scan', 'vertical-scan', 'beacon-crowd', 'dns-names'] as const;
export type FloodShape = (typeof FLOOD_SHAPES)[number];

/** TCP flag bits. */
const FIN = 1;
const SYN = 2;
const RST = 4;
const PSH = 8;
const ACK = 16;

const CHUNK_BYTES = 4 << 20;

/**
 * A classic little-endian microsecond pcap (Ethernet) written in 4 MiB chunks. Frames are built in
 * place: tcp()/udp() write the Ethernet, IPv4 and transport headers straight into the chunk.
 */
export class PcapStreamWriter {
  private readonly fd: number;
  private buf = Buffer.alloc(CHUNK_BYTES);
  private at = 0;
  packets = 0;
  bytes = 0;

  constructor(path: string) {
    this.fd = openSync(path, 'w');
    const h = Buffer.alloc(24);
    h.writeUInt32LE(0xa1b2c3d4, 0);
    h.writeUInt16LE(2, 4);
    h.writeUInt16LE(4, 6);
    h.writeUInt32LE(65535, 16);
    h.writeUInt32LE(1, 20); // LINKTYPE_ETHERNET
    writeSync(this.fd, h);
    this.bytes = 24;
  }

  private room(n: number): void {
    if (this.at + n <= this.buf.length) return;
    writeSync(this.fd, this.buf, 0, this.at);
    this.at = 0;
    if (n > this.buf.length) this.buf = Buffer.alloc(n);
  }

  /** Record header + Ethernet + IPv4 header (checksummed); returns the offset of the L4 header. */
  private ipv4(tsMs: number, src: number, dst: number, proto: number, l4Len: number): number {
    const frameLen = 14 + 20 + l4Len;
    this.room(16 + frameLen);
    const b = this.buf;
    let o = this.at;
    const sec = Math.floor(tsMs / 1000);
    b.writeUInt32LE(sec, o);
    b.writeUInt32LE(Math.round((tsMs - sec * 1000) * 1000), o + 4);
    b.writeUInt32LE(frameLen, o + 8);
    b.writeUInt32LE(frameLen, o + 12);
    o += 16;
    // Ethernet: fixed lab MACs, IPv4.
    b.writeUInt32BE(0x02000000, o); b.writeUInt16BE(0x0002, o + 4);
    b.writeUInt32BE(0x02000000, o + 6); b.writeUInt16BE(0x0001, o + 10);
    b.writeUInt16BE(0x0800, o + 12);
    o += 14;
    b.writeUInt32BE(0x45000000 | (20 + l4Len), o);
    b.writeUInt32BE(0x00004000, o + 4); // id 0, DF
    b.writeUInt32BE((64 << 24) | (proto << 16), o + 8); // TTL, protocol, checksum 0 for now
    b.writeUInt32BE(src >>> 0, o + 12);
    b.writeUInt32BE(dst >>> 0, o + 16);
    let sum = 0;
    for (let i = 0; i < 20; i += 2) sum += b.readUInt16BE(o + i);
    while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
    b.writeUInt16BE(~sum & 0xffff, o + 10);
    this.at = o + 20 + l4Len;
    this.packets++;
    this.bytes += 16 + frameLen;
    return o + 20;
  }

  tcp(tsMs: number, src: number, sport: number, dst: number, dport: number, flags: number, seq: number, ack: number, payload: Uint8Array | null = null): void {
    const n = payload?.length ?? 0;
    const o = this.ipv4(tsMs, src, dst, 6, 20 + n);
    const b = this.buf;
    b.writeUInt16BE(sport, o);
    b.writeUInt16BE(dport, o + 2);
    b.writeUInt32BE(seq >>> 0, o + 4);
    b.writeUInt32BE(ack >>> 0, o + 8);
    b[o + 12] = 5 << 4;
    b[o + 13] = flags;
    b.writeUInt16BE(64240, o + 14);
    b.writeUInt32BE(0, o + 16); // checksum (not computed: nothing here checks it), urgent pointer
    if (payload !== null) b.set(payload, o + 20);
  }

  udp(tsMs: number, src: number, sport: number, dst: number, dport: number, payload: Uint8Array): void {
    const o = this.ipv4(tsMs, src, dst, 17, 8 + payload.length);
    const b = this.buf;
    b.writeUInt16BE(sport, o);
    b.writeUInt16BE(dport, o + 2);
    b.writeUInt16BE(8 + payload.length, o + 4);
    b.writeUInt16BE(0, o + 6);
    b.set(payload, o + 8);
  }

  close(): { packets: number; bytes: number } {
    if (this.at > 0) writeSync(this.fd, this.buf, 0, this.at);
    this.at = 0;
    closeSync(this.fd);
    return { packets: this.packets, bytes: this.bytes };
  }
}

/** a.b.c.d → a 32-bit number. */
export function ip4(s: string): number {
  const p = s.split('.').map(Number);
  return (((p[0]! << 24) | (p[1]! << 16) | (p[2]! << 8) | p[3]!) >>> 0);
}

export function ip4String(n: number): string {
  return `${n >>> 24}.${(n >>> 16) & 255}.${(n >>> 8) & 255}.${n & 255}`;
}


/** Capture start of every shape (packet time). */
export const FLOOD_T0 = Date.UTC(2026, 10, 2, 8, 0, 0);

export interface FloodOptions {
  /** Scale factor in (0, 1]: the tests use a small slice of each shape, the bench the whole. */
  scale?: number;
}

export interface FloodInfo {
  shape: FloodShape;
  packets: number;
  bytes: number;
  /** Flows the capture holds (each client connection or DNS exchange is one flow). */
  flows: number;
  /** Flows that never carry a byte of payload. */
  emptyFlows: number;
  /** beacon-crowd: the hidden beacon's client, server and port. */
  beacon?: { client: string; server: string; port: number; connections: number };
}

const SERVER = ip4('198.51.100.10');

/** 1,000,000 SYNs from 1,000,000 different clients to one server port over 10 s; none answered. */
function synFlood(w: PcapStreamWriter, scale: number): Omit<FloodInfo, 'shape' | 'packets' | 'bytes'> {
  const n = Math.round(1_000_000 * scale);
  const base = ip4('100.64.0.0');
  const r = rng(1);
  for (let i = 0; i < n; i++) {
    const ts = FLOOD_T0 + (i * 10_000) / n;
    w.tcp(ts, base + i, 1024 + ((i * 7919) % 64000), SERVER, 80, SYN, (r() * 4294967296) >>> 0, 0);
  }
  return { flows: n, emptyFlows: n };
}

/** One source, every port 1..65,535 on each of 16 hosts; each host answers RST to every SYN. */
function horizontalScan(w: PcapStreamWriter, scale: number): Omit<FloodInfo, 'shape' | 'packets' | 'bytes'> {
  const ports = Math.max(1, Math.round(65_535 * scale));
  const hosts = 16;
  const scanner = ip4('203.0.113.66');
  const first = ip4('10.20.0.1');
  const total = ports * hosts;
  let k = 0;
  for (let port = 1; port <= ports; port++) {
    for (let h = 0; h < hosts; h++) {
      const ts = FLOOD_T0 + (k * 60_000) / total;
      const sport = 40_000 + (k % 20_000);
      w.tcp(ts, scanner, sport, first + h, port, SYN, 1000 + k, 0);
      w.tcp(ts + 0.2, first + h, port, scanner, sport, RST | ACK, 0, 1001 + k);
      k++;
    }
  }
  return { flows: total, emptyFlows: total };
}

/** One source, port 22 on 10,000 hosts; one host in ten answers SYN-ACK and the scanner resets. */
function verticalScan(w: PcapStreamWriter, scale: number): Omit<FloodInfo, 'shape' | 'packets' | 'bytes'> {
  const n = Math.max(1, Math.round(10_000 * scale));
  const scanner = ip4('203.0.113.77');
  const first = ip4('10.30.0.1');
  for (let i = 0; i < n; i++) {
    const ts = FLOOD_T0 + i * 2; // 500 hosts a second
    const sport = 50_000 + (i % 10_000);
    w.tcp(ts, scanner, sport, first + i, 22, SYN, 7000 + i, 0);
    if (i % 10 === 0) {
      w.tcp(ts + 0.3, first + i, 22, scanner, sport, SYN | ACK, 9000, 7001 + i);
      w.tcp(ts + 0.4, scanner, sport, first + i, 22, RST, 7001 + i, 0);
    }
  }
  return { flows: n, emptyFlows: n };
}

/** A whole TCP connection with one request and one answer (7 packets). */
function connection(w: PcapStreamWriter, ts: number, c: number, cp: number, s: number, sp: number, req: Uint8Array, resp: Uint8Array): void {
  const cs = 1000;
  const ss = 50_000;
  w.tcp(ts, c, cp, s, sp, SYN, cs - 1, 0);
  w.tcp(ts + 1, s, sp, c, cp, SYN | ACK, ss - 1, cs);
  w.tcp(ts + 2, c, cp, s, sp, ACK, cs, ss);
  w.tcp(ts + 2.1, c, cp, s, sp, PSH | ACK, cs, ss, req);
  w.tcp(ts + 3, s, sp, c, cp, PSH | ACK, ss, cs + req.length, resp);
  w.tcp(ts + 4, c, cp, s, sp, FIN | ACK, cs + req.length, ss + resp.length);
  w.tcp(ts + 5, s, sp, c, cp, FIN | ACK, ss + resp.length, cs + req.length + 1);
}

/** Window of the beacon crowd (packet time): long enough for the beacon's histogram and duration. */
export const CROWD_SPAN_MS = 4 * 3600_000;
export const CROWD_BEACON_PERIOD_MS = 120_000;

/**
 * 100,000 hosts, each with two connections to a destination of its own at unrelated times (so
 * every host is a new pair for the beacon tracker), and one real beacon: a host that connects to
 * its server every 2 minutes (±1 s) with a request of the same size, across the whole window.
 * Connections are written in start order.
 */
function beaconCrowd(w: PcapStreamWriter, scale: number): Omit<FloodInfo, 'shape' | 'packets' | 'bytes'> {
  const hosts = Math.max(1, Math.round(100_000 * scale));
  const r = rng(3);
  const starts: { ts: number; who: number }[] = [];
  for (let h = 0; h < hosts; h++) {
    starts.push({ ts: FLOOD_T0 + r() * CROWD_SPAN_MS, who: h });
    starts.push({ ts: FLOOD_T0 + r() * CROWD_SPAN_MS, who: h });
  }
  const beaconN = Math.floor(CROWD_SPAN_MS / CROWD_BEACON_PERIOD_MS);
  for (let k = 0; k < beaconN; k++) starts.push({ ts: FLOOD_T0 + k * CROWD_BEACON_PERIOD_MS + (r() - 0.5) * 2000, who: -1 });
  starts.sort((a, b) => a.ts - b.ts);
  const clientBase = ip4('10.40.0.0');
  const serverBase = ip4('100.80.0.0');
  const beaconClient = ip4('10.39.0.7');
  const beaconServer = ip4('192.0.2.200');
  const req = new TextEncoder().encode('GET /status HTTP/1.1\r\nHost: svc\r\n\r\n');
  const resp = new TextEncoder().encode('HTTP/1.1 204 No Content\r\n\r\n');
  const beaconReq = new Uint8Array(180).fill(0x61);
  let port = 0;
  for (const s of starts) {
    port = (port + 1) % 28_000;
    if (s.who < 0) connection(w, s.ts, beaconClient, 30_000 + port, beaconServer, 8443, beaconReq, resp);
    else connection(w, s.ts, clientBase + s.who, 30_000 + port, serverBase + s.who, 8080, req, resp);
  }
  return {
    flows: starts.length,
    emptyFlows: 0,
    beacon: { client: ip4String(beaconClient), server: ip4String(beaconServer), port: 8443, connections: beaconN },
  };
}

/** A DNS response for `name` with one A record. */
function dnsAnswer(id: number, name: string, addr: number): Uint8Array {
  const labels = name.split('.');
  const qname = labels.reduce((n, l) => n + 1 + l.length, 1);
  const out = Buffer.alloc(12 + qname + 4 + 16);
  out.writeUInt16BE(id, 0);
  out.writeUInt16BE(0x8180, 2); // response, recursion desired and available, no error
  out.writeUInt16BE(1, 4);
  out.writeUInt16BE(1, 6);
  let o = 12;
  for (const l of labels) { out[o++] = l.length; out.write(l, o, 'latin1'); o += l.length; }
  out[o++] = 0;
  out.writeUInt16BE(1, o); out.writeUInt16BE(1, o + 2); o += 4;
  out.writeUInt16BE(0xc00c, o); // the name: a pointer to the question
  out.writeUInt16BE(1, o + 2);
  out.writeUInt16BE(1, o + 4);
  out.writeUInt32BE(300, o + 6);
  out.writeUInt16BE(4, o + 10);
  out.writeUInt32BE(addr >>> 0, o + 12);
  return out;
}

/** The query part of the same message (the answer count and record left off). */
function dnsQuery(answer: Uint8Array): Uint8Array {
  const q = Buffer.from(answer.subarray(0, answer.length - 16));
  q.writeUInt16BE(0x0100, 2);
  q.writeUInt16BE(0, 6);
  return q;
}

/** 1,000,000 distinct names asked by 64 clients of one resolver over 100 s, each answered with its own address. */
function dnsNames(w: PcapStreamWriter, scale: number): Omit<FloodInfo, 'shape' | 'packets' | 'bytes'> {
  const n = Math.round(1_000_000 * scale);
  const resolver = ip4('10.0.0.53');
  const clients = ip4('10.50.0.1');
  const answers = ip4('100.96.0.0');
  for (let i = 0; i < n; i++) {
    const ts = FLOOD_T0 + (i * 100_000) / n;
    const c = clients + (i % 64);
    const sport = 1024 + (Math.floor(i / 64) % 60_000);
    const a = dnsAnswer(i & 0xffff, `h${i.toString(36)}.names.flood.test`, answers + i);
    w.udp(ts, c, sport, resolver, 53, dnsQuery(a));
    w.udp(ts + 1, resolver, 53, c, sport, a);
  }
  return { flows: n, emptyFlows: 0 };
}

/** Write one shape to `path`. */
export function generateFlood(shape: FloodShape, path: string, opts: FloodOptions = {}): FloodInfo {
  const scale = opts.scale ?? 1;
  if (!(scale > 0 && scale <= 1)) throw new RangeError(`gen floods: scale must be in (0, 1], got ${scale}`);
  const w = new PcapStreamWriter(path);
  let info: Omit<FloodInfo, 'shape' | 'packets' | 'bytes'>;
  try {
    switch (shape) {
      case 'syn-flood': info = synFlood(w, scale); break;
      case 'horizontal-scan': info = horizontalScan(w, scale); break;
      case 'vertical-scan': info = verticalScan(w, scale); break;
      case 'beacon-crowd': info = beaconCrowd(w, scale); break;
      case 'dns-names': info = dnsNames(w, scale); break;
    }
  } finally {
    w.close();
  }
  return { shape, packets: w.packets, bytes: w.bytes, ...info };
}
