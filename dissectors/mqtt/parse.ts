/**
 * Body parsing: one complete MQTT packet is handed to the `mqtt-packet` parser and its output is
 * converted at once into our own plain shape (no mqtt-packet object outlives the call). Plus the
 * variable headers we parse ourselves:
 * - the topic of an oversize PUBLISH (MQTT 3.1.1 §3.3.2);
 * - the two packets a telemetry stream is made of, in MQTT 3.1/3.1.1 once CONNECT has set the
 *   level: a well-formed PUBLISH (topic, packet id, payload; no properties before v5) and a
 *   2-byte PUBACK/PUBREC/PUBREL/PUBCOMP. They give exactly what the library path gives (a test
 *   compares the two on generated packets); anything else, v5 included, goes to the library.
 *   Why: telemetry streams are mostly these two packets, and they arrive early in a capture,
 *   while the library's general code is still unoptimised and costs many times what a direct
 *   read of a fixed layout does.
 */
import type MqttPacketModule from 'mqtt-packet';
import { copyBytes } from '../../src/util/bytes.js';
import { lazyRequire } from '../../src/util/lazy-require.js';
import type { MqttLimits, MqttOp, MqttProperty } from './records.js';

/** What one parsed packet contributed (owned values only). */
export interface ParsedPacket {
  op: MqttOp;
  packetId: number | null;
  protocolName: string | null;
  protocolLevel: number | null;
  clientId: string | null;
  keepAliveS: number | null;
  cleanSession: boolean | null;
  willTopic: string | null;
  usernamePresent: boolean;
  passwordPresent: boolean;
  topic: string | null;
  qos: number | null;
  retain: boolean | null;
  dup: boolean | null;
  payloadBytes: number;
  payloadExcerpt: Uint8Array | null;
  topics: string[];
  code: number | null;
  sessionPresent: boolean | null;
  properties: MqttProperty[];
  /** Limits hit while converting. */
  stringCut: boolean;
  topicsCut: boolean;
  propertiesCut: boolean;
}

type MqttPacketParser = ReturnType<typeof MqttPacketModule.parser>;
/** The codec, loaded when the first MQTT packet needs the library path. */
const mqttPacket = lazyRequire<typeof MqttPacketModule>('mqtt-packet');

/** One mqtt-packet parser per direction; `level` tells the server→client side the version. */
export class PacketParser {
  private p: MqttPacketParser;
  private last: Record<string, unknown> | null = null;
  private failed = false;
  readonly level: number;

  constructor(level: number) {
    this.level = level;
    this.p = this.make();
  }

  private make(): MqttPacketParser {
    const p = mqttPacket().parser({ protocolVersion: this.level });
    p.on('packet', (pkt: unknown) => { this.last = pkt as Record<string, unknown>; });
    p.on('error', () => { this.failed = true; });
    return p;
  }

  /** Parse exactly one complete packet. Returns the raw library object or null when rejected. */
  parseOne(pkt: Uint8Array): Record<string, unknown> | null {
    this.last = null;
    this.failed = false;
    try {
      this.p.parse(Buffer.from(pkt.buffer, pkt.byteOffset, pkt.byteLength));
    } catch {
      this.failed = true; // library fault on hostile input: treated as malformed
    }
    const out = this.last;
    this.last = null;
    if (this.failed || out === null) {
      // The library keeps partial state (and a view of our bytes) after an error: start afresh.
      this.p = this.make();
      return null;
    }
    return out;
  }
}

function str(v: unknown, lim: MqttLimits, out: ParsedPacket): string | null {
  if (typeof v !== 'string') return null;
  if (v.length > lim.maxStringBytes) {
    out.stringCut = true;
    return v.substring(0, lim.maxStringBytes);
  }
  return v;
}

function num(v: unknown): number | null {
  return typeof v === 'number' ? v : null;
}

function propValue(name: string, v: unknown, lim: MqttLimits): string {
  if (name === 'authenticationData') return '<redacted>'; // may carry credentials
  if (v instanceof Uint8Array) return `<${v.length} bytes>`;
  if (typeof v === 'string') return v.length > lim.maxStringBytes ? v.substring(0, lim.maxStringBytes) : v;
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  if (Array.isArray(v)) return v.slice(0, 16).map((x) => propValue(name, x, lim)).join(',');
  return '<value>';
}

