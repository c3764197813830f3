/**
 * Bounded on-disk spool for the SIEM feed (at-least-once delivery across SIEM outages and sensor
 * restarts, including kill -9).
 *
 * Layout of the spool directory:
 *   seg-<first seq, 16 digits>.log   append-only segments of frames
 *   ack                              the highest acknowledged sequence (8 bytes BE + CRC32), replaced atomically
 *   hwm                              the highest sequence ever fsynced (may have been sent): never reused
 *   epoch                            random id of this spool's sequence, sent with every batch
 *   quarantine/                      damaged bytes cut out of segments, kept for inspection
 *
 * Frame: u32 payload length | u32 CRC32 of everything after this field | u64 seq | u32 records | payload
 * (the payload is one encoded ndr.v1.PublishRequest).
 *
 * Durability: appends are fsynced in groups (one fsync per syncIntervalMs window) and only
 * fsynced frames are handed out for sending, so an acknowledged batch was on disk here first.
 * On open every segment is scanned; a damaged frame is cut out (quarantined, counted) and the scan
 * resyncs at the next good frame. Sequences no frame holds any more (a damaged frame, a segment
 * dropped by the size limit) become holes, delivered as a DeliveryLoss so the collector records
 * the loss and moves on. A full or read-only disk never throws out of append(): the batch is
 * dropped, counted and reported, and the caller's other outputs go on.
 */
import { closeSync, existsSync, fdatasync, fsyncSync, mkdirSync, openSync, readdirSync, readFileSync, renameSync, statSync, ftruncateSync, unlinkSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { crc32 } from 'node:zlib';
import { randomInt } from 'node:crypto';
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
  /**
   * Group-commit window (ms): appended frames are fsynced together at most this long after the
   * first of them, and read() hands out only fsynced frames, so nothing is sent that a power cut
   * could take back. 0 = fsync on every read of new frames.
   */
  syncIntervalMs?: number;
  /** Called after a group fsync made new frames readable. */
  onSynced?: () => void;
  log?: (line: string) => void;
}

export interface SpoolFrame {
  seq: number;
  records: number;
  payload: Buffer;
  /** Set on a stand-in for sequences that were lost (payload empty, seq = the hole's last). */
  loss?: SpoolHole;
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
  /** Highest sequence fsynced (and so readable for sending). */
  syncedSeq: number;
  epoch: number;
  /** Oldest unacknowledged segments deleted by the size limit. */
  droppedSegments: number;
  droppedBatches: number;
  droppedRecords: number;
  /** Batches that could not be written (full or read-only disk): never spooled, never sent. */
  writeFailedBatches: number;
  writeFailedRecords: number;
  /** Last disk error seen by append/sync ('' when none). */
  lastDiskError: string;
  /** Torn or corrupt stretches found on open, moved to quarantine/. */
  tornFrames: number;
  quarantinedBytes: number;
  /** Sequences lost to corrupt frames (known once the spool is reopened). */
  corruptBatches: number;
  syncs: number;
}

function segName(firstSeq: number): string {
  return `seg-${String(firstSeq).padStart(16, '0')}.log`;
}

function frameCrc(buf: Buffer, start: number, end: number): number {
  return crc32(buf.subarray(start, end)) >>> 0;
}

function frameAt(buf: Buffer, off: number): SpoolFrame | null {
  if (buf.length - off < FRAME_HEADER_BYTES) return null;
  const len = buf.readUInt32BE(off);
  if (len > MAX_FRAME_PAYLOAD_BYTES || off + FRAME_HEADER_BYTES + len > buf.length) return null;
  if (frameCrc(buf, off + 8, off + FRAME_HEADER_BYTES + len) !== buf.readUInt32BE(off + 4)) return null;
  const seq = buf.readUInt32BE(off + 8) * 2 ** 32 + buf.readUInt32BE(off + 12);
  if (seq < 1) return null;
  return { seq, records: buf.readUInt32BE(off + 16), payload: buf.subarray(off + FRAME_HEADER_BYTES, off + FRAME_HEADER_BYTES + len) };
}

