/**
 * Per-flow MQTT state (STYLE.md §6.4 MQTT): our framing, one mqtt-packet body parser per direction,
 * CONNECT/CONNACK pairing, packet-id correlation for QoS 1/2, bounded open transactions, oversize
 * packets skipped by counter, and MQTT over WebSocket (HTTP upgrade, then unmasked binary frames).
 */
import type { Dir, DissectorContext, FlowDissector, StreamView, Verdict } from '../../src/contract/api.js';
import { latin1Bounded, utf8Bounded } from '../../src/util/bytes.js';
import type { MqttEventId } from './events.js';
import { SYNC_UNSURE } from '../../src/util/resync.js';
import { findHeader, headerEnd, INVALID, mqttFrameLength, mqttHeaderLength, NEED_MORE, REQUIRED_FLAGS, SEC_WS_PROTOCOL } from './framing.js';
import { mqttSync, wsMqttSync } from './midstream.js';
import { convertPacket, emptyParsed, PacketParser, parseCommon, parsePublishHead, type ParsedPacket } from './parse.js';
import { OP_BY_TYPE, type MqttLimits, type MqttOp, type MqttProperty, type MqttRecord, type MqttTxRecord, type MqttWebSocketRecord } from './records.js';

type Mutable<T> = { -readonly [K in keyof T]: T[K] };
type Tx = Mutable<MqttTxRecord> & { events: MqttEventId[]; awaiting: MqttOp | null; respDir: Dir };

const VERSION_BY_LEVEL: Record<number, string> = { 3: '3.1', 4: '3.1.1', 5: '5' };
const NO_PROPS: readonly MqttProperty[] = [];

const HOST_H = [0x68, 0x6f, 0x73, 0x74, 0x3a] as const; // "host:"

/** Mode of the flow: undecided until the first client bytes. */
const Mode = { Unknown: 0, Plain: 1, WebSocket: 2 } as const;
type Mode = (typeof Mode)[keyof typeof Mode];

export class MqttDissector implements FlowDissector {
  private readonly ctx: DissectorContext<MqttRecord, MqttEventId>;
  private readonly lim: MqttLimits;
  private readonly parsers: [PacketParser, PacketParser];
  private readonly skip: [number, number] = [0, 0];
  private readonly partial: [boolean, boolean] = [false, false];
  private readonly open: Tx[] = [];
  private connectSeen = false;
  private unintroducedRaised = false;
  private level = 4;
  private messages = 0;
  private confirmed = false;
  private stop: Verdict | null = null;
  private need = 0;
  // WebSocket
  private mode: Mode = Mode.Unknown;
  private readonly wsHttpDone: [boolean, boolean] = [false, false];
  private readonly wsLeft: [number, number] = [0, 0];
  private readonly wsData: [boolean, boolean] = [false, false];
  private readonly wsMasked: [boolean, boolean] = [false, false];
  private readonly wsMask: [Uint8Array, Uint8Array] = [new Uint8Array(4), new Uint8Array(4)];
  private readonly wsMaskOff: [number, number] = [0, 0];
  private readonly inner: [Uint8Array, Uint8Array] = [new Uint8Array(0), new Uint8Array(0)];
  private readonly innerLen: [number, number] = [0, 0];
  private readonly innerMax: number;
  private wsPath: string | null = null;
  private wsHost: string | null = null;
  private wsProto: string | null = null;
  /** Picked up mid-stream: each direction skips to its first packet boundary before framing. */
  private readonly midstream: boolean;
  private readonly synced: [boolean, boolean] = [true, true];

  constructor(ctx: DissectorContext<MqttRecord, MqttEventId>, lim: MqttLimits) {
    this.ctx = ctx;
    this.lim = lim;
    this.midstream = ctx.flow.midstream;
    if (this.midstream) {
      // An upgrade we may not have seen: the first direction to find a boundary decides between
      // plain MQTT and MQTT in WebSocket frames (see resyncMode).
      this.synced[0] = false;
      this.synced[1] = false;
    }
    this.parsers = [new PacketParser(4), new PacketParser(4)];
    this.innerMax = Math.max(lim.maxMsgBytes + 5, 65548) + 1;
  }

