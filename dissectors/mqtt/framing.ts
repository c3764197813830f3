/**
 * MQTT framing (allocation-free, decides completeness only): fixed header byte, then the
 * Remaining Length as a variable byte integer of at most 4 bytes (MQTT 3.1.1 §2.2.3, MQTT 5 §1.5.5).
 */
import type { Dir, ProbeResult } from '../../src/contract/api.js';

export const NEED_MORE = 0;
export const INVALID = -1;

/** Total packet length (fixed header + remaining length) at b[start]; NEED_MORE; or INVALID. */
export function mqttFrameLength(b: Uint8Array, start: number, end: number): number {
  let value = 0;
  let mult = 1;
  for (let i = 0; i < 4; i++) {
    const p = start + 1 + i;
    if (p >= end) return NEED_MORE;
    const c = b[p] as number;
    value += (c & 0x7f) * mult;
    if ((c & 0x80) === 0) return 1 + (i + 1) + value;
    mult *= 128;
  }
  return INVALID; // a 5th length byte: MQTT-1.5.5-1
}

/** Fixed header length (1 + varint bytes) of a packet whose framing is complete. */
export function mqttHeaderLength(b: Uint8Array, start: number): number {
  let n = 1;
  while (n < 5 && ((b[start + n] as number) & 0x80) !== 0) n++;
  return n + 1;
}

/** Required low-nibble flags per type (MQTT 3.1.1 Table 2.2); -1 = any (PUBLISH). */
export const REQUIRED_FLAGS: readonly number[] = [-1, 0, 0, -1, 0, 0, 2, 0, 2, 0, 2, 0, 0, 0, 0, 0];

const MQTT_NAME = [0x00, 0x04, 0x4d, 0x51, 0x54, 0x54] as const; // "MQTT"
const MQISDP_NAME = [0x00, 0x06, 0x4d, 0x51, 0x49, 0x73, 0x64, 0x70] as const; // "MQIsdp"

function matchAt(b: Uint8Array, at: number, pat: readonly number[]): ProbeResult {
  for (let i = 0; i < pat.length; i++) {
    if (at + i >= b.length) return 'unsure';
    if (b[at + i] !== pat[i]) return 'no';
  }
  return 'yes';
}

/**
 * CONNECT probe: 0x10, a valid varint, then protocol name "MQTT" (level 4/5) or "MQIsdp" (level 3).
 * Pure and allocation-free.
 */
export function probeConnect(b: Uint8Array): ProbeResult {
  if (b.length === 0) return 'unsure';
  if (b[0] !== 0x10) return 'no';
  let i = 1;
  for (; i < 5; i++) {
    if (i >= b.length) return 'unsure';
    if (((b[i] as number) & 0x80) === 0) break;
  }
  if (i === 5) return 'no';
  const at = i + 1;
  const m1 = matchAt(b, at, MQTT_NAME);
  if (m1 === 'yes') {
    if (at + 6 >= b.length) return 'unsure';
    const lvl = (b[at + 6] as number) & 0x7f; // bridge bit 0x80 tolerated
    return lvl === 4 || lvl === 5 ? 'yes' : 'no';
  }
  const m2 = matchAt(b, at, MQISDP_NAME);
  if (m2 === 'yes') {
    if (at + 8 >= b.length) return 'unsure';
    return ((b[at + 8] as number) & 0x7f) === 3 ? 'yes' : 'no';
  }
  return m1 === 'unsure' || m2 === 'unsure' ? 'unsure' : 'no';
}

/** Lower-case ASCII compare of b[at..] with a lower-case pattern. */
export function matchLower(b: Uint8Array, at: number, end: number, pat: readonly number[]): boolean {
  if (end - at < pat.length) return false;
  for (let i = 0; i < pat.length; i++) {
    let c = b[at + i] as number;
    if (c >= 0x41 && c <= 0x5a) c += 0x20;
    if (c !== pat[i]) return false;
  }
  return true;
}

/** Offset just past the empty line that ends the header section (CRLF CRLF or a bare LF) in b[0..limit), or -1. */
export function headerEnd(b: Uint8Array, limit: number): number {
  const n = Math.min(b.length, limit);
  for (let i = 1; i < n; i++) {
    if (b[i] !== 0x0a) continue;
    // the empty line: CRLF CRLF, or a bare LF where a line ended (RFC 9112 §2.2 lets a recipient
    // take LF alone as a line end)
    if (b[i - 1] === 0x0a || (b[i - 1] === 0x0d && i >= 2 && b[i - 2] === 0x0a)) return i + 1;
  }
  return -1;
}

const GET_SP = [0x67, 0x65, 0x74, 0x20] as const; // "get "
const SWP = [0x73, 0x65, 0x63, 0x2d, 0x77, 0x65, 0x62, 0x73, 0x6f, 0x63, 0x6b, 0x65, 0x74, 0x2d, 0x70, 0x72, 0x6f, 0x74, 0x6f, 0x63, 0x6f, 0x6c, 0x3a] as const; // "sec-websocket-protocol:"
const MQTT_LC = [0x6d, 0x71, 0x74, 0x74] as const; // "mqtt"

/** Start of the value of header `name` (lower-case pattern incl. ':', at a line start) within b[0..end), or -1. */
export function findHeader(b: Uint8Array, end: number, name: readonly number[]): number {
  for (let i = 0; i + 1 < end; i++) {
    if (b[i] === 0x0a && matchLower(b, i + 1, end, name)) return i + 1 + name.length;
  }
  return -1;
}

/** True if the header value at `at` (to the line end) contains the token "mqtt" (e.g. "mqtt", "mqttv3.1"). */
export function valueHasMqtt(b: Uint8Array, at: number, end: number): boolean {
  for (let i = at; i < end && b[i] !== 0x0d && b[i] !== 0x0a; i++) if (matchLower(b, i, end, MQTT_LC)) return true;
  return false;
}

/**
 * MQTT over WebSocket probe: an HTTP GET whose headers carry Sec-WebSocket-Protocol with "mqtt".
 * 'unsure' until the header block ends (bounded by maxBytes).
 */
export function probeWebSocket(b: Uint8Array, maxBytes: number): ProbeResult {
  if (b.length < 4) {
    for (let i = 0; i < b.length; i++) if (((b[i] as number) | 0x20) !== GET_SP[i]) return 'no';
    return 'unsure';
  }
  if (!matchLower(b, 0, b.length, GET_SP)) return 'no';
  const he = headerEnd(b, maxBytes);
  if (he < 0) return b.length >= maxBytes ? 'no' : 'unsure';
  const v = findHeader(b, he, SWP);
  return v >= 0 && valueHasMqtt(b, v, he) ? 'yes' : 'no';
}

export const SEC_WS_PROTOCOL = SWP;

export function probeMqtt(b: Uint8Array, dir: Dir, maxBytes: number): ProbeResult {
  if (dir !== 0) return 'no'; // MQTT is client-first: the CONNECT (or the HTTP upgrade) decides
  if (b.length > 0 && b[0] === 0x10) return probeConnect(b);
  return probeWebSocket(b, maxBytes);
}