/** A stretch of a segment that holds no valid frame. */
export interface BadRange {
  start: number;
  end: number;
  /** True when the range runs to the end of the segment (a torn last write, or a damaged tail). */
  tail: boolean;
}

/**
 * Parses the frames of a segment. A frame that is cut short or fails its CRC does not end the
 * scan: the scanner looks for the next offset where a whole frame with a good CRC and a higher
 * sequence starts, so one damaged frame costs only itself. The damaged stretches are returned.
 */
export function scanFrames(buf: Buffer): { frames: SpoolFrame[]; validBytes: number; torn: boolean; bad: BadRange[] } {
  const frames: SpoolFrame[] = [];
  const bad: BadRange[] = [];
  let off = 0;
  let lastSeq = 0;
  while (off < buf.length) {
    const f = frameAt(buf, off);
    if (f && f.seq > lastSeq) {
      frames.push(f);
      lastSeq = f.seq;
      off += FRAME_HEADER_BYTES + f.payload.length;
      continue;
    }
    let next = -1;
    for (let p = off + 1; p + FRAME_HEADER_BYTES <= buf.length; p++) {
      const g = frameAt(buf, p);
      if (g && g.seq > lastSeq) {
        next = p;
        break;
      }
    }
    bad.push({ start: off, end: next === -1 ? buf.length : next, tail: next === -1 });
    if (next === -1) break;
    off = next;
  }
  const validBytes = bad.length > 0 && bad[bad.length - 1]!.tail ? bad[bad.length - 1]!.start : buf.length;
  return { frames, validBytes, torn: bad.length > 0, bad };
}

/** Sequences that will never be read from the spool, with why (delivered as a DeliveryLoss). */
export interface SpoolHole {
  firstSeq: number;
  lastSeq: number;
  /** Records lost; 0 when unknown. */
  records: number;
  reason: 'spool_full' | 'spool_corrupt';
}

/** Errors of a full or read-only disk: the spool counts and drops instead of throwing. */
const DISK_ERRORS = new Set(['ENOSPC', 'EROFS', 'EDQUOT', 'EIO', 'EFBIG', 'EACCES', 'EPERM', 'ENOENT']);

export function isDiskError(e: unknown): e is NodeJS.ErrnoException {
  return typeof e === 'object' && e !== null && DISK_ERRORS.has((e as NodeJS.ErrnoException).code ?? '');
}

export class Spool {
  readonly dir: string;
  private readonly maxBytes: number;
  private readonly segmentBytes: number;
  private readonly memCacheBytes: number;
  private readonly ackPersistMs: number;
  private readonly syncIntervalMs: number;
  private readonly onSynced: () => void;
  private readonly log: (line: string) => void;
  private segments: Segment[] = [];
  private fd: number | null = null;
  private totalBytes = 0;
  private ackedSeqV = 0;
  private ackWritten = 0;
  private ackWrittenAt = 0;
  private ackTimer: NodeJS.Timeout | null = null;
  private lastSeqV = 0;
  private syncedSeqV = 0;
  private hwmWritten = 0;
  private lastSyncAt = 0;
  private syncTimer: NodeJS.Timeout | null = null;
  private epochV = 0;
  private holes: SpoolHole[] = [];
  private readonly mem = new Map<number, SpoolFrame>();
  private memBytes = 0;
  private readCache: { path: string; frames: SpoolFrame[] } | null = null;
  private readonly dropped = { segments: 0, batches: 0, records: 0 };
  private readonly failed = { batches: 0, records: 0, lastError: '', loggedAt: 0, sinceLog: 0 };
  private torn = 0;
  private quarantined = 0;
  private corruptBatches = 0;
  private syncs = 0;
  private closed = false;
  private unusable = '';
  private syncing = false;