  feed(dir: Dir, view: StreamView): Verdict {
    if (this.stop !== null) return this.stop;
    const b = view.bytes;
    if (this.mode === Mode.Unknown && this.midstream) {
      const v = this.resyncMode(dir, view);
      if (v !== null) return v;
    }
    if (this.mode === Mode.Unknown) {
      if (b.length === 0) return 'more';
      const c = b[0] as number;
      this.mode = (dir === 0 && (c === 0x47 || c === 0x67)) || (dir === 1 && c === 0x48) ? Mode.WebSocket : Mode.Plain;
    }
    if (this.mode === Mode.WebSocket) return this.feedWs(dir, view);
    let from = 0;
    if (!this.synced[dir]) {
      const o = this.syncDir(dir, view, mqttSync);
      if (typeof o !== 'number') return o;
      from = o;
    }
    const used = from + this.process(dir, b, from, b.length, view.ts);
    if (used > 0) view.consume(used);
    if (this.need > 0) view.needAtLeast(this.need);
    return this.stop ?? 'more';
  }

  /**
   * Mid-stream: where this direction's first boundary is by `sync` (plain or WebSocket framing),
   * or the verdict while there is none yet (more bytes asked for) or never will be (given up).
   */
  private syncDir(dir: Dir, view: StreamView, sync: (b: Uint8Array, eof: boolean) => number): number | Verdict {
    const b = view.bytes;
    const o = sync(b, view.eof);
    if (o >= 0) {
      this.synced[dir] = true;
      return o;
    }
    if (o === SYNC_UNSURE) {
      view.needAtLeast(b.length + 1);
      return 'more';
    }
    this.ctx.event('mqtt.midstream_unsynced', dir);
    return 'dir-done';
  }

  /**
   * Mid-stream, before either direction found its boundary: WebSocket frames carrying MQTT when
   * their boundary comes no later than a plain one (a broker's frames also chain as plain SUBSCRIBE
   * packets, never the reverse: see wsMqttFrameAt), else plain MQTT. The WebSocket upgrade was
   * not seen, so its section stays empty. A verdict when this direction must wait or gives up;
   * null once the mode is set.
   */
  private resyncMode(dir: Dir, view: StreamView): Verdict | null {
    const b = view.bytes;
    const ws = wsMqttSync(b, view.eof);
    const plain = mqttSync(b, view.eof);
    if (ws >= 0 && (plain < 0 || ws <= plain)) {
      this.mode = Mode.WebSocket;
      this.wsHttpDone[0] = true;
      this.wsHttpDone[1] = true;
      return null;
    }
    if (plain >= 0) {
      this.mode = Mode.Plain;
      return null;
    }
    if (ws === SYNC_UNSURE || plain === SYNC_UNSURE) {
      view.needAtLeast(b.length + 1);
      return 'more';
    }
    this.ctx.event('mqtt.midstream_unsynced', dir);
    return 'dir-done';
  }

  gap(dir: Dir, lostBytes: number): Verdict {
    if (this.mode !== Mode.WebSocket && this.skip[dir] >= lostBytes && !this.partial[dir]) {
      this.skip[dir] -= lostBytes; // the gap fell inside a payload we were skipping anyway
      return 'more';
    }
    this.ctx.event('mqtt.truncated', dir);
    return 'dir-done'; // never guess across a gap
  }

  end(dir: Dir): void {
    if (this.partial[dir] || this.skip[dir] > 0) {
      this.ctx.event('mqtt.truncated', dir);
      this.partial[dir] = false;
      this.skip[dir] = 0;
    }
    while (this.open.length > 0) this.finish(this.open.shift() as Tx, 'incomplete');
  }

  // ---- MQTT packets over a byte range ------------------------------------------------------

