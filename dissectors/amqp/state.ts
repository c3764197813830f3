/**
 * Per-flow AMQP state (STYLE.md §6.4 AMQP): the protocol header picks 0-9-1 or 1.0 per direction;
 * 0-9-1 frames are parsed by us (frame-end check, methods, content headers, heartbeats); 1.0 frames
 * are framed and validated by us and decoded by rhea. Oversize frames and 0-9-1 body frames are
 * skipped by counter without buffering.
 */
import type { Dir, DissectorContext, FlowDissector, StreamView, Verdict } from '../../src/contract/api.js';
import { Cursor } from '../../src/util/cursor.js';
import type { AmqpEventId } from './events.js';
import { amqp091FrameLength, amqp10FrameLength, FRAME_END, HEADER_BYTES, headerKind, HeaderKind, isAmqpMagic, NEED_MORE } from './framing.js';
import { carriesContent, METHOD_NAMES, parseContentHeader, parseMethod } from './parse091.js';
import { decodeFrame10, descriptorCode, PERFORMATIVES, SKIM_BAD, SKIM_DEPTH, skimValue } from './parse10.js';
import { amqpSync, Sync } from './midstream.js';
import { SYNC_UNSURE } from '../../src/util/resync.js';
import { newAmqpRecord, type AmqpLimits, type AmqpRecord, type AmqpVersion, type MutableAmqpRecord } from './records.js';

const MAGIC = [0x41, 0x4d, 0x51, 0x50] as const;

const Phase = { Header: 0, F091: 1, F10: 2, Stopped: 3 } as const;
type Phase = (typeof Phase)[keyof typeof Phase];

export class AmqpDissector implements FlowDissector {
  private readonly ctx: DissectorContext<AmqpRecord, AmqpEventId>;
  private readonly lim: AmqpLimits;
  private readonly phase: [Phase, Phase] = [Phase.Header, Phase.Header];
  private readonly skip: [number, number] = [0, 0];
  private readonly endPending: [boolean, boolean] = [false, false];
  private readonly partial: [boolean, boolean] = [false, false];
  private readonly frames: [number, number] = [0, 0];
  private readonly heartbeats: [number, number] = [0, 0];
  private readonly ended: [boolean, boolean] = [false, false];
  /** 0-9-1 methods waiting for their content header, keyed dir<<16 | channel. */
  private readonly pending = new Map<number, MutableAmqpRecord>();
  private readonly c = new Cursor(new Uint8Array(0));
  private version: AmqpVersion | null = null;
  private clientHeader = -1;
  private confirmed = false;
  private stop: Verdict | null = null;
  private need = 0;

  /** Picked up mid-stream: each direction skips to its first frame boundary (no protocol header). */
  private readonly unsynced: [boolean, boolean];

  constructor(ctx: DissectorContext<AmqpRecord, AmqpEventId>, lim: AmqpLimits) {
    this.ctx = ctx;
    this.lim = lim;
    this.unsynced = [ctx.flow.midstream, ctx.flow.midstream];
  }

  feed(dir: Dir, view: StreamView): Verdict {
    if (this.stop !== null) return this.stop;
    const b = view.bytes;
    this.need = 0;
    let p = 0;
    if (this.unsynced[dir]) {
      const s = amqpSync(b, view.eof);
      if (s < 0) {
        if (s === SYNC_UNSURE) {
          view.needAtLeast(b.length + 1);
          return 'more';
        }
        this.ctx.event('amqp.midstream_unsynced', dir);
        this.phase[dir] = Phase.Stopped;
        return 'dir-done';
      }
      this.unsynced[dir] = false;
      const v = (s & 3) === Sync.V091 ? '0-9-1' : '1.0';
      if (this.version === null) this.version = v;
      this.phase[dir] = v === '0-9-1' ? Phase.F091 : Phase.F10;
      this.doConfirm();
      p = s >> 2;
    }
    while (p < b.length && this.stop === null && this.phase[dir] !== Phase.Stopped) {
      let used: number;
      if (this.skip[dir] > 0) {
        used = Math.min(this.skip[dir], b.length - p);
        this.skip[dir] -= used;
      } else if (this.phase[dir] === Phase.Header || (this.phase[dir] === Phase.F10 && b.length - p >= 4 && isAmqpMagic(b, p))) {
        used = this.header(dir, b, p, view.ts);
      } else if (this.phase[dir] === Phase.F091) {
        used = this.frame091(dir, b, p, view.ts);
      } else {
        used = this.frame10(dir, b, p, view.ts);
      }
      if (used === 0) break;
      p += used;
    }
    this.partial[dir] = this.need > 0;
    if (p > 0) view.consume(p);
    if (this.need > 0) view.needAtLeast(this.need);
    if (this.stop !== null) return this.stop;
    return this.phase[dir] === Phase.Stopped ? 'dir-done' : 'more';
  }

