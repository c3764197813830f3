/**
 * L2–L4 decoder (DESIGN §2.2): link layer → VLAN/MPLS/PPPoE → IPv4/IPv6 (fragments reassembled,
 * bounded) → tunnels (IP-in-IP, 6in4, GRE, ERSPAN II/III, VXLAN, Geneve, GTP-U, Teredo; depth-limited)
 * → TCP/UDP of the
 * innermost IP packet. Fills the one reused PacketMeta; no allocation on the common path
 * (STYLE.md rule 7): numbers, direct byte indexing, string-literal event ids.
 *
 * Contract details:
 * - The caller sets meta.tsMs (packet time, used as the fragment-reassembly clock) and
 *   meta.origLen before calling; decode() sets every other field.
 * - meta.data is `buf` or, for a reassembled datagram (meta.reassembled), a buffer owned by the
 *   FragmentTable that stays valid until the next reassembly completes: consume the packet before
 *   decoding the next one, as with PacketBatch.
 * - Addresses, seq and ack are unsigned 32-bit numbers (IPv4: word 0, others 0).
 * - Which fields hold values depends on the status: IP fields (data, ipOff, ipLen, ttl, proto,
 *   addresses) when ipVersion ≠ 0; L4 fields (l4Off, ports, TCP fields, payload) only for Ok;
 *   outside those cases they are 0 (except `data`, which may still point at an earlier buffer).
 * - Fragments: a fragment held for reassembly gives Fragment; the fragment that completes a
 *   datagram gives the whole datagram (reassembled = true). The FragmentTable expires datagrams
 *   in packet time on every fragment; the engine may also call frags.expire(now) on its timer.
 * - ICMP/ICMPv6 end the walk with OtherL4: quoted headers never become a flow tuple.
 */
import { DecodeStatus, TEREDO_PRESENT, TunnelType } from './packet-meta.js';
import type { PacketMeta } from './packet-meta.js';
import type { FragmentTable } from './fragments.js';
import { FragResult } from './fragments.js';
import type { DecoderEventId } from './events.js';

export interface DecodeLimits {
  /** Tunnel layers peeled (IP-in-IP, GRE, VXLAN, Geneve, MPLS pseudowire) before giving up. */
  maxTunnelDepth: number;
  /** Stacked 802.1Q/QinQ tags per Ethernet header. */
  maxVlanTags: number;
  /** MPLS labels per stack. */
  maxMplsLabels: number;
  /** IPv6 extension headers (and AH) per IP header. */
  maxIpv6ExtHeaders: number;
}

export const defaultDecodeLimits: Readonly<DecodeLimits> = Object.freeze({
  maxTunnelDepth: 4,
  maxVlanTags: 4,
  maxMplsLabels: 8,
  maxIpv6ExtHeaders: 8,
});

/** Well-known UDP ports of the UDP tunnels the decoder peels. */
export const VXLAN_PORT = 4789; // RFC 7348 §5
/** The Linux kernel's VXLAN port before IANA's (its default when none is given; flannel's). */
export const VXLAN_LINUX_PORT = 8472;
export const GENEVE_PORT = 6081; // RFC 8926 §3.3
export const GTPU_PORT = 2152; // 3GPP TS 29.281 §4.4.2
export const TEREDO_PORT = 3544; // RFC 4380 §2.5 (client-server exchanges)
export const L2TP_PORT = 1701; // RFC 2661 §8.1
export const VXLAN_GPE_PORT = 4790; // draft-ietf-nvo3-vxlan-gpe
export const GRE_UDP_PORT = 4754; // RFC 8086
export const MPLS_UDP_PORT = 6635; // RFC 7510
export const TZSP_PORT = 37008; // TaZmen Sniffer Protocol: MikroTik's and others' remote capture stream

/** GTP-U extension headers followed per packet (TS 29.281 §5.2 chains them; real ones use one or two). */
const MAX_GTPU_EXT_HEADERS = 8;

// Walk states.
const S_ETHER = 0;
const S_ETYPE = 1;
const S_IP4 = 2;
const S_IP6 = 3;
const S_IPGUESS = 4;
const S_PPP = 5;
const S_L4 = 6;
const S_WLAN = 7;
const S_NSH = 8;

const ET_IPV4 = 0x0800;
const ET_IPV6 = 0x86dd;
const ET_VLAN = 0x8100;
const ET_QINQ = 0x88a8;
const ET_QINQ_OLD = 0x9100;
const ET_MPLS_UC = 0x8847;
const ET_MPLS_MC = 0x8848;
const ET_PPPOE_SESSION = 0x8864;
const ET_TEB = 0x6558; // transparent Ethernet bridging
const ET_ERSPAN2 = 0x88be;
const ET_ERSPAN3 = 0x22eb;
const ET_PPP = 0x880b;
const ET_CISCO_MD = 0x8909; // Cisco MetaData (TrustSec SGT)
const ET_VNTAG = 0x8926; // Cisco VN-Tag
const ET_ETAG = 0x893f; // IEEE 802.1BR E-Tag
const ET_PBB = 0x88e7; // IEEE 802.1ah I-Tag
const ET_NSH = 0x894f; // RFC 8300
const ET_WCCP = 0x883e; // WCCP GRE redirection

// Cache: the DataView of the last buffer seen (a chunk, a reassembly buffer), so 32-bit reads
// are one load and a view is made once per buffer, not per packet.
let dvBuf: Uint8Array = new Uint8Array(0);
/** Radiotap said the 802.11 header is padded to 4 bytes (set by the radiotap/PPI link types). */
let wlanPad = false;
let dv = new DataView(dvBuf.buffer);

/**
 * RFC 7348 §5's header as senders write it: the I flag, the reserved bits and bytes zero; or
 * VXLAN-GBP's (the G flag, the D and A bits, a group policy id where the first reserved bytes are).
 * Receivers are told to ignore reserved bits, but on a tunnel known by its port number alone they
 * are what tells a VXLAN header from another application's datagram on ephemeral port 4789.
 */
function vxlanHeader(b: Uint8Array, p: number): boolean {
  if (b[p + 7] !== 0) return false;
  if (b[p] === 0x08) return b[p + 1] === 0 && b[p + 2] === 0 && b[p + 3] === 0;
  return b[p] === 0x88 && (b[p + 1] & 0xb7) === 0;
}

function fail(meta: PacketMeta, status: DecodeStatus, ev: DecoderEventId | ''): DecodeStatus {
  meta.status = status;
  meta.event = ev;
  if (meta.ipVersion === 0) {
    meta.ipOff = 0;
    meta.ipLen = 0;
    meta.ttl = 0;
    meta.proto = 0;
    meta.src0 = 0; meta.src1 = 0; meta.src2 = 0; meta.src3 = 0;
    meta.dst0 = 0; meta.dst1 = 0; meta.dst2 = 0; meta.dst3 = 0;
  }
  meta.l4Off = 0;
  meta.sport = 0;
  meta.dport = 0;
  clearTcp(meta);
  meta.payloadOff = 0;
  meta.payloadLen = 0;
  meta.payloadWireLen = 0;
  return status;
}

/**
 * The first tunnel peeled (depth 1): name it and keep the addresses of the IP header that carried
 * it, which meta still holds (the inner header overwrites them next).
 */
/**
 * Where the Ethernet frame of an L2TPv3 data session (RFC 3931 §4.1; an Ethernet pseudowire, RFC
 * 4719, the common use) starts after its session id at `q`, or -1. The cookie (0, 4 or 8 bytes)
 * and the L2-specific sublayer (none or 4 bytes) are agreed on the control channel, which a tap
 * rarely has (or the tunnel is static): the first of those lengths after which an Ethernet header
 * names IPv4 (with a plausible header), IPv6, a VLAN tag or MPLS is taken, as Wireshark detects.
 */
function l2tpv3Frame(b: Uint8Array, q: number, end: number): number {
  for (let k = 0; k <= 12; k += 4) {
    const e = q + k;
    if (end - e < 15) return -1;
    const et = (b[e + 12] << 8) | b[e + 13];
    if (et === ET_IPV4 ? (b[e + 14] & 0xf0) === 0x40 && (b[e + 14] & 0x0f) >= 5 : et === ET_IPV6 ? b[e + 14] >> 4 === 6 : et === ET_VLAN || et === ET_QINQ || et === ET_MPLS_UC) return e;
  }
  return -1;
}