  /** Frame and handle packets in b[start..end); returns bytes used, sets this.need. */
  private process(dir: Dir, b: Uint8Array, start: number, end: number, ts: number): number {
    this.need = 0;
    let p = start;
    while (p < end && this.stop === null) {
      if (this.skip[dir] > 0) {
        const n = Math.min(this.skip[dir], end - p);
        this.skip[dir] -= n;
        p += n;
        continue;
      }
      const total = mqttFrameLength(b, p, end);
      if (total === NEED_MORE) { this.need = end - p + 1; break; }
      if (total === INVALID) {
        this.raise('mqtt.bad_remaining_length', dir, null);
        this.ctx.violation('mqtt.bad_remaining_length');
        this.stop = 'abort';
        break;
      }
      const hdr = mqttHeaderLength(b, p);
      const rem = total - hdr;
      if (rem > this.lim.maxMsgBytes) {
        const used = this.oversize(dir, b, p, end, hdr, rem, ts);
        if (used === 0) break; // need set
        p += used;
        continue;
      }
      if (end - p < total) { this.need = total; break; }
      this.packet(dir, b.subarray(p, p + total), hdr, ts);
      p += total;
      if (++this.messages >= this.lim.maxMessagesCount && this.stop === null) {
        this.ctx.event('mqtt.limit.max_messages_count', dir);
        this.stop = 'done';
      }
    }
    this.partial[dir] = this.need > 0;
    return p - start;
  }

  /** Oversize packet: emit a truncated record (PUBLISH: with its topic) and skip the rest by counter. */
  private oversize(dir: Dir, b: Uint8Array, p: number, end: number, hdr: number, rem: number, ts: number): number {
    const b0 = b[p] as number;
    const type = b0 >> 4;
    const op = OP_BY_TYPE[type] as MqttOp;
    const parsed = emptyParsed(op);
    if (type === 3) {
      const qos = (b0 >> 1) & 3;
      const h = parsePublishHead(b, p + hdr, end, qos, this.level === 5);
      if (typeof h === 'number') {
        if (h > 0) { this.need = hdr + h; return 0; }
      } else {
        parsed.topic = utf8Bounded(b.subarray(h.topicAt, h.topicAt + h.topicBytes), this.lim.maxStringBytes);
        parsed.packetId = h.packetId;
        parsed.qos = qos;
        parsed.retain = (b0 & 1) !== 0;
        parsed.dup = (b0 & 8) !== 0;
        parsed.payloadBytes = Math.max(0, rem - h.varHeaderBytes);
      }
    }
    const tx = this.newTx(parsed, dir, ts, hdr + rem);
    tx.status = 'truncated';
    this.raise('mqtt.limit.max_msg_bytes', dir, tx);
    if (type === 3 && parsed.qos === 1) this.openTx(tx, parsed, [], 'puback', (dir ^ 1) as Dir);
    else if (type === 3 && parsed.qos === 2) this.openTx(tx, parsed, [], 'pubrec', (dir ^ 1) as Dir);
    else this.emitTx(tx);
    // Skip what is left of this packet without buffering it.
    const avail = Math.min(end - p, hdr + rem);
    this.skip[dir] = hdr + rem - avail;
    return avail;
  }

  private packet(dir: Dir, pkt: Uint8Array, hdr: number, ts: number): void {
    const b0 = pkt[0] as number;
    const type = b0 >> 4;
    const flags = b0 & 15;
    if (type === 0 || (type === 15 && this.level !== 5)) {
      this.raise('mqtt.unassigned_msg_type', dir, null);
      if (!this.confirmed) this.ctx.violation('mqtt.unassigned_msg_type');
      return;
    }
    const op = OP_BY_TYPE[type] as MqttOp;
    const req = REQUIRED_FLAGS[type] as number;
    if (req >= 0 && flags !== req) {
      this.raise('mqtt.bad_header_flags', dir, null);
      if (!this.confirmed) this.ctx.violation('mqtt.bad_header_flags');
      return;
    }
    if (type === 3 && ((flags >> 1) & 3) === 3) {
      this.raise('mqtt.invalid_qos_level', dir, null);
      if (!this.confirmed) this.ctx.violation('mqtt.invalid_qos_level');
      return;
    }
    const pre: MqttEventId[] = [];
    if (type === 1) {
      if (!this.connectVersionOk(pkt, hdr)) {
        this.raise('mqtt.unsupported_version', dir, null);
        if (!this.confirmed) this.ctx.violation('mqtt.unsupported_version');
        return;
      }
      if (this.connectSeen) pre.push('mqtt.double_connect');
    } else if (dir === 0 && !this.connectSeen && !this.unintroducedRaised && !this.midstream) {
      this.unintroducedRaised = true;
      pre.push('mqtt.unintroduced_message');
    }
    // After a 3.1/3.1.1 CONNECT, PUBLISH and the acknowledgements are parsed here (parse.ts).
    let parsed = (this.connectSeen || this.midstream) && this.level !== 5 ? parseCommon(pkt, hdr, this.lim) : null;
    if (parsed === null) {
      let raw = (this.parsers[dir] as PacketParser).parseOne(pkt);
      if (raw === null && this.midstream && this.level !== 5) {
        // Picked up mid-stream the CONNECT that named the version went by: a packet that only
        // MQTT 5's properties explain makes the flow MQTT 5 from here on.
        const v5 = new PacketParser(5);
        raw = v5.parseOne(pkt);
        if (raw !== null) {
          this.level = 5;
          this.parsers[dir] = v5;
          this.parsers[(dir ^ 1) as Dir] = new PacketParser(5);
        }
      }
      if (raw === null) {
        this.raise('mqtt.malformed', dir, null);
        if (!this.confirmed) this.ctx.violation('mqtt.malformed');
        return;
      }
      parsed = convertPacket(op, raw, this.lim);
    }
    if (!this.confirmed) { this.confirmed = true; this.ctx.confirm(); }
    this.dispatch(dir, parsed, pre, ts, pkt.length);
  }