  gap(dir: Dir, lostBytes: number): Verdict {
    if (this.skip[dir] >= lostBytes && !this.partial[dir]) {
      this.skip[dir] -= lostBytes;
      return 'more';
    }
    this.ctx.event('amqp.truncated', dir);
    this.phase[dir] = Phase.Stopped;
    return 'dir-done';
  }

  end(dir: Dir): void {
    if (this.ended[dir]) return;
    this.ended[dir] = true;
    if (this.partial[dir] || this.skip[dir] > 0 || this.endPending[dir]) this.ctx.event('amqp.truncated', dir);
    for (const [k, rec] of this.pending) {
      if (k >>> 16 !== dir) continue;
      rec.status = 'incomplete';
      this.pending.delete(k);
      this.ctx.emit(rec);
    }
    if (this.version !== null || this.frames[dir] > 0) {
      const st = newAmqpRecord('amqp.stats', this.ctx.now(), dir, this.version);
      st.frames = this.frames[dir];
      st.heartbeats = this.heartbeats[dir];
      this.ctx.emit(st);
    }
  }

  // ---- protocol header ------------------------------------------------------------------

  private header(dir: Dir, b: Uint8Array, p: number, ts: number): number {
    const avail = b.length - p;
    const magicLen = Math.min(avail, 4);
    for (let i = 0; i < magicLen; i++) {
      if (b[p + i] !== MAGIC[i]) return this.noHeader(dir, b, p, ts);
    }
    // Below 4 bytes ask for one more at a time, so a wrong magic is seen at the same byte however split.
    if (avail < HEADER_BYTES) { this.need = avail < 4 ? avail + 1 : HEADER_BYTES; return 0; }
    const kind = headerKind(b, p);
    const rec = newAmqpRecord('amqp.header', ts, dir, null);
    rec.headerVersion = `${b[p + 5]}.${b[p + 6]}.${b[p + 7]}`;
    rec.protocolId = b[p + 4] as number;
    rec.frameBytes = HEADER_BYTES;
    if (dir === 0) this.clientHeader = kind;
    else if (this.clientHeader >= 0 && kind !== this.clientHeader && !(this.clientHeader === HeaderKind.Sasl10 && kind === HeaderKind.V10)) {
      this.raise('amqp.version_mismatch', dir, rec);
    }
    switch (kind) {
      case HeaderKind.V091:
        rec.version = this.version = '0-9-1';
        rec.headerVersion = '0-9-1';
        this.phase[dir] = Phase.F091;
        break;
      case HeaderKind.V10: case HeaderKind.Sasl10:
        rec.version = this.version = '1.0';
        this.phase[dir] = Phase.F10;
        break;
      case HeaderKind.Tls10:
        rec.version = this.version = '1.0';
        this.raise('amqp.tls_upgrade', dir, rec);
        this.phase[dir] = Phase.Stopped;
        break;
      default:
        this.raise('amqp.unsupported_version', dir, rec);
        this.phase[dir] = Phase.Stopped;
        break;
    }
    if (kind !== HeaderKind.Unsupported) this.doConfirm();
    this.ctx.emit(rec);
    if (kind === HeaderKind.Tls10 && dir === 0) this.stop = 'done';
    if (kind === HeaderKind.Unsupported && dir === 0) this.stop = 'done';
    return HEADER_BYTES;
  }

  /** Bytes where a header was expected: the server side of 0-9-1 starts with frames. */
  private noHeader(dir: Dir, b: Uint8Array, p: number, ts: number): number {
    if (dir === 1 && this.version === '0-9-1') { this.phase[1] = Phase.F091; return this.frame091(1, b, p, ts); }
    if (dir === 1 && this.version === '1.0') { this.phase[1] = Phase.F10; return this.frame10(1, b, p, ts); }
    this.ctx.event('amqp.bad_protocol_header', dir);
    this.ctx.violation('amqp.bad_protocol_header');
    this.stop = this.confirmed ? 'abort' : 'done';
    return 0;
  }

