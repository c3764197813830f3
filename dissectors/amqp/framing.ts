/**
 * AMQP framing (allocation-free): protocol headers (AMQP 0-9-1 §4.2.2; AMQP 1.0 §2.2),
 * 0-9-1 frames (type, channel, size, payload, frame-end 0xCE; §4.2.3) and 1.0 frames
 * (4-byte size, doff, type, channel; §2.3.1).
 */
import type { Dir, ProbeResult } from '../../src/contract/api.js';

export const NEED_MORE = 0;
export const FRAME_END = 0xce;
export const HEADER_BYTES = 8;

/** True when b[p..p+4) is "AMQP" (callers check length). */
export function isAmqpMagic(b: Uint8Array, p: number): boolean {
  return b[p] === 0x41 && b[p + 1] === 0x4d && b[p + 2] === 0x51 && b[p + 3] === 0x50;
}

export const HeaderKind = { V091: 1, V10: 2, Sasl10: 3, Tls10: 4, Unsupported: 5 } as const;
export type HeaderKind = (typeof HeaderKind)[keyof typeof HeaderKind];

/** Classify the 8-byte protocol header at b[p] (magic already checked). */
export function headerKind(b: Uint8Array, p: number): HeaderKind {
  const id = b[p + 4] as number;
  const a = b[p + 5] as number;
  const c = b[p + 6] as number;
  const d = b[p + 7] as number;
  if (id === 0 && a === 0 && c === 9 && d === 1) return HeaderKind.V091;
  if (a === 1 && c === 0 && d === 0) {
    if (id === 0) return HeaderKind.V10;
    if (id === 3) return HeaderKind.Sasl10;
    if (id === 2) return HeaderKind.Tls10;
  }
  return HeaderKind.Unsupported;
}

/** 0-9-1 frame total length (7-byte header + payload + frame-end) at b[p], or NEED_MORE. */
export function amqp091FrameLength(b: Uint8Array, p: number, end: number): number {
  if (end - p < 7) return NEED_MORE;
  const size = (((b[p + 3] as number) << 24) | ((b[p + 4] as number) << 16) | ((b[p + 5] as number) << 8) | (b[p + 6] as number)) >>> 0;
  return 7 + size + 1;
}

/** 1.0 frame size field at b[p] (the whole frame, header included), or NEED_MORE. */
export function amqp10FrameLength(b: Uint8Array, p: number, end: number): number {
  if (end - p < 4) return NEED_MORE;
  return (((b[p] as number) << 24) | ((b[p + 1] as number) << 16) | ((b[p + 2] as number) << 8) | (b[p + 3] as number)) >>> 0;
}

const MAGIC = [0x41, 0x4d, 0x51, 0x50] as const;

/**
 * Probe: both AMQP versions open with "AMQP" + 4 version bytes from the client (1.0 servers echo
 * it). Any 8-byte "AMQP" header is AMQP (an unknown version is then an event, not a non-match).
 */
export function probeAmqp(b: Uint8Array, _dir: Dir): ProbeResult {
  const n = Math.min(b.length, 4);
  for (let i = 0; i < n; i++) if (b[i] !== MAGIC[i]) return 'no';
  if (b.length < HEADER_BYTES) return 'unsure';
  return 'yes';
}
