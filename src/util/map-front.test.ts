import { describe, expect, it } from 'vitest';
import { MapFront } from './map-front.js';

describe('MapFront', () => {
  it('takes keys oldest first, keys moved to the back come in their new place', () => {
    const m = new Map<string, number>();
    const f = new MapFront(m);
    for (const k of ['a', 'b', 'c', 'd']) m.set(k, 0);
    const k1 = f.take()!;
    m.delete(k1);
    // 'b' is touched (moved to the back) before it is reached; 'c' leaves by another way.
    m.delete('b'); m.set('b', 1);
    m.delete('c');
    m.set('e', 0);
    const order = [k1];
    for (let k = f.take(); k !== undefined; k = f.take()) { order.push(k); m.delete(k); }
    expect(order).toEqual(['a', 'd', 'b', 'e']);
    expect(m.size).toBe(0);
  });

  it('starts again after the map was emptied and refilled, and after a reset', () => {
    const s = new Set<number>();
    const f = new MapFront(s);
    expect(f.take()).toBeUndefined();
    s.add(1); s.add(2);
    expect(f.take()).toBe(1); s.delete(1);
    expect(f.take()).toBe(2); s.delete(2);
    expect(f.take()).toBeUndefined();
    s.add(3);
    expect(f.take()).toBe(3); s.delete(3);
    s.add(4); s.add(5);
    expect(f.peek()).toBe(4);
    s.clear(); f.reset();
    s.add(6);
    expect(f.peek()).toBe(6);
    expect(f.peek()).toBe(6);
    expect(f.take()).toBe(6);
  });

  it('a bounded cache of 1,000 through 100,000 inserts keeps exactly the newest 1,000', () => {
    const m = new Map<number, number>();
    const f = new MapFront(m);
    for (let i = 0; i < 100_000; i++) {
      m.set(i, i);
      if (i % 7 === 0 && m.has(i - 500)) { m.delete(i - 500); m.set(i - 500, 0); } // a touch
      while (m.size > 1_000) m.delete(f.take()!);
    }
    expect(m.size).toBe(1_000);
    const kept = [...m.keys()];
    // Every key kept was inserted or touched among the last operations, none older than 98,500.
    expect(Math.min(...kept)).toBeGreaterThanOrEqual(98_500);
    expect(m.has(99_999)).toBe(true);
  });
});
