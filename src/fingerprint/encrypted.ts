/**
 * Encrypted-channel classification (DESIGN.md §2.5 "Non-TLS encrypted channel", the network half
 * of AN1389): recognise known encrypted protocols and compressed formats by content, and flag as
 * suspicious only high-entropy payload that no dissector recognised and that matches none of them.
 *
 * `firstBytes[dir]`: the first payload bytes of that direction from stream offset 0 (TCP: the
 * start of the reassembled stream, a few hundred bytes are plenty; UDP: the first datagram whole).
 * Recognisers are content checks on fixed header fields, cited per protocol.
 */
import type { EncryptedChannel, Evidence, FlowRecord } from '../flow/record.js';

/** Entropy sample needed before a flow may be called random (see entropy.test.ts). */
export const SUSPICIOUS_MIN_SAMPLE_BYTES = 256;
/**
 * Score (bits / randomExpected) at or above which a sample looks random. Measured on
 * crypto.randomBytes: at n = 256 the score has mean 1.000 and sd ≈ 0.0074, so 0.97 is ≈ 4 sd
 * below (≈ 0.003 % of random samples fall under it); at n = 4096 sd ≈ 0.0005. Base64 text scores
 * ≤ 0.81, hex ≤ 0.55, English/HTTP text ≈ 0.55–0.65, so 0.97 leaves a wide margin on that side.
 * Length-prefixed ciphertext (AN1389 shape: a 2–4 byte length before each record) loses a little
 * to its headers; the lab capture (pcaps/misc/aes-stream.pcap) scores above 0.97 at ≥ 256 bytes.
 */
export const SUSPICIOUS_MIN_SCORE = 0.97;

/** Well-known TLS service ports (HTTPS, IMAPS, POP3S, SMTPS, LDAPS, DoT, MQTT/AMQP over TLS, SIPS, alt HTTPS). */
const TLS_PORTS: readonly number[] = [443, 465, 563, 636, 853, 989, 990, 992, 993, 994, 995, 5061, 5671, 8443, 8883, 8884];

const u16 = (b: Uint8Array, i: number) => ((b[i] as number) << 8) | (b[i + 1] as number);
const u32 = (b: Uint8Array, i: number) => (u16(b, i) * 65536 + u16(b, i + 2));
const at = (b: Uint8Array, i: number) => b[i] as number;
const hexOf = (b: Uint8Array, n: number) => Array.from(b.subarray(0, n), (x) => x.toString(16).padStart(2, '0')).join('');

/** A TLS record header at i: ContentType 20..24, version 3.0–3.4, length ≤ 2^14 + 2048 (RFC 8446 §5.1, RFC 5246 §6.2.3). */
function tlsHeaderAt(b: Uint8Array, i: number): number {
  if (i + 5 > b.length) return -1;
  const type = at(b, i);
  if (type < 20 || type > 24 || at(b, i + 1) !== 3 || at(b, i + 2) > 4) return -1;
  const len = u16(b, i + 3);
  return len > 0 && len <= 16384 + 2048 ? len : -1;
}

/** TLS at offset 0, or (mid-stream pick-up) a chain of two consecutive record headers within the first bytes. */
function tlsContent(b: Uint8Array): string | null {
  const l0 = tlsHeaderAt(b, 0);
  if (l0 > 0) return 'record header at offset 0';
  // SSLv2-compatible ClientHello: 2-byte length with the high bit, msg type 1, version 0x0002/0x03xx.
  if (b.length >= 5 && (at(b, 0) & 0x80) !== 0 && at(b, 2) === 1 && (at(b, 3) === 3 || (at(b, 3) === 0 && at(b, 4) === 2))) return 'SSLv2 ClientHello';
  const scan = Math.min(b.length - 5, 2048);
  for (let i = 1; i <= scan; i++) {
    const len = tlsHeaderAt(b, i);
    if (len < 0) continue;
    const next = i + 5 + len;
    if (next === b.length || tlsHeaderAt(b, next) > 0) return `record chain at offset ${i}`;
  }
  return null;
}

