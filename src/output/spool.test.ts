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
    expect(s.read(1, 100).map((f) => f.seq)).toEqual(Array.from({ length: 50 }, (_, i) => i + 1));
    s.ack(20);
    s.close();
    const r = new Spool({ dir, segmentBytes: 1000, log: () => undefined });
    expect(r.ackedSeq).toBe(20);
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
    expect(scanFrames(Buffer.alloc(0))).toEqual({ frames: [], validBytes: 0, torn: false });
  });

  test('CRC mismatch in the middle ends the segment there', () => {
    fresh();
    const s = new Spool({ dir, log: () => undefined });
    for (let i = 1; i <= 3; i++) s.append(i, 1, payload(i, 10));
    s.close();
    const seg = join(dir, readdirSync(dir).find((n) => n.startsWith('seg-'))!);
    const b = readFileSync(seg);
    b[FRAME_HEADER_BYTES * 2 + 10 + 5] ^= 0xff; // inside frame 2's payload
    writeFileSync(seg, b);
    const r = new Spool({ dir, log: () => undefined });
    expect(r.read(1, 10).map((f) => f.seq)).toEqual([1]);
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
    expect(logs.length).toBe(st.droppedSegments);
    expect(logs[0]).toContain('dropped oldest segment');
    const frames = s.read(1, 1000);
    expect(frames[frames.length - 1]!.seq).toBe(200);
    expect(frames.length).toBe(200 - st.droppedBatches);
    for (let k = 1; k < frames.length; k++) expect(frames[k]!.seq).toBe(frames[k - 1]!.seq + 1);
    s.close();
  });
});
