import { describe, expect, it } from 'vitest';
import { TcpStream, defaultReassemblyLimits } from './tcp-reassembly.js';

const bytes = (s: string) => new TextEncoder().encode(s);
const text = (b: Uint8Array) => new TextDecoder().decode(b);

describe('TcpStream', () => {
  it('trim drops consumed bytes, frees an emptied buffer, and keeps offsets and the depth', () => {
    const s = new TcpStream({ ...defaultReassemblyLimits, depthBytes: 20 });
    s.setSyn(0);
    s.add(1, bytes('abcdef'));
    s.consume(4);
    s.trim();
    expect(text(s.view())).toBe('ef');
    expect(s.offset).toBe(4);
    s.consume(2);
    s.trim();
    expect(s.buf.length).toBe(0); // handed back to the pool
    expect(s.offset).toBe(6);
    expect(s.add(7, bytes('ghij'))).toBe(4); // a fresh buffer on the next delivery
    expect(text(s.view())).toBe('ghij');
    expect(s.offset).toBe(6);
    // A retransmission of trimmed bytes is still recognised as one (not new data).
    expect(s.add(1, bytes('abc'))).toBe(0);
    expect(s.retransBytes).toBe(3);
    expect(text(s.view())).toBe('ghij');
    // Depth counts from the stream start, not from what is still held: 20 - 10 = 10 more bytes.
    expect(s.add(11, bytes('0123456789xyz'))).toBe(10);
    expect(s.full).toBe(true);
  });

  it('delivers in order after a SYN', () => {
    const s = new TcpStream(defaultReassemblyLimits);
    s.setSyn(1000);
    expect(s.add(1001, bytes('hello '))).toBe(6);
    expect(s.add(1007, bytes('world'))).toBe(5);
    expect(text(s.view())).toBe('hello world');
  });

  it('reorders out-of-order segments', () => {
    const s = new TcpStream(defaultReassemblyLimits);
    s.setSyn(0);
    expect(s.add(7, bytes('world'))).toBe(0);
    expect(s.add(4, bytes('lo '))).toBe(0);
    expect(s.add(1, bytes('hel'))).toBe(11);
    expect(text(s.view())).toBe('hello world');
    expect(s.heldSegments).toBe(0);
  });

  it('counts retransmissions and keeps the first copy on overlap with different bytes', () => {
    const s = new TcpStream(defaultReassemblyLimits);
    s.setSyn(99);
    s.add(100, bytes('abcdef'));
    expect(s.add(100, bytes('abc'))).toBe(0);
    expect(s.retransBytes).toBe(3);
    expect(s.events).toEqual([]);
    expect(s.add(103, bytes('XYZghi'))).toBe(3); // overlaps "def" with different bytes
    expect(text(s.view())).toBe('abcdefghi');
    expect(s.events).toContain('tcp.overlap_mismatch');
  });

  it('first copy wins between two out-of-order copies', () => {
    const s = new TcpStream(defaultReassemblyLimits);
    s.setSyn(0);
    s.add(5, bytes('WORLD'));
    s.add(5, bytes('world'));
    s.add(1, bytes('helo'));
    expect(text(s.view())).toBe('heloWORLD');
    expect(s.events).toContain('tcp.overlap_mismatch');
  });

  it('handles a missing SYN by starting at the first data seen', () => {
    const s = new TcpStream(defaultReassemblyLimits);
    expect(s.add(5_000_000, bytes('mid-stream'))).toBe(10);
    expect(s.add(5_000_010, bytes('!'))).toBe(1);
    expect(text(s.view())).toBe('mid-stream!');
  });

  it('wraps sequence numbers around 2^32', () => {
    const s = new TcpStream(defaultReassemblyLimits);
    s.setSyn(0xfffffffd);
    s.add(0xfffffffe, bytes('ab'));
    s.add(0, bytes('cd'));
    expect(text(s.view())).toBe('abcd');
  });

  it('reports a gap and resumes after it', () => {
    const s = new TcpStream(defaultReassemblyLimits);
    s.setSyn(0);
    s.add(1, bytes('abc'));
    s.add(10, bytes('xyz'));
    expect(s.skipGap()).toBe(3);
    expect(s.pendingGap).toBe(6);
    expect(s.gapBytes).toBe(6);
    expect(s.events).toContain('tcp.gap');
    expect(text(s.view())).toBe('xyz');
    expect(s.offset).toBe(9);
  });

  it('stops at the reassembly depth and raises the limit event', () => {
    const s = new TcpStream({ ...defaultReassemblyLimits, depthBytes: 8 });
    s.setSyn(0);
    expect(s.add(1, bytes('12345'))).toBe(5);
    expect(s.add(6, bytes('67890'))).toBe(3);
    expect(s.full).toBe(true);
    expect(s.add(11, bytes('more'))).toBe(0);
    expect(text(s.view())).toBe('12345678');
    expect(s.events).toContain('flow.limit.reassembly_depth');
  });

  it('bounds the out-of-order store', () => {
    const s = new TcpStream({ depthBytes: 1 << 20, maxOooSegmentsCount: 4, maxOooBytes: 1 << 20 });
    s.setSyn(0);
    for (let i = 0; i < 10; i++) s.add(100 + i * 10, bytes('0123456789'));
    expect(s.heldSegments).toBeLessThanOrEqual(4);
    expect(s.events).toContain('tcp.limit.out_of_order');
  });
});