/** QUIC long header (RFC 9000 §17.2): form+fixed bits, a known version, CID lengths ≤ 20. */
function quicContent(b: Uint8Array): string | null {
  if (b.length < 7 || (at(b, 0) & 0xc0) !== 0xc0) return null;
  const v = u32(b, 1);
  const known = v === 1 || v === 0x6b3343cf || (v >>> 8) === 0xff0000 || v === 0; // v1, v2, drafts, VN
  if (!known || at(b, 5) > 20) return null;
  return `long header version 0x${v.toString(16)}`;
}

/** DTLS record (RFC 6347 §4.1 / RFC 9147): type 20..25, version 0xfeff/0xfefd/0xfefc, 13-byte header. */
function dtlsContent(b: Uint8Array): string | null {
  if (b.length < 13) return null;
  const type = at(b, 0);
  const v = u16(b, 1);
  if (type < 20 || type > 25 || (v !== 0xfeff && v !== 0xfefd && v !== 0xfefc)) return null;
  return 13 + u16(b, 11) <= b.length ? `record version 0x${v.toString(16)}` : null;
}

/** WireGuard (whitepaper §5.4): type 1..4 then 3 reserved zero bytes; fixed sizes 148/92/64, data ≥ 32 in 16-byte steps. */
function wireguardContent(b: Uint8Array): string | null {
  if (b.length < 32 || at(b, 1) !== 0 || at(b, 2) !== 0 || at(b, 3) !== 0) return null;
  const t = at(b, 0);
  if (t === 1 && b.length === 148) return 'handshake initiation (148 B)';
  if (t === 2 && b.length === 92) return 'handshake response (92 B)';
  if (t === 3 && b.length === 64) return 'cookie reply (64 B)';
  if (t === 4 && (b.length - 32) % 16 === 0) return 'transport data';
  return null;
}

/** OpenVPN opcode byte (opcode << 3 | key_id): 7 = P_CONTROL_HARD_RESET_CLIENT_V2, 10 = _V3, 8 = _SERVER_V2. */
function openvpnOpcode(x: number): number {
  return (x & 7) === 0 ? x >> 3 : -1;
}

function openvpnContent(b0: Uint8Array | null, b1: Uint8Array | null, tcp: boolean): string | null {
  if (b0 === null) return null;
  const off = tcp ? 2 : 0;
  if (b0.length < off + 9) return null;
  if (tcp) {
    const len = u16(b0, 0);
    if (len < 9 || len > 1500) return null;
  }
  const op = openvpnOpcode(at(b0, off));
  if (op !== 7 && op !== 10) return null;
  if (b1 !== null && b1.length > off) {
    const sop = openvpnOpcode(at(b1, off));
    if (sop !== 8) return null;
  }
  return `${tcp ? 'TCP' : 'UDP'} P_CONTROL_HARD_RESET_CLIENT_V${op === 7 ? 2 : 3}`;
}

/** IKE header (RFC 7296 §3.1): version 0x20 (or 0x10 IKEv1), known exchange type, length = datagram. */
function ikeHeaderAt(b: Uint8Array, i: number): boolean {
  if (b.length < i + 28) return false;
  const ver = at(b, i + 17);
  const x = at(b, i + 18);
  if (ver !== 0x20 && ver !== 0x10) return false;
  if (!((x >= 34 && x <= 37) || (x >= 1 && x <= 5) || x === 32)) return false;
  return u32(b, i + 24) === b.length - i;
}