  // ---- 0-9-1 ----------------------------------------------------------------------------

  private frame091(dir: Dir, b: Uint8Array, p: number, ts: number): number {
    const avail = b.length - p;
    if (this.endPending[dir]) {
      this.endPending[dir] = false;
      if (b[p] !== FRAME_END) return this.badFrameEnd(dir);
      return 1;
    }
    const total = amqp091FrameLength(b, p, b.length);
    if (total === NEED_MORE) { this.need = 7; return 0; }
    const type = b[p] as number;
    const channel = ((b[p + 1] as number) << 8) | (b[p + 2] as number);
    const size = total - 8;
    if (type !== 1 && type !== 2 && type !== 3 && type !== 8) {
      this.ctx.event('amqp.bad_frame_type', dir);
      this.ctx.violation('amqp.bad_frame_type');
      this.stop = 'abort';
      return 0;
    }
    if (type === 3 || size > this.lim.maxFrameBytes) {
      if (type === 1 && avail < 11 && size > this.lim.maxFrameBytes) { this.need = 11; return 0; }
      if (!this.countFrame(dir)) return 0;
      if (type !== 3) {
        // Oversize method/header frame: record it truncated with its class/method if visible.
        const rec = newAmqpRecord('amqp.method', ts, dir, '0-9-1');
        rec.channel = channel;
        rec.frameBytes = total;
        rec.status = 'truncated';
        if (type === 1) {
          rec.classId = ((b[p + 7] as number) << 8) | (b[p + 8] as number);
          rec.methodId = ((b[p + 9] as number) << 8) | (b[p + 10] as number);
          rec.method = METHOD_NAMES[rec.classId * 1000 + rec.methodId] ?? null;
        }
        this.raise('amqp.limit.max_frame_bytes', dir, rec);
        this.ctx.emit(rec);
      }
      // Body frames are never buffered: skip the payload, then check the frame-end byte.
      this.skip[dir] = size;
      this.endPending[dir] = true;
      return 7;
    }
    if (avail < total) { this.need = total; return 0; }
    if (!this.countFrame(dir)) return 0;
    if (b[p + total - 1] !== FRAME_END) return this.badFrameEnd(dir);
    if (type === 8) {
      this.heartbeats[dir]++;
      if (channel !== 0) this.ctx.event('amqp.heartbeat_channel', dir);
      return total;
    }
    const c = this.c.reset(b, p + 7, p + 7 + size);
    const key = (dir << 16) | channel;
    if (type === 2) {
      const h = parseContentHeader(c);
      const rec = this.pending.get(key);
      if (h === null) { this.ctx.event('amqp.malformed_method', dir); return total; }
      if (rec !== undefined) {
        this.pending.delete(key);
        rec.bodyBytes = h.bodySize;
        this.ctx.emit(rec);
      }
      return total;
    }
    const rec = newAmqpRecord('amqp.method', ts, dir, '0-9-1');
    rec.channel = channel;
    rec.frameBytes = total;
    const r = parseMethod(c, rec, this.lim);
    for (const e of r.events) this.raise(e, dir, rec);
    if (r.malformed) {
      this.raise('amqp.malformed_method', dir, rec);
      if (!this.confirmed) this.ctx.violation('amqp.malformed_method');
    }
    if (rec.method === null) this.raise('amqp.unknown_method', dir, rec);
    if (rec.classId === 10 && rec.methodId === 50 && rec.code !== 200) this.raise('amqp.connection_error', dir, rec);
    const prev = this.pending.get(key);
    if (prev !== undefined) { // a method without the content header the previous one promised
      this.pending.delete(key);
      prev.status = 'incomplete';
      this.ctx.emit(prev);
    }
    if (!r.malformed && carriesContent((rec.classId ?? 0) * 1000 + (rec.methodId ?? 0))) {
      this.pending.set(key, rec);
      if (this.pending.size > this.lim.maxPendingCount) {
        const [k0, old] = this.pending.entries().next().value as [number, MutableAmqpRecord];
        this.pending.delete(k0);
        old.status = 'incomplete';
        this.raise('amqp.limit.max_pending_count', dir, old);
        this.ctx.emit(old);
      }
    } else {
      this.ctx.emit(rec);
    }
    return total;
  }

