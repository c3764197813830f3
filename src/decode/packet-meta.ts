/**
 * The one reused structure decode() fills per packet (DESIGN §2.2): offsets and numbers only,
 * no allocation per packet. Addresses are four 32-bit words each (IPv4: word 0 only, rest 0),
 * so flow keys hash and compare without building strings.
 */
export const DecodeStatus = {
  Ok: 0, // a TCP or UDP packet with a flow tuple
  NotIp: 1, // ARP, LLDP, … (counted, no flow)
  OtherL4: 2, // IP but not TCP/UDP (ICMP, ESP, …): counted, no flow
  Fragment: 3, // a fragment held for reassembly (not yet complete)
  Malformed: 4, // see `event`
  Unsupported: 5, // unknown link type / encapsulation
} as const;
export type DecodeStatus = (typeof DecodeStatus)[keyof typeof DecodeStatus];

/** Which encapsulation carried a packet (the outermost one peeled; PacketMeta.tunnelType). */
export const TunnelType = {
  None: 0, Vxlan: 1, Geneve: 2, Gre: 3, Erspan: 4, IpInIp: 5, Ip6InIp: 6, GtpU: 7, Teredo: 8, MplsPw: 9, L2tp: 10, Tzsp: 11, MplsUdp: 12,
} as const;
export type TunnelType = (typeof TunnelType)[keyof typeof TunnelType];

/** Record names of the tunnel types (IP protocol 41 over IPv4 is 6in4, RFC 4213). */
export const TUNNEL_NAMES: readonly string[] = ['', 'vxlan', 'geneve', 'gre', 'erspan', 'ipip', '6in4', 'gtpu', 'teredo', 'mpls-pw', 'l2tp', 'tzsp', 'mpls-udp'];

export class PacketMeta {
  status: DecodeStatus = DecodeStatus.Ok;
  /** Named decoder event for Malformed/Unsupported (e.g. 'decoder.ipv4.truncated'), else ''. */
  event = '';

  tsMs = 0;
  capLen = 0;
  origLen = 0;

  /** Buffer holding the innermost IP packet (the frame, or a fragment-reassembly buffer). */
  data: Uint8Array = new Uint8Array(0);
  ipVersion: 0 | 4 | 6 = 0;
  ipOff = 0;
  /** Length of the innermost IP packet as its header says (total length / 40 + payload length). */
  ipLen = 0;
  ttl = 0;
  /** IP protocol number of the innermost L4 header (6 TCP, 17 UDP, …). */
  proto = 0;

  src0 = 0; src1 = 0; src2 = 0; src3 = 0;
  dst0 = 0; dst1 = 0; dst2 = 0; dst3 = 0;

  l4Off = 0;
  sport = 0;
  dport = 0;

  // TCP
  tcpFlags = 0;
  seq = 0;
  ack = 0;
  window = 0;
  /** Offset and length of the TCP options in `data` (for JA4T). */
  tcpOptOff = 0;
  tcpOptLen = 0;

  /** Application payload in `data` (TCP/UDP payload, trimmed to the IP length). */
  payloadOff = 0;
  payloadLen = 0;
  /**
   * Payload length on the wire as the headers say (IP/UDP lengths), ≥ payloadLen; larger than
   * payloadLen when the capture snaplen cut the packet short. Use it for byte counters and TCP
   * sequence arithmetic; payloadLen is what is actually in `data`.
   */
  payloadWireLen = 0;

  /** Outermost 802.1Q VLAN id (0 = none) and the number of tunnel layers peeled. */
  vlan = 0;
  tunnelDepth = 0;
  /**
   * Id of the innermost tunnel that carried the packet (for flow keys that include it): VXLAN or
   * Geneve VNI, GRE key (0 without the K flag), ERSPAN session id; 0 when not tunnelled.
   */
  tunnelId = 0;
  /**
   * The outermost tunnel peeled (TunnelType) and the addresses of the IP header that carried it
   * (outerVersion 0: the tunnel came straight off the link, an MPLS pseudowire). Set only when
   * tunnelDepth > 0; read them only then.
   */
  tunnelType: TunnelType = TunnelType.None;
  outerVersion: 0 | 4 | 6 = 0;
  outerSrc0 = 0; outerSrc1 = 0; outerSrc2 = 0; outerSrc3 = 0;
  outerDst0 = 0; outerDst1 = 0; outerDst2 = 0; outerDst3 = 0;
  /**
   * Teredo's indicators (RFC 4380 §5.1.1) when Teredo is the outermost tunnel (tunnelType Teredo;
   * read them only then). teredoOrigin: 0 without an origin indication, else TEREDO_PRESENT | the
   * origin's UDP port, with its IPv4 address in teredoOriginAddr (both deobfuscated). teredoAuth:
   * 0 without an authentication indicator, else TEREDO_PRESENT | client id length << 16 |
   * authentication value length << 8 | confirmation byte, with the 8-byte nonce in the two words.
   */
  teredoOrigin = 0;
  teredoOriginAddr = 0;
  teredoAuth = 0;
  teredoNonceHi = 0;
  teredoNonceLo = 0;
  /** True when the innermost IP packet was rebuilt from fragments. */
  reassembled = false;
}