function ipsecContent(flow: FlowRecord, b: Uint8Array): [string, string] | null {
  const natt = flow.server.port === 4500 || flow.client.port === 4500;
  if (flow.server.port === 500 && ikeHeaderAt(b, 0)) return ['ike', 'IKE header on UDP 500'];
  if (!natt) return null;
  if (b.length === 1 && at(b, 0) === 0xff) return ['esp', 'NAT-T keepalive (RFC 3948 §2.3)'];
  if (b.length >= 4 && u32(b, 0) === 0) return ikeHeaderAt(b, 4) ? ['ike', 'non-ESP marker + IKE header (RFC 3948 §2.2)'] : null;
  if (b.length >= 8 && u32(b, 0) > 255) return ['esp', `ESP SPI 0x${u32(b, 0).toString(16)} on UDP 4500 (RFC 3948 §2.1)`];
  return null;
}

/** RDP: TPKT (version 3, reserved 0, length) + X.224 Connection Request (code 0xE0) (MS-RDPBCGR §2.2.1.1). */
function rdpContent(b: Uint8Array): string | null {
  if (b.length < 11 || at(b, 0) !== 3 || at(b, 1) !== 0) return null;
  const len = u16(b, 2);
  if (len < 11 || (at(b, 5) & 0xf0) !== 0xe0 || at(b, 4) + 5 > len) return null;
  return 'TPKT + X.224 Connection Request';
}

const MAGICS: readonly [string, readonly number[]][] = [
  ['gzip', [0x1f, 0x8b, 0x08]], // RFC 1952 §2.3.1 ID1 ID2 CM=deflate
  ['zip', [0x50, 0x4b, 0x03, 0x04]], // local file header
  ['7z', [0x37, 0x7a, 0xbc, 0xaf, 0x27, 0x1c]],
  ['xz', [0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00]],
  ['zstd', [0x28, 0xb5, 0x2f, 0xfd]], // RFC 8878 §3.1.1
];

function compressedMagic(b: Uint8Array): string | null {
  for (const [name, m] of MAGICS) {
    if (b.length >= m.length && m.every((x, i) => b[i] === x)) return name;
  }
  // zlib (RFC 1950 §2.2): CMF 0x78 (deflate, 32K window), FLG without FDICT, (CMF·256 + FLG) % 31 == 0
  if (b.length >= 2 && at(b, 0) === 0x78 && [0x01, 0x5e, 0x9c, 0xda].includes(at(b, 1))) return 'zlib';
  // bzip2: 'BZh' + block size '1'..'9'
  if (b.length >= 4 && at(b, 0) === 0x42 && at(b, 1) === 0x5a && at(b, 2) === 0x68 && at(b, 3) >= 0x31 && at(b, 3) <= 0x39) return 'bzip2';
  return null;
}

/** AN1389 shape: the stream is a chain of ≥ 2 frames, each a big-endian u16 or u32 length + body. */
export function lengthPrefixedFrames(b: Uint8Array): { width: 2 | 4; frames: number } | null {
  for (const width of [4, 2] as const) {
    let p = 0;
    let frames = 0;
    let ok = true;
    while (p + width <= b.length) {
      const len = width === 4 ? u32(b, p) : u16(b, p);
      if (len < 8 || len > 1 << 20) { ok = false; break; }
      p += width + len;
      frames++;
    }
    // Clean chain: ends exactly at the end, or its last frame runs past the bytes we were given.
    if (!ok || p < b.length) continue;
    if (frames >= 2 || p === b.length) return { width, frames };
  }
  return null;
}

function known(name: string, what: string): EncryptedChannel {
  return { known: name, suspicious: false, compressed: null, evidence: [{ signal: 'content', value: `${name}: ${what}`, weight: 1 }] };
}

/** Protocols whose dissector may name a flow without filling a section (a summary fault). */
const DISSECTED_ENCRYPTED = new Set(['tls', 'quic', 'ssh', 'dtls']);

