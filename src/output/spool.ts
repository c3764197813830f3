/**
 * Bounded on-disk spool for the SIEM feed (at-least-once delivery across SIEM outages and sensor
 * restarts, including kill -9).
 *
 * Layout of the spool directory:
 *   seg-<first seq, 16 digits>.log   append-only segments of frames
 *   ack                              the highest acknowledged sequence (8 bytes BE + CRC32), replaced atomically
 *
 * Frame: u32 payload length | u32 CRC32 of everything after this field | u64 seq | u32 records | payload
 * (the payload is one encoded ndr.v1.RecordBatch). On open, every segment is scanned; a frame
 * that is cut short or fails its CRC (a torn last write) ends the segment there and is truncated
 * away. When the spool exceeds its size limit the oldest segment is dropped, counted and warned.
 */
import { closeSync, existsSync, fsyncSync, mkdirSync, openSync, readdirSync, readFileSync, renameSync, statSync, ftruncateSync, unlinkSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { crc32 } from 'node:zlib';
import { stderrLine } from '../util/terminal.js';

export const FRAME_HEADER_BYTES = 20;
/** Largest payload accepted in a frame (bytes); bigger lengths read back mean corruption. */
export const MAX_FRAME_PAYLOAD_BYTES = 256 << 20;

export interface SpoolOptions {
  dir: string;
  /** Total size limit of all segments (bytes). */
  maxBytes?: number;
  /** A segment is closed and a new one started past this size (bytes). */
  segmentBytes?: number;
  /** Frames appended in this process kept in memory for sending (bytes). */
  memCacheBytes?: number;
  /** Minimum spacing of ack-file writes (ms); deletions of segments always write it. */
  ackPersistMs?: number;
  log?: (line: string) => void;
}

export interface SpoolFrame {
  seq: number;
  records: number;
  payload: Buffer;
}

interface Segment {
  path: string;
  firstSeq: number;
  lastSeq: number; // firstSeq - 1 when empty
  bytes: number;
  records: number;
  frames: number;
}

export interface SpoolStats {
  bytes: number;
  segments: number;
  /** Batches / records waiting (spooled and not acknowledged). */
  pendingBatches: number;
  pendingRecords: number;
  ackedSeq: number;
  lastSeq: number;
  droppedSegments: number;
  droppedBatches: number;
  droppedRecords: number;
  tornFrames: number;
}

function segName(firstSeq: number): string {
  return `seg-${String(firstSeq).padStart(16, '0')}.log`;
}

function frameCrc(buf: Buffer, start: number, end: number): number {
  return crc32(buf.subarray(start, end)) >>> 0;
}

/** Parses frames from a segment buffer; stops at the first torn/corrupt frame. */
export function scanFrames(buf: Buffer): { frames: SpoolFrame[]; validBytes: number; torn: boolean } {
  const frames: SpoolFrame[] = [];
  let off = 0;
  while (off < buf.length) {
    if (buf.length - off < FRAME_HEADER_BYTES) return { frames, validBytes: off, torn: true };
    const len = buf.readUInt32BE(off);
    if (len > MAX_FRAME_PAYLOAD_BYTES || off + FRAME_HEADER_BYTES + len > buf.length) return { frames, validBytes: off, torn: true };
    const crc = buf.readUInt32BE(off + 4);
    if (frameCrc(buf, off + 8, off + FRAME_HEADER_BYTES + len) !== crc) return { frames, validBytes: off, torn: true };
    const seq = buf.readUInt32BE(off + 8) * 2 ** 32 + buf.readUInt32BE(off + 12);
    const records = buf.readUInt32BE(off + 16);
    frames.push({ seq, records, payload: buf.subarray(off + FRAME_HEADER_BYTES, off + FRAME_HEADER_BYTES + len) });
    off += FRAME_HEADER_BYTES + len;
  }
  return { frames, validBytes: off, torn: false };
}

export class Spool {
  readonly dir: string;
  private readonly maxBytes: number;
  private readonly segmentBytes: number;
  private readonly memCacheBytes: number;
  private readonly ackPersistMs: number;
  private readonly log: (line: string) => void;
  private segments: Segment[] = [];
  private fd: number | null = null;
  private totalBytes = 0;
  private ackedSeqV = 0;
  private ackWritten = 0;
  private ackWrittenAt = 0;
  private ackTimer: NodeJS.Timeout | null = null;
  private lastSeqV = 0;
  private readonly mem = new Map<number, SpoolFrame>();
  private memBytes = 0;
  private readCache: { path: string; frames: SpoolFrame[] } | null = null;
  private readonly dropped = { segments: 0, batches: 0, records: 0 };
  private torn = 0;
  private closed = false;

  constructor(opts: SpoolOptions) {
    this.dir = opts.dir;
    this.maxBytes = opts.maxBytes ?? 256 * 2 ** 20;
    if (!(this.maxBytes > 0)) throw new RangeError(`spool: maxBytes must be positive, got ${opts.maxBytes}`);
    this.segmentBytes = Math.min(opts.segmentBytes ?? 8 << 20, this.maxBytes);
    this.memCacheBytes = opts.memCacheBytes ?? 32 << 20;
    this.ackPersistMs = opts.ackPersistMs ?? 100;
    this.log = opts.log ?? stderrLine;
    mkdirSync(this.dir, { recursive: true });
    this.open();
  }

  private open(): void {
    const ackPath = join(this.dir, 'ack');
    if (existsSync(ackPath)) {
      const b = readFileSync(ackPath);
      if (b.length === 12 && (crc32(b.subarray(0, 8)) >>> 0) === b.readUInt32BE(8)) {
        this.ackedSeqV = b.readUInt32BE(0) * 2 ** 32 + b.readUInt32BE(4);
        this.ackWritten = this.ackedSeqV;
      } else this.log(`spool: ${ackPath} is damaged; replaying everything spooled`);
    }
    const names = readdirSync(this.dir)
      .filter((n) => /^seg-\d{16}\.log$/.test(n))
      .sort();
    for (const name of names) {
      const path = join(this.dir, name);
      const buf = readFileSync(path);
      const { frames, validBytes, torn } = scanFrames(buf);
      if (torn) {
        this.torn++;
        this.log(`spool: ${name}: torn or corrupt frame at byte ${validBytes} of ${buf.length}; truncated there`);
        const fd = openSync(path, 'r+');
        ftruncateSync(fd, validBytes);
        closeSync(fd);
      }
      const firstSeq = frames.length > 0 ? frames[0]!.seq : Number(name.slice(4, 20));
      const seg: Segment = {
        path,
        firstSeq,
        lastSeq: frames.length > 0 ? frames[frames.length - 1]!.seq : firstSeq - 1,
        bytes: validBytes,
        records: frames.reduce((a, f) => a + f.records, 0),
        frames: frames.length,
      };
      if (seg.frames === 0 || seg.lastSeq <= this.ackedSeqV) {
        unlinkSync(path);
        continue;
      }
      this.segments.push(seg);
      this.totalBytes += seg.bytes;
    }
    this.lastSeqV = Math.max(this.ackedSeqV, this.segments.length > 0 ? this.segments[this.segments.length - 1]!.lastSeq : 0);
  }

  get ackedSeq(): number {
    return this.ackedSeqV;
  }

  /** Highest sequence ever appended (or acknowledged). */
  get lastSeq(): number {
    return this.lastSeqV;
  }

  /** Appends one batch. `seq` must be greater than every earlier one. */
  append(seq: number, records: number, payload: Uint8Array): void {
    if (this.closed) throw new Error('spool closed');
    if (seq <= this.lastSeqV) throw new Error(`spool: seq ${seq} not above ${this.lastSeqV}`);
    let active = this.segments[this.segments.length - 1];
    if (!active || this.fd === null || active.bytes >= this.segmentBytes) {
      if (this.fd !== null) closeSync(this.fd);
      active = { path: join(this.dir, segName(seq)), firstSeq: seq, lastSeq: seq - 1, bytes: 0, records: 0, frames: 0 };
      this.fd = openSync(active.path, 'a');
      // Reopening after a restart: a new segment is started, the old ones are only read.
      this.segments.push(active);
    }
    const frame = Buffer.allocUnsafe(FRAME_HEADER_BYTES + payload.length);
    frame.writeUInt32BE(payload.length, 0);
    frame.writeUInt32BE(Math.floor(seq / 2 ** 32), 8);
    frame.writeUInt32BE(seq >>> 0, 12);
    frame.writeUInt32BE(records, 16);
    frame.set(payload, FRAME_HEADER_BYTES);
    frame.writeUInt32BE(frameCrc(frame, 8, frame.length), 4);
    writeSync(this.fd, frame);
    active.bytes += frame.length;
    active.lastSeq = seq;
    active.records += records;
    active.frames++;
    this.totalBytes += frame.length;
    this.lastSeqV = seq;
    const f: SpoolFrame = { seq, records, payload: frame.subarray(FRAME_HEADER_BYTES) };
    this.mem.set(seq, f);
    this.memBytes += payload.length;
    while (this.memBytes > this.memCacheBytes && this.mem.size > 0) {
      const first = this.mem.keys().next().value as number;
      this.memBytes -= this.mem.get(first)!.payload.length;
      this.mem.delete(first);
    }
    this.enforceLimit();
  }

  private enforceLimit(): void {
    while (this.totalBytes > this.maxBytes && this.segments.length > 1) {
      const old = this.segments.shift()!;
      const unacked = old.lastSeq > this.ackedSeqV;
      unlinkSync(old.path);
      this.totalBytes -= old.bytes;
      if (unacked) {
        const lostFrom = Math.max(old.firstSeq, this.ackedSeqV + 1);
        this.dropped.segments++;
        this.dropped.batches += old.lastSeq - lostFrom + 1;
        this.dropped.records += old.records;
        this.log(
          `spool: size limit ${this.maxBytes} bytes reached; dropped oldest segment (batches ${lostFrom}..${old.lastSeq}, ${old.records} records) — total dropped ${this.dropped.records} records`,
        );
      }
      for (let s = old.firstSeq; s <= old.lastSeq; s++) {
        const m = this.mem.get(s);
        if (m) {
          this.memBytes -= m.payload.length;
          this.mem.delete(s);
        }
      }
      if (this.readCache?.path === old.path) this.readCache = null;
    }
  }

  /** Marks everything up to `seq` as delivered; deletes fully acknowledged segments. */
  ack(seq: number): void {
    if (seq <= this.ackedSeqV) return;
    this.ackedSeqV = Math.min(seq, this.lastSeqV);
    for (const [s, f] of this.mem) {
      if (s > this.ackedSeqV) break;
      this.memBytes -= f.payload.length;
      this.mem.delete(s);
    }
    let deleted = false;
    while (this.segments.length > 0 && this.segments[0]!.lastSeq <= this.ackedSeqV) {
      const seg = this.segments[0]!;
      const isActive = this.segments.length === 1;
      if (isActive) {
        // Start a fresh segment on the next append.
        if (this.fd !== null) closeSync(this.fd);
        this.fd = null;
      }
      this.segments.shift();
      this.totalBytes -= seg.bytes;
      if (this.readCache?.path === seg.path) this.readCache = null;
      deleted = true;
      // Persist the ack before the data disappears so a restart never goes backwards.
      this.persistAck();
      unlinkSync(seg.path);
    }
    if (!deleted) this.scheduleAckPersist();
  }

  private scheduleAckPersist(): void {
    if (this.ackTimer || this.closed) return;
    const wait = Math.max(0, this.ackWrittenAt + this.ackPersistMs - Date.now());
    this.ackTimer = setTimeout(() => {
      this.ackTimer = null;
      if (!this.closed) this.persistAck();
    }, wait);
    this.ackTimer.unref();
  }

  private persistAck(): void {
    if (this.ackWritten === this.ackedSeqV) return;
    const b = Buffer.allocUnsafe(12);
    b.writeUInt32BE(Math.floor(this.ackedSeqV / 2 ** 32), 0);
    b.writeUInt32BE(this.ackedSeqV >>> 0, 4);
    b.writeUInt32BE(crc32(b.subarray(0, 8)) >>> 0, 8);
    const tmp = join(this.dir, 'ack.tmp');
    writeFileSync(tmp, b);
    renameSync(tmp, join(this.dir, 'ack'));
    this.ackWritten = this.ackedSeqV;
    this.ackWrittenAt = Date.now();
  }

  /** Up to `max` frames with seq ≥ fromSeq, in order (skipping dropped ranges). */
  read(fromSeq: number, max: number): SpoolFrame[] {
    const out: SpoolFrame[] = [];
    let seq = Math.max(fromSeq, this.ackedSeqV + 1);
    while (out.length < max && seq <= this.lastSeqV) {
      const m = this.mem.get(seq);
      if (m) {
        out.push(m);
        seq++;
        continue;
      }
      const seg = this.segments.find((s) => s.lastSeq >= seq);
      if (!seg) break;
      if (seq < seg.firstSeq) seq = seg.firstSeq;
      if (this.readCache?.path !== seg.path) {
        // The active segment may grow: re-read it when the cached copy is behind.
        this.readCache = { path: seg.path, frames: scanFrames(readFileSync(seg.path)).frames };
      }
      let frames = this.readCache.frames;
      if (frames.length === 0 || frames[frames.length - 1]!.seq < Math.min(seg.lastSeq, seq)) {
        this.readCache = { path: seg.path, frames: scanFrames(readFileSync(seg.path)).frames };
        frames = this.readCache.frames;
      }
      let progressed = false;
      for (const f of frames) {
        if (f.seq < seq) continue;
        if (out.length >= max) break;
        out.push(f);
        seq = f.seq + 1;
        progressed = true;
      }
      if (!progressed) seq = seg.lastSeq + 1;
    }
    return out;
  }

  stats(): SpoolStats {
    let pendingRecords = 0;
    let pendingBatches = 0;
    for (const s of this.segments) {
      if (s.lastSeq <= this.ackedSeqV) continue;
      pendingRecords += s.records; // whole segments: an upper bound when partly acknowledged
      pendingBatches += s.lastSeq - Math.max(s.firstSeq, this.ackedSeqV + 1) + 1;
    }
    return {
      bytes: this.totalBytes,
      segments: this.segments.length,
      pendingBatches,
      pendingRecords,
      ackedSeq: this.ackedSeqV,
      lastSeq: this.lastSeqV,
      droppedSegments: this.dropped.segments,
      droppedBatches: this.dropped.batches,
      droppedRecords: this.dropped.records,
      tornFrames: this.torn,
    };
  }

  /** Forces the active segment and the ack file to disk. */
  sync(): void {
    if (this.fd !== null) fsyncSync(this.fd);
    this.persistAck();
  }

  close(): void {
    if (this.closed) return;
    if (this.ackTimer) clearTimeout(this.ackTimer);
    this.ackTimer = null;
    this.persistAck();
    if (this.fd !== null) closeSync(this.fd);
    this.fd = null;
    this.closed = true;
  }

  /** Bytes on disk (segments only), recomputed from the files (tests). */
  diskBytes(): number {
    return this.segments.reduce((a, s) => a + (existsSync(s.path) ? statSync(s.path).size : 0), 0);
  }
}