function convertProperties(props: unknown, lim: MqttLimits, out: ParsedPacket): MqttProperty[] {
  const list: MqttProperty[] = [];
  if (props === null || typeof props !== 'object') return list;
  for (const [name, v] of Object.entries(props as Record<string, unknown>)) {
    if (name === 'userProperties' && v !== null && typeof v === 'object') {
      for (const [k, uv] of Object.entries(v as Record<string, unknown>)) {
        if (list.length >= lim.maxPropertiesCount) { out.propertiesCut = true; return list; }
        list.push({ name: `user:${k.length > lim.maxStringBytes ? k.substring(0, lim.maxStringBytes) : k}`, value: propValue(k, uv, lim) });
      }
      continue;
    }
    if (list.length >= lim.maxPropertiesCount) { out.propertiesCut = true; return list; }
    list.push({ name, value: propValue(name, v, lim) });
  }
  return list;
}

export function emptyParsed(op: MqttOp): ParsedPacket {
  return {
    op, packetId: null, protocolName: null, protocolLevel: null, clientId: null, keepAliveS: null,
    cleanSession: null, willTopic: null, usernamePresent: false, passwordPresent: false, topic: null,
    qos: null, retain: null, dup: null, payloadBytes: 0, payloadExcerpt: null, topics: [], code: null,
    sessionPresent: null, properties: [], stringCut: false, topicsCut: false, propertiesCut: false,
  };
}

/** Convert one mqtt-packet object into our shape. The password value is never read. */
export function convertPacket(op: MqttOp, raw: Record<string, unknown>, lim: MqttLimits): ParsedPacket {
  const out = emptyParsed(op);
  out.packetId = num(raw['messageId']);
  switch (op) {
    case 'connect': {
      out.protocolName = str(raw['protocolId'], lim, out);
      out.protocolLevel = num(raw['protocolVersion']);
      out.clientId = str(raw['clientId'], lim, out);
      out.keepAliveS = num(raw['keepalive']);
      out.cleanSession = raw['clean'] === true;
      const will = raw['will'] as Record<string, unknown> | undefined;
      out.willTopic = will ? str(will['topic'], lim, out) : null;
      out.usernamePresent = raw['username'] !== undefined;
      out.passwordPresent = raw['password'] !== undefined;
      out.properties = convertProperties(raw['properties'], lim, out);
      break;
    }
    case 'connack':
      out.code = num(raw['reasonCode']) ?? num(raw['returnCode']);
      out.sessionPresent = raw['sessionPresent'] === true;
      out.properties = convertProperties(raw['properties'], lim, out);
      break;
    case 'publish': {
      out.topic = str(raw['topic'], lim, out);
      out.qos = num(raw['qos']);
      out.retain = raw['retain'] === true;
      out.dup = raw['dup'] === true;
      const pl = raw['payload'];
      if (pl instanceof Uint8Array) {
        out.payloadBytes = pl.length;
        if (lim.maxPayloadExcerptBytes > 0 && pl.length > 0) out.payloadExcerpt = copyBytes(pl.subarray(0, lim.maxPayloadExcerptBytes));
      }
      out.properties = convertProperties(raw['properties'], lim, out);
      break;
    }
    case 'subscribe': {
      const subs = raw['subscriptions'];
      if (Array.isArray(subs)) {
        for (const s of subs) {
          if (out.topics.length >= lim.maxTopicsCount) { out.topicsCut = true; break; }
          const t = str((s as Record<string, unknown>)['topic'], lim, out);
          if (t !== null) out.topics.push(t);
        }
      }
      break;
    }
    case 'unsubscribe': {
      const subs = raw['unsubscriptions'];
      if (Array.isArray(subs)) {
        for (const s of subs) {
          if (out.topics.length >= lim.maxTopicsCount) { out.topicsCut = true; break; }
          const t = str(s, lim, out);
          if (t !== null) out.topics.push(t);
        }
      }
      break;
    }
    case 'suback': {
      const g = raw['granted'];
      out.code = Array.isArray(g) && typeof g[0] === 'number' ? (g[0] as number) : null;
      break;
    }
    case 'puback': case 'pubrec': case 'pubrel': case 'pubcomp': case 'unsuback': case 'disconnect': case 'auth':
      out.code = num(raw['reasonCode']);
      out.properties = convertProperties(raw['properties'], lim, out);
      break;
    default:
      break;
  }
  return out;
}