export function classifyEncrypted(flow: FlowRecord, firstBytes: [Uint8Array | null, Uint8Array | null]): EncryptedChannel | null {
  const [b0, b1] = firstBytes;
  const udp = flow.transport === 'udp';
  // Dissector verdicts first.
  const by = flow.features.encryptedBy ?? (flow.protocol !== null && DISSECTED_ENCRYPTED.has(flow.protocol) ? flow.protocol : null);
  if (by !== null) return known(by, 'dissector');
  // A dissector recognised some clear protocol (http, dns, mqtt, …): nothing to say here.
  if (flow.protocol !== null) return null;

  for (const b of [b0, b1]) {
    if (b === null || b.length === 0) continue;
    if (!udp) {
      const t = tlsContent(b);
      if (t !== null) return known('tls', t);
      if (b.length >= 4 && at(b, 0) === 0x53 && at(b, 1) === 0x53 && at(b, 2) === 0x48 && at(b, 3) === 0x2d) return known('ssh', "'SSH-' banner");
    } else {
      const q = quicContent(b);
      if (q !== null) return known('quic', q);
      const d = dtlsContent(b);
      if (d !== null) return known('dtls', d);
      const w = wireguardContent(b);
      if (w !== null) return known('wireguard', w);
      const ip = ipsecContent(flow, b);
      if (ip !== null) return known(ip[0], ip[1]);
    }
  }
  // Picked up mid-stream (no SYN) on a TLS service port: the first bytes may sit inside one large
  // record, so no header is visible; do not call that random payload suspicious.
  if (!udp && !flow.directionFromSyn && TLS_PORTS.includes(flow.server.port)) return known('tls', `mid-stream on TLS port ${flow.server.port}`);
  if (!udp && b0 !== null) {
    const r = rdpContent(b0);
    if (r !== null) return known('rdp', r);
  }
  const ovpn = openvpnContent(b0, b1, !udp);
  if (ovpn !== null) return known('openvpn', ovpn);

  // Compressed, not encrypted: explains high entropy without any secrecy.
  for (const [dir, b] of [[0, b0], [1, b1]] as const) {
    if (b === null) continue;
    const c = compressedMagic(b);
    if (c !== null) {
      return { known: null, suspicious: false, compressed: c, evidence: [{ signal: 'magic', value: `${c} (${dir === 0 ? 'client' : 'server'}: ${hexOf(b, 6)})`, weight: 1 }] };
    }
  }

  const evidence: Evidence[] = [];
  let suspicious = false;
  for (const dir of [0, 1] as const) {
    const e = flow.entropy[dir];
    if (e === null || e.sample < SUSPICIOUS_MIN_SAMPLE_BYTES || e.score < SUSPICIOUS_MIN_SCORE) continue;
    suspicious = true;
    // The client direction carries the commands in AN1389; it weighs more than the server's.
    evidence.push({ signal: dir === 0 ? 'client_entropy' : 'server_entropy', value: `score=${e.score.toFixed(3)} bits=${e.bits.toFixed(3)} sample=${e.sample}`, weight: dir === 0 ? 0.6 : 0.4 });
  }
  if (!suspicious) return null;
  evidence.push({ signal: 'no_known_protocol', value: 'not TLS, SSH, QUIC, DTLS, WireGuard, OpenVPN, IPsec, RDP or a compressed format', weight: 0.2 });
  for (const [dir, b] of [[0, b0], [1, b1]] as const) {
    if (b === null || b.length === 0) continue;
    const lp = lengthPrefixedFrames(b);
    if (lp !== null) evidence.push({ signal: dir === 0 ? 'client_length_prefixed' : 'server_length_prefixed', value: `u${lp.width * 8} length + body, ${lp.frames} frames`, weight: 0.2 });
  }
  if (b0 !== null && b0.length > 0) evidence.push({ signal: 'client_first_bytes', value: hexOf(b0, 16), weight: 0 });
  if (!flow.directionFromSyn) evidence.push({ signal: 'midstream', value: true, weight: -0.3 });
  return { known: null, suspicious: true, compressed: null, evidence };
}
