import { describe, expect, it } from 'vitest';
import { DnsCache } from './dns-cache.js';
import type { DnsAnswers as DnsInfo } from './dns-cache.js';

const info: DnsInfo = {
  queries: ['www.c2.example.test'],
  answers: [
    { name: 'www.c2.example.test', type: 5, data: 'edge.cdn.example.net', ttl: 300 },
    { name: 'edge.cdn.example.net', type: 5, data: 'e1.cdn.example.net', ttl: 300 },
    { name: 'e1.cdn.example.net', type: 1, data: '10.0.0.7', ttl: 120 },
    { name: 'e1.cdn.example.net', type: 28, data: '2001:db8::7', ttl: 0 },
  ],
  rcode: 0,
};

describe('DnsCache', () => {
  it('names a later flow from the same host to an answered IP, via the CNAME chain', () => {
    const c = new DnsCache();
    c.learn('192.168.1.10', info, 1000);
    expect(c.lookup('192.168.1.10', '10.0.0.7', 2000)).toBe('www.c2.example.test');
    expect(c.lookup('192.168.1.10', '2001:db8::7', 2000)).toBe('www.c2.example.test');
    expect(c.lookup('192.168.1.11', '10.0.0.7', 2000)).toBeNull(); // another host did not ask
    expect(c.lookup('192.168.1.10', '10.0.0.8', 2000)).toBeNull();
  });

  it('expires in packet time: TTL clamped to [minTtlMs, maxTtlMs]', () => {
    const c = new DnsCache({ minTtlMs: 10_000, maxTtlMs: 60_000 });
    c.learn('h', info, 0);
    expect(c.lookup('h', '2001:db8::7', 10_000)).toBe('www.c2.example.test'); // TTL 0 → 10 s
    expect(c.lookup('h', '2001:db8::7', 10_001)).toBeNull();
    expect(c.lookup('h', '10.0.0.7', 60_000)).toBe('www.c2.example.test'); // TTL 120 s → capped at 60 s
    expect(c.lookup('h', '10.0.0.7', 60_001)).toBeNull();
    expect(c.size).toBe(0); // expired entries are dropped on lookup
  });

  it('LRU cap on entries: least recently used goes first', () => {
    const c = new DnsCache({ maxEntriesCount: 2 });
    const one = (ip: string, name: string): DnsInfo => ({ queries: [name], answers: [{ name, type: 1, data: ip, ttl: 300 }], rcode: 0 });
    c.learn('h', one('1.1.1.1', 'a'), 0);
    c.learn('h', one('2.2.2.2', 'b'), 0);
    expect(c.lookup('h', '1.1.1.1', 1)).toBe('a'); // touch a
    c.learn('h', one('3.3.3.3', 'c'), 2);
    expect(c.size).toBe(2);
    expect(c.lookup('h', '2.2.2.2', 3)).toBeNull(); // b was least recently used
    expect(c.lookup('h', '1.1.1.1', 3)).toBe('a');
    expect(c.lookup('h', '3.3.3.3', 3)).toBe('c');
  });

  it('an answer learnt again moves to the fresh end with its new name and expiry', () => {
    const c = new DnsCache({ maxEntriesCount: 2 });
    const one = (ip: string, name: string): DnsInfo => ({ queries: [name], answers: [{ name, type: 1, data: ip, ttl: 300 }], rcode: 0 });
    c.learn('h', one('1.1.1.1', 'a'), 0);
    c.learn('h', one('2.2.2.2', 'b'), 0);
    c.learn('h', one('1.1.1.1', 'a2'), 100_000); // again: now the most recent
    c.learn('h', one('3.3.3.3', 'c'), 100_000);
    expect(c.size).toBe(2);
    expect(c.evictions).toBe(1);
    expect(c.lookup('h', '2.2.2.2', 100_001)).toBeNull(); // b went, not a
    expect(c.lookup('h', '1.1.1.1', 100_001)).toBe('a2');
    expect(c.lookup('h', '1.1.1.1', 300_000 + 100_000)).toBe('a2'); // the later expiry
  });

  it('ignores failed responses and non-address answers', () => {
    const c = new DnsCache();
    c.learn('h', { ...info, rcode: 3 }, 0);
    expect(c.size).toBe(0);
    c.learn('h', { queries: ['t'], answers: [{ name: 't', type: 16, data: '1.2.3.4', ttl: 60 }], rcode: 0 }, 0);
    expect(c.size).toBe(0);
  });

  it('holds the order of a plain LRU through growth, dead slots and compaction (random learns, uses and expiries)', () => {
    // The model: a Map in least-recently-used order, delete and set again on every learn or use.
    const max = 3000;
    const c = new DnsCache({ maxEntriesCount: max, minTtlMs: 20_000, maxTtlMs: 20_000 });
    const model = new Map<string, { name: string; expiry: number }>();
    let evicted = 0;
    let seed = 7;
    const rnd = (n: number): number => { seed = (Math.imul(seed, 1103515245) + 12345) >>> 0; return (seed >>> 8) % n; };
    for (let step = 0; step < 60_000; step++) {
      const ts = step;
      const ip = `10.0.${rnd(20)}.${rnd(250)}`; // about 5,000 addresses: hits, misses and evictions
      if (rnd(3) === 0) {
        const key = `h|${ip}`;
        const e = model.get(key);
        let want: string | null = null;
        if (e !== undefined) {
          model.delete(key);
          if (ts <= e.expiry) { want = e.name; model.set(key, e); }
        }
        expect(c.lookup('h', ip, ts)).toBe(want);
      } else {
        const name = `n${step}`;
        c.learn('h', { queries: [name], answers: [{ name, type: 1, data: ip, ttl: 1 }], rcode: 0 }, ts);
        const key = `h|${ip}`;
        model.delete(key);
        model.set(key, { name, expiry: ts + 20_000 });
        while (model.size > max) { model.delete(model.keys().next().value as string); evicted++; }
      }
      expect(c.size).toBe(model.size);
    }
    expect(c.evictions).toBe(evicted);
    expect(evicted).toBeGreaterThan(1000);
  });
});