/** The presence bit of PacketMeta.teredoOrigin and teredoAuth (above any value they carry). */
export const TEREDO_PRESENT = 0x1000000;

/** Copy the tunnel fields (type, id, outer addresses, Teredo's indicators) decode() set on `from` (sharded feeds). */
export function copyTunnel(to: PacketMeta, from: PacketMeta): void {
  to.teredoOrigin = from.teredoOrigin; to.teredoOriginAddr = from.teredoOriginAddr;
  to.teredoAuth = from.teredoAuth; to.teredoNonceHi = from.teredoNonceHi; to.teredoNonceLo = from.teredoNonceLo;
  to.tunnelType = from.tunnelType;
  to.tunnelId = from.tunnelId;
  to.outerVersion = from.outerVersion;
  to.outerSrc0 = from.outerSrc0; to.outerSrc1 = from.outerSrc1; to.outerSrc2 = from.outerSrc2; to.outerSrc3 = from.outerSrc3;
  to.outerDst0 = from.outerDst0; to.outerDst1 = from.outerDst1; to.outerDst2 = from.outerDst2; to.outerDst3 = from.outerDst3;
}

export const TcpFlag = { FIN: 0x01, SYN: 0x02, RST: 0x04, PSH: 0x08, ACK: 0x10, URG: 0x20, ECE: 0x40, CWR: 0x80 } as const;

/**
 * Recently rendered addresses, direct-mapped by a hash of their words (a collision overwrites).
 * Most flows share their hosts with earlier flows: the record then carries the very string the
 * last flow carried, flat and with its hash already computed, so every Map keyed by an address
 * after the engine (analytics, baselines, DNS names) and the writer read it without hashing (and
 * flattening) a fresh concatenation per flow.
 */
const TEXT_SLOTS = 4096;
const textWords = new Int32Array(TEXT_SLOTS * 4);
const textVersion = new Uint8Array(TEXT_SLOTS);
const texts: (string | undefined)[] = new Array<string | undefined>(TEXT_SLOTS).fill(undefined);
const textProbe = new Map<string, number>();

/** addrToString through the cache above: equal text, shared string. */
export function addrText(version: 4 | 6, w0: number, w1: number, w2: number, w3: number): string {
  let h = Math.imul(w0 ^ version, 0x9e3779b1);
  if (version === 6) h = Math.imul(h ^ w1, 0x85ebca6b) ^ Math.imul(w2 ^ (w3 >>> 7), 0xc2b2ae35) ^ w3;
  const slot = (h >>> 20) & (TEXT_SLOTS - 1);
  const k = slot * 4;
  const cached = texts[slot];
  if (cached !== undefined && textVersion[slot] === version && textWords[k] === (w0 | 0) && textWords[k + 1] === (w1 | 0) && textWords[k + 2] === (w2 | 0) && textWords[k + 3] === (w3 | 0)) return cached;
  const s = addrToString(version, w0, w1, w2, w3);
  // A Map probe has V8 hash the string now (and flatten the concatenation): every later user
  // finds the hash in the string.
  textProbe.get(s);
  texts[slot] = s;
  textVersion[slot] = version;
  textWords[k] = w0; textWords[k + 1] = w1; textWords[k + 2] = w2; textWords[k + 3] = w3;
  return s;
}

/** Render an address held as four words into its text form (allocates: not for the packet path). */
export function addrToString(version: 4 | 6, w0: number, w1: number, w2: number, w3: number): string {
  if (version === 4) return `${w0 >>> 24}.${(w0 >>> 16) & 255}.${(w0 >>> 8) & 255}.${w0 & 255}`;
  const parts = [w0 >>> 16, w0 & 0xffff, w1 >>> 16, w1 & 0xffff, w2 >>> 16, w2 & 0xffff, w3 >>> 16, w3 & 0xffff];
  // RFC 5952: compress the longest run (≥2) of zero groups, lowercase hex.
  let bestStart = -1;
  let bestLen = 0;
  for (let i = 0; i < 8; ) {
    if (parts[i] !== 0) { i++; continue; }
    let j = i;
    while (j < 8 && parts[j] === 0) j++;
    if (j - i > bestLen && j - i >= 2) { bestStart = i; bestLen = j - i; }
    i = j;
  }
  const hexs = parts.map((p) => (p as number).toString(16));
  if (bestStart < 0) return hexs.join(':');
  const head = hexs.slice(0, bestStart).join(':');
  const tail = hexs.slice(bestStart + bestLen).join(':');
  return `${head}::${tail}`;
}