  /** MQTT-3.1.2-1/2: protocol name "MQTT" level 4/5, or "MQIsdp" level 3 (bridge bit tolerated). */
  private connectVersionOk(pkt: Uint8Array, hdr: number): boolean {
    const n = pkt.length;
    if (n < hdr + 2) return false;
    const len = ((pkt[hdr] as number) << 8) | (pkt[hdr + 1] as number);
    if (n < hdr + 2 + len + 1) return false;
    const lvl = (pkt[hdr + 2 + len] as number) & 0x7f;
    if (len === 4) return pkt[hdr + 2] === 0x4d && pkt[hdr + 3] === 0x51 && pkt[hdr + 4] === 0x54 && pkt[hdr + 5] === 0x54 && (lvl === 4 || lvl === 5);
    if (len === 6) return pkt[hdr + 2] === 0x4d && pkt[hdr + 3] === 0x51 && pkt[hdr + 4] === 0x49 && lvl === 3;
    return false;
  }

  private dispatch(dir: Dir, m: ParsedPacket, pre: MqttEventId[], ts: number, bytes: number): void {
    const other = (dir ^ 1) as Dir;
    switch (m.op) {
      case 'connect': {
        this.connectSeen = true;
        this.level = m.protocolLevel ?? 4;
        this.parsers[1] = new PacketParser(this.level);
        this.openTx(this.newTx(m, dir, ts, bytes), m, pre, 'connack', other);
        return;
      }
      case 'publish': {
        const tx = this.newTx(m, dir, ts, bytes);
        if (m.qos === 1) this.openTx(tx, m, pre, 'puback', other);
        else if (m.qos === 2) this.openTx(tx, m, pre, 'pubrec', other);
        else { this.attach(tx, m, pre); this.emitTx(tx); }
        return;
      }
      case 'subscribe':
        this.openTx(this.newTx(m, dir, ts, bytes), m, pre, 'suback', other);
        return;
      case 'unsubscribe':
        this.openTx(this.newTx(m, dir, ts, bytes), m, pre, 'unsuback', other);
        return;
      case 'pingreq':
        this.openTx(this.newTx(m, dir, ts, bytes), m, pre, 'pingresp', other);
        return;
      default:
        break;
    }
    // Responses: find the open transaction waiting for this op from this direction.
    const i = this.findOpen(m.op, dir, m.packetId);
    if (i >= 0) {
      const tx = this.open[i] as Tx;
      tx.messages++;
      if (tx.responseOp === null || m.op !== 'pubrel') {
        tx.responseOp = m.op;
        tx.responseTs = ts;
        if (m.code !== null) tx.responseCode = m.code;
      }
      for (const e of pre) this.raise(e, dir, tx);
      if (m.op === 'connack') {
        tx.sessionPresent = m.sessionPresent;
        tx.responseProperties = m.properties;
      }
      this.limitEvents(m, dir, tx);
      // QoS 2: PUBREC → wait for PUBREL from the publisher → PUBCOMP from the receiver.
      if (m.op === 'pubrec') { tx.awaiting = 'pubrel'; tx.respDir = tx.dir as Dir; return; }
      if (m.op === 'pubrel') { tx.awaiting = 'pubcomp'; tx.respDir = ((tx.dir as Dir) ^ 1) as Dir; return; }
      this.open.splice(i, 1);
      this.finish(tx, 'complete');
      return;
    }
    const tx = this.newTx(m, dir, ts, bytes);
    const missing: MqttEventId | null =
      m.op === 'connack' ? 'mqtt.missing_connect'
        : m.op === 'puback' || m.op === 'pubrec' || m.op === 'pubrel' || m.op === 'pubcomp' ? 'mqtt.missing_publish'
          : m.op === 'suback' ? 'mqtt.missing_subscribe'
            : m.op === 'unsuback' ? 'mqtt.missing_unsubscribe' : null;
    if (missing !== null) pre.push(missing);
    this.attach(tx, m, pre);
    this.emitTx(tx);
  }

