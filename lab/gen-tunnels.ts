/**
 * Tunnel lab captures (pcaps/tunnels/): real HTTP exchanges (curl → a Node HTTP server, over IPv4
 * and over IPv6) captured in network namespaces (lab/netns.ts), then each captured IP packet
 * wrapped byte for byte by the writer here, as the tunnel endpoints would have sent it:
 *   ipip-http.pcap        IPv4 in IPv4 (IP protocol 4, RFC 2003)
 *   sit-http.pcap         IPv6 in IPv4 (IP protocol 41, 6in4, RFC 4213)
 *   gtpu-http.pcap        GTP-U G-PDUs on UDP 2152 (TS 29.281): a TEID per direction, sequence
 *                         numbers and a PDU session container extension header, as on an N3 link
 *   teredo-http.pcap      Teredo on UDP 3544 (RFC 4380): the client speaks from its Teredo address
 *                         (server OUTER.server, mapped OUTER.client:51234); an authentication
 *                         indicator on the first packet, origin indications on what the relay sends down
 *   gtpu-malformed.pcap   gtpu-http.pcap with three ACK-only packets broken: an extension header of
 *                         length 0, a G-PDU length past the datagram, and a header cut short
 *   teredo-malformed.pcap teredo-http.pcap with an ACK-only packet whose authentication indicator
 *                         runs past the datagram
 * Wrapped rather than sent through kernel tunnels: the kernels this runs on (CI's, the lab VM's)
 * need not have the ipip/sit modules, and nothing here has a GTP-U or Teredo endpoint.
 * Needs root, tcpdump and curl.
 */
import { type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLab } from './netns.js';
import { peerProgram } from './peer-programs.js';
import { HTTP_HOST, HTTP_PATHS, PORTS } from './peers/misc-names.js';

/** Outer (tunnel endpoint) addresses of the wraps: the client's side and the server's side. */
export const OUTER = { client: '198.51.100.10', server: '198.51.100.20' } as const;

export const TUNNEL_CAPTURES = ['ipip-http.pcap', 'sit-http.pcap', 'gtpu-http.pcap', 'teredo-http.pcap', 'gtpu-malformed.pcap', 'teredo-malformed.pcap'] as const;
export type TunnelCapture = (typeof TUNNEL_CAPTURES)[number];

/** TEIDs of the GTP-U wrap (uplink: towards the server; downlink: towards the client). */
export const GTPU_TEID = { up: 0x00a1b2c3, down: 0x00d4e5f6 } as const;
/** The Teredo client's UDP port (the relay side uses 3544). */
export const TEREDO_CLIENT_PORT = 51234;
/** Flags of the Teredo client's address: the cone bit (RFC 4380 §4). */
export const TEREDO_FLAGS = 0x8000;

/**
 * The Teredo address (RFC 4380 §4) a client behind `mapped`:`port` gets from the Teredo server at
 * `server`: 2001:0::/32, the server's IPv4 address, flags, then the mapped port and address with
 * every bit inverted.
 */
export function teredoAddress(server: string, flags: number, mapped: string, port: number): string {
  const v4 = (a: string) => a.split('.').map(Number).reduce((x, o) => ((x << 8) | o) >>> 0, 0);
  const s = v4(server);
  const m = ~v4(mapped) >>> 0;
  const hex = (n: number) => n.toString(16);
  return ['2001', '0', hex(s >>> 16), hex(s & 0xffff), hex(flags), hex(~port & 0xffff), hex(m >>> 16), hex(m & 0xffff)].join(':');
}

/** The Teredo client's inner address: served by OUTER.server, mapped to OUTER.client:TEREDO_CLIENT_PORT. */
export const TEREDO_CLIENT6 = teredoAddress(OUTER.server, TEREDO_FLAGS, OUTER.client, TEREDO_CLIENT_PORT);

export interface TunnelResult {
  files: Record<TunnelCapture, string>;
  /** The inner (flow) addresses. */
  inner4: { client: string; server: string };
  inner6: { client: string; server: string };
  /** The inner addresses of the Teredo captures (the client's is its Teredo address). */
  innerTeredo: { client: string; server: string };
}

interface Rec { sec: number; usec: number; data: Buffer<ArrayBufferLike>; orig: number }