  constructor(opts: SpoolOptions) {
    this.dir = opts.dir;
    this.maxBytes = opts.maxBytes ?? 256 * 2 ** 20;
    if (!(this.maxBytes > 0)) throw new RangeError(`spool: maxBytes must be positive, got ${opts.maxBytes}`);
    this.segmentBytes = Math.min(opts.segmentBytes ?? 8 << 20, this.maxBytes);
    this.memCacheBytes = opts.memCacheBytes ?? 32 << 20;
    this.ackPersistMs = opts.ackPersistMs ?? 100;
    this.syncIntervalMs = opts.syncIntervalMs ?? 50;
    this.onSynced = opts.onSynced ?? (() => undefined);
    this.log = opts.log ?? stderrLine;
    try {
      mkdirSync(this.dir, { recursive: true });
      this.open();
    } catch (e) {
      if (!isDiskError(e)) throw e;
      // A spool that cannot even be opened drops (and counts) every batch; the sensor goes on.
      this.unusable = `${e.code}: ${e.message}`;
      if (this.epochV === 0) this.epochV = randomInt(1, 2 ** 48);
      this.log(`spool: cannot open ${this.dir} (${this.unusable}); SIEM records will be counted as dropped`);
    }
  }

  /** Reads a 12-byte "u64 BE + CRC32" file; null when absent or damaged. */
  private readCounter(name: string): number | null {
    const path = join(this.dir, name);
    if (!existsSync(path)) return null;
    const b = readFileSync(path);
    if (b.length === 12 && (crc32(b.subarray(0, 8)) >>> 0) === b.readUInt32BE(8)) return b.readUInt32BE(0) * 2 ** 32 + b.readUInt32BE(4);
    this.log(`spool: ${path} is damaged; ignoring it`);
    return null;
  }

  /**
   * Writes a counter file (temp file, rename). `durable` adds an fsync: needed where a lost
   * update would lose or misreport data (the epoch; the ack before segments are deleted), not
   * where an older value only means resending (the periodic ack) or matters only after a second
   * fault (the high-water mark, whose frames are fsynced themselves).
   */
  private writeCounter(name: string, v: number, durable = true): void {
    const b = Buffer.allocUnsafe(12);
    b.writeUInt32BE(Math.floor(v / 2 ** 32), 0);
    b.writeUInt32BE(v >>> 0, 4);
    b.writeUInt32BE(crc32(b.subarray(0, 8)) >>> 0, 8);
    if (!durable) {
      // Frequent updates go in place: 12 bytes at offset 0 (within one sector), and a torn one
      // fails its CRC and reads as absent, which costs only resends.
      // Not kept open: a spool with nothing pending holds no file open for writing.
      const path = join(this.dir, name);
      const fd = openSync(path, existsSync(path) ? 'r+' : 'w+');
      try {
        writeSync(fd, b, 0, 12, 0);
      } finally {
        closeSync(fd);
      }
      return;
    }
    const tmp = join(this.dir, `${name}.tmp`);
    const fd = openSync(tmp, 'w');
    try {
      writeSync(fd, b);
      if (durable) fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, join(this.dir, name));
  }