  private findOpen(op: MqttOp, dir: Dir, packetId: number | null): number {
    for (let i = 0; i < this.open.length; i++) {
      const tx = this.open[i] as Tx;
      if (tx.awaiting !== op || tx.respDir !== dir) continue;
      if (op === 'connack' || op === 'pingresp' || tx.packetId === packetId) return i;
    }
    return -1;
  }

  private openTx(tx: Tx, m: ParsedPacket, pre: MqttEventId[], awaiting: MqttOp, respDir: Dir): void {
    this.attach(tx, m, pre);
    tx.awaiting = awaiting;
    tx.respDir = respDir;
    this.open.push(tx);
    if (this.open.length > this.lim.maxTxCount) {
      const old = this.open.shift() as Tx;
      this.raise('mqtt.too_many_transactions', old.dir as Dir, old);
      this.finish(old, 'incomplete');
    }
  }

  private attach(tx: Tx, m: ParsedPacket, pre: MqttEventId[]): void {
    for (const e of pre) this.raise(e, tx.dir as Dir, tx);
    this.limitEvents(m, tx.dir as Dir, tx);
  }

  private limitEvents(src: ParsedPacket, dir: Dir, tx: Tx): void {
    if (src.stringCut) this.raise('mqtt.limit.max_string_bytes', dir, tx);
    if (src.topicsCut) this.raise('mqtt.limit.max_topics_count', dir, tx);
    if (src.propertiesCut) this.raise('mqtt.limit.max_properties_count', dir, tx);
  }

  private finish(tx: Tx, status: 'complete' | 'incomplete'): void {
    if (tx.status !== 'truncated') tx.status = status;
    this.emitTx(tx);
  }

  private emitTx(tx: Tx): void {
    const rec: MqttTxRecord = {
      kind: 'mqtt.tx', ts: tx.ts, dir: tx.dir, op: tx.op, packetId: tx.packetId,
      protocolName: tx.protocolName, protocolLevel: tx.protocolLevel, version: tx.version,
      clientId: tx.clientId, keepAliveS: tx.keepAliveS, cleanSession: tx.cleanSession,
      willTopic: tx.willTopic, usernamePresent: tx.usernamePresent, passwordPresent: tx.passwordPresent,
      topic: tx.topic, qos: tx.qos, retain: tx.retain, dup: tx.dup, payloadBytes: tx.payloadBytes,
      payloadExcerpt: tx.payloadExcerpt, topics: tx.topics, properties: tx.properties,
      responseOp: tx.responseOp, responseTs: tx.responseTs, responseCode: tx.responseCode,
      sessionPresent: tx.sessionPresent, responseProperties: tx.responseProperties, messages: tx.messages,
      msgBytes: tx.msgBytes, overWebSocket: tx.overWebSocket, status: tx.status, events: tx.events,
    };
    this.ctx.emit(rec);
  }