/** Records of a classic little-endian microsecond pcap (what tcpdump -w writes here). */
function readPcap(buf: Buffer): { link: number; recs: Rec[] } {
  if (buf.readUInt32LE(0) !== 0xa1b2c3d4) throw new Error('gen-tunnels: expected a little-endian microsecond pcap');
  const link = buf.readUInt32LE(20);
  const recs: Rec[] = [];
  for (let off = 24; off + 16 <= buf.length;) {
    const incl = buf.readUInt32LE(off + 8);
    recs.push({ sec: buf.readUInt32LE(off), usec: buf.readUInt32LE(off + 4), orig: buf.readUInt32LE(off + 12), data: Buffer.from(buf.subarray(off + 16, off + 16 + incl)) });
    off += 16 + incl;
  }
  return { link, recs };
}

function writePcap(path: string, recs: Rec[], snap = 262144): void {
  const parts: Buffer[] = [];
  const hdr = Buffer.alloc(24);
  hdr.writeUInt32LE(0xa1b2c3d4, 0);
  hdr.writeUInt16LE(2, 4);
  hdr.writeUInt16LE(4, 6);
  hdr.writeUInt32LE(snap, 16);
  hdr.writeUInt32LE(1, 20); // Ethernet
  parts.push(hdr);
  for (const r of recs) {
    const rh = Buffer.alloc(16);
    rh.writeUInt32LE(r.sec, 0);
    rh.writeUInt32LE(r.usec, 4);
    rh.writeUInt32LE(r.data.length, 8);
    rh.writeUInt32LE(r.orig, 12);
    parts.push(rh, r.data);
  }
  writeFileSync(path, Buffer.concat(parts));
}

function ipv4Checksum(h: Buffer): number {
  let s = 0;
  for (let i = 0; i < h.length; i += 2) s += h.readUInt16BE(i);
  while (s > 0xffff) s = (s & 0xffff) + (s >>> 16);
  return ~s & 0xffff;
}

/** Ethernet (the captured frame's addresses) + an outer IPv4 header of protocol `proto` around `payload`. */
function ipFrame(eth: Buffer, src: string, dst: string, id: number, proto: number, payload: Buffer): Buffer {
  const ip = Buffer.alloc(20);
  ip[0] = 0x45;
  ip.writeUInt16BE(20 + payload.length, 2);
  ip.writeUInt16BE(id & 0xffff, 4);
  ip.writeUInt16BE(0x4000, 6); // DF
  ip[8] = 64;
  ip[9] = proto;
  Buffer.from(src.split('.').map(Number)).copy(ip, 12);
  Buffer.from(dst.split('.').map(Number)).copy(ip, 16);
  ip.writeUInt16BE(ipv4Checksum(ip), 10);
  const e = Buffer.from(eth.subarray(0, 14));
  e.writeUInt16BE(0x0800, 12);
  return Buffer.concat([e, ip, payload]);
}

/** ipFrame with a UDP header; the UDP checksum is left 0 (RFC 768: none computed). */
function udpFrame(eth: Buffer, src: string, dst: string, id: number, sport: number, dport: number, payload: Buffer): Buffer {
  const udp = Buffer.alloc(8);
  udp.writeUInt16BE(sport, 0);
  udp.writeUInt16BE(dport, 2);
  udp.writeUInt16BE(8 + payload.length, 4);
  return ipFrame(eth, src, dst, id, 17, Buffer.concat([udp, payload]));
}

/** The IP packet of a captured Ethernet frame, and whether it goes to the server (its TCP destination port). */
function packetOf(r: Rec): { inner: Buffer; up: boolean } | null {
  const d = r.data;
  const et = d.length >= 14 ? d.readUInt16BE(12) : 0;
  if (et !== 0x0800 && et !== 0x86dd) return null;
  const ip = d.subarray(14);
  const l4 = et === 0x0800 ? (ip[0]! & 15) * 4 : 40;
  return { inner: ip, up: ip.readUInt16BE(l4 + 2) === PORTS.http };
}

/**
 * GTP-U G-PDU (TS 29.281 §5.1) with the E flag and one PDU session container (TS 38.415 §5.5.2:
 * PDU type 1 uplink / 0 downlink, QFI 9).
 */