  private open(): void {
    this.ackedSeqV = this.readCounter('ack') ?? 0;
    this.ackWritten = this.ackedSeqV;
    const epoch = this.readCounter('epoch');
    if (epoch !== null && epoch > 0) this.epochV = epoch;
    else {
      // A new spool starts a new sequence: a collector keys what it has seen by (sensor, epoch).
      this.epochV = randomInt(1, 2 ** 48);
      try {
        this.writeCounter('epoch', this.epochV);
      } catch (e) {
        if (!isDiskError(e)) throw e;
        // Without a stored epoch the next start picks a new one: a new sequence, never a duplicate.
        this.log(`spool: cannot store the epoch in ${this.dir}: ${e.message}`);
      }
    }
    const hwm = this.readCounter('hwm') ?? 0;
    this.hwmWritten = hwm;
    const names = readdirSync(this.dir)
      .filter((n) => /^seg-\d{16}\.log$/.test(n))
      .sort();
    let expected = this.ackedSeqV + 1;
    let corruptSinceLastFrame = false;
    for (const name of names) {
      const path = join(this.dir, name);
      const buf = readFileSync(path);
      const { frames, validBytes, bad } = scanFrames(buf);
      if (bad.length > 0) {
        this.torn += bad.length;
        for (const r of bad) this.quarantine(name, buf, r);
        this.rewriteSegment(path, buf, frames, validBytes, bad);
      }
      const firstSeq = frames.length > 0 ? frames[0]!.seq : Number(name.slice(4, 20));
      const lastSeq = frames.length > 0 ? frames[frames.length - 1]!.seq : firstSeq - 1;
      if (frames.length === 0 || lastSeq <= this.ackedSeqV) {
        unlinkSync(path);
        continue;
      }
      let prevEnd = 0;
      for (const f of frames) {
        const start = f.payload.byteOffset - buf.byteOffset - FRAME_HEADER_BYTES;
        if (bad.some((r) => r.start >= prevEnd && r.end <= start)) corruptSinceLastFrame = true;
        prevEnd = start + FRAME_HEADER_BYTES + f.payload.length;
        if (f.seq < expected) continue;
        // A gap after damaged bytes is what they held; any other gap is a segment the size limit removed.
        if (f.seq > expected) this.addHole(expected, f.seq - 1, 0, corruptSinceLastFrame ? 'spool_corrupt' : 'spool_full');
        expected = f.seq + 1;
        corruptSinceLastFrame = false;
      }
      corruptSinceLastFrame = bad.some((r) => r.tail);
      this.segments.push({ path, firstSeq, lastSeq, bytes: validBytes - bad.filter((r) => !r.tail).reduce((a, r) => a + r.end - r.start, 0), records: frames.reduce((a, f) => a + f.records, 0), frames: frames.length });
    }
    for (const s of this.segments) this.totalBytes += s.bytes;
    // Sequences up to the high-water mark may have been sent: never hand them out again, and
    // declare the ones no frame holds any more as lost.
    if (hwm >= expected) this.addHole(expected, hwm, 0, 'spool_corrupt');
    this.lastSeqV = Math.max(this.ackedSeqV, hwm, expected - 1);
    this.syncedSeqV = this.lastSeqV;
  }

  private addHole(firstSeq: number, lastSeq: number, records: number, reason: SpoolHole['reason']): void {
    if (lastSeq < firstSeq) return;
    const prev = this.holes[this.holes.length - 1];
    if (prev && prev.lastSeq + 1 === firstSeq && prev.reason === reason) {
      prev.lastSeq = lastSeq;
      prev.records += records;
    } else this.holes.push({ firstSeq, lastSeq, records, reason });
    if (reason === 'spool_corrupt') this.corruptBatches += lastSeq - firstSeq + 1;
    this.log(`spool: batches ${firstSeq}..${lastSeq} are lost (${reason}${records ? `, ${records} records` : ''}); the collector is told`);
  }

  private quarantine(name: string, buf: Buffer, r: BadRange): void {
    this.quarantined += r.end - r.start;
    this.log(`spool: ${name}: torn or corrupt frame at bytes ${r.start}..${r.end} of ${buf.length}${r.tail ? ' (the tail)' : ''}; moved to quarantine/, the frames after it kept`);
    try {
      const q = join(this.dir, 'quarantine');
      mkdirSync(q, { recursive: true });
      writeFileSync(join(q, `${name}@${r.start}.bad`), buf.subarray(r.start, r.end));
    } catch (e) {
      this.log(`spool: cannot write quarantine copy: ${(e as Error).message}`);
    }
  }

  /** Replaces a segment with its good frames only (temp file + rename; truncation for a torn tail). */
  private rewriteSegment(path: string, buf: Buffer, frames: SpoolFrame[], validBytes: number, bad: BadRange[]): void {
    try {
      if (bad.every((r) => r.tail)) {
        const fd = openSync(path, 'r+');
        ftruncateSync(fd, validBytes);
        fsyncSync(fd);
        closeSync(fd);
        return;
      }
      const parts: Buffer[] = [];
      for (const f of frames) {
        const start = f.payload.byteOffset - buf.byteOffset - FRAME_HEADER_BYTES;
        parts.push(buf.subarray(start, start + FRAME_HEADER_BYTES + f.payload.length));
      }
      const tmp = `${path}.tmp`;
      const fd = openSync(tmp, 'w');
      writeSync(fd, Buffer.concat(parts));
      fsyncSync(fd);
      closeSync(fd);
      renameSync(tmp, path);
    } catch (e) {
      this.log(`spool: cannot rewrite ${path} without its damaged frames: ${(e as Error).message}`);
    }
  }