const CONFIRM_OPS: readonly (MqttOp | null)[] = [null, null, null, null, 'puback', 'pubrec', 'pubrel', 'pubcomp'];

/** The library's string conversion (Buffer's UTF-8 decoding, replacement characters included). */
function utf8At(pkt: Uint8Array, at: number, len: number): string {
  return Buffer.from(pkt.buffer, pkt.byteOffset + at, len).toString('utf8');
}

/**
 * MQTT 3.1/3.1.1 PUBLISH or 2-byte acknowledgement parsed by us (`pkt` is the whole packet, `hdr`
 * its fixed-header length, header flags already checked); null when the library must decide.
 */
export function parseCommon(pkt: Uint8Array, hdr: number, lim: MqttLimits): ParsedPacket | null {
  const b0 = pkt[0] as number;
  const type = b0 >> 4;
  if (type === 3) {
    const qos = (b0 >> 1) & 3;
    const h = parsePublishHead(pkt, hdr, pkt.length, qos, false);
    if (typeof h === 'number') return null; // topic or packet id past the end: the library's call
    const out = emptyParsed('publish');
    out.topic = str(utf8At(pkt, h.topicAt, h.topicBytes), lim, out);
    out.packetId = h.packetId;
    out.qos = qos;
    out.retain = (b0 & 1) !== 0;
    out.dup = (b0 & 8) !== 0;
    const at = hdr + h.varHeaderBytes;
    out.payloadBytes = pkt.length - at;
    if (lim.maxPayloadExcerptBytes > 0 && out.payloadBytes > 0) out.payloadExcerpt = copyBytes(pkt.subarray(at, at + lim.maxPayloadExcerptBytes));
    return out;
  }
  const op = CONFIRM_OPS[type];
  if (op === undefined || op === null || pkt.length - hdr !== 2) return null;
  const out = emptyParsed(op);
  out.packetId = ((pkt[hdr] as number) << 8) | (pkt[hdr + 1] as number);
  return out;
}

/** The PUBLISH variable header's layout, parsed by us from the bytes available. */
export interface PublishHead {
  /** Offset and byte length of the topic (after its 2-byte length). */
  topicAt: number;
  topicBytes: number;
  packetId: number | null;
  /** Bytes of variable header (topic, packet id, v5 properties) — the rest is payload. */
  varHeaderBytes: number;
}

/**
 * Parse the PUBLISH variable header from b[start..end) (start = first byte after the fixed
 * header). Returns the head, or a number: the byte count from `start` needed first (> end-start),
 * or -1 when malformed (a 5-byte property-length varint).
 */
export function parsePublishHead(b: Uint8Array, start: number, end: number, qos: number, v5: boolean): PublishHead | number {
  const avail = end - start;
  if (avail < 2) return 2;
  const tlen = ((b[start] as number) << 8) | (b[start + 1] as number);
  let p = 2 + tlen + (qos > 0 ? 2 : 0);
  if (avail < p) return p;
  const pid = qos > 0 ? ((b[start + 2 + tlen] as number) << 8) | (b[start + 3 + tlen] as number) : null;
  let plen = 0;
  if (v5) {
    let mult = 1;
    for (let i = 0; ; i++) {
      if (i === 4) return -1;
      if (avail < p + 1) return p + 1;
      const x = b[start + p] as number;
      p++;
      plen += (x & 0x7f) * mult;
      mult *= 128;
      if ((x & 0x80) === 0) break;
    }
  }
  return { topicAt: start + 2, topicBytes: tlen, packetId: pid, varHeaderBytes: p + plen };
}