function gtpu(inner: Buffer, up: boolean, seq: number): Buffer {
  const h = Buffer.alloc(16);
  h[0] = 0x36; // version 1, PT 1, E and S
  h[1] = 0xff;
  h.writeUInt16BE(8 + inner.length, 2);
  h.writeUInt32BE(up ? GTPU_TEID.up : GTPU_TEID.down, 4);
  h.writeUInt16BE(seq & 0xffff, 8);
  h[11] = 0x85; // next: PDU session container
  h[12] = 1; // one 4-byte unit
  h[13] = up ? 0x10 : 0x00;
  h[14] = 9; // QFI
  h[15] = 0; // no further extension header
  return Buffer.concat([h, inner]);
}

/** Teredo (RFC 4380 §5.1.1): origin indication on what the relay forwards down, an auth indicator when asked. */
function teredo(inner: Buffer, up: boolean, auth: boolean): Buffer {
  const parts: Buffer[] = [];
  if (auth) parts.push(Buffer.from([0, 1, 0, 0, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88, 0])); // no id, no value; nonce; confirmation 0
  if (!up) {
    const o = Buffer.alloc(8);
    o.writeUInt16BE(TEREDO_CLIENT_PORT ^ 0xffff, 2);
    const a = OUTER.client.split('.').map(Number);
    for (let i = 0; i < 4; i++) o[4 + i] = a[i]! ^ 0xff;
    parts.push(o);
  }
  parts.push(inner);
  return Buffer.concat(parts);
}

function waitReady(child: ChildProcess, timeoutMs = 10_000): Promise<void> {
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error('gen-tunnels: http server did not start')), timeoutMs);
    child.stdout?.on('data', (c: Buffer) => { if (c.toString().includes('ready')) { clearTimeout(t); resolve(); } });
    child.on('exit', (code) => { clearTimeout(t); reject(new Error(`gen-tunnels: http server exited ${String(code)}`)); });
  });
}

/** Payload length of the inner TCP segment (IPv4 or IPv6 without extension headers). */
function tcpPayload(inner: Buffer): number {
  if (inner[0]! >> 4 === 4) {
    const ihl = (inner[0]! & 15) * 4;
    return inner.readUInt16BE(2) - ihl - (inner[ihl + 12]! >> 4) * 4;
  }
  return inner.readUInt16BE(4) - (inner[40 + 12]! >> 4) * 4;
}