  private newTx(m: ParsedPacket, dir: Dir, ts: number, bytes: number): Tx {
    const tx: Tx = {
      kind: 'mqtt.tx', ts, dir, op: m.op, packetId: m.packetId,
      protocolName: m.protocolName, protocolLevel: m.protocolLevel,
      version: m.protocolLevel !== null ? (VERSION_BY_LEVEL[m.protocolLevel] ?? null) : null,
      clientId: m.clientId, keepAliveS: m.keepAliveS, cleanSession: m.cleanSession, willTopic: m.willTopic,
      usernamePresent: m.usernamePresent, passwordPresent: m.passwordPresent, topic: m.topic, qos: m.qos,
      retain: m.retain, dup: m.dup, payloadBytes: m.payloadBytes, payloadExcerpt: m.payloadExcerpt,
      topics: m.topics, properties: m.properties.length > 0 ? m.properties : NO_PROPS,
      responseOp: null, responseTs: null, responseCode: m.op === 'connect' ? null : m.code,
      sessionPresent: m.op === 'connack' ? m.sessionPresent : null, responseProperties: NO_PROPS,
      messages: 1, msgBytes: bytes, overWebSocket: this.mode === Mode.WebSocket, status: 'complete',
      events: [], awaiting: null, respDir: 0,
    };
    return tx;
  }

  private raise(id: MqttEventId, dir: Dir, tx: Tx | null): void {
    this.ctx.event(id, dir);
    if (tx !== null && !tx.events.includes(id)) tx.events.push(id);
  }

  // ---- MQTT over WebSocket ----------------------------------------------------------------

  private feedWs(dir: Dir, view: StreamView): Verdict {
    const b = view.bytes;
    let p = 0;
    if (!this.synced[dir]) {
      const o = this.syncDir(dir, view, wsMqttSync);
      if (typeof o !== 'number') return o;
      p = o;
    }
    if (!this.wsHttpDone[dir]) {
      const he = headerEnd(b, this.lim.maxWsHeaderBytes);
      if (he < 0) {
        if (b.length >= this.lim.maxWsHeaderBytes) {
          this.ctx.event('mqtt.limit.max_ws_header_bytes', dir);
          this.stop = 'abort';
          return 'abort';
        }
        view.needAtLeast(b.length + 1);
        return 'more';
      }
      if (!this.wsHandshake(dir, b, he, view.ts)) {
        this.stop = 'done';
        return 'done';
      }
      this.wsHttpDone[dir] = true;
      p = he;
    }
    let need = 0;
    while (p < b.length && this.stop === null) {
      if (this.wsLeft[dir] === 0) {
        const h = this.wsFrameHeader(dir, b, p);
        if (h < 0) { this.stop = 'abort'; break; }
        if (h === 0) { need = 14; break; }
        p += h;
        continue;
      }
      const n = Math.min(this.wsLeft[dir], b.length - p);
      if (!this.wsData[dir]) {
        this.wsLeft[dir] -= n;
        p += n;
        continue;
      }
      const took = this.wsAppend(dir, b, p, n);
      this.wsLeft[dir] -= took;
      p += took;
      const buf = this.inner[dir];
      const used = this.process(dir, buf, 0, this.innerLen[dir], view.ts);
      if (used > 0) {
        buf.copyWithin(0, used, this.innerLen[dir]);
        this.innerLen[dir] -= used;
      }
      if (took === 0 && used === 0) { this.stop = 'abort'; break; } // cannot happen within limits
    }
    if (p > 0) view.consume(p);
    if (need > 0) view.needAtLeast(Math.min(need, b.length - p + 1));
    return this.stop ?? 'more';
  }

  /** Parse the upgrade request (client) or response (server). False = not a WebSocket upgrade. */
  private wsHandshake(dir: Dir, b: Uint8Array, he: number, ts: number): boolean {
    if (dir === 0) {
      let sp1 = -1;
      let sp2 = -1;
      for (let i = 0; i < he; i++) {
        if (b[i] === 0x20) { if (sp1 < 0) sp1 = i; else { sp2 = i; break; } }
        if (b[i] === 0x0d) break;
      }
      if (sp1 > 0 && sp2 > sp1) this.wsPath = latin1Bounded(b.subarray(sp1 + 1, sp2), this.lim.maxStringBytes);
      this.wsHost = headerValue(b, he, HOST_H, this.lim.maxStringBytes);
      this.wsProto = headerValue(b, he, SEC_WS_PROTOCOL, this.lim.maxStringBytes);
      if (this.wsProto === null || !this.wsProto.toLowerCase().includes('mqtt')) {
        this.ctx.event('mqtt.ws_bad_handshake', dir);
        this.ctx.violation('mqtt.ws_bad_handshake');
        return false;
      }
      return true;
    }
    // "HTTP/1.1 101 Switching Protocols"
    let code: number | null = null;
    if (he > 12 && b[0] === 0x48 && b[8] === 0x20) {
      const c = ((b[9] as number) - 48) * 100 + ((b[10] as number) - 48) * 10 + ((b[11] as number) - 48);
      if (c >= 100 && c <= 599) code = c;
    }
    const rec: MqttWebSocketRecord = { kind: 'mqtt.websocket', ts, dir: null, path: this.wsPath, host: this.wsHost, subprotocol: this.wsProto, statusCode: code };
    this.ctx.emit(rec);
    if (code !== 101) {
      this.ctx.event('mqtt.ws_bad_handshake', dir);
      return false;
    }
    return true;
  }