/** The ethertype at b[p] is one an Ethernet pseudowire's frame carries that the decoder reads. */
function pwEtherType(b: Uint8Array, p: number): boolean {
  const et = (b[p] << 8) | b[p + 1];
  return et === ET_IPV4 || et === ET_IPV6 || et === ET_VLAN || et === ET_QINQ || et === ET_MPLS_UC || et === ET_PPPOE_SESSION || et === 0x0806;
}

function outer(meta: PacketMeta, type: TunnelType): void {
  meta.tunnelType = type;
  meta.outerVersion = meta.ipVersion;
  meta.outerSrc0 = meta.src0; meta.outerSrc1 = meta.src1; meta.outerSrc2 = meta.src2; meta.outerSrc3 = meta.src3;
  meta.outerDst0 = meta.dst0; meta.outerDst1 = meta.dst1; meta.outerDst2 = meta.dst2; meta.outerDst3 = meta.dst3;
}

/** The fixed TCP header's fields (RFC 9293 §3.1) from `pos`; the options' length is the caller's. */
function tcpFixed(meta: PacketMeta, b: Uint8Array, dv: DataView, pos: number): void {
  meta.l4Off = pos;
  meta.sport = (b[pos] << 8) | b[pos + 1];
  meta.dport = (b[pos + 2] << 8) | b[pos + 3];
  meta.seq = dv.getUint32(pos + 4);
  meta.ack = dv.getUint32(pos + 8);
  meta.tcpFlags = b[pos + 13];
  meta.window = (b[pos + 14] << 8) | b[pos + 15];
  meta.tcpOptOff = pos + 20;
}

function clearTcp(meta: PacketMeta): void {
  meta.tcpFlags = 0;
  meta.seq = 0;
  meta.ack = 0;
  meta.window = 0;
  meta.tcpOptOff = 0;
  meta.tcpOptLen = 0;
}

/**
 * The common packet, Ethernet II + IPv4 without options or fragmentation + TCP, whole in the
 * capture: filled in straight line. Anything else (and any doubt: a length that does not add up)
 * returns false before meta is touched, and the general decoder below takes the packet.
 */
function fastTcp4(b: Uint8Array, off: number, capLen: number, meta: PacketMeta): boolean {
  if (capLen < 54 || off + capLen > b.length) return false;
  const ip = off + 14;
  if (b[off + 12] !== 0x08 || b[off + 13] !== 0x00 || b[ip] !== 0x45 || b[ip + 9] !== 6) return false;
  if ((((b[ip + 6] as number) & 0x3f) | (b[ip + 7] as number)) !== 0) return false; // MF or an offset
  const tot = ((b[ip + 2] as number) << 8) | (b[ip + 3] as number);
  const ipEnd = ip + tot;
  const l4 = ip + 20;
  const hl = ((b[l4 + 12] as number) >> 4) << 2;
  if (hl < 20 || l4 + hl > ipEnd || ipEnd > off + capLen) return false;
  meta.data = b;
  meta.ipVersion = 4;
  meta.ipOff = ip;
  meta.ipLen = tot;
  meta.ttl = b[ip + 8] as number;
  meta.proto = 6;
  meta.src0 = dv.getUint32(ip + 12); meta.src1 = 0; meta.src2 = 0; meta.src3 = 0;
  meta.dst0 = dv.getUint32(ip + 16); meta.dst1 = 0; meta.dst2 = 0; meta.dst3 = 0;
  meta.l4Off = l4;
  meta.sport = ((b[l4] as number) << 8) | (b[l4 + 1] as number);
  meta.dport = ((b[l4 + 2] as number) << 8) | (b[l4 + 3] as number);
  meta.seq = dv.getUint32(l4 + 4);
  meta.ack = dv.getUint32(l4 + 8);
  meta.tcpFlags = b[l4 + 13] as number;
  meta.window = ((b[l4 + 14] as number) << 8) | (b[l4 + 15] as number);
  meta.tcpOptOff = l4 + 20;
  meta.tcpOptLen = hl - 20;
  meta.payloadOff = l4 + hl;
  meta.payloadLen = ipEnd - (l4 + hl);
  meta.payloadWireLen = ipEnd - (l4 + hl);
  return true;
}

/**
 * Decode one packet: buf[off, off + capLen) captured with `linkType`. Returns (and stores in
 * meta.status) the outcome; Malformed/Unsupported carry a decoder.* event id in meta.event.
 */