export async function generateTunnelCaptures(outDir: string): Promise<TunnelResult> {
  mkdirSync(outDir, { recursive: true });
  const work = mkdtempSync(join(tmpdir(), 'ndr-gen-tunnels-'));
  const files = Object.fromEntries(TUNNEL_CAPTURES.map((f) => [f, join(outDir, f)])) as Record<TunnelCapture, string>;
  const lab = await createLab('tun');
  const inner4 = { client: lab.clientIp, server: lab.serverIp };
  const inner6 = { client: lab.clientIp6, server: lab.serverIp6 };
  try {
    const srv = lab.start(lab.server, process.execPath, [peerProgram('http-server.ts', work), '::']);
    await waitReady(srv);
    const curl = (url: string, extra: string[] = []): void => {
      lab.exec(lab.client, 'curl', [...extra, '-s', '-o', '/dev/null', '-H', `Host: ${HTTP_HOST}`, '-A', 'Mozilla/5.0 (X11; Linux x86_64)', ...HTTP_PATHS.map((p) => `${url}${p}`)], { timeoutMs: 15_000 });
    };
    const plain4 = join(work, 'http4.pcap');
    const plain6 = join(work, 'http6.pcap');
    const plainTeredo = join(work, 'http6-teredo.pcap');
    let stop = await lab.capture(plain4, `ip and tcp port ${PORTS.http}`);
    curl(`http://${inner4.server}:${PORTS.http}`);
    await stop();
    stop = await lab.capture(plain6, `ip6 and tcp port ${PORTS.http}`);
    curl(`http://[${inner6.server}]:${PORTS.http}`);
    await stop();
    // The Teredo wrap carries what a Teredo client sends: from its Teredo address, which the client
    // namespace holds beside its own (no duplicate address detection: nothing else has it) and the
    // server namespace routes back over the veth.
    lab.exec(lab.client, 'ip', ['-6', 'addr', 'add', `${TEREDO_CLIENT6}/128`, 'dev', lab.clientDev, 'nodad']);
    lab.exec(lab.server, 'ip', ['-6', 'route', 'add', `${TEREDO_CLIENT6}/128`, 'dev', lab.serverDev]);
    stop = await lab.capture(plainTeredo, `ip6 and tcp port ${PORTS.http}`);
    curl(`http://[${inner6.server}]:${PORTS.http}`, ['--interface', TEREDO_CLIENT6]);
    await stop();
    srv.kill('SIGTERM');

    const wrap = (from: string, to: TunnelCapture, make: (inner: Buffer, up: boolean, i: number, r: Rec) => Buffer): Rec[] => {
      const out: Rec[] = [];
      for (const r of readPcap(readFileSync(from)).recs) {
        const x = packetOf(r);
        if (x === null) continue;
        const data = make(x.inner, x.up, out.length, r);
        out.push({ sec: r.sec, usec: r.usec, data, orig: data.length });
      }
      writePcap(files[to], out);
      return out;
    };
    const ends = (up: boolean): [string, string] => (up ? [OUTER.client, OUTER.server] : [OUTER.server, OUTER.client]);
    wrap(plain4, 'ipip-http.pcap', (inner, up, i, r) => ipFrame(r.data, ...ends(up), i, 4, inner));
    wrap(plain6, 'sit-http.pcap', (inner, up, i, r) => ipFrame(r.data, ...ends(up), i, 41, inner));
    const gtp = wrap(plain4, 'gtpu-http.pcap', (inner, up, i, r) => udpFrame(r.data, ...ends(up), i, 2152, 2152, gtpu(inner, up, i)));
    const ter = wrap(plainTeredo, 'teredo-http.pcap', (inner, up, i, r) =>
      udpFrame(r.data, ...ends(up), i, up ? TEREDO_CLIENT_PORT : 3544, up ? 3544 : TEREDO_CLIENT_PORT, teredo(inner, up, up && i === 0)));

    // Broken copies: only ACK-only packets are broken, so the HTTP exchange itself stays whole.
    const acks = (recs: Rec[], innerAt: number): number[] => recs.map((r, i) => [r, i] as const)
      .filter(([r, i]) => i > 3 && tcpPayload(r.data.subarray(innerAt)) === 0).map(([, i]) => i);
    const bad: Rec[] = gtp.map((r) => ({ ...r, data: Buffer.from(r.data) }));
    const ga = acks(bad, 14 + 20 + 8 + 16);
    const [g1, g2, g3] = [ga[0]!, ga[1]!, ga[2]!];
    bad[g1]!.data[14 + 20 + 8 + 12] = 0; // extension header length 0
    bad[g2]!.data.writeUInt16BE(4000, 14 + 20 + 8 + 2); // G-PDU length past the datagram
    bad[g3] = { ...bad[g3]!, data: bad[g3]!.data.subarray(0, 14 + 20 + 8 + 10) }; // cut in the header
    writePcap(files['gtpu-malformed.pcap'], bad);
    const tbad: Rec[] = ter.map((r) => ({ ...r, data: Buffer.from(r.data) }));
    const upAcks = acks(tbad, 14 + 20 + 8).filter((i) => tbad[i]!.data.readUInt16BE(14 + 20) === TEREDO_CLIENT_PORT);
    const t = tbad[upAcks[0]!]!;
    // an authentication indicator whose lengths run past the datagram, on an ACK-only packet
    const data = udpFrame(t.data, OUTER.client, OUTER.server, 999, TEREDO_CLIENT_PORT, 3544, Buffer.concat([Buffer.from([0, 1, 200, 200]), Buffer.from(t.data.subarray(14 + 20 + 8))]));
    tbad[upAcks[0]!] = { sec: t.sec, usec: t.usec, data, orig: data.length };
    writePcap(files['teredo-malformed.pcap'], tbad);
  } finally {
    await lab.close();
    rmSync(work, { recursive: true, force: true });
  }
  return { files, inner4, inner6, innerTeredo: { client: TEREDO_CLIENT6, server: inner6.server } };
}
