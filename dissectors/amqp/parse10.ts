/**
 * AMQP 1.0 frame bodies. Our own code frames (framing.ts) and validates the type encoding of the
 * performative (AMQP 1.0 §1.2 type system: constructor, described types, compound and array sizes
 * and counts), bounded by depth and item limits; only then does the `rhea` codec decode exactly that
 * one frame. Fields are read through rhea's getters (its JSON view drops 0 and false). The SASL
 * initial response and SASL response are never read.
 */
import type Frames from 'rhea/lib/frames.js';
import type Types from 'rhea/lib/types.js';
import { lazyRequire } from '../../src/util/lazy-require.js';
import type { AmqpEventId } from './events.js';
import type { AmqpLimits, MutableAmqpRecord } from './records.js';

type RheaFrame = NonNullable<ReturnType<typeof Frames.read_frame>>;
/** rhea's decoder, loaded when the first AMQP 1.0 frame is decoded. */
const frames = lazyRequire<typeof Frames>('rhea/lib/frames.js');
const types = lazyRequire<typeof Types>('rhea/lib/types.js');

export const SKIM_BAD = -1;
export const SKIM_DEPTH = -2;
export const SKIM_COUNT = -3;

/** Width of fixed-width primitive codes (AMQP 1.0 §1.6), -1 = not a known fixed code. */
function fixedWidth(code: number): number {
  if (code >= 0x40 && code <= 0x45) return 0;
  if (code >= 0x50 && code <= 0x56) return 1;
  if (code === 0x60 || code === 0x61) return 2;
  if (code >= 0x70 && code <= 0x74) return 4;
  if (code >= 0x80 && code <= 0x84) return 8;
  if (code === 0x94 || code === 0x98) return 16;
  return -1;
}

function rd32(b: Uint8Array, p: number): number {
  return (((b[p] as number) << 24) | ((b[p + 1] as number) << 16) | ((b[p + 2] as number) << 8) | (b[p + 3] as number)) >>> 0;
}

/** Skip one encoded value body of type `code` at p; returns the new position or a SKIM_* code. */
function skimBody(b: Uint8Array, p: number, end: number, code: number, depth: number, lim: AmqpLimits): number {
  const w = fixedWidth(code);
  if (w >= 0) return p + w <= end ? p + w : SKIM_BAD;
  switch (code) {
    case 0xa0: case 0xa1: case 0xa3: {
      if (p + 1 > end) return SKIM_BAD;
      const n = b[p] as number;
      return p + 1 + n <= end ? p + 1 + n : SKIM_BAD;
    }
    case 0xb0: case 0xb1: case 0xb3: {
      if (p + 4 > end) return SKIM_BAD;
      const n = rd32(b, p);
      return p + 4 + n <= end ? p + 4 + n : SKIM_BAD;
    }
    case 0xc0: case 0xc1: case 0xd0: case 0xd1: case 0xe0: case 0xf0: {
      if (depth + 1 > lim.maxTableDepthCount) return SKIM_DEPTH;
      const wide = code >= 0xd0 && code !== 0xe0;
      const hw = wide ? 4 : 1;
      if (p + 2 * hw > end) return SKIM_BAD;
      const size = wide ? rd32(b, p) : (b[p] as number);
      const count = wide ? rd32(b, p + 4) : (b[p + 1] as number);
      const regionEnd = p + hw + size;
      if (size < hw || regionEnd > end) return SKIM_BAD;
      if (count > lim.maxTableEntriesCount) return SKIM_COUNT;
      let q = p + 2 * hw;
      if (code === 0xe0 || code === 0xf0) {
        // Array: one constructor (possibly described), then `count` bodies of that type.
        if (count === 0 && q === regionEnd) return regionEnd;
        let ec = q < regionEnd ? (b[q] as number) : -1;
        q++;
        if (ec === 0x00) {
          q = skimValue(b, q, regionEnd, depth + 1, lim);
          if (q < 0) return q;
          if (q >= regionEnd) return SKIM_BAD;
          ec = b[q] as number;
          q++;
        }
        if (ec < 0) return SKIM_BAD;
        for (let i = 0; i < count; i++) {
          q = skimBody(b, q, regionEnd, ec, depth + 1, lim);
          if (q < 0) return q;
        }
      } else {
        if ((code === 0xc1 || code === 0xd1) && (count & 1) !== 0) return SKIM_BAD; // map: key/value pairs
        for (let i = 0; i < count; i++) {
          q = skimValue(b, q, regionEnd, depth + 1, lim);
          if (q < 0) return q;
        }
      }
      return q <= regionEnd ? regionEnd : SKIM_BAD;
    }
    default:
      return SKIM_BAD;
  }
}

/** Skip one value (constructor + body) at p. */
export function skimValue(b: Uint8Array, p: number, end: number, depth: number, lim: AmqpLimits): number {
  if (p >= end) return SKIM_BAD;
  const code = b[p] as number;
  if (code === 0x00) {
    if (depth + 1 > lim.maxTableDepthCount) return SKIM_DEPTH;
    const q = skimValue(b, p + 1, end, depth + 1, lim); // descriptor
    if (q < 0) return q;
    return skimValue(b, q, end, depth + 1, lim);
  }
  return skimBody(b, p + 1, end, code, depth, lim);
}

