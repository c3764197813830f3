/**
 * MQTT picked up mid-stream: a frame boundary is where fixed headers (type, the flags each type
 * requires, a Remaining Length of at most 4 bytes) and the lengths the types imply stay consistent
 * over consecutive packets. Which end sends which packet types names the client: CONNECT,
 * SUBSCRIBE, UNSUBSCRIBE and PINGREQ come from clients (a v5 DISCONNECT may come from either); CONNACK, SUBACK, UNSUBACK and
 * PINGRESP from brokers (MQTT 3.1.1 §3; MQTT 5 §3). Allocation-free.
 */
import { MidNo, MidUnsure, Role } from '../../src/contract/api.js';
import { findBoundary, FRAME_BAD, FRAME_CUT, FRAME_SHORT, SYNC_NONE, SYNC_UNSURE, syncOffset } from '../../src/util/resync.js';
import { INVALID, mqttFrameLength, NEED_MORE, REQUIRED_FLAGS } from './framing.js';

/** Bytes scanned for the first boundary (a PUBLISH cut by the capture start is skipped whole). */
export const MQTT_RESYNC_SCAN_BYTES = 4096;

/** Sender role per packet type (0 reserved … 15 AUTH). */
const ROLE_BY_TYPE: readonly number[] = [
  Role.Unknown, Role.Client, Role.Server, Role.Unknown, Role.Unknown, Role.Unknown, Role.Unknown, Role.Unknown,
  Role.Client, Role.Server, Role.Client, Role.Server, Role.Client, Role.Server, Role.Unknown, Role.Unknown,
];

/**
 * One MQTT packet at b[p]: the fixed header, then what the type implies of the Remaining Length
 * (PINGREQ/PINGRESP empty; the acknowledgements at least a packet id; a PUBLISH topic that fits;
 * a CONNACK whose flags byte is 0 or 1) so a chance byte pattern rarely chains.
 */
export function mqttFrameAt(b: Uint8Array, p: number, end: number): number {
  if (end - p < 2) return FRAME_SHORT;
  const b0 = b[p] as number;
  const type = b0 >> 4;
  if (type === 0 || type === 15) return FRAME_BAD; // AUTH (15) only after a v5 CONNECT we did not see
  const req = REQUIRED_FLAGS[type] as number;
  if (req >= 0 && (b0 & 15) !== req) return FRAME_BAD;
  if (type === 3 && ((b0 >> 1) & 3) === 3) return FRAME_BAD;
  const total = mqttFrameLength(b, p, end);
  if (total === NEED_MORE) return FRAME_SHORT;
  if (total === INVALID) return FRAME_BAD;
  let hdr = 2;
  while (hdr < 5 && ((b[p + hdr - 1] as number) & 0x80) !== 0) hdr++;
  const rem = total - hdr;
  const body = p + hdr;
  switch (type) {
    case 12: case 13: // PINGREQ, PINGRESP
      if (rem !== 0) return FRAME_BAD;
      break;
    case 14: // DISCONNECT: empty before v5, a reason code and properties in v5
      if (rem > 256) return FRAME_BAD;
      break;
    case 4: case 5: case 6: case 7: case 11: // PUBACK, PUBREC, PUBREL, PUBCOMP, UNSUBACK
      if (rem < 2 || rem > 256) return FRAME_BAD;
      break;
    case 2: // CONNACK: acknowledge flags (session present) and a return/reason code
      if (rem < 2 || rem > 1024) return FRAME_BAD;
      if (body < end && (b[body] as number) > 1) return FRAME_BAD;
      break;
    case 8: case 10: // SUBSCRIBE, UNSUBSCRIBE: packet id and at least one topic filter
      if (rem < 5) return FRAME_BAD;
      break;
    case 9: // SUBACK: packet id and at least one return code
      if (rem < 3) return FRAME_BAD;
      break;
    case 3: { // PUBLISH: a topic name whose length fits
      if (rem < 2) return FRAME_BAD;
      if (body + 2 <= end) {
        const tl = ((b[body] as number) << 8) | (b[body + 1] as number);
        if (tl + 2 > rem) return FRAME_BAD;
      }
      break;
    }
    case 1: // CONNECT: the protocol name's length field is 4 ("MQTT") or 6 ("MQIsdp")
      if (rem < 12) return FRAME_BAD;
      if (body + 2 <= end && (b[body] !== 0 || (b[body + 1] !== 4 && b[body + 1] !== 6))) return FRAME_BAD;
      break;
    default:
      break;
  }
  return p + total <= end ? total : FRAME_CUT;
}

/**
 * Offset of the first MQTT packet boundary in `b` (two chained packets from offset 0, or whole
 * packets filling the bytes, as a lone PINGREQ/PINGRESP does; three past a skipped head),
 * SYNC_UNSURE or SYNC_NONE.
 */
export function mqttBoundary(b: Uint8Array): number {
  return findBoundary(b, mqttFrameAt, 2, 3, MQTT_RESYNC_SCAN_BYTES);
}

/** The dissector's boundary for a direction: two whole packets (see syncOffset). */
export function mqttSync(b: Uint8Array, eof: boolean): number {
  return syncOffset(b, mqttFrameAt, 2, MQTT_RESYNC_SCAN_BYTES, eof);
}

