/** The flow hash that picks a worker: the same for both directions of a flow, in every thread. */
import { DecodeStatus, type PacketMeta } from '../decode/packet-meta.js';

function mix(h: number, v: number): number {
  h = Math.imul(h ^ v, 0x5bd1e995);
  return (h ^ (h >>> 15)) | 0;
}

/** Direction-independent hash of the packet's flow (same on both directions). */
export function shardHash(m: PacketMeta): number {
  const a = (m.src0 ^ m.src1 ^ m.src2 ^ m.src3) >>> 0;
  const b = (m.dst0 ^ m.dst1 ^ m.dst2 ^ m.dst3) >>> 0;
  const lo = a < b || (a === b && m.sport <= m.dport);
  let h = m.proto;
  h = mix(h, lo ? a : b);
  h = mix(h, lo ? b : a);
  h = mix(h, lo ? (m.sport << 16) | m.dport : (m.dport << 16) | m.sport);
  // Final avalanche (murmur3 fmix32): without it the low bits, which pick the worker, depend only
  // on the low bits of each word, and flows differing only in a client port all land on one worker.
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** Counters of packets that made no flow, as a dispatcher or a file-reading worker keeps them. */
export interface NotOkCounts {
  notIp: number;
  otherL4: number;
  fragmentsHeld: number;
  malformed: number;
}

export function countNotOk(status: DecodeStatus, st: NotOkCounts): void {
  if (status === DecodeStatus.NotIp) st.notIp++;
  else if (status === DecodeStatus.OtherL4) st.otherL4++;
  else if (status === DecodeStatus.Fragment) st.fragmentsHeld++;
  else st.malformed++;
}

/** Words per packet in BatchMsg.outer. */
export const OUTER_WORDS = 15;

/** Pack a decoded packet's tunnel fields into a batch (the main thread's side of BatchMsg). */
export function packTunnel(m: PacketMeta, outer: Uint32Array, i: number): number {
  const o = i * OUTER_WORDS;
  outer[o] = m.outerVersion;
  outer[o + 1] = m.outerSrc0; outer[o + 2] = m.outerSrc1; outer[o + 3] = m.outerSrc2; outer[o + 4] = m.outerSrc3;
  outer[o + 5] = m.outerDst0; outer[o + 6] = m.outerDst1; outer[o + 7] = m.outerDst2; outer[o + 8] = m.outerDst3;
  outer[o + 9] = m.tunnelId;
  outer[o + 10] = m.teredoOrigin; outer[o + 11] = m.teredoOriginAddr;
  outer[o + 12] = m.teredoAuth; outer[o + 13] = m.teredoNonceHi; outer[o + 14] = m.teredoNonceLo;
  return Math.min(m.tunnelDepth, 15) | (m.tunnelType << 4);
}