  get ackedSeq(): number {
    return this.ackedSeqV;
  }

  /** Highest sequence ever appended (or acknowledged, or possibly sent before a restart). */
  get lastSeq(): number {
    return this.lastSeqV;
  }

  get syncedSeq(): number {
    return this.syncedSeqV;
  }

  get epoch(): number {
    return this.epochV;
  }

  private diskFailure(e: NodeJS.ErrnoException, batches: number, records: number): void {
    this.failed.batches += batches;
    this.failed.records += records;
    this.failed.lastError = `${e.code}: ${e.message}`;
    this.failed.sinceLog += records;
    const now = Date.now();
    // One line now and then, not one per batch, while the disk stays full.
    if (now - this.failed.loggedAt >= 10_000) {
      this.log(`spool: cannot write to ${this.dir} (${this.failed.lastError}); ${this.failed.sinceLog} record(s) dropped since the last report, ${this.failed.records} in all; other outputs go on`);
      this.failed.loggedAt = now;
      this.failed.sinceLog = 0;
    }
  }

  /**
   * Appends one batch. `seq` must be greater than every earlier one. Returns false when the disk
   * refused the write (full, read-only): the batch is counted as dropped and its sequence is not
   * used, so the sequence stays without gaps.
   */
  append(seq: number, records: number, payload: Uint8Array): boolean {
    if (this.closed) throw new Error('spool closed');
    if (seq <= this.lastSeqV) throw new Error(`spool: seq ${seq} not above ${this.lastSeqV}`);
    if (this.unusable) {
      this.diskFailure(Object.assign(new Error(this.unusable), { code: this.unusable.split(':')[0] }), 1, records);
      return false;
    }
    let active = this.segments[this.segments.length - 1];
    let created = false;
    const frame = Buffer.allocUnsafe(FRAME_HEADER_BYTES + payload.length);
    frame.writeUInt32BE(payload.length, 0);
    frame.writeUInt32BE(Math.floor(seq / 2 ** 32), 8);
    frame.writeUInt32BE(seq >>> 0, 12);
    frame.writeUInt32BE(records, 16);
    frame.set(payload, FRAME_HEADER_BYTES);
    frame.writeUInt32BE(frameCrc(frame, 8, frame.length), 4);
    try {
      if (!active || this.fd === null || active.bytes >= this.segmentBytes) {
        if (this.fd !== null) {
          // The closing segment's frames must be on disk before they count as synced.
          fsyncSync(this.fd);
          closeSync(this.fd);
          this.fd = null;
        }
        active = { path: join(this.dir, segName(seq)), firstSeq: seq, lastSeq: seq - 1, bytes: 0, records: 0, frames: 0 };
        // Reopening after a restart: a new segment is started, the old ones are only read.
        this.fd = openSync(active.path, 'a');
        this.segments.push(active);
        created = true;
      }
      writeSync(this.fd, frame);
    } catch (e) {
      if (!isDiskError(e)) throw e;
      this.writeFailed(active, created);
      this.diskFailure(e, 1, records);
      return false;
    }
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
    this.scheduleSync();
    return true;
  }

  /** Undoes a failed append: cuts off a partial frame and starts a fresh segment next time. */
  private writeFailed(active: Segment | undefined, created: boolean): void {
    if (this.fd !== null) {
      try {
        ftruncateSync(this.fd, active?.bytes ?? 0);
      } catch {
        // A partial frame left behind fails its CRC and is quarantined on the next open.
      }
      try {
        closeSync(this.fd);
      } catch {
        // already unusable
      }
      this.fd = null;
    }
    if (created && active && active.frames === 0) {
      this.segments.pop();
      try {
        unlinkSync(active.path);
      } catch {
        // an empty segment is removed on the next open
      }
    }
  }