/** The role the first role-naming packet from b[o] on gives its sender (Role.Unknown if none does). */
export function mqttSenderRole(b: Uint8Array, o: number): Role {
  let p = o;
  for (let i = 0; i < 64 && p < b.length; i++) {
    const n = mqttFrameAt(b, p, b.length);
    const r = ROLE_BY_TYPE[(b[p] as number) >> 4] as Role;
    if (n < FRAME_CUT) break;
    if (r !== Role.Unknown) return r;
    if (n === FRAME_CUT) break;
    p += n;
  }
  return Role.Unknown;
}

// ---- MQTT over WebSocket picked up mid-stream -------------------------------------------------

/** Largest WebSocket frame taken as carrying MQTT (MQTT's own maximum packet, 256 MiB). */
const WS_MAX_FRAME = 268_435_460;

/**
 * One WebSocket frame (RFC 6455 §5.2) at b[p] as MQTT over WebSocket sends them (MQTT 3.1.1 §6):
 * unfragmented (FIN set, no RSV bits), binary, or a ping/pong/close control frame of at most 125
 * bytes. A binary frame's payload (unmasked with the frame's key) starts with an MQTT fixed header
 * whose packet fits the frame: that check is what tells these frames from chance bytes, and from
 * plain MQTT, whose only type byte with FIN's bit and no RSV bits, SUBSCRIBE's 0x82, fails it.
 */
export function wsMqttFrameAt(b: Uint8Array, p: number, end: number): number {
  if (end - p < 2) return FRAME_SHORT;
  const b0 = b[p] as number;
  if (b0 !== 0x82 && b0 !== 0x88 && b0 !== 0x89 && b0 !== 0x8a) return FRAME_BAD;
  const b1 = b[p + 1] as number;
  const masked = (b1 & 0x80) !== 0;
  let len = b1 & 0x7f;
  let h = 2 + (len === 126 ? 2 : len === 127 ? 8 : 0) + (masked ? 4 : 0);
  if (end - p < h) return FRAME_SHORT;
  if (len === 126) {
    len = ((b[p + 2] as number) << 8) | (b[p + 3] as number);
    if (len < 126) return FRAME_BAD; // not the shortest form (§5.2)
  } else if (len === 127) {
    for (let i = 2; i < 6; i++) if (b[p + i] !== 0) return FRAME_BAD;
    len = (((b[p + 6] as number) << 24) | ((b[p + 7] as number) << 16) | ((b[p + 8] as number) << 8) | (b[p + 9] as number)) >>> 0;
    if (len < 65536 || len > WS_MAX_FRAME) return FRAME_BAD;
  }
  if (b0 !== 0x82) {
    if (len > 125) return FRAME_BAD;
  } else {
    // The MQTT fixed header at the payload's start, unmasked byte by byte (no copy).
    const ps = p + h;
    const key = masked ? p + h - 4 : -1;
    if (len < 2) return FRAME_BAD;
    if (end - ps < Math.min(len, 5)) return FRAME_SHORT;
    const c0 = unmasked(b, ps, key, 0);
    const type = c0 >> 4;
    if (type === 0 || type === 15) return FRAME_BAD;
    const req = REQUIRED_FLAGS[type] as number;
    if (req >= 0 && (c0 & 15) !== req) return FRAME_BAD;
    if (type === 3 && ((c0 >> 1) & 3) === 3) return FRAME_BAD;
    let rem = 0;
    let mult = 1;
    let i = 1;
    for (; i <= 4; i++) {
      if (i >= len) return FRAME_BAD; // the length runs past the frame
      const c = unmasked(b, ps, key, i);
      rem += (c & 0x7f) * mult;
      mult *= 128;
      if ((c & 0x80) === 0) break;
    }
    if (i > 4) return FRAME_BAD;
    if (i + 1 + rem > len) return FRAME_BAD;
    if ((type === 12 || type === 13) && rem !== 0) return FRAME_BAD;
  }
  return p + h + len <= end ? h + len : FRAME_CUT;
}

/** Payload byte i of a frame whose payload starts at b[ps], unmasked with the key at b[key] (-1: none). */
function unmasked(b: Uint8Array, ps: number, key: number, i: number): number {
  const c = b[ps + i] as number;
  return key < 0 ? c : c ^ (b[key + (i & 3)] as number);
}

/** The dissector's boundary for a direction of MQTT over WebSocket: two whole frames (see syncOffset). */
export function wsMqttSync(b: Uint8Array, eof: boolean): number {
  return syncOffset(b, wsMqttFrameAt, 2, MQTT_RESYNC_SCAN_BYTES, eof);
}

/**
 * ProbeSpec.midstream for MQTT: MidNo, MidUnsure, or the sender's Role. WebSocket frames are
 * tried first (a broker's frames also chain as plain SUBSCRIBE packets); their sender is named by
 * the mask bit, which only clients set (RFC 6455 §5.1).
 */
export function probeMqttMidstream(b: Uint8Array): number {
  const w = findBoundary(b, wsMqttFrameAt, 2, 3, MQTT_RESYNC_SCAN_BYTES);
  if (w >= 0) return ((b[w + 1] as number) & 0x80) !== 0 ? Role.Client : Role.Server;
  const o = mqttBoundary(b);
  if (o === SYNC_NONE) return w === SYNC_UNSURE ? MidUnsure : MidNo;
  if (o === SYNC_UNSURE) return MidUnsure;
  return mqttSenderRole(b, o);
}