  private badFrameEnd(dir: Dir): number {
    this.ctx.event('amqp.bad_frame_end', dir);
    this.ctx.violation('amqp.bad_frame_end');
    this.stop = 'abort';
    return 0;
  }

  // ---- 1.0 ------------------------------------------------------------------------------

  private frame10(dir: Dir, b: Uint8Array, p: number, ts: number): number {
    const avail = b.length - p;
    const size = amqp10FrameLength(b, p, b.length);
    if (size === NEED_MORE && avail < 4) { this.need = 4; return 0; }
    if (size < 8) return this.badSize(dir);
    if (avail < 8) { this.need = 8; return 0; }
    const doff = b[p + 4] as number;
    const type = b[p + 5] as number;
    const channel = ((b[p + 6] as number) << 8) | (b[p + 7] as number);
    if (doff < 2 || doff * 4 > size) return this.badSize(dir);
    if (type !== 0 && type !== 1) {
      this.ctx.event('amqp.bad_frame_type', dir);
      this.ctx.violation('amqp.bad_frame_type');
      this.stop = 'abort';
      return 0;
    }
    if (size > this.lim.maxFrameBytes) {
      // Read the descriptor from the same bytes however the stream was split.
      const head = Math.min(size, doff * 4 + 10);
      if (avail < head) { this.need = head; return 0; }
      if (!this.countFrame(dir)) return 0;
      const rec = newAmqpRecord('amqp.method', ts, dir, '1.0');
      rec.channel = channel;
      rec.frameBytes = size;
      rec.status = 'truncated';
      const code = descriptorCode(b, p + doff * 4, p + head);
      rec.method = PERFORMATIVES[code] ?? null;
      this.raise('amqp.limit.max_frame_bytes', dir, rec);
      this.ctx.emit(rec);
      const used = Math.min(avail, size);
      this.skip[dir] = size - used;
      return used;
    }
    if (avail < size) { this.need = size; return 0; }
    if (!this.countFrame(dir)) return 0;
    const start = p + doff * 4;
    const end = p + size;
    if (start === end) { this.heartbeats[dir]++; return size; } // empty frame: keep-alive (§2.4.5)
    const code = descriptorCode(b, start, end);
    const rec = newAmqpRecord('amqp.method', ts, dir, '1.0');
    rec.channel = channel;
    rec.frameBytes = size;
    rec.method = PERFORMATIVES[code] ?? null;
    const q = skimValue(b, start, end, 0, this.lim);
    if (q < 0 || rec.method === null) {
      const id: AmqpEventId = q === SKIM_BAD || q >= 0 ? 'amqp.malformed_performative' : q === SKIM_DEPTH ? 'amqp.limit.max_table_depth_count' : 'amqp.limit.max_table_entries_count';
      this.raise(id, dir, rec);
      if (id === 'amqp.malformed_performative' && !this.confirmed) this.ctx.violation(id);
      if (id !== 'amqp.malformed_performative') rec.status = 'truncated';
      this.ctx.emit(rec);
      return size;
    }
    const err = decodeFrame10(b.subarray(p, end), code, rec, this.lim);
    if (err !== null) {
      this.raise(err, dir, rec);
      if (!this.confirmed) this.ctx.violation(err);
    }
    if ((code === 0x18 || code === 0x17) && rec.reason !== null) this.raise('amqp.connection_error', dir, rec);
    this.ctx.emit(rec);
    return size;
  }

  private badSize(dir: Dir): number {
    this.ctx.event('amqp.bad_frame_size', dir);
    this.ctx.violation('amqp.bad_frame_size');
    this.stop = 'abort';
    return 0;
  }

  // ---- helpers ----------------------------------------------------------------------------

  private countFrame(dir: Dir): boolean {
    if (this.frames[0] + this.frames[1] >= this.lim.maxFramesCount) {
      this.ctx.event('amqp.limit.max_frames_count', dir);
      this.stop = 'done';
      return false;
    }
    this.frames[dir]++;
    return true;
  }

  private doConfirm(): void {
    if (!this.confirmed) { this.confirmed = true; this.ctx.confirm(); }
  }

  private raise(id: AmqpEventId, dir: Dir, rec: MutableAmqpRecord | null): void {
    this.ctx.event(id, dir);
    if (rec !== null && !rec.events.includes(id)) rec.events.push(id);
  }
}