export function decode(
  buf: Uint8Array,
  off: number,
  capLen: number,
  linkType: number,
  meta: PacketMeta,
  frags: FragmentTable,
  limits: Readonly<DecodeLimits> = defaultDecodeLimits,
): DecodeStatus {
  // Only the fields every outcome reads are reset here; the IP state sets all IP fields, the
  // TCP/UDP exits set all L4 fields and fail() zeroes whatever the outcome leaves unset.
  meta.status = DecodeStatus.Ok;
  meta.event = '';
  meta.capLen = capLen;
  meta.ipVersion = 0;
  meta.vlan = 0;
  meta.tunnelDepth = 0;
  meta.tunnelId = 0;
  meta.tunnelType = TunnelType.None;
  meta.reassembled = false;

  let b = buf;
  if (b !== dvBuf) {
    dvBuf = b;
    dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
  }
  if (linkType === 1 && fastTcp4(b, off, capLen, meta)) return DecodeStatus.Ok;
  let pos = off;
  let end = off + capLen;
  if (end > b.length) end = b.length;
  /** End of the current IP packet as its header says (may exceed `end` when snaplen cut it). */
  let ipEnd = end;
  let state: number;
  let etype = 0;
  let nh = 0;
  let depth = 0;
  let vlanTags = 0;
  let vlanSeen = false;
  let reasm = 0;

  switch (linkType) {
    case 1: // LINKTYPE_ETHERNET
      state = S_ETHER;
      if (end - pos >= 14) {
        // common case straight to the IP header
        etype = (b[pos + 12] << 8) | b[pos + 13];
        if (etype === ET_IPV4) { pos += 14; state = S_IP4; }
        else if (etype === ET_IPV6) { pos += 14; state = S_IP6; }
      }
      break;
    case 113: { // LINKTYPE_LINUX_SLL: type 2, hatype 2, addr len 2, addr 8, protocol 2
      if (end - pos < 16) return fail(meta, DecodeStatus.Malformed, 'decoder.link.truncated');
      const hatype = (b[pos + 2] << 8) | b[pos + 3];
      etype = (b[pos + 14] << 8) | b[pos + 15];
      pos += 16;
      if (hatype === 824 || etype < 0x0600) return fail(meta, DecodeStatus.NotIp, ''); // netlink, 802.2/802.3 frames
      state = S_ETYPE;
      break;
    }
    case 276: { // LINKTYPE_LINUX_SLL2: protocol 2, reserved 2, ifindex 4, hatype 2, pkttype 1, addr len 1, addr 8
      if (end - pos < 20) return fail(meta, DecodeStatus.Malformed, 'decoder.link.truncated');
      etype = (b[pos] << 8) | b[pos + 1];
      const hatype = (b[pos + 8] << 8) | b[pos + 9];
      pos += 20;
      if (hatype === 824 || etype < 0x0600) return fail(meta, DecodeStatus.NotIp, '');
      state = S_ETYPE;
      break;
    }
    case 101: // LINKTYPE_RAW
    case 12: // DLT_RAW as written by some OpenBSD/old tools
    case 14:
      state = S_IPGUESS;
      break;
    case 228: // LINKTYPE_IPV4
      state = S_IP4;
      break;
    case 229: // LINKTYPE_IPV6
      state = S_IP6;
      break;
    case 9: // LINKTYPE_PPP: RFC 1661, with or without the RFC 1662 address/control bytes
      state = S_PPP;
      break;
    case 50: // LINKTYPE_PPP_HDLC: PPP in HDLC-like framing, or Cisco PPP (address 0x0f/0x8f: C-HDLC's framing)
    case 104: // LINKTYPE_C_HDLC: address, control, then an Ethernet type
      if (end - pos < 4) return fail(meta, DecodeStatus.Malformed, 'decoder.link.truncated');
      if (linkType === 50 && b[pos] !== 0x0f && b[pos] !== 0x8f) { state = S_PPP; break; }
      etype = (b[pos + 2] << 8) | b[pos + 3];
      pos += 4;
      state = S_ETYPE;
      break;
    case 239: { // LINKTYPE_NFLOG: family, version 0, resource id; then TLVs (length, type) in the logging host's byte order
      if (end - pos < 4) return fail(meta, DecodeStatus.Malformed, 'decoder.link.truncated');
      const fam = b[pos];
      if (b[pos + 1] !== 0) return fail(meta, DecodeStatus.Malformed, 'decoder.nflog.bad_header');
      let t = pos + 4;
      // The byte order is the logging host's: a length that does not fit the frame read
      // little-endian is read big-endian (tshark guesses the same way).
      const le = end - t < 4 || (b[t] | (b[t + 1] << 8)) <= end - t;
      for (;;) {
        if (end - t < 4) return fail(meta, DecodeStatus.NotIp, ''); // no payload TLV (a log line without packet)
        const tl = le ? b[t] | (b[t + 1] << 8) : (b[t] << 8) | b[t + 1];
        const tt = le ? b[t + 2] | (b[t + 3] << 8) : (b[t + 2] << 8) | b[t + 3];
        if (tl < 4 || tl > end - t) return fail(meta, DecodeStatus.Malformed, 'decoder.nflog.bad_header');
        if (tt === 9) { // NFULA_PAYLOAD: the packet from its network header
          pos = t + 4;
          end = t + tl;
          break;
        }
        t += (tl + 3) & ~3;
      }
      if (fam === 2) state = S_IP4;
      else if (fam === 10) state = S_IP6;
      else return fail(meta, DecodeStatus.NotIp, '');
      break;
    }
    case 105: // LINKTYPE_IEEE802_11
      wlanPad = false;
      state = S_WLAN;
      break;
    case 127: { // LINKTYPE_IEEE802_11_RADIOTAP: version 0, pad, length (little-endian), present bitmaps, fields
      if (end - pos < 8) return fail(meta, DecodeStatus.Malformed, 'decoder.link.truncated');
      const rl = b[pos + 2] | (b[pos + 3] << 8);
      if (b[pos] !== 0 || rl < 8 || rl > end - pos) return fail(meta, DecodeStatus.Malformed, 'decoder.radiotap.bad_header');
      // Flags (present bit 1) follow the bitmaps and TSFT (bit 0, 8 bytes aligned to 8); its
      // 0x20 bit says the 802.11 header is padded to a multiple of 4 bytes.
      let q = pos + 4;
      while ((b[q + 3] & 0x80) !== 0 && q + 8 <= pos + rl) q += 4;
      q += 4;
      const present = b[pos + 4];
      wlanPad = false;
      if ((present & 2) !== 0) {
        if ((present & 1) !== 0) q = pos + ((q - pos + 7) & ~7) + 8;
        if (q < pos + rl) wlanPad = (b[q] & 0x20) !== 0;
      }
      pos += rl;
      state = S_WLAN;
      break;
    }
    case 192: { // LINKTYPE_PPI: version 0, flags, length (little-endian), link type of what follows (little-endian)
      if (end - pos < 8) return fail(meta, DecodeStatus.Malformed, 'decoder.link.truncated');
      const pl = b[pos + 2] | (b[pos + 3] << 8);
      if (b[pos] !== 0 || pl < 8 || pl > end - pos) return fail(meta, DecodeStatus.Malformed, 'decoder.radiotap.bad_header');
      const dlt = dv.getUint32(pos + 4, true);
      pos += pl;
      if (dlt === 105) { wlanPad = false; state = S_WLAN; }
      else if (dlt === 1) state = S_ETHER;
      else return fail(meta, DecodeStatus.Unsupported, 'decoder.ppi.unsupported');
      break;
    }
    case 258: { // LINKTYPE_PKTAP (macOS tcpdump -k): header length, type of what follows (1: a packet), its link type; host (little-endian) order
      if (end - pos < 12) return fail(meta, DecodeStatus.Malformed, 'decoder.link.truncated');
      const hl = dv.getUint32(pos, true);
      const dlt = dv.getUint32(pos + 8, true);
      if (hl < 12 || hl > end - pos || dv.getUint32(pos + 4, true) !== 1 || dlt === 258) return fail(meta, DecodeStatus.Malformed, 'decoder.pktap.bad_header');
      return decode(b, pos + hl, end - pos - hl, dlt, meta, frags, limits);
    }
    case 197: { // LINKTYPE_ERF (Endace DAG cards): the 16-byte ERF record header, extension headers, the frame
      if (end - pos < 16) return fail(meta, DecodeStatus.Malformed, 'decoder.link.truncated');
      let t = b[pos + 8];
      let q = pos + 16;
      for (let more = (t & 0x80) !== 0; more; q += 8) {
        if (end - q < 8) return fail(meta, DecodeStatus.Malformed, 'decoder.erf.truncated');
        more = (b[q] & 0x80) !== 0;
      }
      t &= 0x7f;
      if (t === 2 || t === 16 || t === 20) { // ETH, COLOR_ETH, DSM_COLOR_ETH: 2 bytes (offset, pad) before the frame
        pos = q + 2;
        state = S_ETHER;
      } else if (t === 22) { pos = q; state = S_IP4; } // IPV4
      else if (t === 23) { pos = q; state = S_IP6; } // IPV6
      else if (t === 1 || t === 15 || t === 17) { // HDLC_POS, COLOR_HDLC_POS, DSM_COLOR_HDLC_POS: PPP or Cisco HDLC
        if (end - q < 4) return fail(meta, DecodeStatus.Malformed, 'decoder.erf.truncated');
        if (b[q] === 0x0f || b[q] === 0x8f) { etype = (b[q + 2] << 8) | b[q + 3]; pos = q + 4; state = S_ETYPE; }
        else { pos = q; state = S_PPP; }
      } else return fail(meta, DecodeStatus.NotIp, ''); // ATM, AAL5, MC_*, InfiniBand, ...
      break;
    }
    case 0: // LINKTYPE_NULL: 4-byte address family in the capturing host's byte order
    case 108: { // LINKTYPE_LOOP: the same in network byte order
      if (end - pos < 4) return fail(meta, DecodeStatus.Malformed, 'decoder.link.truncated');
      let fam = ((b[pos] << 24) | (b[pos + 1] << 16) | (b[pos + 2] << 8) | b[pos + 3]) >>> 0;
      if (linkType === 0 && (fam & 0xffff) === 0) fam = (b[pos] | (b[pos + 1] << 8)) >>> 0; // little-endian writer
      pos += 4;
      if (fam === 2) state = S_IP4;
      else if (fam === 24 || fam === 28 || fam === 30 || fam === 10 || fam === 23) state = S_IP6; // BSDs, Linux, Windows
      else return fail(meta, DecodeStatus.NotIp, 'decoder.null.unknown_family');
      break;
    }
    default:
      return fail(meta, DecodeStatus.Unsupported, 'decoder.link.unsupported');
  }

  for (;;) {
    switch (state) {
      case S_ETHER: {
        if (end - pos < 14) return fail(meta, DecodeStatus.Malformed, 'decoder.ethernet.truncated');
        etype = (b[pos + 12] << 8) | b[pos + 13];
        pos += 14;
        vlanTags = 0;
        state = S_ETYPE;
        break;
      }

      case S_ETYPE: {
        if (etype === ET_IPV4) { state = S_IP4; break; }
        if (etype === ET_IPV6) { state = S_IP6; break; }
        if (etype === ET_VLAN || etype === ET_QINQ || etype === ET_QINQ_OLD) {
          // IEEE 802.1Q: TCI 2 bytes, then the next ethertype.
          if (++vlanTags > limits.maxVlanTags) return fail(meta, DecodeStatus.Malformed, 'decoder.vlan.too_many_tags');
          if (end - pos < 4) return fail(meta, DecodeStatus.Malformed, 'decoder.vlan.truncated');
          if (!vlanSeen && depth === 0) {
            vlanSeen = true;
            meta.vlan = ((b[pos] << 8) | b[pos + 1]) & 0x0fff;
          }
          etype = (b[pos + 2] << 8) | b[pos + 3];
          pos += 4;
          break;
        }
        if (etype === ET_MPLS_UC || etype === ET_MPLS_MC) {
          // RFC 3032 §2.1: 4-byte label stack entries, S bit marks the bottom.
          let labels = 0;
          for (;;) {
            if (end - pos < 4) return fail(meta, DecodeStatus.Malformed, 'decoder.mpls.truncated');
            if (++labels > limits.maxMplsLabels) return fail(meta, DecodeStatus.Malformed, 'decoder.mpls.too_many_labels');
            const bos = b[pos + 2] & 1;
            pos += 4;
            if (bos !== 0) break;
          }
          if (end - pos < 1) return fail(meta, DecodeStatus.Malformed, 'decoder.mpls.truncated');
          const nib = b[pos] >> 4;
          if (nib === 4) { state = S_IP4; break; }
          if (nib === 6) { state = S_IP6; break; }
          // An Ethernet pseudowire (RFC 4448) after the RFC 4385 control word (first nibble 0), or
          // without one (configured per PW, which a tap does not see): the frame starts with a MAC
          // address, any nibble. The control word is taken when an Ethernet header after it names a
          // type the decoder reads, else the frame is taken at once when its header does.
          // Anything else behind a first nibble 0 is read after a control word, as before.
          const bare = !(nib === 0 && end - pos >= 18 && pwEtherType(b, pos + 16)) && end - pos >= 14 && pwEtherType(b, pos + 12);
          if (nib === 0 || bare) {
            if (!bare && end - pos < 4) return fail(meta, DecodeStatus.Malformed, 'decoder.mpls.truncated');
            if (++depth > limits.maxTunnelDepth) return fail(meta, DecodeStatus.Malformed, 'decoder.tunnel.too_deep');
            if (depth === 1) outer(meta, TunnelType.MplsPw);
            meta.tunnelDepth = depth;
            if (!bare) pos += 4;
            state = S_ETHER;
            break;
          }
          return fail(meta, DecodeStatus.Unsupported, 'decoder.mpls.unknown_payload');
        }
        if (etype <= 1500) {
          // IEEE 802.3: a length, not a type; IP rides in LLC/SNAP (RFC 1042: AA AA 03, OUI 0, the type).
          if (end - pos < 8 || b[pos] !== 0xaa || b[pos + 1] !== 0xaa || b[pos + 2] !== 0x03) return fail(meta, DecodeStatus.NotIp, '');
          etype = (b[pos + 6] << 8) | b[pos + 7];
          pos += 8;
          break;
        }
        if (etype === ET_CISCO_MD || etype === ET_VNTAG || etype === ET_ETAG) {
          // Tags switches insert before the payload's ethertype, on SPAN ports of TrustSec and
          // fabric-extender networks: Cisco MetaData (version, length, SGT option and value: 6
          // bytes), VN-Tag (4), 802.1BR E-Tag (6).
          const tl = etype === ET_VNTAG ? 4 : 6;
          if (end - pos < tl + 2) return fail(meta, DecodeStatus.Malformed, 'decoder.vlan.truncated');
          etype = (b[pos + tl] << 8) | b[pos + tl + 1];
          pos += tl + 2;
          break;
        }
        if (etype === ET_PBB) {
          // 802.1ah: the I-tag (flags, I-SID), then the customer's Ethernet frame.
          if (end - pos < 4) return fail(meta, DecodeStatus.Malformed, 'decoder.vlan.truncated');
          pos += 4;
          state = S_ETHER;
          break;
        }
        if (etype === ET_NSH) { state = S_NSH; break; }
        if (etype === ET_PPPOE_SESSION) {
          // RFC 2516 §4: ver/type, code, session id, length; then the PPP protocol.
          if (end - pos < 8) return fail(meta, DecodeStatus.Malformed, 'decoder.pppoe.truncated');
          pos += 6;
          state = S_PPP;
          break;
        }
        return fail(meta, DecodeStatus.NotIp, '');
      }

      case S_NSH: {
        // RFC 8300 §2.2: ver O U TTL length (6 bits, 4-byte words) | MD type | next protocol;
        // the service path header and context headers make up the rest of that length.
        if (end - pos < 8) return fail(meta, DecodeStatus.Malformed, 'decoder.nsh.truncated');
        const hl = (b[pos + 1] & 0x3f) << 2;
        const next = b[pos + 3];
        if (hl < 8 || end - pos < hl) return fail(meta, DecodeStatus.Malformed, 'decoder.nsh.truncated');
        pos += hl;
        if (next === 1) state = S_IP4;
        else if (next === 2) state = S_IP6;
        else if (next === 3) state = S_ETHER;
        else if (next === 5) { etype = ET_MPLS_UC; state = S_ETYPE; }
        else return fail(meta, DecodeStatus.Unsupported, 'decoder.nsh.unknown_payload');
        break;
      }

      case S_WLAN: {
        // IEEE 802.11 §9.2.4: frame control (type 2 = data), duration, three addresses, sequence
        // control, a fourth address between access points (ToDS and FromDS), QoS control on QoS
        // subtypes and HT control when the order bit is set on them; then LLC/SNAP (RFC 1042).
        if (end - pos < 24) return fail(meta, DecodeStatus.Malformed, 'decoder.wlan.truncated');
        const fc0 = b[pos];
        const fc1 = b[pos + 1];
        // Management, control, null (no body) and protected frames carry nothing to decode.
        if ((fc0 & 0x0c) !== 0x08 || (fc0 & 0x40) !== 0 || (fc1 & 0x40) !== 0) return fail(meta, DecodeStatus.NotIp, '');
        let hl = 24;
        if ((fc1 & 3) === 3) hl += 6;
        if ((fc0 & 0x80) !== 0) {
          if (end - pos < hl + 2) return fail(meta, DecodeStatus.Malformed, 'decoder.wlan.truncated');
          if ((b[pos + hl] & 0x80) !== 0) return fail(meta, DecodeStatus.NotIp, ''); // A-MSDU aggregate
          hl += 2;
          if ((fc1 & 0x80) !== 0) hl += 4;
        }
        if (wlanPad) hl = (hl + 3) & ~3;
        if (end - pos < hl + 8) return fail(meta, DecodeStatus.Malformed, 'decoder.wlan.truncated');
        const l = pos + hl;
        if (b[l] !== 0xaa || b[l + 1] !== 0xaa || b[l + 2] !== 0x03) return fail(meta, DecodeStatus.NotIp, '');
        etype = (b[l + 6] << 8) | b[l + 7];
        pos = l + 8;
        state = S_ETYPE;
        break;
      }

      case S_IPGUESS: {
        if (end - pos < 1) return fail(meta, DecodeStatus.Malformed, 'decoder.link.truncated');
        const nib = b[pos] >> 4;
        if (nib === 4) state = S_IP4;
        else if (nib === 6) state = S_IP6;
        else return fail(meta, DecodeStatus.Malformed, 'decoder.raw.unknown_version');
        break;
      }

      case S_PPP: {
        // RFC 1661 §2: optional address/control FF 03 (PPTP), protocol 1 or 2 bytes (RFC 1661 §6.5).
        if (end - pos < 2) return fail(meta, DecodeStatus.Malformed, 'decoder.ppp.truncated');
        if (b[pos] === 0xff && b[pos + 1] === 0x03) {
          pos += 2;
          if (end - pos < 2) return fail(meta, DecodeStatus.Malformed, 'decoder.ppp.truncated');
        }
        let proto: number;
        if ((b[pos] & 1) !== 0) { proto = b[pos]; pos += 1; }
        else { proto = (b[pos] << 8) | b[pos + 1]; pos += 2; }
        if (proto === 0x21) state = S_IP4;
        else if (proto === 0x57) state = S_IP6;
        else return fail(meta, DecodeStatus.NotIp, '');
        break;
      }

      case S_IP4: {
        // RFC 791 §3.1
        const avail = end - pos;
        if (avail < 20) return fail(meta, DecodeStatus.Malformed, 'decoder.ipv4.truncated');
        const vihl = b[pos];
        if (vihl >> 4 !== 4) return fail(meta, DecodeStatus.Malformed, 'decoder.ipv4.bad_version');
        const hl = (vihl & 15) << 2;
        if (hl < 20) return fail(meta, DecodeStatus.Malformed, 'decoder.ipv4.bad_header_len');
        if (hl > avail) return fail(meta, DecodeStatus.Malformed, 'decoder.ipv4.truncated');
        let tot = (b[pos + 2] << 8) | b[pos + 3];
        if (tot === 0) tot = avail; // TSO: the sender's stack left the length to the NIC
        else if (tot < hl) return fail(meta, DecodeStatus.Malformed, 'decoder.ipv4.bad_total_len');
        const proto = b[pos + 9];
        const src = dv.getUint32(pos + 12);
        const dst = dv.getUint32(pos + 16);
        meta.data = b;
        meta.ipVersion = 4;
        meta.ipOff = pos;
        meta.ipLen = tot;
        meta.ttl = b[pos + 8];
        meta.proto = proto;
        meta.src0 = src; meta.src1 = 0; meta.src2 = 0; meta.src3 = 0;
        meta.dst0 = dst; meta.dst1 = 0; meta.dst2 = 0; meta.dst3 = 0;
        ipEnd = pos + tot;
        if (ipEnd < end) end = ipEnd; // Ethernet padding / trailers are not payload

        const fo = (b[pos + 6] << 8) | b[pos + 7];
        if ((fo & 0x3fff) !== 0) {
          // RFC 791 §3.2 fragment: MF set or offset non-zero.
          if (reasm >= 2) return fail(meta, DecodeStatus.Malformed, 'decoder.frag.too_deep');
          if (ipEnd > end) return fail(meta, DecodeStatus.Malformed, 'decoder.ipv4.truncated');
          const id = (b[pos + 4] << 8) | b[pos + 5];
          const r = frags.add(4, src, 0, 0, 0, dst, 0, 0, 0, id, proto, b, pos, hl, 0, 0,
            (fo & 0x1fff) << 3, (fo & 0x2000) !== 0, pos + hl, tot - hl, meta.tsMs, reasm);
          if (r === FragResult.Held) return fail(meta, DecodeStatus.Fragment, frags.lastEvent);
          if (r === FragResult.Error) return fail(meta, DecodeStatus.Malformed, frags.lastEvent);
          b = frags.out(reasm);
          if (b !== dvBuf) { dvBuf = b; dv = new DataView(b.buffer, b.byteOffset, b.byteLength); }
          reasm++;
          pos = 0;
          end = frags.outLen;
          ipEnd = end;
          meta.reassembled = true;
          state = S_IP4;
          break;
        }
        nh = proto;
        pos += hl;
        state = S_L4;
        break;
      }

      case S_IP6: {
        // RFC 8200 §3
        const avail = end - pos;
        if (avail < 40) return fail(meta, DecodeStatus.Malformed, 'decoder.ipv6.truncated');
        if (b[pos] >> 4 !== 6) return fail(meta, DecodeStatus.Malformed, 'decoder.ipv6.bad_version');
        const pl = (b[pos + 4] << 8) | b[pos + 5];
        const tot = pl === 0 ? avail : 40 + pl; // 0: jumbogram (RFC 2675) or TSO
        const ip = pos;
        const s0 = dv.getUint32(ip + 8);
        const s1 = dv.getUint32(ip + 12);
        const s2 = dv.getUint32(ip + 16);
        const s3 = dv.getUint32(ip + 20);
        const d0 = dv.getUint32(ip + 24);
        const d1 = dv.getUint32(ip + 28);
        const d2 = dv.getUint32(ip + 32);
        const d3 = dv.getUint32(ip + 36);
        meta.data = b;
        meta.ipVersion = 6;
        meta.ipOff = ip;
        meta.ipLen = tot;
        meta.ttl = b[ip + 7];
        meta.proto = b[ip + 6];
        meta.src0 = s0; meta.src1 = s1; meta.src2 = s2; meta.src3 = s3;
        meta.dst0 = d0; meta.dst1 = d1; meta.dst2 = d2; meta.dst3 = d3;
        ipEnd = ip + tot;
        if (ipEnd < end) end = ipEnd;

        // Extension header walk (RFC 8200 §4), count-limited.
        let next = b[ip + 6];
        let nhField = ip + 6;
        let p = ip + 40;
        let ext = 0;
        let reassembled = false;
        for (;;) {
          if (next === 0 || next === 43 || next === 60 || next === 135 || next === 139 || next === 140) {
            // hop-by-hop, routing, destination options, mobility, HIP, shim6: (len + 1) * 8 bytes
            if (++ext > limits.maxIpv6ExtHeaders) return fail(meta, DecodeStatus.Malformed, 'decoder.ipv6.too_many_ext_headers');
            if (end - p < 2) return fail(meta, DecodeStatus.Malformed, 'decoder.ipv6.truncated');
            const len = (b[p + 1] + 1) << 3;
            if (p + len > ipEnd) return fail(meta, DecodeStatus.Malformed, 'decoder.ipv6.ext_header_overrun');
            if (p + len > end) return fail(meta, DecodeStatus.Malformed, 'decoder.ipv6.truncated');
            nhField = p;
            next = b[p];
            p += len;
            continue;
          }
          if (next === 51) {
            // RFC 4302 §2.2: AH length in 4-byte words minus 2.
            if (++ext > limits.maxIpv6ExtHeaders) return fail(meta, DecodeStatus.Malformed, 'decoder.ipv6.too_many_ext_headers');
            if (end - p < 2) return fail(meta, DecodeStatus.Malformed, 'decoder.ah.truncated');
            const len = (b[p + 1] + 2) << 2;
            if (p + len > end) return fail(meta, DecodeStatus.Malformed, 'decoder.ah.truncated');
            nhField = p;
            next = b[p];
            p += len;
            continue;
          }
          if (next === 44) {
            // RFC 8200 §4.5 fragment header: next, reserved, offset(13)|res(2)|M, identification.
            if (++ext > limits.maxIpv6ExtHeaders) return fail(meta, DecodeStatus.Malformed, 'decoder.ipv6.too_many_ext_headers');
            if (end - p < 8) return fail(meta, DecodeStatus.Malformed, 'decoder.ipv6.truncated');
            const fnext = b[p];
            const fo = (b[p + 2] << 8) | b[p + 3];
            const foff = fo & 0xfff8;
            const more = (fo & 1) !== 0;
            if (foff === 0 && !more) {
              // atomic fragment (RFC 6946): process as a whole packet
              nhField = p;
              next = fnext;
              p += 8;
              continue;
            }
            if (reasm >= 2) return fail(meta, DecodeStatus.Malformed, 'decoder.frag.too_deep');
            if (ipEnd > end) return fail(meta, DecodeStatus.Malformed, 'decoder.ipv6.truncated');
            const id = dv.getUint32(p + 4);
            meta.proto = 44;
            const r = frags.add(6, s0, s1, s2, s3, d0, d1, d2, d3, id, 0, b, ip, p - ip, nhField - ip, fnext,
              foff, more, p + 8, ipEnd - (p + 8), meta.tsMs, reasm);
            if (r === FragResult.Held) return fail(meta, DecodeStatus.Fragment, frags.lastEvent);
            if (r === FragResult.Error) return fail(meta, DecodeStatus.Malformed, frags.lastEvent);
            reassembled = true;
            break;
          }
          break;
        }
        if (reassembled) {
          b = frags.out(reasm);
          if (b !== dvBuf) { dvBuf = b; dv = new DataView(b.buffer, b.byteOffset, b.byteLength); }
          reasm++;
          pos = 0;
          end = frags.outLen;
          ipEnd = end;
          meta.reassembled = true;
          state = S_IP6;
          break;
        }
        meta.proto = next;
        nh = next;
        pos = p;
        state = S_L4;
        break;
      }

      case S_L4: {
        meta.proto = nh;
        if (nh === 6) {
          // RFC 9293 §3.1
          if (end - pos < 20) {
            // A snap length cut inside the fixed header (IPv6 under tcpdump's old 68 bytes): the
            // ports still name the flow, so the packet counts; flags, sequence numbers and the
            // payload length are unknown and left 0.
            if (end - pos < 4 || ipEnd - pos < 20) return fail(meta, DecodeStatus.Malformed, 'decoder.tcp.truncated');
            meta.l4Off = pos;
            meta.sport = (b[pos] << 8) | b[pos + 1];
            meta.dport = (b[pos + 2] << 8) | b[pos + 3];
            clearTcp(meta);
            meta.payloadOff = end;
            meta.payloadLen = 0;
            meta.payloadWireLen = 0;
            meta.status = DecodeStatus.Ok;
            return DecodeStatus.Ok;
          }
          const hl = (b[pos + 12] >> 4) << 2;
          if (hl < 20 || pos + hl > ipEnd) return fail(meta, DecodeStatus.Malformed, 'decoder.tcp.bad_header_len');
          if (pos + hl > end) {
            // The snap length cut the options (a SYN's 20 bytes of them under 68): the fixed
            // header is whole, the options seen are what was captured, no payload was.
            tcpFixed(meta, b, dv, pos);
            meta.tcpOptLen = end - (pos + 20);
            meta.payloadOff = end;
            meta.payloadLen = 0;
            meta.payloadWireLen = ipEnd - (pos + hl);
            meta.status = DecodeStatus.Ok;
            return DecodeStatus.Ok;
          }
          tcpFixed(meta, b, dv, pos);
          meta.tcpOptLen = hl - 20;
          meta.payloadOff = pos + hl;
          meta.payloadLen = end - (pos + hl);
          meta.payloadWireLen = ipEnd - (pos + hl);
          meta.status = DecodeStatus.Ok;
          return DecodeStatus.Ok;
        }
        if (nh === 17) {
          // RFC 768
          if (end - pos < 8) return fail(meta, DecodeStatus.Malformed, 'decoder.udp.truncated');
          let ulen = (b[pos + 4] << 8) | b[pos + 5];
          if (ulen === 0) ulen = ipEnd - pos; // jumbogram (RFC 2675 §4) / TSO
          if (ulen < 8 || pos + ulen > ipEnd) return fail(meta, DecodeStatus.Malformed, 'decoder.udp.bad_length');
          const udpEnd = pos + ulen;
          if (udpEnd < end) end = udpEnd;
          const sport = (b[pos] << 8) | b[pos + 1];
          const dport = (b[pos + 2] << 8) | b[pos + 3];
          const p = pos + 8;
          // Its ports may name a tunnel, unless the other port is a well-known service's: a DNS, NTP
          // or syslog datagram from or to ephemeral port 4789 or 1701 belongs to the service
          // (Wireshark, too, tries the lower port first).
          const guess = sport >= 1024 && dport >= 1024;
          if (guess && (((dport === VXLAN_PORT || sport === VXLAN_PORT) && end - p >= 8 && vxlanHeader(b, p)) ||
            // on 8472 only a header exactly as RFC 7348 lays it out (I flag alone, reserved zero):
            // the port is not IANA's and Cisco's OTV shares it
            ((dport === VXLAN_LINUX_PORT || sport === VXLAN_LINUX_PORT) && end - p >= 22 && b[p] === 0x08 && b[p + 1] === 0 && b[p + 2] === 0 && b[p + 3] === 0 && b[p + 7] === 0))) {
            // RFC 7348 §5: flags (I bit), reserved, VNI, reserved; then an Ethernet frame.
            if (++depth > limits.maxTunnelDepth) return fail(meta, DecodeStatus.Malformed, 'decoder.tunnel.too_deep');
            if (depth === 1) outer(meta, TunnelType.Vxlan);
            meta.tunnelDepth = depth;
            meta.tunnelId = (b[p + 4] << 16) | (b[p + 5] << 8) | b[p + 6];
            pos = p + 8;
            state = S_ETHER;
            break;
          }
          if (guess && (dport === VXLAN_GPE_PORT || sport === VXLAN_GPE_PORT) && end - p >= 8 && (b[p] & 0xfc) === 0x0c && b[p + 1] === 0 && b[p + 2] === 0 && b[p + 7] === 0) {
            // VXLAN-GPE: flags (ver, I, P: a next protocol is given), reserved, next protocol (1
            // IPv4, 2 IPv6, 3 Ethernet, 4 NSH, 5 MPLS), VNI, reserved.
            const next = b[p + 3];
            if (++depth > limits.maxTunnelDepth) return fail(meta, DecodeStatus.Malformed, 'decoder.tunnel.too_deep');
            if (depth === 1) outer(meta, TunnelType.Vxlan);
            meta.tunnelDepth = depth;
            meta.tunnelId = (b[p + 4] << 16) | (b[p + 5] << 8) | b[p + 6];
            pos = p + 8;
            if (next === 1) state = S_IP4;
            else if (next === 2) state = S_IP6;
            else if (next === 3) state = S_ETHER;
            else if (next === 4) state = S_NSH;
            else if (next === 5) { etype = ET_MPLS_UC; state = S_ETYPE; }
            else return fail(meta, DecodeStatus.Unsupported, 'decoder.vxlan.unknown_proto');
            break;
          }
          if (guess && (dport === GRE_UDP_PORT || sport === GRE_UDP_PORT) && end - p >= 4 && (b[p + 1] & 7) === 0) {
            // GRE-in-UDP: a GRE header (version 0) where IP's would be; read as GRE over IP is.
            pos = p;
            nh = 47;
            break;
          }
          if (guess && (dport === MPLS_UDP_PORT || sport === MPLS_UDP_PORT) && end - p >= 4) {
            // MPLS-in-UDP: a label stack, then what MPLS carries (IP, or a pseudowire).
            if (++depth > limits.maxTunnelDepth) return fail(meta, DecodeStatus.Malformed, 'decoder.tunnel.too_deep');
            if (depth === 1) outer(meta, TunnelType.MplsUdp);
            meta.tunnelDepth = depth;
            meta.tunnelId = dv.getUint32(p) >>> 12;
            pos = p;
            etype = ET_MPLS_UC;
            state = S_ETYPE;
            break;
          }
          if (guess && (dport === GENEVE_PORT || sport === GENEVE_PORT) && end - p >= 8 && (b[p] >> 6) === 0) {
            // RFC 8926 §3.4: ver(2) opt len(6, 4-byte words), O C rsvd, protocol type, VNI, rsvd; options.
            const glen = 8 + ((b[p] & 0x3f) << 2);
            if (end - p < glen) return fail(meta, DecodeStatus.Malformed, 'decoder.geneve.truncated');
            const gproto = (b[p + 2] << 8) | b[p + 3];
            if (++depth > limits.maxTunnelDepth) return fail(meta, DecodeStatus.Malformed, 'decoder.tunnel.too_deep');
            if (depth === 1) outer(meta, TunnelType.Geneve);
            meta.tunnelDepth = depth;
            meta.tunnelId = (b[p + 4] << 16) | (b[p + 5] << 8) | b[p + 6];
            pos = p + glen;
            if (gproto === ET_TEB) state = S_ETHER;
            else if (gproto === ET_IPV4) state = S_IP4;
            else if (gproto === ET_IPV6) state = S_IP6;
            else return fail(meta, DecodeStatus.Unsupported, 'decoder.geneve.unknown_proto');
            break;
          }
          if (guess && (dport === GTPU_PORT || sport === GTPU_PORT) && end - p >= 8 && (b[p] & 0xf0) === 0x30 && b[p + 1] === 0xff) {
            // TS 29.281 §5.1: flags (version 1, PT 1, E S PN), message type 255 = G-PDU (a user
            // packet; echo, end marker and error indication stay UDP), length of what follows the
            // first 8 bytes, TEID; with any of E S PN: sequence number, N-PDU number, next
            // extension type; then extension headers, each (length in 4-byte units, ..., next type).
            const flags = b[p];
            const glen = (b[p + 2] << 8) | b[p + 3];
            if (p + 8 + glen > udpEnd) return fail(meta, DecodeStatus.Malformed, 'decoder.gtpu.bad_length');
            let q = p + 8;
            if ((flags & 0x07) !== 0) {
              if (end - q < 4) return fail(meta, DecodeStatus.Malformed, 'decoder.gtpu.truncated');
              let next = (flags & 0x04) !== 0 ? b[q + 3] : 0;
              q += 4;
              for (let n = 0; next !== 0; n++) {
                if (n === MAX_GTPU_EXT_HEADERS) return fail(meta, DecodeStatus.Malformed, 'decoder.gtpu.too_many_ext_headers');
                if (end - q < 1) return fail(meta, DecodeStatus.Malformed, 'decoder.gtpu.truncated');
                const el = b[q] << 2;
                if (el === 0 || q + el > p + 8 + glen) return fail(meta, DecodeStatus.Malformed, 'decoder.gtpu.bad_ext_header');
                if (end - q < el) return fail(meta, DecodeStatus.Malformed, 'decoder.gtpu.truncated');
                next = b[q + el - 1];
                q += el;
              }
            }
            if (q >= p + 8 + glen) return fail(meta, DecodeStatus.NotIp, ''); // no T-PDU
            if (end - q < 1) return fail(meta, DecodeStatus.Malformed, 'decoder.gtpu.truncated');
            const nib = b[q] >> 4;
            if (nib !== 4 && nib !== 6) return fail(meta, DecodeStatus.Unsupported, 'decoder.gtpu.not_ip'); // Ethernet/unstructured PDU sessions
            if (++depth > limits.maxTunnelDepth) return fail(meta, DecodeStatus.Malformed, 'decoder.tunnel.too_deep');
            if (depth === 1) outer(meta, TunnelType.GtpU);
            meta.tunnelDepth = depth;
            meta.tunnelId = dv.getUint32(p + 4);
            // the G-PDU's length, not the UDP's, ends the inner packet
            if (p + 8 + glen < end) end = p + 8 + glen;
            pos = q;
            state = nib === 4 ? S_IP4 : S_IP6;
            break;
          }
          if (guess && (dport === L2TP_PORT || sport === L2TP_PORT) && end - p >= 6 && (b[p] & 0x80) === 0 && (b[p + 1] & 0x0f) === 2) {
            // RFC 2661 §3.1 data message (T = 0), version 2: flags T L x x S x O P, version; length
            // (L), tunnel id, session id, Ns Nr (S), offset size and padding (O); then a PPP frame.
            const fl = b[p];
            let q = p + 2;
            if ((fl & 0x40) !== 0) q += 2;
            if (end - q < 4) return fail(meta, DecodeStatus.Malformed, 'decoder.l2tp.truncated');
            const tun = (b[q] << 8) | b[q + 1];
            const ses = (b[q + 2] << 8) | b[q + 3];
            q += 4;
            if ((fl & 0x08) !== 0) q += 4;
            if ((fl & 0x02) !== 0) {
              if (end - q < 2) return fail(meta, DecodeStatus.Malformed, 'decoder.l2tp.truncated');
              q += 2 + ((b[q] << 8) | b[q + 1]);
            }
            if (end - q < 2) return fail(meta, DecodeStatus.Malformed, 'decoder.l2tp.truncated');
            if (++depth > limits.maxTunnelDepth) return fail(meta, DecodeStatus.Malformed, 'decoder.tunnel.too_deep');
            if (depth === 1) outer(meta, TunnelType.L2tp);
            meta.tunnelDepth = depth;
            meta.tunnelId = ((tun << 16) | ses) >>> 0;
            pos = q;
            state = S_PPP;
            break;
          }
          if (guess && (dport === L2TP_PORT || sport === L2TP_PORT) && end - p >= 8 && (b[p] & 0x80) === 0 && (b[p + 1] & 0x0f) === 3) {
            // RFC 3931 §4.1.2.1 over UDP: T = 0 (data), version 3, reserved; the session header
            // (session id, cookie, sublayer) as over IP. Session 0 would be a control message.
            const e = dv.getUint32(p + 4) === 0 ? -1 : l2tpv3Frame(b, p + 8, end);
            if (e < 0) return fail(meta, DecodeStatus.Unsupported, 'decoder.l2tp.unknown_payload');
            if (++depth > limits.maxTunnelDepth) return fail(meta, DecodeStatus.Malformed, 'decoder.tunnel.too_deep');
            if (depth === 1) outer(meta, TunnelType.L2tp);
            meta.tunnelDepth = depth;
            meta.tunnelId = dv.getUint32(p + 4);
            pos = e;
            state = S_ETHER;
            break;
          }
          if (guess && (dport === TZSP_PORT || sport === TZSP_PORT) && end - p >= 5 && b[p] === 1) {
            // TZSP: version 1, type, encapsulated protocol (1 Ethernet, 18 802.11); tagged fields
            // (0 padding and 1 end are one byte, the others tag, length, value) up to the end tag.
            const encap = (b[p + 2] << 8) | b[p + 3];
            let q = p + 4;
            for (;;) {
              if (q >= end) return fail(meta, DecodeStatus.Malformed, 'decoder.tzsp.truncated');
              const tag = b[q];
              if (tag === 1) { q++; break; }
              if (tag === 0) { q++; continue; }
              if (end - q < 2) return fail(meta, DecodeStatus.Malformed, 'decoder.tzsp.truncated');
              q += 2 + b[q + 1];
            }
            if (encap !== 1 && encap !== 18) return fail(meta, DecodeStatus.Unsupported, 'decoder.tzsp.unsupported');
            if (++depth > limits.maxTunnelDepth) return fail(meta, DecodeStatus.Malformed, 'decoder.tunnel.too_deep');
            if (depth === 1) outer(meta, TunnelType.Tzsp);
            meta.tunnelDepth = depth;
            meta.tunnelId = 0;
            pos = q;
            wlanPad = false;
            state = encap === 1 ? S_ETHER : S_WLAN;
            break;
          }
          if (guess && (dport === TEREDO_PORT || sport === TEREDO_PORT) && end - p >= 40) {
            // RFC 4380 §5.1.1: IPv6 in UDP, optionally after an authentication indicator (0x0001,
            // client id length, auth value length, id, value, 8-byte nonce, confirmation byte) and
            // an origin indication (0x0000, obfuscated port and address: 8 bytes). It is Teredo when
            // an IPv6 header whose payload length fills the datagram follows; else plain UDP.
            let q = p;
            let auth = -1;
            let origin = -1;
            if (b[q] === 0 && b[q + 1] === 1) {
              if (end - q < 4) return fail(meta, DecodeStatus.Malformed, 'decoder.teredo.truncated');
              auth = q;
              q += 13 + b[q + 2] + b[q + 3];
            }
            if (q + 2 <= end && b[q] === 0 && b[q + 1] === 0) { origin = q; q += 8; }
            if (q > p && end - q < 40) return fail(meta, DecodeStatus.Malformed, 'decoder.teredo.truncated');
            if (end - q >= 40 && (b[q] >> 4) === 6 && 40 + ((b[q + 4] << 8) | b[q + 5]) === udpEnd - q) {
              if (++depth > limits.maxTunnelDepth) return fail(meta, DecodeStatus.Malformed, 'decoder.tunnel.too_deep');
              if (depth === 1) {
                outer(meta, TunnelType.Teredo);
                // The indicators of the outermost Teredo only (the record names that tunnel). The
                // origin's port and address travel obfuscated (each bit inverted, §5.1.1) so NATs
                // that rewrite addresses in payloads leave them alone; they are stored in clear.
                meta.teredoOrigin = origin < 0 ? 0 : TEREDO_PRESENT | (~((b[origin + 2] << 8) | b[origin + 3]) & 0xffff);
                meta.teredoOriginAddr = origin < 0 ? 0 : ~dv.getUint32(origin + 4) >>> 0;
                if (auth < 0) {
                  meta.teredoAuth = 0;
                } else {
                  const nonce = auth + 4 + b[auth + 2] + b[auth + 3];
                  meta.teredoAuth = TEREDO_PRESENT | (b[auth + 2] << 16) | (b[auth + 3] << 8) | b[nonce + 8];
                  meta.teredoNonceHi = dv.getUint32(nonce);
                  meta.teredoNonceLo = dv.getUint32(nonce + 4);
                }
              }
              meta.tunnelDepth = depth;
              meta.tunnelId = 0;
              pos = q;
              state = S_IP6;
              break;
            }
          }
          meta.l4Off = pos;
          meta.sport = sport;
          meta.dport = dport;
          clearTcp(meta);
          meta.payloadOff = p;
          meta.payloadLen = end - p;
          meta.payloadWireLen = ulen - 8;
          meta.status = DecodeStatus.Ok;
          return DecodeStatus.Ok;
        }
        if (nh === 47) {
          // GRE: RFC 2784/2890 (version 0), RFC 2637 §4.1 (version 1, PPTP).
          if (end - pos < 4) return fail(meta, DecodeStatus.Malformed, 'decoder.gre.truncated');
          const flags = (b[pos] << 8) | b[pos + 1];
          const gproto = (b[pos + 2] << 8) | b[pos + 3];
          const ver = flags & 7;
          let hl = 4;
          let keyOff = -1;
          if (ver === 0) {
            if ((flags & 0x4000) !== 0) return fail(meta, DecodeStatus.Unsupported, 'decoder.gre.unsupported'); // RFC 1701 routing
            if ((flags & 0x8000) !== 0) hl += 4; // checksum + reserved1
            if ((flags & 0x2000) !== 0) { keyOff = hl; hl += 4; } // key
            if ((flags & 0x1000) !== 0) hl += 4; // sequence number
          } else if (ver === 1) {
            hl = 8; // payload length + call id
            if ((flags & 0x1000) !== 0) hl += 4;
            if ((flags & 0x0080) !== 0) hl += 4; // acknowledgment number
          } else {
            return fail(meta, DecodeStatus.Unsupported, 'decoder.gre.unsupported');
          }
          if (end - pos < hl) return fail(meta, DecodeStatus.Malformed, 'decoder.gre.truncated');
          if (++depth > limits.maxTunnelDepth) return fail(meta, DecodeStatus.Malformed, 'decoder.tunnel.too_deep');
          if (depth === 1) outer(meta, gproto === ET_ERSPAN2 || gproto === ET_ERSPAN3 ? TunnelType.Erspan : TunnelType.Gre);
          meta.tunnelDepth = depth;
          meta.tunnelId = keyOff >= 0 ? dv.getUint32(pos + keyOff) : 0;
          pos += hl;
          if (gproto === ET_IPV4) { state = S_IP4; break; }
          if (gproto === ET_IPV6) { state = S_IP6; break; }
          if (gproto === ET_TEB) { state = S_ETHER; break; }
          if (gproto === ET_ERSPAN2) {
            if ((flags & 0x1000) === 0) { state = S_ETHER; break; } // ERSPAN type I: no header
            // ERSPAN type II: ver(4)=1 vlan(12) cos(3) en(2) t(1) session(10) reserved(12) index(20)
            if (end - pos < 8) return fail(meta, DecodeStatus.Malformed, 'decoder.erspan.truncated');
            if (b[pos] >> 4 !== 1) return fail(meta, DecodeStatus.Malformed, 'decoder.erspan.bad_version');
            meta.tunnelId = ((b[pos + 2] & 3) << 8) | b[pos + 3];
            pos += 8;
            state = S_ETHER;
            break;
          }
          if (gproto === ET_ERSPAN3) {
            // ERSPAN type III: ver(4)=2 vlan cos bso t session | timestamp | sgt(16) P FT(5) hwid(6) D gra(2) O
            if (end - pos < 12) return fail(meta, DecodeStatus.Malformed, 'decoder.erspan.truncated');
            if (b[pos] >> 4 !== 2) return fail(meta, DecodeStatus.Malformed, 'decoder.erspan.bad_version');
            const ft = (b[pos + 10] >> 2) & 0x1f;
            const o = b[pos + 11] & 1;
            const hl3 = o !== 0 ? 20 : 12; // O: 8-byte platform-specific subheader
            if (end - pos < hl3) return fail(meta, DecodeStatus.Malformed, 'decoder.erspan.truncated');
            meta.tunnelId = ((b[pos + 2] & 3) << 8) | b[pos + 3];
            pos += hl3;
            state = ft === 2 ? S_IPGUESS : S_ETHER;
            break;
          }
          if (gproto === ET_MPLS_UC || gproto === ET_MPLS_MC) { etype = gproto; state = S_ETYPE; break; }
          if (gproto === ET_WCCP) {
            // WCCP redirection: version 2 puts a 4-byte redirect header before the IPv4 packet,
            // version 1 none (Wireshark tells them apart the same way, by the IPv4 header's first byte).
            if (end - pos < 1) return fail(meta, DecodeStatus.Malformed, 'decoder.gre.truncated');
            if (b[pos] >> 4 !== 4 || (b[pos] & 0x0f) < 5) pos += 4;
            state = S_IP4;
            break;
          }
          if (gproto === ET_PPP) {
            if (end - pos === 0) return fail(meta, DecodeStatus.NotIp, ''); // PPTP ack-only
            state = S_PPP;
            break;
          }
          return fail(meta, DecodeStatus.Unsupported, 'decoder.gre.unknown_proto');
        }
        if (nh === 115) {
          // L2TPv3 over IP (RFC 3931 §4.1.1): session id (0: a control message, no frame), then
          // the session header's cookie and sublayer (see l2tpv3Frame) and the Ethernet frame.
          if (end - pos < 4) return fail(meta, DecodeStatus.Malformed, 'decoder.l2tp.truncated');
          const ses = dv.getUint32(pos);
          if (ses === 0) return fail(meta, DecodeStatus.OtherL4, '');
          const e = l2tpv3Frame(b, pos + 4, end);
          if (e < 0) return fail(meta, DecodeStatus.Unsupported, 'decoder.l2tp.unknown_payload');
          if (++depth > limits.maxTunnelDepth) return fail(meta, DecodeStatus.Malformed, 'decoder.tunnel.too_deep');
          if (depth === 1) outer(meta, TunnelType.L2tp);
          meta.tunnelDepth = depth;
          meta.tunnelId = ses;
          pos = e;
          state = S_ETHER;
          break;
        }
        if (nh === 4 || nh === 41) {
          // IPv4-in-IP (RFC 2003), IPv6-in-IP (RFC 4213 §3.5)
          if (++depth > limits.maxTunnelDepth) return fail(meta, DecodeStatus.Malformed, 'decoder.tunnel.too_deep');
          if (depth === 1) outer(meta, nh === 4 ? TunnelType.IpInIp : TunnelType.Ip6InIp);
          meta.tunnelDepth = depth;
          state = nh === 4 ? S_IP4 : S_IP6;
          break;
        }
        if (nh === 51 && meta.ipVersion === 4) {
          // AH over IPv4 (RFC 4302 §2.2)
          if (end - pos < 2) return fail(meta, DecodeStatus.Malformed, 'decoder.ah.truncated');
          const len = (b[pos + 1] + 2) << 2;
          if (end - pos < len) return fail(meta, DecodeStatus.Malformed, 'decoder.ah.truncated');
          nh = b[pos];
          pos += len;
          break;
        }
        // ICMP, ICMPv6, ESP, no next header, SCTP, …: counted, no flow. ICMP quotes are not decoded.
        fail(meta, DecodeStatus.OtherL4, '');
        meta.l4Off = pos;
        return DecodeStatus.OtherL4;
      }

      default:
        return fail(meta, DecodeStatus.Unsupported, 'decoder.link.unsupported');
    }
  }
}
