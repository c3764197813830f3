import { appendFileSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, test } from 'vitest';
import { FRAME_HEADER_BYTES, Spool, scanFrames } from './spool.js';

let dir = '';
afterEach(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});
const fresh = () => (dir = mkdtempSync(join(tmpdir(), 'ndr-spool-')));
const payload = (n: number, size = 100) => Buffer.alloc(size, n & 0xff);

describe('Spool', () => {
  test('appends, reads in order, survives reopen, deletes acknowledged segments', () => {
    fresh();
    const s = new Spool({ dir, segmentBytes: 1000, log: () => undefined });
    for (let i = 1; i <= 50; i++) s.append(i, 2, payload(i));
    // Group commit: nothing is handed out for sending before its fsync.
    expect(s.read(1, 100)).toEqual([]);
    s.sync();
    expect(s.stats().syncs).toBe(1);
    expect(s.read(1, 100).map((f) => f.seq)).toEqual(Array.from({ length: 50 }, (_, i) => i + 1));
    s.ack(20);
    s.close();
    const r = new Spool({ dir, segmentBytes: 1000, log: () => undefined });
    expect(r.ackedSeq).toBe(20);
    expect(r.epoch).toBe(s.epoch);
    expect(r.lastSeq).toBe(50);
    const frames = r.read(0, 100);
    expect(frames[0]!.seq).toBe(21);
    expect(frames.length).toBe(30);
    expect(frames[5]!.payload.equals(payload(26))).toBe(true);
    expect(r.stats().pendingBatches).toBe(30);
    r.append(51, 1, payload(51));
    expect(() => r.append(51, 1, payload(51))).toThrow();
    r.ack(51);
    expect(r.stats().segments).toBe(0);
    expect(readdirSync(dir).filter((n) => n.startsWith('seg-'))).toEqual([]);
    r.close();
    expect(new Spool({ dir, log: () => undefined }).lastSeq).toBe(51);
  });

  test('each new spool has its own epoch; the epoch is kept while the spool lives', () => {
    fresh();
    const a = new Spool({ dir: join(dir, 'a'), log: () => undefined });
    const b = new Spool({ dir: join(dir, 'b'), log: () => undefined });
    expect(a.epoch).toBeGreaterThan(0);
    expect(a.epoch).not.toBe(b.epoch);
    a.close();
    expect(new Spool({ dir: join(dir, 'a'), log: () => undefined }).epoch).toBe(a.epoch);
  });

  test('a torn or corrupted tail frame is detected, truncated, and the rest kept', () => {
    fresh();
    const s = new Spool({ dir, log: () => undefined });
    for (let i = 1; i <= 5; i++) s.append(i, 1, payload(i));
    s.close();
    const seg = join(dir, readdirSync(dir).find((n) => n.startsWith('seg-'))!);
    appendFileSync(seg, Buffer.alloc(FRAME_HEADER_BYTES + 3, 7)); // a frame header claiming 0x07070707 bytes
    const logs: string[] = [];
    const r = new Spool({ dir, log: (l) => logs.push(l) });
    expect(r.stats().tornFrames).toBe(1);
    expect(r.read(1, 10).map((f) => f.seq)).toEqual([1, 2, 3, 4, 5]);
    expect(logs[0]).toContain('torn or corrupt frame');
    expect(readdirSync(join(dir, 'quarantine')).length).toBe(1);
    expect(scanFrames(Buffer.alloc(0))).toEqual({ frames: [], validBytes: 0, torn: false, bad: [] });
  });

  test('a corrupt frame in the middle: quarantined and counted, the frames after it kept, its sequence never reused', () => {
    fresh();
    const s = new Spool({ dir, log: () => undefined });
    for (let i = 1; i <= 14; i++) s.append(i, 2, payload(i, 10));
    s.close();
    const seg = join(dir, readdirSync(dir).find((n) => n.startsWith('seg-'))!);
    const b = readFileSync(seg);
    b[(FRAME_HEADER_BYTES + 10) * 2 + FRAME_HEADER_BYTES + 5] ^= 0xff; // inside frame 3's payload
    writeFileSync(seg, b);
    const logs: string[] = [];
    const r = new Spool({ dir, log: (l) => logs.push(l) });
    const frames = r.read(1, 100);
    expect(frames.map((f) => f.seq)).toEqual(Array.from({ length: 14 }, (_, i) => i + 1));
    expect(frames[2]!.loss).toEqual({ firstSeq: 3, lastSeq: 3, records: 0, reason: 'spool_corrupt' });
    expect(frames.filter((f) => !f.loss).every((f) => f.payload.equals(payload(f.seq, 10)))).toBe(true);
    const st = r.stats();
    expect(st.tornFrames).toBe(1);
    expect(st.corruptBatches).toBe(1);
    expect(st.quarantinedBytes).toBe(FRAME_HEADER_BYTES + 10);
    expect(readFileSync(join(dir, 'quarantine', readdirSync(join(dir, 'quarantine'))[0]!)).length).toBe(FRAME_HEADER_BYTES + 10);
    expect(logs.some((l) => l.includes('batches 3..3 are lost'))).toBe(true);
    // The segment now holds only good frames, and new batches continue above every old sequence.
    expect(scanFrames(readFileSync(seg)).bad).toEqual([]);
    expect(() => r.append(14, 1, payload(14))).toThrow();
    expect(r.append(15, 1, payload(15))).toBe(true);
  });

  test('a damaged last frame that may have been sent: its sequence is declared lost, not reused', () => {
    fresh();
    const s = new Spool({ dir, log: () => undefined });
    for (let i = 1; i <= 4; i++) s.append(i, 1, payload(i, 10));
    s.sync(); // the high-water mark (4) is on disk: 1..4 may have been sent
    s.close();
    const seg = join(dir, readdirSync(dir).find((n) => n.startsWith('seg-'))!);
    const b = readFileSync(seg);
    b[b.length - 3] ^= 0xff;
    writeFileSync(seg, b);
    const r = new Spool({ dir, log: () => undefined });
    expect(r.lastSeq).toBe(4);
    const frames = r.read(1, 10);
    expect(frames.map((f) => f.seq)).toEqual([1, 2, 3, 4]);
    expect(frames[3]!.loss?.reason).toBe('spool_corrupt');
    r.ack(4);
    expect(r.read(1, 10)).toEqual([]);
  });

  test('size limit: the oldest segment is dropped, counted and warned', () => {
    fresh();
    const logs: string[] = [];
    const s = new Spool({ dir, maxBytes: 5000, segmentBytes: 1000, log: (l) => logs.push(l) });
    for (let i = 1; i <= 200; i++) s.append(i, 3, payload(i));
    const st = s.stats();
    expect(st.bytes).toBeLessThanOrEqual(5000);
    expect(st.droppedBatches).toBeGreaterThan(100);
    expect(st.droppedRecords).toBe(st.droppedBatches * 3);
    expect(logs.filter((l) => l.includes('dropped oldest segment')).length).toBe(st.droppedSegments);
    expect(logs[0]).toContain('dropped oldest segment');
    s.sync();
    const frames = s.read(1, 1000);
    expect(frames[frames.length - 1]!.seq).toBe(200);
    // The dropped range comes first as one stand-in naming the loss, then the surviving batches.
    expect(frames[0]!.loss).toEqual({ firstSeq: 1, lastSeq: st.droppedBatches, records: st.droppedRecords, reason: 'spool_full' });
    expect(frames.length).toBe(200 - st.droppedBatches + 1);
    for (let k = 2; k < frames.length; k++) expect(frames[k]!.seq).toBe(frames[k - 1]!.seq + 1);
    s.close();
  });
});
