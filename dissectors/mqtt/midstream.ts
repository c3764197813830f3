/**
 * MQTT picked up mid-stream: a frame boundary is where fixed headers (type, the flags each type
 * requires, a Remaining Length of at most 4 bytes) and the lengths the types imply stay consistent
 * over consecutive packets. Which end sends which packet types names the client: CONNECT,
 * SUBSCRIBE, UNSUBSCRIBE and PINGREQ come from clients (a v5 DISCONNECT may come from either); CONNACK, SUBACK, UNSUBACK and
 * PINGRESP from brokers (MQTT 3.1.1 §3; MQTT 5 §3). Allocation-free.
 */
import { MidNo, MidUnsure, Role } from '../../src/dissect/api.js';
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

/** ProbeSpec.midstream for MQTT: MidNo, MidUnsure, or the sender's Role. */
export function probeMqttMidstream(b: Uint8Array): number {
  const o = mqttBoundary(b);
  if (o === SYNC_NONE) return MidNo;
  if (o === SYNC_UNSURE) return MidUnsure;
  return mqttSenderRole(b, o);
}