/** Numeric descriptor of the performative at p (0x00 0x53 xx, or 0x00 0x80 u64), -1 if other. */
export function descriptorCode(b: Uint8Array, p: number, end: number): number {
  if (p + 3 > end || b[p] !== 0x00) return -1;
  if (b[p + 1] === 0x53) return b[p + 2] as number;
  if (b[p + 1] === 0x80 && p + 10 <= end) {
    if (rd32(b, p + 2) !== 0) return -1;
    return rd32(b, p + 6);
  }
  return -1;
}

export const PERFORMATIVES: Record<number, string> = {
  0x10: 'open', 0x11: 'begin', 0x12: 'attach', 0x13: 'flow', 0x14: 'transfer', 0x15: 'disposition',
  0x16: 'detach', 0x17: 'end', 0x18: 'close',
  0x40: 'sasl-mechanisms', 0x41: 'sasl-init', 0x42: 'sasl-challenge', 0x43: 'sasl-response', 0x44: 'sasl-outcome',
};

function strOf(v: unknown, max: number): string | null {
  if (typeof v === 'string') return v.length > max ? v.substring(0, max) : v;
  if (v instanceof Uint8Array) return null;
  if (v !== null && typeof v === 'object' && 'value' in v && typeof (v as { value: unknown }).value === 'string') return strOf((v as { value: string }).value, max);
  return null;
}

/** The address (field 0) of a source/target described list, as rhea leaves it undecoded. */
function terminusAddress(t: unknown, max: number): string | null {
  if (t === null || typeof t !== 'object') return null;
  const fields = (t as { value?: unknown }).value;
  if (!Array.isArray(fields) || fields.length === 0) return null;
  return strOf(types().unwrap(fields[0]), max);
}

function errorOf(e: unknown, rec: MutableAmqpRecord, max: number): void {
  if (e === null || typeof e !== 'object') return;
  const cond = strOf((e as { condition?: unknown }).condition, max);
  const desc = strOf((e as { description?: unknown }).description, max);
  if (cond === null && desc === null) return;
  rec.reason = desc !== null ? `${cond ?? ''}: ${desc}` : cond;
}

/**
 * Decode one validated 1.0 frame (exactly its bytes) with rhea and fill `rec`.
 * Returns an event id when rhea rejects it, else null.
 */
export function decodeFrame10(frame: Uint8Array, code: number, rec: MutableAmqpRecord, lim: AmqpLimits): AmqpEventId | null {
  let f: RheaFrame | null;
  try {
    f = frames().read_frame(Buffer.from(frame.buffer, frame.byteOffset, frame.byteLength));
  } catch {
    return 'amqp.malformed_performative';
  }
  if (f === null || f.performative === undefined) return 'amqp.malformed_performative';
  const p = f.performative;
  const max = lim.maxStringBytes;
  try {
    switch (code) {
      case 0x10: { // open
        rec.containerId = strOf(p['container_id'], max);
        rec.vhost = strOf(p['hostname'], max);
        const idle = p['idle_time_out'];
        if (typeof idle === 'number') rec.heartbeatS = idle / 1000;
        const mfs = p['max_frame_size'];
        if (typeof mfs === 'number') rec.frameMax = mfs;
        const cm = p['channel_max'];
        if (typeof cm === 'number') rec.channelMax = cm;
        const props = p['properties'];
        if (props !== null && typeof props === 'object') {
          const o = props as Record<string, unknown>;
          rec.product = strOf(o['product'], max);
          rec.platform = strOf(o['platform'], max);
          rec.clientVersion = strOf(o['version'], max);
        }
        break;
      }
      case 0x12: { // attach
        rec.linkName = strOf(p['name'], max);
        rec.role = p['role'] === true ? 'receiver' : 'sender';
        rec.source = terminusAddress(p['source'], max);
        rec.target = terminusAddress(p['target'], max);
        break;
      }
      case 0x14: // transfer
        rec.bodyBytes = f.payload ? f.payload.length : 0;
        break;
      case 0x16: case 0x17: case 0x18: // detach / end / close
        errorOf(p['error'], rec, max);
        break;
      case 0x40: { // sasl-mechanisms
        const m = p['sasl_server_mechanisms'];
        const list: string[] = [];
        if (Array.isArray(m)) { for (const x of m) { const s = strOf(x, max); if (s !== null && list.length < 16) list.push(s); } }
        else { const s = strOf(m, max); if (s !== null) list.push(s); }
        rec.mechanisms = list;
        break;
      }
      case 0x41: // sasl-init: mechanism and hostname only; initial_response never read
        rec.mechanism = strOf(p['mechanism'], max);
        rec.vhost = strOf(p['hostname'], max);
        break;
      case 0x44: { // sasl-outcome
        const c = p['code'];
        rec.code = typeof c === 'number' ? c : null;
        break;
      }
      default:
        break;
    }
  } catch {
    return 'amqp.malformed_performative';
  }
  return null;
}