  private enforceLimit(): void {
    while (this.totalBytes > this.maxBytes && this.segments.length > 1) {
      const old = this.segments.shift()!;
      const unacked = old.lastSeq > this.ackedSeqV;
      if (unacked) {
        const lostFrom = Math.max(old.firstSeq, this.ackedSeqV + 1);
        let records = 0;
        try {
          for (const f of scanFrames(readFileSync(old.path)).frames) if (f.seq >= lostFrom) records += f.records;
        } catch {
          records = old.records;
        }
        this.dropped.segments++;
        this.dropped.batches += old.lastSeq - lostFrom + 1;
        this.dropped.records += records;
        this.log(`spool: size limit ${this.maxBytes} bytes reached; dropped oldest segment (batches ${lostFrom}..${old.lastSeq}, ${records} records) — total dropped ${this.dropped.records} records`);
        this.addHole(lostFrom, old.lastSeq, records, 'spool_full');
      }
      this.unlink(old.path);
      this.totalBytes -= old.bytes;
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
    while (this.holes.length > 0 && this.holes[0]!.lastSeq <= this.ackedSeqV) this.holes.shift();
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
      this.persistAck(true);
      this.unlink(seg.path);
    }
    if (!deleted) this.scheduleAckPersist();
  }

  /** Deletes a finished segment; a disk that refuses only leaves it for the next open to drop. */
  private unlink(path: string): void {
    try {
      unlinkSync(path);
    } catch (e) {
      if (!isDiskError(e)) throw e;
      this.diskFailure(e, 0, 0);
    }
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

  private persistAck(durable = false): void {
    if (this.ackWritten === this.ackedSeqV) return;
    try {
      this.writeCounter('ack', this.ackedSeqV, durable);
      this.ackWritten = this.ackedSeqV;
      this.ackWrittenAt = Date.now();
    } catch (e) {
      if (!isDiskError(e)) throw e;
      // Keeping an older ack on disk only means resending (duplicates) after a restart.
      this.diskFailure(e, 0, 0);
    }
  }

  private scheduleSync(): void {
    if (this.syncTimer || this.closed) return;
    const wait = Math.max(0, this.lastSyncAt + this.syncIntervalMs - Date.now());
    this.syncTimer = setTimeout(() => {
      this.syncTimer = null;
      if (!this.closed) this.syncInBackground();
    }, wait);
    // Sending pumps keep the process alive; a spool alone must not.
    this.syncTimer.unref();
  }

  /**
   * Up to `max` frames with seq ≥ fromSeq, in order, fsynced ones only. Lost sequences come as
   * one stand-in frame per hole (seq = the hole's last, `loss` set, empty payload).
   */
  read(fromSeq: number, max: number): SpoolFrame[] {
    const out: SpoolFrame[] = [];
    let seq = Math.max(fromSeq, this.ackedSeqV + 1);
    while (out.length < max && seq <= this.syncedSeqV) {
      const hole = this.holes.find((h) => h.lastSeq >= seq && h.firstSeq <= seq);
      if (hole) {
        out.push({ seq: hole.lastSeq, records: 0, payload: Buffer.alloc(0), loss: { ...hole, firstSeq: seq } });
        seq = hole.lastSeq + 1;
        continue;
      }
      const m = this.mem.get(seq);
      if (m) {
        out.push(m);
        seq++;
        continue;
      }
      const seg = this.segments.find((s) => s.lastSeq >= seq);
      if (!seg) break;
      if (seq < seg.firstSeq) {
        seq = seg.firstSeq;
        continue;
      }
      if (this.readCache?.path !== seg.path) {
        this.readCache = { path: seg.path, frames: scanFrames(readFileSync(seg.path)).frames };
      }
      let frames = this.readCache.frames;
      // The active segment may grow: re-read it when the cached copy is behind.
      if (frames.length === 0 || frames[frames.length - 1]!.seq < Math.min(seg.lastSeq, seq)) {
        this.readCache = { path: seg.path, frames: scanFrames(readFileSync(seg.path)).frames };
        frames = this.readCache.frames;
      }
      let progressed = false;
      for (const f of frames) {
        if (f.seq < seq) continue;
        if (out.length >= max || f.seq > this.syncedSeqV) break;
        if (f.seq > seq) break; // a hole or a frame held in memory comes first
        out.push(f);
        seq = f.seq + 1;
        progressed = true;
      }
      if (!progressed) {
        // A sequence no frame holds and no hole names (cannot happen by construction): skip it
        // rather than stall the feed.
        const next = frames.find((f) => f.seq > seq);
        seq = next ? next.seq : seg.lastSeq + 1;
      }
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
      syncedSeq: this.syncedSeqV,
      epoch: this.epochV,
      droppedSegments: this.dropped.segments,
      droppedBatches: this.dropped.batches,
      droppedRecords: this.dropped.records,
      writeFailedBatches: this.failed.batches,
      writeFailedRecords: this.failed.records,
      lastDiskError: this.failed.lastError,
      tornFrames: this.torn,
      quarantinedBytes: this.quarantined,
      corruptBatches: this.corruptBatches,
      syncs: this.syncs,
    };
  }

  /**
   * The group commit of the timer: fdatasync in libuv's thread pool, so appends and sends go on
   * meanwhile; the frames appended before it started become readable when it ends.
   */
  private syncInBackground(): void {
    if (this.unusable || this.syncing) return;
    this.lastSyncAt = Date.now();
    const target = this.lastSeqV;
    if (target === this.syncedSeqV) return;
    if (this.fd === null) {
      // The segment was closed (rolled over: fsynced then; or fully acknowledged).
      this.markSynced(target);
      return;
    }
    this.syncing = true;
    fdatasync(this.fd, (err) => {
      this.syncing = false;
      if (this.closed) return;
      // EBADF: the segment was closed meanwhile, after its own fsync (rollover) or once acknowledged.
      if (err && err.code !== 'EBADF') {
        if (!isDiskError(err)) throw err;
        this.diskFailure(err, 0, 0);
        this.scheduleSync();
        return;
      }
      this.markSynced(target);
      if (this.lastSeqV > this.syncedSeqV) this.scheduleSync();
    });
  }

  private markSynced(target: number): void {
    if (target <= this.syncedSeqV) return;
    try {
      if (target > this.hwmWritten) {
        this.writeCounter('hwm', target, false);
        this.hwmWritten = target;
      }
    } catch (e) {
      if (!isDiskError(e)) throw e;
      this.diskFailure(e, 0, 0);
    }
    this.syncs++;
    this.syncedSeqV = target;
    this.persistAck();
    this.onSynced();
  }

  /**
   * Forces the active segment, the high-water mark and the ack file to disk and makes every
   * appended frame readable. A disk error is counted and reported; the frames stay unsynced and
   * the next sync tries again.
   */
  sync(): void {
    if (this.unusable) return;
    this.lastSyncAt = Date.now();
    if (this.syncTimer) {
      clearTimeout(this.syncTimer);
      this.syncTimer = null;
    }
    if (this.lastSeqV === this.syncedSeqV && this.ackWritten === this.ackedSeqV) return;
    try {
      if (this.fd !== null) fsyncSync(this.fd);
      // Sequences handed out for sending must never be reused, even if their frames are lost later.
      if (this.lastSeqV > this.hwmWritten) {
        this.writeCounter('hwm', this.lastSeqV, false);
        this.hwmWritten = this.lastSeqV;
      }
      this.syncs++;
      this.syncedSeqV = this.lastSeqV;
    } catch (e) {
      if (!isDiskError(e)) throw e;
      this.diskFailure(e, 0, 0);
      this.scheduleSync();
    }
    this.persistAck();
  }

  close(): void {
    if (this.closed) return;
    if (!this.unusable) {
      this.persistAck(true);
      this.sync();
    }
    if (this.ackTimer) clearTimeout(this.ackTimer);
    this.ackTimer = null;
    if (this.syncTimer) clearTimeout(this.syncTimer);
    this.syncTimer = null;
    if (this.fd !== null) closeSync(this.fd);
    this.fd = null;
    this.closed = true;
  }

  /** Bytes on disk (segments only), recomputed from the files (tests). */
  diskBytes(): number {
    return this.segments.reduce((a, s) => a + (existsSync(s.path) ? statSync(s.path).size : 0), 0);
  }
}