  /** RFC 6455 §5.2 frame header at b[p]; returns its length, 0 = need more, -1 = bad frame. */
  private wsFrameHeader(dir: Dir, b: Uint8Array, p: number): number {
    const avail = b.length - p;
    if (avail < 2) return 0;
    const b0 = b[p] as number;
    const b1 = b[p + 1] as number;
    const op = b0 & 0x0f;
    const masked = (b1 & 0x80) !== 0;
    let len = b1 & 0x7f;
    let h = 2;
    if (len === 126) h += 2;
    else if (len === 127) h += 8;
    if (masked) h += 4;
    if (avail < h) return 0;
    if (len === 126) len = ((b[p + 2] as number) << 8) | (b[p + 3] as number);
    else if (len === 127) {
      const hi = (((b[p + 2] as number) << 24) | ((b[p + 3] as number) << 16) | ((b[p + 4] as number) << 8) | (b[p + 5] as number)) >>> 0;
      const lo = (((b[p + 6] as number) << 24) | ((b[p + 7] as number) << 16) | ((b[p + 8] as number) << 8) | (b[p + 9] as number)) >>> 0;
      if (hi >= 0x200000) { this.wsBad(dir); return -1; }
      len = hi * 4294967296 + lo;
    }
    const isData = op === 0 || op === 1 || op === 2;
    const isCtl = op === 8 || op === 9 || op === 10;
    if ((b0 & 0x70) !== 0 || (!isData && !isCtl) || (isCtl && len > 125) || (dir === 0 && !masked)) {
      this.wsBad(dir);
      return -1;
    }
    this.wsMasked[dir] = masked;
    if (masked) {
      const m = this.wsMask[dir];
      for (let i = 0; i < 4; i++) m[i] = b[p + h - 4 + i] as number;
    }
    this.wsMaskOff[dir] = 0;
    this.wsData[dir] = isData;
    this.wsLeft[dir] = len;
    return h;
  }

  private wsBad(dir: Dir): void {
    this.ctx.event('mqtt.ws_bad_frame', dir);
    if (!this.confirmed) this.ctx.violation('mqtt.ws_bad_frame');
  }

  /** Copy (unmasking) up to n frame bytes into the bounded inner stream; returns bytes taken. */
  private wsAppend(dir: Dir, b: Uint8Array, p: number, n: number): number {
    let buf = this.inner[dir];
    const len = this.innerLen[dir];
    const want = Math.min(n, this.innerMax - len);
    if (len + want > buf.length) {
      let cap = Math.max(4096, buf.length);
      while (cap < len + want) cap *= 2;
      const grown = new Uint8Array(Math.min(cap, this.innerMax));
      grown.set(buf.subarray(0, len));
      this.inner[dir] = grown;
      buf = grown;
    }
    if (this.wsMasked[dir]) {
      const m = this.wsMask[dir];
      let off = this.wsMaskOff[dir];
      for (let i = 0; i < want; i++) {
        buf[len + i] = (b[p + i] as number) ^ (m[off] as number);
        off = (off + 1) & 3;
      }
      this.wsMaskOff[dir] = off;
    } else {
      buf.set(b.subarray(p, p + want), len);
    }
    this.innerLen[dir] = len + want;
    return want;
  }
}

function headerValue(b: Uint8Array, end: number, name: readonly number[], max: number): string | null {
  let v = findHeader(b, end, name);
  if (v < 0) return null;
  while (v < end && (b[v] === 0x20 || b[v] === 0x09)) v++;
  let e = v;
  while (e < end && b[e] !== 0x0d && b[e] !== 0x0a) e++;
  return latin1Bounded(b.subarray(v, e), max);
}
